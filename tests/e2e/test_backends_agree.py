"""The same calls ingested into SQLite and PostgreSQL give the same /retrieve answers.

Dense scores and the fusion are the same code on both; keyword scores are not (FTS5's BM25 with corpus-wide
statistics and a porter stemmer, against PostgreSQL's cover-density rank and snowball stemmer), so the
order can differ below the top few. Measured on this replay: the top 3 agree for every query and the
whole top 8 for 10 of the 12.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from agentic_memory.bootstrap import build, migrate
from agentic_memory.http.app import create_app
from tests.conftest import make_settings
from tests.e2e.test_replay import LIZ, MARIA, OMAR, PRIYA, STEFAN, replay, search

QUERIES = [
    (STEFAN, "what was my order number?"), (STEFAN, "what milk do I take in my latte?"),
    (STEFAN, "text me when it's ready"), (MARIA, "¿cuál es mi número de pedido?"),
    (MARIA, "¿cuándo prefiere que la llamen?"), (PRIYA, "claim number"), (PRIYA, "update"),
    (OMAR, "which room am I staying in?"), (OMAR, "itinerary item 12"), (OMAR, "Sarah booked the table"),
    (LIZ, "when is my appointment"), (LIZ, "what should I call you"),
]


def answers(data_dir: Path, embedder: Any, **overrides: Any) -> list[list[tuple[str, str]]]:
    settings = make_settings(data_dir, **overrides)
    migrate(settings)
    deps = build(settings, embedder=embedder, with_worker=False)
    try:
        with TestClient(create_app(deps), raise_server_exceptions=False) as client:
            replay(client, deps.make_worker())
            return [[(m["memory"], m["metadata"]["type"]) for m in search(client, caller, query, limit=8)]
                    for caller, query in QUERIES]
    finally:
        deps.close()


def test_sqlite_and_postgresql_answer_alike(tmp_path, embedder, pg_url):
    on_sqlite = answers(tmp_path / "sqlite", embedder)
    on_postgres = answers(tmp_path / "pg", embedder, database_url=pg_url)
    assert all(on_sqlite)  # every query finds something, so the comparison means something
    for (caller, query), expected, got in zip(QUERIES, on_sqlite, on_postgres, strict=True):
        assert got[:3] == expected[:3], (caller[-4:], query)
    identical = sum(got == expected for expected, got in zip(on_sqlite, on_postgres, strict=True))
    assert identical >= 10, f"only {identical} of {len(QUERIES)} queries give the same top 8 on both backends"
