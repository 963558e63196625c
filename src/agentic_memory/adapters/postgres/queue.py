"""PostgresJobQueue: jobs claimed with FOR UPDATE SKIP LOCKED, each claim holding a lease token.

Raw webhook bodies live in `job_bodies`, beside the hot `jobs` table that claims scan. Storing a webhook
and queueing its job is still one statement, so one commit. `accept` runs it on a small thread pool of
its own (a network round trip never runs on the event loop) and resolves once PostgreSQL committed it,
which also NOTIFYs the workers listening through `on_enqueue` (notify.py).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta

from agentic_memory.adapters.postgres.database import PostgresDatabase
from agentic_memory.adapters.postgres.notify import JobNotices
from agentic_memory.clock import SystemClock
from agentic_memory.errors import StorageError
from agentic_memory.ports import Clock, Job, QueueStats

MAX_ERROR_LENGTH = 2000


class PostgresJobQueue:
    def __init__(self, db: PostgresDatabase, clock: Clock | None = None, *, ack_threads: int = 8) -> None:
        self.db = db
        self.clock = clock or SystemClock()
        self._acks = ThreadPoolExecutor(max_workers=ack_threads, thread_name_prefix="pg-ack")
        self._closed = False
        self.notices = JobNotices(db)

    def accept(self, *, event_type: str, conversation_id: str, body: bytes,
               received_at: datetime) -> Future[bool]:
        params = {"event_type": event_type, "conversation_id": conversation_id, "body": body,
                  "received_at": received_at}
        try:
            if not self._closed:
                return self._acks.submit(self._accept, params)
        except RuntimeError:  # shut down between the check and the submit
            pass
        refused: Future[bool] = Future()
        refused.set_exception(StorageError("the job queue is closed"))
        return refused

    def _accept(self, params: dict[str, object]) -> bool:
        return self.db.execute("accept", params) == 1

    def on_enqueue(self, wake: Callable[[], None]) -> None:
        """Call `wake` whenever any process queues a job (LISTEN/NOTIFY; the worker still polls)."""
        self.notices.subscribe(wake)

    def close(self) -> None:
        """Finish the acks already submitted (each commits or fails with StorageError), then stop."""
        self._closed = True
        self._acks.shutdown(wait=True)
        self.notices.close()

    def claim(self, *, worker: str, now: datetime, lease_secs: int) -> Job | None:
        row = self.db.fetchone("claim", {"now": now, "lease_until": now + timedelta(seconds=lease_secs),
                                         "worker": worker})
        if row is None:
            return None
        return Job(id=row[0], event_type=row[1], conversation_id=row[2], body=bytes(row[3]), attempts=row[4],
                   received_at=row[5], lease=row[6])

    def heartbeat(self, job_id: int, *, lease: str, now: datetime, lease_secs: int) -> bool:
        return self.db.execute("heartbeat", {"id": job_id, "lease": lease, "now": now,
                                             "lease_until": now + timedelta(seconds=lease_secs)}) == 1

    def complete(self, job_id: int, *, lease: str, drop_body: bool = False) -> bool:
        row = self.db.fetchone("complete", {"id": job_id, "lease": lease, "drop_body": drop_body,
                                            "now": self.clock.now()})
        return row is not None and row[0] == 1

    def retry(self, job_id: int, *, lease: str, error: str, run_after: datetime) -> bool:
        return self.db.execute("retry", {"id": job_id, "lease": lease, "error": error[:MAX_ERROR_LENGTH],
                                         "run_after": run_after}) == 1

    def bury(self, job_id: int, *, lease: str, error: str) -> bool:
        return self.db.execute("bury", {"id": job_id, "lease": lease, "error": error[:MAX_ERROR_LENGTH],
                                        "now": self.clock.now()}) == 1

    def release_orphans(self, is_alive: Callable[[str], bool]) -> int:
        """Requeue running jobs whose worker `is_alive` says is gone; returns how many."""
        released = 0
        for (worker,) in self.db.fetchall("running_workers"):
            if worker and not is_alive(worker):
                released += self.db.execute("release_worker", {"worker": worker})
        return released

    def stats(self) -> QueueStats:
        row = self.db.fetchone("stats")
        if row is None:  # an aggregate always returns its row
            raise StorageError("postgresql: the queue stats query returned no row")
        return QueueStats(pending=int(row[0]), dead=int(row[1]))

    def ping(self) -> None:
        self.db.ping()
