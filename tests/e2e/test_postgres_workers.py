"""Four `agentic-memory worker` processes on one PostgreSQL database draining 500 signed webhooks, one
SIGKILLed and one SIGSTOPped past its lease mid-drain: every call acked over HTTP is processed exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from agentic_memory.bootstrap import build, migrate
from agentic_memory.elevenlabs import builders
from agentic_memory.http.app import create_app
from agentic_memory.testing import HashEmbedder
from tests.conftest import HMAC_KEY, WORKSPACE_KEY, make_settings, post_signed

CALLS = 500
WORKERS = 4


def counts(url: str) -> tuple[int, int]:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT (SELECT count(*) FROM conversations), "
                           "(SELECT count(*) FROM jobs WHERE status = 'done')").fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


@pytest.mark.slow
def test_worker_processes_drain_the_queue_exactly_once_though_one_is_killed_and_one_stalls(pg_url, tmp_path):
    settings = make_settings(tmp_path / "data", database_url=pg_url)
    migrate(settings)
    env = {**os.environ, "AGENTIC_MEMORY_DATABASE_URL": pg_url, "AGENTIC_MEMORY_DATA_DIR": str(settings.data_dir),
           "ELEVENLABS_WORKSPACE_KEY": WORKSPACE_KEY, "ELEVENLABS_HMAC_KEY": HMAC_KEY,
           "AGENTIC_MEMORY_LEASE_SECS": "5", "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    command = [sys.executable, "-m", "tests.e2e.hash_worker"]  # `agentic-memory worker`, hash embeddings
    logs = [(tmp_path / f"worker{i}.log").open("wb") for i in range(WORKERS)]
    # The last one runs two jobs at once (`--concurrency 2`): it drains alone once the others are gone.
    # They start first and drain while the webhooks arrive, as in production.
    workers = [subprocess.Popen([*command, *(["--concurrency", "2"] if i == WORKERS - 1 else [])], env=env,
                                cwd=tmp_path, stdout=log, stderr=log) for i, log in enumerate(logs)]
    deps = build(settings, embedder=HashEmbedder(), with_worker=False)
    now = int(time.time())

    def post(client: TestClient, n: int) -> int:
        payload = builders.transcription(
            conversation_id=f"conv_multi_{n:04d}", caller=f"+1415555{n:04d}", start_time=now - 60,
            turns=[("agent", "How can I help?"), ("user", f"Hi, I'm Dana. My order number is Q-{n:05d}.")],
            summary=f"Asked about order Q-{n:05d}.")
        return int(post_signed(client, payload).status_code)

    def interrupt() -> None:
        while counts(pg_url)[0] < CALLS // 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        workers[0].send_signal(signal.SIGKILL)  # most likely mid-job: its lease (5 s) must bring the job back
        workers[1].send_signal(signal.SIGSTOP)  # its heartbeats stop too: the last worker takes its job over

    deadline = time.monotonic() + 120
    try:
        with TestClient(create_app(deps)) as client, ThreadPoolExecutor(5) as pool:
            chaos = pool.submit(interrupt)  # while the acks go on
            assert set(pool.map(partial(post, client), range(CALLS))) == {200}
            chaos.result()
        deps.close()
        try:
            while counts(pg_url) != (CALLS, CALLS) and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            workers[1].send_signal(signal.SIGCONT)  # its late result, if it held a job, must change nothing
        time.sleep(2)
        assert counts(pg_url) == (CALLS, CALLS)
    finally:
        for worker in workers[1:]:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            worker.wait(timeout=60)
        for log in logs:
            log.close()
    with psycopg.connect(pg_url) as conn:
        duplicates = conn.execute("SELECT count(*) FROM (SELECT caller_id, text FROM memories "
                                  "GROUP BY caller_id, text HAVING count(*) > 1) d").fetchone()
        callers = conn.execute("SELECT count(*), sum(call_count) FROM callers").fetchone()
        rerun = conn.execute("SELECT count(*) FROM jobs WHERE attempts > 1").fetchone()
    assert duplicates == (0,)
    assert rerun is not None
    assert rerun[0] >= 1  # a stopped or killed worker's job did run again
    assert callers == (CALLS, CALLS)  # each caller's one call counted once
