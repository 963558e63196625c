"""Wake-ups for workers: one LISTEN connection per process, woken by the NOTIFY of every job queued.

The `accept` statement (queries.sql) notifies on commit. Workers still poll: a notification sent while
this connection was down (PostgreSQL restarted, the network dropped) is lost, and then a job waits at most
the worker's poll interval, as it would without LISTEN. Jobs that become ready later (a retry's backoff, an
expired lease) send nothing and are found by the poll too.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg

from agentic_memory.adapters.postgres.database import PostgresDatabase

log = logging.getLogger(__name__)
CHANNEL = "agentic_memory_jobs"  # the name pg_notify uses in queries.sql's `accept`


class JobNotices:
    """Calls every registered `wake` when a job is queued; a thread of its own, started by the first one."""

    def __init__(self, db: PostgresDatabase, *, wait_secs: float = 1.0, reconnect_secs: float = 2.0) -> None:
        self.db = db
        self.wait_secs = wait_secs  # how often the listening thread looks at `stopping`
        self.reconnect_secs = reconnect_secs
        self._wakes: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.listening = threading.Event()  # set while LISTEN is in effect (tests wait on it)

    def subscribe(self, wake: Callable[[], None]) -> None:
        with self._lock:
            self._wakes.append(wake)
            if self._thread is None and not self._stopping.is_set():
                self._thread = threading.Thread(target=self._run, name="pg-listen", daemon=True)
                self._thread.start()

    def _wake_all(self) -> None:
        with self._lock:
            wakes = list(self._wakes)
        for wake in wakes:
            wake()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                with self.db.dedicated_connection() as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    self._wake_all()  # a job queued while nobody listened: look now, not at the next poll
                    while not self._stopping.is_set():
                        for _ in conn.notifies(timeout=self.wait_secs):
                            self._wake_all()
            except psycopg.Error as exc:
                # Polling carries on meanwhile; try again shortly. The URL is never logged (a password).
                log.warning("job notifications unavailable, workers poll until they come back",
                            extra={"error": exc.__class__.__name__})
            finally:
                self.listening.clear()
            self._stopping.wait(self.reconnect_secs)

    def close(self) -> None:
        self._stopping.set()
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join(timeout=self.wait_secs + 5)
