"""Start and stop a real `agentic-memory serve` subprocess on 127.0.0.1 with its own data dir and keys."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

import httpx

READY_TIMEOUT_SECS = 300  # a server migrates its database before it listens


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> dict[str, float]:
    """Resident and peak resident memory of a process, from /proc (MB)."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = round(int(value.split()[0]) / 1024, 1)
    return out


@dataclass
class Server:
    """`with Server() as s:` runs the service until the block ends; `s.url`, `s.workspace_key`, `s.hmac_key`."""

    data_dir: Path | None = None
    extra_args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    workspace_key: str = field(default_factory=lambda: "wk_bench_" + secrets.token_urlsafe(32))
    hmac_key: str = field(default_factory=lambda: "wsec_bench_" + secrets.token_hex(32))
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def __enter__(self) -> Self:
        self._tmp = tempfile.TemporaryDirectory(prefix="agentic-bench-")
        workdir = Path(self._tmp.name)  # cwd too, so no stray .env is read
        if self.data_dir is None:
            self.data_dir = workdir / "data"
        self.port = self.port or free_port()
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("ELEVENLABS_", "AGENTIC_MEMORY_"))}
        env.update({"ELEVENLABS_WORKSPACE_KEY": self.workspace_key, "ELEVENLABS_HMAC_KEY": self.hmac_key,
                    "AGENTIC_MEMORY_DATA_DIR": str(self.data_dir), "PYTHONUNBUFFERED": "1"})
        env.update(self.env)
        self.log_path = workdir / "server.log"
        command = [sys.executable, "-c", "from agentic_memory.cli import main; main()", "serve",
                   "--host", "127.0.0.1", "--port", str(self.port), *self.extra_args]
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(command, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECS
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.__exit__(None, None, None)
        raise RuntimeError(f"server not ready after {READY_TIMEOUT_SECS} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def rss(self) -> dict[str, float]:
        return rss_mb(self.pid)

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._tmp.cleanup()
