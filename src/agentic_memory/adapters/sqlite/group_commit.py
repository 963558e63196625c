"""Group commit for the webhook ack: one writer thread; every accept waiting when it wakes shares one
transaction and so one fsync. Each accept's future resolves only after that commit returned, and a failed
commit fails every accept of its batch (nothing of it was stored, so each is answered 503 and retried)."""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any

from agentic_memory.adapters.sqlite.database import Database
from agentic_memory.errors import StorageError

log = logging.getLogger(__name__)
MAX_BATCH = 256  # bounds one transaction; the rest wait for the next one
Write = Callable[[sqlite3.Connection, Sequence[Any]], list[bool]]
_STOP = object()


class GroupCommit:
    def __init__(self, db: Database, write: Write, *, name: str = "sqlite-group-commit") -> None:
        self.db = db
        self.write = write
        self.name = name
        self._waiting: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, item: Any) -> Future[bool]:
        """Queue `item` for the next commit; never blocks."""
        future: Future[bool] = Future()
        if self._closed:
            future.set_exception(StorageError("the database is closed"))
            return future
        self._waiting.put((item, future))
        if self._thread is None:
            self._start()
        return future

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()

    def close(self, timeout: float = 30.0) -> None:
        """Commit what is queued, then stop the writer thread."""
        self._closed = True
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._waiting.put(_STOP)
            thread.join(timeout)
        self._refuse_waiting()

    def _refuse_waiting(self) -> None:
        """Fail whatever is still queued: an ack is refused (503), never left hanging."""
        while True:
            try:
                entry = self._waiting.get_nowait()
            except queue.Empty:
                return
            if entry is not _STOP and entry[1].set_running_or_notify_cancel():
                entry[1].set_exception(StorageError("the database is closed"))

    def _run(self) -> None:
        try:
            while True:
                batch = [self._waiting.get()]
                while len(batch) < MAX_BATCH:
                    try:
                        batch.append(self._waiting.get_nowait())
                    except queue.Empty:
                        break
                stop = any(entry is _STOP for entry in batch)
                self._commit([entry for entry in batch if entry is not _STOP])
                if stop:
                    return
        finally:
            self._closed = True  # stopped or died: later acks are refused at once
            self._refuse_waiting()

    def _commit(self, batch: list[tuple[Any, Future[bool]]]) -> None:
        # A future cancelled before its commit (its request went away) is simply not written.
        live = [(item, future) for item, future in batch if future.set_running_or_notify_cancel()]
        if not live:
            return
        try:
            with self.db.transaction() as conn:
                results = self.write(conn, [item for item, _ in live])
        except BaseException as exc:  # every waiter must hear about it, whatever it is
            error = exc if isinstance(exc, StorageError) else StorageError(f"commit failed: {exc!r}")
            log.error("group commit failed", extra={"acks": len(live), "error": str(error)})
            for _, future in live:
                future.set_exception(error)
            if not isinstance(exc, Exception):
                raise
            return
        for (_, future), result in zip(live, results, strict=True):
            future.set_result(result)
