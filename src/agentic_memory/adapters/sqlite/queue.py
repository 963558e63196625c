"""SqliteJobQueue: the webhook inbox doubles as the work queue, so storing and queueing is one commit.

`accept` (the webhook ack) goes through a group commit: concurrent acks share a transaction and an fsync
(`group_commit.py`). The worker's calls run in the calling thread, serialised with it by the write lock.
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from datetime import UTC, datetime
from typing import Any

from agentic_memory.adapters.sqlite.database import Database, queries, translate_errors
from agentic_memory.adapters.sqlite.group_commit import GroupCommit
from agentic_memory.clock import SystemClock
from agentic_memory.ports import Clock, Job, QueueStats

MAX_ERROR_LENGTH = 2000


class SqliteJobQueue:
    # /health may run ping/stats on the event loop (http/health.py): reads of a local file in WAL mode, which
    # never wait for a writer while this process holds its connections open.
    probe_inline = True

    def __init__(self, db: Database, clock: Clock | None = None) -> None:
        self.db = db
        self.clock = clock or SystemClock()
        self._acks = GroupCommit(db, _insert_all)

    def close(self) -> None:
        self._acks.close()

    def accept(self, *, event_type: str, conversation_id: str, body: bytes,
               received_at: datetime) -> Future[bool]:
        return self._acks.submit({"event_type": event_type, "conversation_id": conversation_id, "body": body,
                                  "received_at": received_at.timestamp()})

    def claim(self, *, worker: str, now: datetime, lease_secs: int) -> Job | None:
        stamp = now.timestamp()
        with self.db.transaction() as conn:
            row = conn.execute(queries()["claim"], {
                "now": stamp, "lease_until": stamp + lease_secs, "worker": worker,
                "token": secrets.token_hex(16)}).fetchone()
        if row is None:
            return None
        return Job(id=row[0], event_type=row[1], conversation_id=row[2], body=bytes(row[3]), attempts=row[4],
                   received_at=datetime.fromtimestamp(row[5], tz=UTC), lease=row[6])

    def heartbeat(self, job_id: int, *, lease: str, now: datetime, lease_secs: int) -> bool:
        with self.db.transaction() as conn:
            return conn.execute(queries()["heartbeat"], {
                "id": job_id, "lease": lease, "lease_until": now.timestamp() + lease_secs}).rowcount == 1

    def release_orphans(self, is_alive: Callable[[str], bool]) -> int:
        """Requeue running jobs whose worker `is_alive` says is gone; returns how many."""
        with translate_errors():
            workers = [row[0] for row in self.db.connection().execute(queries()["running_workers"])]
        released = 0
        for worker in workers:
            if worker and not is_alive(worker):
                with self.db.transaction() as conn:
                    released += conn.execute(queries()["release_worker"], {"worker": worker}).rowcount
        return released

    def complete(self, job_id: int, *, lease: str, drop_body: bool = False) -> bool:
        with self.db.transaction() as conn:
            return conn.execute(queries()["complete"], {
                "id": job_id, "lease": lease, "now": self.clock.now().timestamp(),
                "drop_body": drop_body}).rowcount == 1

    def retry(self, job_id: int, *, lease: str, error: str, run_after: datetime) -> bool:
        with self.db.transaction() as conn:
            return conn.execute(queries()["retry"], {
                "id": job_id, "lease": lease, "error": error[:MAX_ERROR_LENGTH],
                "run_after": run_after.timestamp()}).rowcount == 1

    def bury(self, job_id: int, *, lease: str, error: str) -> bool:
        with self.db.transaction() as conn:
            return conn.execute(queries()["bury"], {
                "id": job_id, "lease": lease, "error": error[:MAX_ERROR_LENGTH],
                "now": self.clock.now().timestamp()}).rowcount == 1

    def stats(self) -> QueueStats:
        with translate_errors():
            row = self.db.connection().execute(queries()["stats"]).fetchone()
        return QueueStats(pending=int(row[0]), dead=int(row[1]))


def _insert_all(conn: sqlite3.Connection, rows: Sequence[dict[str, Any]]) -> list[bool]:
    """One transaction's acks, in order: True where the row is new (a repeat in the same batch is False)."""
    sql = queries()["accept"]
    return [conn.execute(sql, row).rowcount == 1 for row in rows]
