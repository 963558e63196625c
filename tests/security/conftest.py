"""Helpers for the security suite: the real server as a subprocess, and an in-process app on fast fakes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from agentic_memory.bootstrap import Deps
from agentic_memory.elevenlabs.signature import sign
from agentic_memory.testing import HashEmbedder
from tests.conftest import HMAC_KEY, WORKSPACE_KEY, app_client, built_deps, make_settings

ADMIN_KEY = "amadm_server_admin_key_0123456789abcdef"
AUDIT_SECRET = "amaud_server_audit_secret_0123456789abcdef"
__all__ = ["HMAC_KEY", "WORKSPACE_KEY", "Server", "auth_headers", "signed_headers"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def auth_headers(key: str = WORKSPACE_KEY) -> dict[str, str]:
    return {"X-Workspace-Key": key, "Content-Type": "application/json"}


def signed_headers(raw: bytes, *, secret: str = HMAC_KEY, timestamp: int | None = None) -> dict[str, str]:
    return {"ElevenLabs-Signature": sign(raw, secret, timestamp), "Content-Type": "application/json"}


def _command() -> list[str]:
    script = Path(sys.executable).with_name("agentic-memory")
    if script.exists():
        return [str(script), "serve"]
    return [sys.executable, "-c", "from agentic_memory.cli import main; main()", "serve"]


class Server:
    """`agentic-memory serve` on 127.0.0.1 in a subprocess; stderr (the logs) appended to `log_path`.

    The working directory is the data dir's parent, so no stray `.env` is read; only the variables
    given here configure it.
    """

    def __init__(self, data_dir: Path, *, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.log_path = data_dir.parent / "server.log"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        base = {k: v for k, v in os.environ.items() if not k.startswith(("ELEVENLABS_", "AGENTIC_MEMORY_"))}
        base.update({"ELEVENLABS_WORKSPACE_KEY": WORKSPACE_KEY, "ELEVENLABS_HMAC_KEY": HMAC_KEY,
                     "AGENTIC_MEMORY_ADMIN_KEY": ADMIN_KEY, "AGENTIC_MEMORY_AUDIT_SECRET": AUDIT_SECRET,
                     "AGENTIC_MEMORY_DATA_DIR": str(data_dir), "ORT_DISABLE_TELEMETRY": "1",
                     "PYTHONUNBUFFERED": "1"})
        base.update(env or {})
        self.env = base

    def start(self, *, timeout: float = 60.0, args: Sequence[str] = ()) -> None:
        """Starts it (`args` added to `serve`'s) and waits for a 200 from /health."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen([*_command(), "--host", "127.0.0.1", "--port", str(self.port), *args],
                                         env=self.env, cwd=self.data_dir.parent, stdout=log, stderr=log,
                                         start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.logs()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"server did not become healthy in {timeout}s:\n{self.logs()[-3000:]}")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None

    def stop(self) -> None:
        """Graceful stop (SIGTERM, as a process manager would)."""
        self.kill(signal.SIGTERM)

    def logs(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    def health(self) -> dict[str, Any]:
        return httpx.get(f"{self.url}/health", timeout=5.0).json()

    def wait_drained(self, *, timeout: float) -> dict[str, Any]:
        """Poll /health until no job is pending; returns the last health body."""
        deadline = time.monotonic() + timeout
        body = self.health()
        while body["queue"]["pending"] and time.monotonic() < deadline:
            time.sleep(0.25)
            body = self.health()
        return body


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Any]:
    started: list[Server] = []

    def make(env: dict[str, str] | None = None, *, data_dir: Path | None = None) -> Server:
        server = Server(data_dir or tmp_path / "data", env=env)
        started.append(server)
        return server

    yield make
    for server in started:
        server.kill()


@pytest.fixture
def fast_deps(tmp_path: Path) -> Iterator[Deps]:
    """The real SQLite store, queue and files, with the instant HashEmbedder instead of the ONNX model."""
    with built_deps(make_settings(tmp_path / "data"), embedder=HashEmbedder()) as built:
        yield built


@pytest.fixture
def fast_client(fast_deps: Deps) -> Iterator[TestClient]:
    with app_client(fast_deps) as client:
        yield client


def json_lines(text: str) -> list[dict[str, Any]]:
    out = []
    for line in text.splitlines():
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


def rmtree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
