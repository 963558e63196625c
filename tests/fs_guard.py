"""Proof that the suite reads nothing outside the checkout: an audit hook on file opens.

CI runs as root beside a read-only copy of `../shared`, so file permissions cannot show a test that
reads it, and a second run without it would double CI time. Instead `tests/conftest.py` installs
`sys.addaudithook(hook)` once per pytest process: every path that Python code opens (`open`, `os.open`,
`io.open_code`), every SQLite database it connects to, and every directory it lists is resolved
(symlinks included) and checked against the allowed roots below. A path outside them is recorded and
refused with `OutsideCheckoutError`; an autouse fixture then fails the test that did it, even if the code
under test caught the error.

What it cannot see: opens done in C without Python (the ONNX runtime loading the model from the
package, SQLite's own journal files beside a database it was allowed to open), and other processes
(servers started by the tests; they run the same code the in-process tests check).
"""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent

# Audit events that name a path being read or written, and the index of that path in their arguments.
EVENTS = {"open": 0, "sqlite3.connect": 0, "os.listdir": 0, "os.scandir": 0}


class OutsideCheckoutError(PermissionError):
    """A test opened a path outside the checkout, the test temp dir and the Python environment."""


def _real(path: str | os.PathLike[str]) -> str:
    return os.path.realpath(os.fspath(path))


def _python_roots() -> list[str]:
    """The interpreter's own files: the venv, the stdlib, the site-packages and the import path.

    `sys.prefix` is the venv (inside the checkout for `make`, elsewhere if CI builds one); the stdlib
    and lib-dynload live under the base interpreter (pyenv here); purelib/platlib are the site-packages
    of whichever environment runs pytest; the `sys.path` entries are where imports look (the finders
    also try the base interpreter's python311.zip, which does not exist, on every new import).
    """
    paths = sysconfig.get_paths()
    base = sysconfig.get_paths(vars={"base": sys.base_prefix, "platbase": sys.base_exec_prefix})
    return [sys.prefix, paths["stdlib"], paths["platstdlib"], paths["purelib"], paths["platlib"],
            base["stdlib"], base["platstdlib"], *(entry for entry in sys.path if entry)]


# One device file, opened by pytest itself: its logging plugin writes the (unset) --log-file to /dev/null.
# Nothing else under /dev, /proc, /sys or /etc is allowed, because nothing in the suite opens them from
# Python: the reads that do happen there are in C, out of the hook's sight (os.urandom is the getrandom()
# call, onnxruntime reads /proc/cpuinfo and /sys itself, getaddrinfo reads /etc/hosts itself). A library
# that starts opening one of them from Python fails here by name; add the file then, with its reason.
DEVICE_FILES = frozenset({"/dev/null"})
# The OS's identity file, read by the official openai client (platform.freedesktop_os_release) for its
# User-Agent headers in the proxy's end-to-end test: a fixed system file, not data.
OS_RELEASE = frozenset({"/etc/os-release", "/usr/lib/os-release"})


class Guard:
    def __init__(self, temp_root: str) -> None:
        self.temp_root = temp_root
        candidates: list[str | os.PathLike[str]] = [CHECKOUT, temp_root, *_python_roots()]
        self.roots = tuple(sorted({_real(r) for r in candidates}))
        self.violations: list[str] = []
        self._local = threading.local()

    def allowed(self, path: str) -> bool:
        real = _real(path)
        if real in DEVICE_FILES or real in OS_RELEASE:
            return True
        return any(real == root or real.startswith(root + os.sep) for root in self.roots)

    def hook(self, event: str, args: tuple[object, ...]) -> None:
        index = EVENTS.get(event)
        if index is None or getattr(self._local, "busy", False):
            return
        target = args[index] if len(args) > index else None
        if target is None or isinstance(target, int):  # an fd or the cwd (listdir()): nothing named
            return
        if isinstance(target, bytes):
            target = os.fsdecode(target)
        if not isinstance(target, str | os.PathLike):
            return
        path = os.fspath(target)
        if event == "sqlite3.connect":
            if path.startswith("file:"):  # a URI (uri=True): its path is what SQLite opens
                path, _, query = path.removeprefix("file:").partition("?")
                path = path.removeprefix("//")  # file:///abs/path
                if "mode=memory" in query:
                    return
            if path in (":memory:", ""):  # in-memory and temporary databases: no file is named
                return
        self._local.busy = True  # realpath below must not re-enter the hook
        try:
            if self.allowed(path):
                return
            message = f"{event} {path!r} is outside the checkout, the test temp dir and the environment"
            self.violations.append(message)
            raise OutsideCheckoutError(message)
        finally:
            self._local.busy = False

    @contextmanager
    def expect_violation(self) -> Iterator[list[str]]:
        """For the test that proves the guard works: take the violations it causes out of the record."""
        before = len(self.violations)
        caught: list[str] = []
        try:
            yield caught
        finally:
            caught.extend(self.violations[before:])
            del self.violations[before:]


_installed: Guard | None = None


def install() -> Guard:
    """Give the session its own temp dir (so that a checkout inside /tmp cannot make a sibling folder of it
    allowed), then install the hook. Audit hooks cannot be removed: one per process, installed once."""
    global _installed  # one hook per process, however often conftest is imported
    if _installed is not None:
        return _installed
    temp_root = tempfile.mkdtemp(prefix="agentic-memory-tests-")
    # Searchable, not listable: a test server that refuses root (PostgreSQL, run as `postgres`) must reach
    # its own folder inside; mkdtemp's 0700 would shut it out.
    os.chmod(temp_root, 0o711)
    os.environ["TMPDIR"] = temp_root  # for subprocesses
    tempfile.tempdir = temp_root  # for this process, pytest's tmp_path included (it asks tempfile)
    guard = Guard(temp_root)
    sys.addaudithook(guard.hook)
    _installed = guard
    return guard


def remove_temp_root(guard: Guard) -> None:
    shutil.rmtree(guard.temp_root, ignore_errors=True)
