"""What the two SQL backends share: named queries in `.sql` files, their rows as domain objects, and the
read half of the admin store.

SQLite and PostgreSQL select the same columns in the same order (queries.sql, admin.sql); a row differs
only in how a time comes back (epoch seconds / timestamptz) and how top facts are kept (JSON text /
text[]), and a time parameter in how it goes in. Each backend gives those, so a mapping and a read are
written once; writes stay in each backend, where the dialects really differ.
"""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any

from agentic_memory.domain.models import CallerProfile, Memory
from agentic_memory.ports import (
    Activity,
    AuditEvent,
    CallerQuery,
    CallRecord,
    DayCalls,
    InboxEntry,
    MemoryRecord,
    Totals,
)

_NAME = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)

Row = Sequence[Any]


@cache
def named_queries(package: str, filename: str) -> dict[str, str]:
    """The statements of one `.sql` resource, each under its `-- name: x` line."""
    text = resources.files(package).joinpath(filename).read_text(encoding="utf-8")
    parts = _NAME.split(text)
    return {name: sql.strip() for name, sql in zip(parts[1::2], parts[2::2], strict=True)}


@cache
def schema_migrations(package: str) -> tuple[tuple[int, str], ...]:
    """The numbered steps of a backend's `schema.sql`, each under its `-- migration: n` line."""
    text = resources.files(package).joinpath("schema.sql").read_text(encoding="utf-8")
    parts = re.split(r"^-- migration: (\d+)\s*$", text, flags=re.MULTILINE)
    return tuple((int(v), sql) for v, sql in zip(parts[1::2], parts[2::2], strict=True))


@dataclass(frozen=True)
class Rows:
    """One dialect's rows as domain objects: `time` turns a stored time into an aware UTC datetime, `facts`
    a stored top-facts value into a tuple."""

    time: Callable[[Any], datetime]
    facts: Callable[[Any], tuple[str, ...]]

    def memory(self, r: Row) -> Memory:
        return Memory(id=r[0], caller_id=r[1], type=r[2], text=r[3], conversation_id=r[4], agent_id=r[5],
                      created_at=self.time(r[6]), category=r[7], slot=r[8], turn_start=r[9], turn_end=r[10])

    def profile(self, r: Row) -> CallerProfile:
        return CallerProfile(
            caller_id=r[0], first_seen=self.time(r[1]), last_seen=self.time(r[2]), call_count=r[3] or 0,
            first_name=r[4] or "", name_source=r[5] or "", language=r[6] or "", last_call_summary=r[7] or "",
            memory_count=r[8] or 0, top_facts=self.facts(r[9]))

    def memory_record(self, r: Row) -> MemoryRecord:
        """A memory's columns, then who superseded it, when and why it was retired."""
        return MemoryRecord(self.memory(r), superseded_by=r[11], retired_at=None if r[12] is None else self.time(r[12]),
                            retired_reason=r[13] or "")

    def calls(self, rows: Iterable[Row]) -> list[CallRecord]:
        """One row per (call, file), a call without files once with a NULL kind: calls in row order."""
        calls: dict[str, CallRecord] = {}
        for cid, agent, started, kind, key in rows:
            call = calls.setdefault(cid, CallRecord(cid, agent, self.time(started), {}))
            if kind is not None:
                call.files[kind] = key
        return list(calls.values())

    def inbox_entry(self, r: Row) -> InboxEntry:
        return InboxEntry(id=r[0], event_type=r[1], conversation_id=r[2], status=r[3], attempts=r[4],
                          last_error=r[5], received_at=self.time(r[6]), body_bytes=int(r[7] or 0))

    def audit_event(self, r: Row) -> AuditEvent:
        return AuditEvent(at=self.time(r[0]), actor=r[1], action=r[2], caller_ref=r[3], detail=json.loads(r[4]))

    @staticmethod
    def totals(row: Row, by_status: Iterable[Row]) -> Totals:
        return Totals(callers=int(row[0]), memories={"factual": int(row[1]), "semantic": int(row[2])},
                      inbox={status: int(count) for status, count in by_status})

    def activity(self, days: Iterable[Row], latencies: Iterable[Row], per_caller: Iterable[Row]) -> Activity:
        return Activity(days=[DayCalls(day=r[0], calls=int(r[1]), callers=int(r[2]), new_callers=int(r[3]))
                              for r in days],
                        latencies=[(self.time(r[0]), float(r[1])) for r in latencies],
                        memories_per_caller={int(r[0]): int(r[1]) for r in per_caller})


class AdminReads(ABC):
    """The reads of `AdminStore` over admin.sql, for a backend that runs one named query (`_read`), maps its
    rows (`rows`) and passes a time as its parameter (`_at`)."""

    rows: Rows

    @abstractmethod
    def _read(self, name: str, params: dict[str, Any]) -> Sequence[Row]: ...

    @abstractmethod
    def _at(self, value: datetime) -> object: ...

    def _maybe_at(self, value: datetime | None) -> object:
        return None if value is None else self._at(value)

    def find_callers(self, query: CallerQuery) -> list[CallerProfile]:
        return [self.rows.profile(r) for r in self._read("find_callers", {
            "number": query.number, "digits": query.digits, "name": query.name,
            "seen_after": self._maybe_at(query.seen_after), "seen_before": self._maybe_at(query.seen_before),
            "limit": query.limit, "offset": query.offset})]

    def caller_memories(self, caller_id: str) -> list[MemoryRecord]:
        return [self.rows.memory_record(r) for r in self._read("caller_memories", {"caller_id": caller_id})]

    def caller_calls(self, caller_id: str) -> list[CallRecord]:
        return self.rows.calls(self._read("caller_calls", {"caller_id": caller_id}))

    def pending_bodies(self, event_type: str) -> list[tuple[str, bytes]]:
        return [(r[0], bytes(r[1])) for r in self._read("pending_bodies", {"event_type": event_type})]

    def inbox(self, *, status: str | None, limit: int, offset: int) -> list[InboxEntry]:
        rows = self._read("inbox", {"status": status, "limit": limit, "offset": offset})
        return [self.rows.inbox_entry(r) for r in rows]

    def inbox_entry(self, job_id: int) -> InboxEntry | None:
        rows = self._read("inbox_entry", {"id": job_id})
        return self.rows.inbox_entry(rows[0]) if rows else None

    def inactive_callers(self, before: datetime, *, limit: int) -> list[str]:
        return [r[0] for r in self._read("inactive_callers", {"before": self._at(before), "limit": limit})]

    def audit_events(self, *, limit: int, offset: int = 0) -> list[AuditEvent]:
        return [self.rows.audit_event(r) for r in self._read("audit_events", {"limit": limit, "offset": offset})]

    def totals(self) -> Totals:
        return self.rows.totals(self._read("totals", {})[0], self._read("inbox_by_status", {}))

    def activity(self, since: datetime) -> Activity:
        params = {"since": self._at(since)}
        return self.rows.activity(self._read("calls_per_day", params), self._read("job_latencies", params),
                                  self._read("memories_per_caller", {}))
