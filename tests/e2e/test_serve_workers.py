"""`agentic-memory serve --workers 2`: two API processes answer on one port, on SQLite and on PostgreSQL;
the post-call worker runs once, in the supervisor."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from agentic_memory.elevenlabs import builders
from agentic_memory.elevenlabs.signature import sign
from tests.conftest import HMAC_KEY, WORKSPACE_KEY, example
from tests.security.conftest import Server

BATCH = 12


def _served_by(metrics_dir: Path, supervisor: int) -> set[int]:
    """The API processes that answered a request: prometheus-client writes one histogram file per process."""
    return {int(p.stem.rsplit("_", 1)[1]) for p in metrics_dir.glob("histogram_*.db")} - {supervisor}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_two_api_processes_serve_one_port(backend: str, tmp_path: Path, request: pytest.FixtureRequest):
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    env = {"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    if backend == "postgresql":
        env["AGENTIC_MEMORY_DATABASE_URL"] = request.getfixturevalue("pg_url")
    server = Server(tmp_path / "data", env=env)
    server.start(timeout=90, args=("--workers", "2"))
    url = server.url
    try:
        deadline = time.monotonic() + 90
        payload = builders.transcription(conversation_id="conv_workers", caller="+14155550142",
                                         start_time=int(time.time()) - 60,
                                         turns=[("user", "Hi, this is Liz. I prefer oat milk in my latte.")])
        raw = httpx.Request("POST", url, json=payload).read()
        acked = httpx.post(f"{url}/post-call", content=raw, headers={
            "ElevenLabs-Signature": sign(raw, HMAC_KEY), "Content-Type": "application/json"}, timeout=10)
        assert acked.status_code == 200

        def client_data(_: int) -> int:
            body = example("init_webhook_request.json")
            return httpx.post(f"{url}/client-data", json=body, headers={"X-Workspace-Key": WORKSPACE_KEY},
                              timeout=10).status_code  # a new connection each time: either process may accept

        served: set[int] = set()
        assert server.proc is not None
        with ThreadPoolExecutor(4) as pool:
            while len(served) < 2 and time.monotonic() < deadline:  # the second one may still load its model
                assert set(pool.map(client_data, range(BATCH))) == {200}
                served = _served_by(metrics_dir, server.proc.pid)
        assert len(served) == 2, server.logs()
        assert server.wait_drained(timeout=deadline - time.monotonic())["queue"]["pending"] == 0
    finally:
        server.stop()
    assert ("Reads run in parallel" in server.logs()) == (backend == "sqlite")
