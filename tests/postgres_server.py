"""A throwaway PostgreSQL server for the tests: initdb into a temp dir, start on a free 127.0.0.1 port.

The binaries come from `TEST_POSTGRES_BIN` or Debian's `postgresql-15` package (`.ci/run`
installs it when missing). `initdb` and `postgres` refuse to run as root, and CI runs as root: there the
server runs as an unprivileged user (`postgres` when the package created it, else `nobody`) via `runuser`.
A missing binary fails the tests with a message that says what to install; it never skips them.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

DEFAULT_BIN = Path("/usr/lib/postgresql/15/bin")
START_TIMEOUT_SECS = 60


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _bin_dir() -> Path:
    bin_dir = Path(os.environ.get("TEST_POSTGRES_BIN", str(DEFAULT_BIN)))
    for tool in ("initdb", "pg_ctl", "postgres"):
        if not (bin_dir / tool).exists():
            raise RuntimeError(
                f"PostgreSQL server binaries not found in {bin_dir} (missing {tool}). The PostgreSQL tests need "
                "a real server: `apt-get install postgresql-15` (what .ci/run does), or point "
                "TEST_POSTGRES_BIN at a directory holding initdb, pg_ctl and postgres.")
    return bin_dir


class PostgresServer:
    """One cluster in a temp dir; `url` reaches its `postgres` database as superuser `agentic`.

    `root` keeps the cluster in that folder instead (the benchmark's cached levels): `close` stops it and
    leaves the folder; `resume` starts it again on a fresh port. `options` are extra `postgres -c` flags."""

    def __init__(self, root: Path | None = None, *, options: str = "") -> None:
        self.bin = _bin_dir()
        self.port = _free_port()
        self.keep = root is not None
        self.root = root or Path(tempfile.mkdtemp(prefix="am-pg-"))
        self.root.mkdir(parents=True, exist_ok=True)
        self.options = options
        self.data = self.root / "data"
        self.user: str | None = None
        if os.geteuid() == 0:
            self.user = "postgres" if _user_exists("postgres") else "nobody"
            entry = pwd.getpwnam(self.user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self.url = f"postgresql://agentic@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = START_TIMEOUT_SECS) -> None:
        command = [str(a) for a in args]
        if self.user is not None:
            command = ["runuser", "-u", self.user, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False,
                                env={**os.environ, "LC_ALL": "C.UTF-8"})
        if result.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}): {result.stderr}\n{tail}")

    def start(self) -> PostgresServer:
        self._run(self.bin / "initdb", "-D", str(self.data), "-U", "agentic", "--auth=trust", "-E", "UTF8",
                  "--no-sync")
        self.resume()
        return self

    def resume(self) -> None:
        # fsync stays on: the durability tests kill processes, and acked webhooks must survive them.
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root} "
                   f"-c max_connections=200 -c shared_buffers=32MB {self.options}")
        self._run(self.bin / "pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-o",
                  options, "-w", "-t", str(START_TIMEOUT_SECS), "start")

    def stop(self, mode: str = "fast") -> None:
        self._run(self.bin / "pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def close(self) -> None:
        if self.keep:
            if (self.data / "postmaster.pid").exists():
                self.stop("fast")  # a clean shutdown: the next resume needs no recovery
            return
        try:
            if (self.data / "postmaster.pid").exists():
                self.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def wait_ready(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("PostgreSQL did not accept connections")


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True
