"""`agentic-memory serve --workers 2`: two API processes answer on one port, on SQLite and on PostgreSQL;
the post-call worker runs once, in the supervisor."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from agentic_memory.elevenlabs import builders
from agentic_memory.elevenlabs.signature import sign
from tests.conftest import HMAC_KEY, WORKSPACE_KEY, example
from tests.security.conftest import _command, free_port

BATCH = 12


def _served_by(metrics_dir: Path, supervisor: int) -> set[int]:
    """The API processes that answered a request: prometheus-client writes one histogram file per process."""
    return {int(p.stem.rsplit("_", 1)[1]) for p in metrics_dir.glob("histogram_*.db")} - {supervisor}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_two_api_processes_serve_one_port(backend: str, tmp_path: Path, request: pytest.FixtureRequest):
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ELEVENLABS_", "AGENTIC_MEMORY_"))}
    env.update({"ELEVENLABS_WORKSPACE_KEY": WORKSPACE_KEY, "ELEVENLABS_HMAC_KEY": HMAC_KEY,
                "AGENTIC_MEMORY_DATA_DIR": str(tmp_path / "data"), "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
                "ORT_DISABLE_TELEMETRY": "1"})
    if backend == "postgresql":
        env["AGENTIC_MEMORY_DATABASE_URL"] = request.getfixturevalue("pg_url")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([*_command(), "--port", str(port), "--workers", "2"], env=env, cwd=tmp_path,
                                stdout=log, stderr=log, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert proc.poll() is None, log_path.read_text()
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
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
        with ThreadPoolExecutor(4) as pool:
            while len(served) < 2 and time.monotonic() < deadline:  # the second one may still load its model
                assert set(pool.map(client_data, range(BATCH))) == {200}
                served = _served_by(metrics_dir, proc.pid)
        assert len(served) == 2, log_path.read_text()
        while httpx.get(f"{url}/health", timeout=5).json()["queue"]["pending"] and time.monotonic() < deadline:
            time.sleep(0.2)  # the supervisor's worker processes the call
        assert httpx.get(f"{url}/health", timeout=5).json()["queue"]["pending"] == 0
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    logs = log_path.read_text()
    assert ("Reads run in parallel" in logs) == (backend == "sqlite")
