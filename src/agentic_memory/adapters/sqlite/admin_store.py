"""SqliteAdminStore: the operator's reads and changes, SQL in `admin.sql`.

Erasure is meant to survive an auditor reading the file's bytes: `secure_delete` overwrites freed
content, `compact` rewrites the FTS index segments (a deleted term can linger in an old segment until
merged), checkpoints the WAL into the main file, truncates it and VACUUMs free pages away.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING

from agentic_memory.adapters.sqlite.database import Database, translate_errors
from agentic_memory.adapters.sqlite.memory_store import SqliteMemoryStore, _memory, _top_facts, _ts
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


@cache
def admin_queries() -> dict[str, str]:
    text = resources.files(__package__).joinpath("admin.sql").read_text(encoding="utf-8")
    parts = _NAME.split(text)
    return {name: sql.strip() for name, sql in zip(parts[1::2], parts[2::2], strict=True)}


def _stamp(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def _entry(r: sqlite3.Row) -> InboxEntry:
    return InboxEntry(id=r[0], event_type=r[1], conversation_id=r[2], status=r[3], attempts=r[4],
                      last_error=r[5], received_at=_ts(r[6]), body_bytes=r[7] or 0)


class SqliteAdminStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.memories = SqliteMemoryStore(db)  # reuses its insert + index of one memory

    def _read(self, name: str, params: dict[str, object]) -> list[sqlite3.Row]:
        with translate_errors():
            return self.db.connection().execute(admin_queries()[name], params).fetchall()

    def find_callers(self, query: CallerQuery) -> list[CallerProfile]:
        rows = self._read("find_callers", {
            "number": query.number, "digits": query.digits, "name": query.name,
            "seen_after": _stamp(query.seen_after), "seen_before": _stamp(query.seen_before),
            "limit": query.limit, "offset": query.offset})
        return [CallerProfile(
            caller_id=r[0], first_seen=_ts(r[1]), last_seen=_ts(r[2]), call_count=r[3] or 0,
            first_name=r[4] or "", name_source=r[5] or "", language=r[6] or "", last_call_summary=r[7] or "",
            memory_count=r[8] or 0, top_facts=_top_facts(r[9])) for r in rows]

    def caller_memories(self, caller_id: str) -> list[MemoryRecord]:
        rows = self._read("caller_memories", {"caller_id": caller_id})
        return [MemoryRecord(_memory(r), superseded_by=r[11], retired_at=None if r[12] is None else _ts(r[12]),
                             retired_reason=r[13] or "") for r in rows]

    def caller_calls(self, caller_id: str) -> list[CallRecord]:
        calls: dict[str, CallRecord] = {}
        for cid, agent, started, kind, key in self._read("caller_calls", {"caller_id": caller_id}):
            call = calls.setdefault(cid, CallRecord(cid, agent, _ts(started), {}))
            if kind is not None:
                call.files[kind] = key
        return list(calls.values())

    def set_name(self, caller_id: str, first_name: str, *, source: str) -> bool:
        with self.db.transaction() as conn:
            return conn.execute(admin_queries()["set_name"], {
                "caller_id": caller_id, "first_name": first_name, "source": source}).rowcount == 1

    def change_memory(self, change: MemoryChange) -> bool:
        import numpy as np

        q = admin_queries()
        by = change.replacement.memory.id if change.replacement else "operator:deleted"
        with self.db.transaction() as conn:
            row = conn.execute(q["retire_memory"], {
                "id": change.memory_id, "caller_id": change.caller_id, "by": by,
                "at": change.at.timestamp(), "reason": change.reason}).fetchone()
            if row is None:
                return False
            conn.execute("DELETE FROM memory_fts WHERE rowid = ?", (row[0],))
            if change.replacement is not None:
                r = change.replacement
                self.memories._insert(conn, r.memory, np.asarray(r.vector, np.float32), r.keywords)
            conn.execute(q["refresh_profile"], {
                "caller_id": change.caller_id, "top_facts": json.dumps(list(change.top_facts), ensure_ascii=False)})
        return True

    def erase_caller(self, caller_id: str, *, conversation_ids: Sequence[str] = ()) -> ErasedRows:
        q = admin_queries()
        keys: list[str] = []
        inbox = 0
        with self.db.transaction() as conn:
            conn.execute("PRAGMA secure_delete=ON")  # freed pages are zeroed, not left with the old bytes
            own = [r[0] for r in conn.execute(q["caller_conversations"], {"caller_id": caller_id})]
            for cid in dict.fromkeys([*own, *conversation_ids]):
                keys += [r[0] for r in conn.execute(q["conversation_files"], {"conversation_id": cid})]
                conn.execute(q["delete_files"], {"conversation_id": cid})
                conn.execute(q["delete_conversation"], {"conversation_id": cid})
                inbox += conn.execute(q["tombstone_inbox"], {"conversation_id": cid}).rowcount
            conn.execute(q["unindex_caller"], {"caller_id": caller_id})
            memories = conn.execute(q["delete_memories"], {"caller_id": caller_id}).rowcount
            profile = conn.execute(q["delete_caller"], {"caller_id": caller_id}).rowcount
        return ErasedRows(profile=profile, conversations=len(own), memories=memories, inbox=inbox,
                          file_keys=tuple(keys))

    def pending_bodies(self, event_type: str) -> list[tuple[str, bytes]]:
        return [(r[0], bytes(r[1])) for r in self._read("pending_bodies", {"event_type": event_type})]

    def compact(self, *, full: bool = True) -> None:
        if full:
            with self.db.transaction() as conn:
                conn.execute("PRAGMA secure_delete=ON")
                # Rewrites the index as one segment: terms of deleted rows leave the shadow tables.
                conn.execute("INSERT INTO memory_fts (memory_fts) VALUES ('optimize')")
        with translate_errors():
            conn = self.db.connection()
            conn.execute("PRAGMA secure_delete=ON")
            if full:
                conn.execute("VACUUM")  # no free page keeps an old copy of anything
            # Old page images live on in the WAL until it is checkpointed and truncated.
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def inbox(self, *, status: str | None, limit: int, offset: int) -> list[InboxEntry]:
        rows = self._read("inbox", {"status": status, "limit": limit, "offset": offset})
        return [_entry(r) for r in rows]

    def inbox_entry(self, job_id: int) -> InboxEntry | None:
        rows = self._read("inbox_entry", {"id": job_id})
        return _entry(rows[0]) if rows else None

    def requeue(self, job_ids: Sequence[int] | None, *, now: datetime) -> int:
        with self.db.transaction() as conn:
            return conn.execute(admin_queries()["requeue"], {
                "now": now.timestamp(), "all": job_ids is None, "ids": json.dumps(list(job_ids or []))}).rowcount

    def purge(self, job_ids: Sequence[int] | None) -> int:
        with self.db.transaction() as conn:
            conn.execute("PRAGMA secure_delete=ON")
            return conn.execute(admin_queries()["purge"], {
                "all": job_ids is None, "ids": json.dumps(list(job_ids or []))}).rowcount

    def expire_bodies(self, before: datetime) -> int:
        with self.db.transaction() as conn:
            conn.execute("PRAGMA secure_delete=ON")
            return conn.execute(admin_queries()["expire_bodies"], {"before": before.timestamp()}).rowcount

    def expire_files(self, kinds: Sequence[str], before: datetime) -> list[str]:
        q = admin_queries()
        with self.db.transaction() as conn:
            rows = conn.execute(q["expired_files"], {"before": before.timestamp(),
                                                     "kinds": json.dumps(list(kinds))}).fetchall()
            for cid, kind, _ in rows:
                conn.execute(q["unlink_file"], {"conversation_id": cid, "kind": kind})
        return [r[2] for r in rows]

    def expire_memories(self, type: MemoryType, before: datetime) -> dict[str, int]:
        q = admin_queries()
        with self.db.transaction() as conn:
            conn.execute("PRAGMA secure_delete=ON")
            rows = conn.execute(q["expired_memories"], {"type": type, "before": before.timestamp()}).fetchall()
            for rowid, _ in rows:
                conn.execute("DELETE FROM memory_fts WHERE rowid = ?", (rowid,))
                conn.execute(q["delete_memory"], {"rowid": rowid})
        return dict(Counter(r[1] for r in rows))

    def refresh_profile(self, caller_id: str, top_facts: Sequence[str]) -> None:
        with self.db.transaction() as conn:
            conn.execute(admin_queries()["refresh_profile"], {
                "caller_id": caller_id, "top_facts": json.dumps(list(top_facts), ensure_ascii=False)})

    def inactive_callers(self, before: datetime, *, limit: int) -> list[str]:
        return [r[0] for r in self._read("inactive_callers", {"before": before.timestamp(), "limit": limit})]

    def record_audit(self, event: AuditEvent) -> None:
        with self.db.transaction() as conn:
            conn.execute(admin_queries()["record_audit"], {
                "at": event.at.timestamp(), "actor": event.actor, "action": event.action,
                "caller_ref": event.caller_ref, "detail": json.dumps(event.detail, default=str)})

    def audit_events(self, *, limit: int, offset: int = 0) -> list[AuditEvent]:
        rows = self._read("audit_events", {"limit": limit, "offset": offset})
        return [AuditEvent(at=datetime.fromtimestamp(r[0], tz=UTC), actor=r[1], action=r[2], caller_ref=r[3],
                           detail=json.loads(r[4])) for r in rows]

    def totals(self) -> Totals:
        row = self._read("totals", {})[0]
        inbox = {status: count for status, count in self._read("inbox_by_status", {})}
        return Totals(callers=row[0], memories={"factual": row[1], "semantic": row[2]}, inbox=inbox)

    def activity(self, since: datetime) -> Activity:
        params: dict[str, object] = {"since": since.timestamp()}
        days = [DayCalls(day=r[0], calls=r[1], callers=r[2], new_callers=r[3])
                for r in self._read("calls_per_day", params)]
        latencies = [(_ts(r[0]), float(r[1])) for r in self._read("job_latencies", params)]
        counts = {int(r[0]): int(r[1]) for r in self._read("memories_per_caller", {})}
        return Activity(days=days, latencies=latencies, memories_per_caller=counts)
