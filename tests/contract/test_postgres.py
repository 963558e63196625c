"""What only PostgreSQL has to prove: several processes on one database, migrations, an unreachable server.

Each test runs against the real server of the `pg_server` fixture (tests/postgres_server.py), never a mock.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from agentic_memory.adapters.postgres.database import PostgresDatabase, latest_version
from agentic_memory.adapters.postgres.queue import PostgresJobQueue
from agentic_memory.bootstrap import build, migrate
from agentic_memory.cli import app as cli
from agentic_memory.elevenlabs import builders
from agentic_memory.errors import ConfigurationError, StorageError
from agentic_memory.http.app import create_app
from agentic_memory.ports import Job
from agentic_memory.testing import HashEmbedder
from tests.conftest import auth, make_settings, post_signed
from tests.postgres_server import PostgresServer

ROOT = Path(__file__).resolve().parents[2]


def claimer(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "tests.contract.pg_claimer", *args], cwd=ROOT, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.fixture
def queue(pg_url):
    db = PostgresDatabase(pg_url)
    pg_queue = PostgresJobQueue(db)
    yield pg_queue
    pg_queue.close()
    db.close()


def wait_for(condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def claim_when_ready(queue: PostgresJobQueue) -> Job | None:
    """The first claim that succeeds (once the holder's lease expired), or None after 30 s."""
    deadline = time.monotonic() + 30
    while (job := queue.claim(worker="w2", now=datetime.now(UTC), lease_secs=60)) is None:
        if time.monotonic() > deadline:
            return None
        time.sleep(0.1)
    return job


def fill(queue: PostgresJobQueue, count: int) -> None:
    now = datetime.now(UTC) - timedelta(seconds=1)
    futures = [queue.accept(event_type="t", conversation_id=f"c{i}", body=b"x" * 100, received_at=now)
               for i in range(count)]
    assert all(f.result(timeout=30) for f in futures)


def test_concurrent_claims_from_several_processes_never_hand_out_a_job_twice(queue, pg_url):
    fill(queue, 400)
    workers = [claimer("drain", pg_url, f"host:{n}:x") for n in range(4)]
    for worker in workers:
        assert worker.stdout.readline().strip() == "ready"
    for worker in workers:  # all start claiming at once
        worker.stdin.write("go\n")
        worker.stdin.flush()
    outputs = [w.communicate(timeout=120) for w in workers]
    assert all(w.returncode == 0 for w in workers), [err[-2000:] for _, err in outputs]
    claimed = Counter(line for out, _ in outputs for line in out.split())
    assert "lost" not in claimed
    assert len(claimed) == 400
    assert set(claimed.values()) == {1}
    assert sum(1 for out, _ in outputs if out.strip()) >= 2  # the work was actually shared
    assert queue.stats().pending == 0


def test_a_killed_workers_job_runs_again_once_its_lease_expires(queue, pg_url):
    fill(queue, 1)
    holder = claimer("hold", pg_url, "other-host:1:x", "4")
    job_id, lease = holder.stdout.readline().split()
    holder.send_signal(signal.SIGKILL)
    holder.communicate(timeout=10)  # reaps it and closes its pipes
    assert queue.claim(worker="w2", now=datetime.now(UTC), lease_secs=60) is None  # still leased
    again = claim_when_ready(queue)
    assert again is not None
    assert (again.id, again.attempts) == (int(job_id), 2)
    assert again.lease != lease
    assert not queue.complete(again.id, lease=lease)
    assert queue.complete(again.id, lease=again.lease)


def test_a_stalled_worker_resumed_after_its_lease_expired_cannot_complete_the_job(queue, pg_url):
    fill(queue, 1)
    holder = claimer("hold", pg_url, "other-host:2:x", "4")
    job_id, _ = holder.stdout.readline().split()
    os.kill(holder.pid, signal.SIGSTOP)
    try:
        again = claim_when_ready(queue)
        assert again is not None
        assert again.id == int(job_id)
    finally:
        os.kill(holder.pid, signal.SIGCONT)
    out, err = holder.communicate("go\n", timeout=30)
    assert out.strip() == "False", err[-2000:]
    assert queue.complete(again.id, lease=again.lease)
    assert queue.stats().pending == 0


def test_migrate_from_two_processes_at_once_applies_each_migration_once(pg_empty_url, tmp_path):
    url = pg_empty_url
    env = {**os.environ, "AGENTIC_MEMORY_DATABASE_URL": url, "AGENTIC_MEMORY_DATA_DIR": str(tmp_path)}
    command = [str(Path(sys.executable).with_name("agentic-memory")), "migrate"]
    runs = [subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for _ in range(2)]
    results = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], results
    with psycopg.connect(url) as conn:
        versions = [row[0] for row in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]
    assert versions == list(range(1, latest_version() + 1))


def test_migration_3_keeps_the_keywords_and_fills_the_index_terms(pg_empty_url):
    from agentic_memory.adapters.postgres.database import migrations
    from agentic_memory.adapters.postgres.memory_store import PostgresMemoryStore

    with psycopg.connect(pg_empty_url, autocommit=True) as conn:  # a database at version 2, with one memory
        conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ)")
        for version, sql in migrations()[:2]:
            conn.execute(sql.encode())
            conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
        conn.execute("INSERT INTO memories (id, caller_id, type, text, conversation_id, created_at, vector, search) "
                     "VALUES ('m1', '+1555', 'factual', 'prefers oat milk', 'c1', now(), '\\x00', "
                     "setweight(to_tsvector('am_english', 'prefers oat milk'), 'A') "
                     "|| setweight(to_tsvector('am_english', 'lattes'), 'B'))")
    db = PostgresDatabase(pg_empty_url)
    try:
        assert db.migrate() == list(range(3, latest_version() + 1))
        with db.connection() as conn:
            row = conn.execute("SELECT keywords, text_terms, keyword_terms, term_count FROM memories").fetchone()
        assert row == ("latt", "prefer oat milk", "latt", 4)  # the old index kept stems, not the words
        store = PostgresMemoryStore(db)
        assert [i for i, _ in store.keyword_search("+1555", ["milk"], limit=5, type=None)] == ["m1"]
    finally:
        db.close()


def test_the_server_refuses_an_unmigrated_or_newer_schema(pg_empty_url, tmp_path):
    url = pg_empty_url
    settings = make_settings(tmp_path, database_url=url)
    with pytest.raises(ConfigurationError, match="agentic-memory migrate"):
        build(settings, embedder=HashEmbedder(), with_worker=False)
    migrate(settings)
    build(settings, embedder=HashEmbedder(), with_worker=False).close()
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (latest_version() + 1,))
    with pytest.raises(ConfigurationError, match="newer than this code"):
        build(settings, embedder=HashEmbedder(), with_worker=False)


def test_the_cli_worker_refuses_to_start_on_an_unmigrated_database_and_says_why(pg_empty_url, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no .env here
    url = pg_empty_url
    result = CliRunner().invoke(cli, ["worker"], env={"AGENTIC_MEMORY_DATABASE_URL": url,
                                                     "AGENTIC_MEMORY_DATA_DIR": str(tmp_path / "data")})
    assert result.exit_code == 2
    assert "agentic-memory migrate" in " ".join(result.output.split())


def test_missing_server_binaries_fail_the_tests_with_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("TEST_POSTGRES_BIN", str(tmp_path))
    with pytest.raises(RuntimeError, match="apt-get install postgresql-15"):
        PostgresServer()


def test_a_statement_past_the_timeout_is_a_storage_error(pg_url):
    db = PostgresDatabase(pg_url, statement_timeout_ms=200)
    try:
        started = time.monotonic()
        with pytest.raises(StorageError, match="QueryCanceled"), db.connection() as conn:
            conn.execute("SELECT pg_sleep(5)")
        assert time.monotonic() - started < 2
        db.ping()  # the pool recovered its connection
    finally:
        db.close()


def test_an_exhausted_pool_is_a_503_within_the_timeout(pg_url, tmp_path):
    settings = make_settings(tmp_path, database_url=pg_url, database_pool_size=1, database_timeout_secs=0.5)
    deps = build(settings, embedder=HashEmbedder(), with_worker=False)
    try:
        with TestClient(create_app(deps), raise_server_exceptions=False) as client, \
                deps.store.db.pool.connection():  # type: ignore[attr-defined]  # a stuck request holds the only one
            started = time.monotonic()
            response = client.post("/client-data", json={"caller_id": "+14155550123"}, headers=auth())
            acked = post_signed(client, builders.audio(conversation_id="conv_pool_1", mp3=builders.FAKE_MP3))
            elapsed = time.monotonic() - started
        assert (response.status_code, acked.status_code) == (503, 503)
        assert elapsed < 5
    finally:
        deps.close()


def test_connections_the_server_dropped_are_replaced_without_failing_a_request(pg_url, tmp_path):
    deps = build(make_settings(tmp_path, database_url=pg_url), embedder=HashEmbedder(), with_worker=False)
    try:
        with TestClient(create_app(deps), raise_server_exceptions=False) as client:
            assert client.post("/client-data", json={"caller_id": "+14155550123"}, headers=auth()).status_code == 200
            with psycopg.connect(pg_url, autocommit=True) as admin:  # a failover or an idle-connection reaper
                admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = current_database() AND pid <> pg_backend_pid()")
            for _ in range(3):
                response = client.post("/client-data", json={"caller_id": "+14155550123"}, headers=auth())
                assert response.status_code == 200
    finally:
        deps.close()


def test_acks_answer_503_while_postgresql_is_down_and_nothing_acked_is_lost(tmp_path):
    server = PostgresServer().start()
    try:
        settings = make_settings(tmp_path, database_url=server.url, database_timeout_secs=1)
        migrate(settings)
        deps = build(settings, embedder=HashEmbedder(), with_worker=False)
        acked: list[str] = []
        statuses: Counter[int] = Counter()
        stop = threading.Event()

        def post_calls(client: TestClient) -> None:
            n = 0
            while not stop.is_set():
                cid = f"conv_restart_{n}"
                status = post_signed(client, builders.audio(conversation_id=cid, mp3=b"ID3" + b"x" * 64)).status_code
                statuses[status] += 1
                if status == 200:
                    acked.append(cid)
                n += 1

        with TestClient(create_app(deps), raise_server_exceptions=False) as client:
            poster = threading.Thread(target=post_calls, args=(client,))
            poster.start()
            wait_for(lambda: len(acked) > 0)
            server.stop("fast")
            wait_for(lambda: statuses[503] > 0)
            down_at = len(acked)
            server.resume()
            wait_for(lambda: len(acked) > down_at)
            stop.set()
            poster.join(timeout=30)
        assert statuses[503] > 0
        assert len(acked) > down_at > 0
        assert set(statuses) <= {200, 503}
        with psycopg.connect(server.url) as conn:
            stored = {row[0] for row in conn.execute("SELECT conversation_id FROM jobs")}
        assert set(acked) <= stored
        deps.close()
    finally:
        server.close()
