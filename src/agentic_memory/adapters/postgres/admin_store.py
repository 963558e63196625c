"""PostgresAdminStore: the operator's reads and changes, SQL in `admin.sql`.

Erasure deletes the caller's rows in one transaction (a memory's tsvector lives in its row, so its keyword
index entries go with it). PostgreSQL keeps a deleted row's bytes in its page until VACUUM reclaims it,
and in the write-ahead log until the segment is recycled: `compact` VACUUMs the tables an erasure touches
(docs/security.md says what is left to the operator).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import psycopg

from agentic_memory.adapters.postgres.database import PostgresDatabase, clean
from agentic_memory.adapters.postgres.memory_store import PostgresMemoryStore, _memory, _utc
from agentic_memory.domain.models import CallerProfile, MemoryType
from agentic_memory.ports import (
    Activity,
    AuditEvent,
    CallerQuery,
    CallRecord,
    DayCalls,
    ErasedRows,
    InboxEntry,
    MemoryChange,
    MemoryRecord,
    Totals,
)

if TYPE_CHECKING:  # annotations only; numpy is imported with the first vector (a greeting needs none)
    pass

_NAME = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)
# Every table an erasure, a purge or a retention sweep deletes from (their TOAST tables are vacuumed too).
ERASED_TABLES = ("callers", "memories", "conversations", "call_files", "jobs", "job_bodies")


@cache
def admin_queries() -> dict[str, str]:
    text = resources.files(__package__).joinpath("admin.sql").read_text(encoding="utf-8")
    parts = _NAME.split(text)
    return {name: sql.strip() for name, sql in zip(parts[1::2], parts[2::2], strict=True)}


def _entry(r: Sequence[Any]) -> InboxEntry:
    return InboxEntry(id=r[0], event_type=r[1], conversation_id=r[2], status=r[3], attempts=r[4],
                      last_error=r[5], received_at=_utc(r[6]), body_bytes=int(r[7]))


class PostgresAdminStore:
    def __init__(self, db: PostgresDatabase) -> None:
        self.db = db
        self.memories = PostgresMemoryStore(db)  # reuses its insert of one memory

    def _read(self, name: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        with self.db.connection() as conn:
            return conn.execute(admin_queries()[name], clean(params)).fetchall()

    def _write(self, name: str, params: dict[str, Any]) -> int:
        with self.db.transaction() as conn:
            return conn.execute(admin_queries()[name], clean(params)).rowcount

    @staticmethod
    def _run(conn: psycopg.Connection[Any], name: str, params: dict[str, Any]) -> psycopg.Cursor[Any]:
        return conn.execute(admin_queries()[name], clean(params))

    def find_callers(self, query: CallerQuery) -> list[CallerProfile]:
        rows = self._read("find_callers", {
            "number": query.number, "digits": query.digits, "name": query.name,
            "seen_after": query.seen_after, "seen_before": query.seen_before,
            "limit": query.limit, "offset": query.offset})
        return [CallerProfile(
            caller_id=r[0], first_seen=_utc(r[1]), last_seen=_utc(r[2]), call_count=r[3], first_name=r[4],
            name_source=r[5], language=r[6], last_call_summary=r[7], memory_count=r[8],
            top_facts=tuple(r[9])) for r in rows]

    def caller_memories(self, caller_id: str) -> list[MemoryRecord]:
        rows = self._read("caller_memories", {"caller_id": caller_id})
        return [MemoryRecord(_memory(r), superseded_by=r[11], retired_at=None if r[12] is None else _utc(r[12]),
                             retired_reason=r[13]) for r in rows]

    def caller_calls(self, caller_id: str) -> list[CallRecord]:
        calls: dict[str, CallRecord] = {}
        for cid, agent, started, kind, key in self._read("caller_calls", {"caller_id": caller_id}):
            call = calls.setdefault(cid, CallRecord(cid, agent, _utc(started), {}))
            if kind is not None:
                call.files[kind] = key
        return list(calls.values())

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

    def pending_bodies(self, event_type: str) -> list[tuple[str, bytes]]:
        return [(r[0], bytes(r[1])) for r in self._read("pending_bodies", {"event_type": event_type})]

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

    def activity(self, since: datetime) -> Activity:
        params: dict[str, Any] = {"since": since}
        days = [DayCalls(day=r[0], calls=int(r[1]), callers=int(r[2]), new_callers=int(r[3]))
                for r in self._read("calls_per_day", params)]
        latencies = [(_utc(r[0]), float(r[1])) for r in self._read("job_latencies", params)]
        counts = {int(r[0]): int(r[1]) for r in self._read("memories_per_caller", {})}
        return Activity(days=days, latencies=latencies, memories_per_caller=counts)

    def inbox(self, *, status: str | None, limit: int, offset: int) -> list[InboxEntry]:
        return [_entry(r) for r in self._read("inbox", {"status": status, "limit": limit, "offset": offset})]

    def inbox_entry(self, job_id: int) -> InboxEntry | None:
        rows = self._read("inbox_entry", {"id": job_id})
        return _entry(rows[0]) if rows else None

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

    def inactive_callers(self, before: datetime, *, limit: int) -> list[str]:
        return [r[0] for r in self._read("inactive_callers", {"before": before, "limit": limit})]

    def record_audit(self, event: AuditEvent) -> None:
        self._write("record_audit", {
            "at": event.at, "actor": event.actor, "action": event.action, "caller_ref": event.caller_ref,
            "detail": json.dumps(event.detail, default=str)})

    def audit_events(self, *, limit: int, offset: int = 0) -> list[AuditEvent]:
        rows = self._read("audit_events", {"limit": limit, "offset": offset})
        return [AuditEvent(at=_utc(r[0]), actor=r[1], action=r[2], caller_ref=r[3], detail=json.loads(r[4]))
                for r in rows]

    def totals(self) -> Totals:
        row = self._read("totals", {})[0]
        inbox = {status: int(count) for status, count in self._read("jobs_by_status", {})}
        return Totals(callers=int(row[0]), memories={"factual": int(row[1]), "semantic": int(row[2])},
                      inbox=inbox)
