"""The e2e HTTP suite runs on both database backends: SQLite in tmp_path and a real PostgreSQL."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentic_memory.bootstrap import Deps
from agentic_memory.fake_llm import FakeLLM
from tests.conftest import backend_deps


@pytest.fixture(params=["sqlite", "postgres"])
def deps(request: pytest.FixtureRequest, tmp_path: Path, embedder: Any) -> Iterator[Deps]:
    with backend_deps(request, tmp_path, embedder) as built:
        yield built


@pytest.fixture(scope="module")
def llm() -> Iterator[FakeLLM]:
    """A fake OpenAI-compatible upstream on 127.0.0.1 for the memory proxy's tests (one per test module)."""
    fake = FakeLLM()
    fake.start()
    yield fake
    fake.stop()


def inbox_body_sizes(deps: Deps, conversation_id: str) -> dict[str, int]:
    """Bytes of raw body each of a conversation's webhooks still keeps in the queue, read from the database."""
    url = deps.settings.database_url.get_secret_value()
    if url.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(url) as conn:
            rows = conn.execute("SELECT j.event_type, coalesce(length(b.body), 0) FROM jobs j LEFT JOIN job_bodies b "
                                "ON b.job_id = j.id WHERE j.conversation_id = %s", (conversation_id,)).fetchall()
        return dict(rows)
    inbox = sqlite3.connect(deps.settings.data_dir / "agentic_memory.sqlite3")
    try:
        return dict(inbox.execute("SELECT event_type, length(body) FROM inbox WHERE conversation_id = ?",
                                  (conversation_id,)).fetchall())
    finally:
        inbox.close()
