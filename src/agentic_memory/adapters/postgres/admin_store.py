"""PostgresAdminStore: the operator's reads (shared with SQLite, `sql.AdminReads`) and changes, SQL in `admin.sql`.

Erasure deletes the caller's rows in one transaction (a memory's keyword terms live in its row, so they go
with it). PostgreSQL keeps a deleted row's bytes in its page until VACUUM reclaims it,
and in the write-ahead log until the segment is recycled: `compact` VACUUMs the tables an erasure touches
(docs/security.md says what is left to the operator).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg

from agentic_memory.adapters.postgres.database import PostgresDatabase, clean
from agentic_memory.adapters.postgres.memory_store import ROWS, PostgresMemoryStore
from agentic_memory.adapters.sql import AdminReads, named_queries
from agentic_memory.domain.models import MemoryType
from agentic_memory.ports import AuditEvent, ErasedRows, MemoryChange

# Every table an erasure, a purge or a retention sweep deletes from (their TOAST tables are vacuumed too).
ERASED_TABLES = ("callers", "memories", "conversations", "call_files", "jobs", "job_bodies")


def admin_queries() -> dict[str, str]:
    return named_queries(__package__, "admin.sql")


class PostgresAdminStore(AdminReads):
    rows = ROWS

    def __init__(self, db: PostgresDatabase) -> None:
        self.db = db
        self.memories = PostgresMemoryStore(db)  # reuses its insert of one memory

    def _read(self, name: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        with self.db.connection() as conn:
            return conn.execute(admin_queries()[name], clean(params)).fetchall()

    def _at(self, value: datetime) -> datetime:
        return value

    def _write(self, name: str, params: dict[str, Any]) -> int:
        with self.db.transaction() as conn:
            return conn.execute(admin_queries()[name], clean(params)).rowcount

    @staticmethod
    def _run(conn: psycopg.Connection[Any], name: str, params: dict[str, Any]) -> psycopg.Cursor[Any]:
        return conn.execute(admin_queries()[name], clean(params))

    def set_name(self, caller_id: str, first_name: str, *, source: str) -> bool:
        return self._write("set_name", {"caller_id": caller_id, "first_name": first_name, "source": source}) == 1

    def change_memory(self, change: MemoryChange) -> bool:
        import numpy as np

        by = change.replacement.memory.id if change.replacement else "operator:deleted"
        with self.db.transaction() as conn:
            retired = self._run(conn, "retire_memory", {
                "id": change.memory_id, "caller_id": change.caller_id, "by": by, "at": change.at,
                "reason": change.reason}).rowcount
            if retired != 1:
                return False
            if change.replacement is not None:
                r = change.replacement
                self.memories._insert(conn, r.memory, np.asarray(r.vector, np.float32), r.keywords)
            self._run(conn, "refresh_profile", {"caller_id": change.caller_id, "top_facts": list(change.top_facts)})
        return True

    def erase_caller(self, caller_id: str, *, conversation_ids: Sequence[str] = ()) -> ErasedRows:
        keys: list[str] = []
        inbox = 0
        with self.db.transaction() as conn:
            own = [r[0] for r in self._run(conn, "caller_conversations", {"caller_id": caller_id})]
            for cid in dict.fromkeys([*own, *conversation_ids]):
                keys += [r[0] for r in self._run(conn, "delete_files", {"conversation_id": cid})]
                self._run(conn, "delete_conversation", {"conversation_id": cid})
                row = self._run(conn, "tombstone_inbox", {"conversation_id": cid}).fetchone()
                inbox += int(row[0]) if row else 0
            memories = self._run(conn, "delete_memories", {"caller_id": caller_id}).rowcount
            profile = self._run(conn, "delete_caller", {"caller_id": caller_id}).rowcount
        return ErasedRows(profile=profile, conversations=len(own), memories=memories, inbox=inbox,
                          file_keys=tuple(keys))

    def compact(self, *, full: bool = True) -> None:
        """VACUUM the tables erasure deletes from: dead rows' space is reclaimed and their index entries
        removed. `full` is accepted for the port; VACUUM FULL is not run, as its exclusive lock would stop
        the service for as long as the rewrite takes."""
        del full
        with self.db.connection() as conn:
            conn.execute("SET statement_timeout = 0")  # VACUUM of a large table takes its time
            try:
                conn.execute(f"VACUUM {', '.join(ERASED_TABLES)}")  # outside a transaction: autocommit
            finally:
                conn.execute(f"SET statement_timeout = {int(self.db.statement_timeout_ms)}")

    def requeue(self, job_ids: Sequence[int] | None, *, now: datetime) -> int:
        return self._write("requeue", {"now": now, "all": job_ids is None, "ids": list(job_ids or [])})

    def purge(self, job_ids: Sequence[int] | None) -> int:
        return self._write("purge", {"all": job_ids is None, "ids": list(job_ids or [])})

    def expire_bodies(self, before: datetime) -> int:
        return self._write("expire_bodies", {"before": before})

    def expire_files(self, kinds: Sequence[str], before: datetime) -> list[str]:
        with self.db.transaction() as conn:
            return [r[0] for r in self._run(conn, "expire_files", {"before": before, "kinds": list(kinds)})]

    def expire_memories(self, type: MemoryType, before: datetime) -> dict[str, int]:
        with self.db.transaction() as conn:
            rows = self._run(conn, "expire_memories", {"type": type, "before": before}).fetchall()
        return dict(Counter(r[0] for r in rows))

    def refresh_profile(self, caller_id: str, top_facts: Sequence[str]) -> None:
        self._write("refresh_profile", {"caller_id": caller_id, "top_facts": list(top_facts)})

    def record_audit(self, event: AuditEvent) -> None:
        self._write("record_audit", {
            "at": event.at, "actor": event.actor, "action": event.action, "caller_ref": event.caller_ref,
            "detail": json.dumps(event.detail, default=str)})
