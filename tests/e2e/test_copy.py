"""`agentic-memory copy`: a whole SQLite database into a real PostgreSQL and back, resumable, verified."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from agentic_memory.bootstrap import Database, build, open_database
from agentic_memory.cli import app
from agentic_memory.clock import SystemClock
from agentic_memory.elevenlabs import builders
from agentic_memory.ports import COPY_KEYS, RecordStore
from agentic_memory.services.bulk import copy_database
from tests.conftest import make_settings
from tests.operator_seed import ANN, cli_env, seed_calls


@pytest.fixture
def sqlite_url(tmp_path: Path, embedder: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """A SQLite database with processed calls (one memory superseded), a dead letter, a queued webhook."""
    data = tmp_path / "data"
    deps = build(make_settings(data), embedder=embedder, with_worker=False)
    seed_calls(deps, b"ID3 audio")
    now = int(time.time())
    later = builders.transcription(conversation_id="conv_b2", caller="+14155550199", start_time=now,
                                   turns=[("user", "Call me back tomorrow.")])
    deps.queue.accept(event_type="post_call_transcription", conversation_id="conv_b2",
                      body=json.dumps(later).encode(), received_at=deps.clock.now()).result()
    deps.close()
    cli_env(monkeypatch, data)
    return f"sqlite:///{data / 'agentic_memory.sqlite3'}"


def _open(url: str) -> Database:
    from pydantic import SecretStr

    settings = make_settings(Path("unused"), database_url=SecretStr(url))
    database = open_database(settings, SystemClock())
    database.migrate()
    return database


def _records(database: Database) -> RecordStore:
    assert database.records is not None
    return database.records


def _rows(records: RecordStore, *, keywords: bool = True) -> dict[str, list[dict[str, Any]]]:
    """Every record of every kind, times to the microsecond (PostgreSQL keeps no more)."""
    rows = {}
    for kind in COPY_KEYS:
        found = records.read(kind, after=None, limit=10_000)
        for record in found:
            for name, value in record.items():
                if isinstance(value, float):
                    record[name] = round(value, 6)
            if not keywords:
                record.pop("keywords", None)
        rows[kind] = found
    return rows


def _copy(*args: str) -> Any:
    return CliRunner().invoke(app, ["copy", *args])


def test_sqlite_to_postgresql_and_back_copies_every_row(sqlite_url: str, pg_url: str, tmp_path: Path):
    copied = _copy("--from", sqlite_url, "--to", pg_url, "--json")
    assert copied.exit_code == 0, copied.output
    kinds = json.loads(copied.stdout)["kinds"]
    assert kinds["memories"]["copied"] == kinds["memories"]["target"] > 2
    assert json.loads(copied.stdout)["mismatched"] == []
    back_url = f"sqlite:///{tmp_path / 'back.sqlite3'}"
    returned = _copy("--from", pg_url, "--to", back_url)
    assert returned.exit_code == 0, returned.output
    assert "Copy" in returned.stdout

    origin, pg, back = (_open(url) for url in (sqlite_url, pg_url, back_url))
    try:
        original = _rows(_records(origin))
        assert {r["status"] for r in original["inbox"]} >= {"done", "dead", "queued"}
        assert any(r["superseded_by"] for r in original["memories"])
        assert _rows(_records(pg), keywords=False) == _rows(_records(origin), keywords=False)
        assert _rows(_records(back), keywords=False) == _rows(_records(origin), keywords=False)
        # The copies answer like the original: profiles, history, keyword and dense search.
        assert pg.store.caller(ANN) == origin.store.caller(ANN) == back.store.caller(ANN)
        for store in (pg.store, back.store):
            hits = store.keyword_search(ANN, ["almond"], limit=5, type=None)
            assert hits, "the keyword index was rebuilt"
            assert {r["id"] for r in original["memories"] if "almond" in r["text"].lower()} >= {hits[0][0]}
        vector = next(r["vector"] for r in original["memories"] if r["superseded_by"] is None)
        query = np.frombuffer(vector, dtype=np.float32)
        assert [i for i, _ in pg.store.dense_search(ANN, query, limit=3, type=None)] \
            == [i for i, _ in origin.store.dense_search(ANN, query, limit=3, type=None)]
    finally:
        for database in (origin, pg, back):
            database.close()


def test_an_interrupted_copy_continues_without_duplicates(sqlite_url: str, pg_url: str):
    source, target = _open(sqlite_url), _open(pg_url)

    def interrupt(kind: str, done: int, _total: int) -> None:
        if kind == "memories" and done >= 2:
            raise KeyboardInterrupt  # the operator's Ctrl-C, mid-way through the memories

    try:
        with pytest.raises(KeyboardInterrupt):
            copy_database(_records(source), _records(target), page=2, progress=interrupt)
        partial = _records(target).count("memories")
        assert 0 < partial < _records(source).count("memories")
    finally:
        source.close()
        target.close()
    resumed = _copy("--from", sqlite_url, "--to", pg_url, "--json")
    assert resumed.exit_code == 0, resumed.output
    kinds = json.loads(resumed.stdout)["kinds"]
    assert kinds["memories"]["already_there"] == partial
    assert kinds["callers"]["copied"] == 0
    assert all(counts["source"] == counts["target"] for counts in kinds.values())
    source, target = _open(sqlite_url), _open(pg_url)
    try:
        again = copy_database(_records(source), _records(target))
    finally:
        source.close()
        target.close()
    assert set(again.copied.values()) == {0}
    assert again.mismatched == []


def test_counts_that_differ_fail_the_copy(sqlite_url: str, pg_url: str):
    target = _open(pg_url)
    _records(target).write("conversations", [{"conversation_id": "conv_elsewhere", "caller_id": None,
                                            "agent_id": "", "started_at": 0.0, "processed_at": 0.0}])
    target.close()
    result = _copy("--from", sqlite_url, "--to", pg_url)
    assert result.exit_code == 1
    assert "Counts differ" in result.output
    assert "conversations" in result.output
    same = _copy("--from", sqlite_url, "--to", sqlite_url)
    assert same.exit_code == 2
