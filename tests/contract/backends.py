"""The two SQL backends the store suites run on beside the fakes: SQLite in tmp_path, a fresh PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from agentic_memory.adapters.postgres.admin_store import PostgresAdminStore
from agentic_memory.adapters.postgres.database import PostgresDatabase
from agentic_memory.adapters.postgres.memory_store import PostgresMemoryStore
from agentic_memory.adapters.postgres.queue import PostgresJobQueue
from agentic_memory.adapters.sqlite.admin_store import SqliteAdminStore
from agentic_memory.adapters.sqlite.database import Database
from agentic_memory.adapters.sqlite.memory_store import SqliteMemoryStore
from agentic_memory.adapters.sqlite.queue import SqliteJobQueue

# kind -> (memory store, job queue, admin store), each made from that kind's database
ADAPTERS: dict[str, tuple[Any, Any, Any]] = {
    "sqlite": (SqliteMemoryStore, SqliteJobQueue, SqliteAdminStore),
    "postgres": (PostgresMemoryStore, PostgresJobQueue, PostgresAdminStore),
}


@contextmanager
def database(kind: str, request: pytest.FixtureRequest, path: Path) -> Iterator[Any]:
    """A migrated database, closed after: "sqlite" a file at `path`, "postgres" a fresh database of its own."""
    if kind == "postgres":
        db: Any = PostgresDatabase(request.getfixturevalue("pg_url"))
    else:
        db = Database(path)
        db.migrate()
    try:
        yield db
    finally:
        db.close()


@contextmanager
def job_queue(kind: str, db: Any) -> Iterator[Any]:
    queue = ADAPTERS[kind][1](db)
    try:
        yield queue
    finally:
        queue.close()
