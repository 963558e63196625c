"""In-memory fakes of every port, shipped and tested like real adapters (tests/contract)."""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np

from agentic_memory.config import Settings, load_settings
from agentic_memory.domain.keys import check_key
from agentic_memory.domain.models import CallContext, CallerProfile, CallUpdate, Memory, MemoryType
from agentic_memory.domain.ranking import stem  # a stand-in for FTS5's porter stemmer: plurals
from agentic_memory.ports import (
    DELETED,
    AuditEvent,
    CallerQuery,
    CallRecord,
    ErasedRows,
    InboxEntry,
    Job,
    MemoryChange,
    MemoryRecord,
    QueueStats,
    Totals,
)

if TYPE_CHECKING:
    from agentic_memory.bootstrap import Deps

_TOKEN = re.compile(r"[^\W_]+")
TEST_WORKSPACE_KEY = "amk_fake_workspace_key_0123456789abcdef"
TEST_HMAC_KEY = "wsec_fake_hmac_key_0123456789abcdefghij"


class FixedClock:
    def __init__(self, now: datetime | None = None) -> None:
        self.current = now or datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


class HashEmbedder:
    """Bag-of-words hashed into a fixed space: deterministic and instant, for tests of everything but quality."""

    def __init__(self, dim: int = 64) -> None:
        self.dim = dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                out[row, int(hashlib.md5(word.encode(), usedforsecurity=False).hexdigest(), 16) % self.dim] += 1.0
            norm = float(np.linalg.norm(out[row]))
            out[row] = out[row] / norm if norm else out[row]
        return out


class InMemoryBlobStore:
    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}

    def put(self, key: str, data: bytes) -> None:
        self.blobs[check_key(key)] = bytes(data)

    def get(self, key: str) -> bytes:
        return self.blobs[check_key(key)]

    def delete(self, key: str) -> bool:
        return self.blobs.pop(check_key(key), None) is not None

    def ping(self) -> None:
        return None


@dataclass
class _Row:
    job: Job
    status: str = "queued"
    run_after: datetime | None = None
    lease_until: datetime | None = None
    error: str = ""
    worker: str = ""


class InMemoryJobQueue:
    def __init__(self) -> None:
        self.rows: dict[int, _Row] = {}
        self.keys: set[tuple[str, str]] = set()
        self.lock = threading.Lock()

    def accept(self, *, event_type: str, conversation_id: str, body: bytes,
               received_at: datetime) -> Future[bool]:
        done: Future[bool] = Future()
        with self.lock:
            fresh = (conversation_id, event_type) not in self.keys
            if fresh:
                self.keys.add((conversation_id, event_type))
                job_id = max(self.rows, default=0) + 1
                self.rows[job_id] = _Row(Job(job_id, event_type, conversation_id, bytes(body), 0, received_at),
                                         run_after=received_at)
        done.set_result(fresh)
        return done

    def claim(self, *, worker: str, now: datetime, lease_secs: int) -> Job | None:
        with self.lock:
            for row in self.rows.values():
                ready = row.status == "queued" and (row.run_after is None or row.run_after <= now)
                expired = row.status == "running" and row.lease_until is not None and row.lease_until < now
                if ready or expired:
                    row.status, row.lease_until = "running", now + timedelta(seconds=lease_secs)
                    row.worker = worker
                    row.job = replace(row.job, attempts=row.job.attempts + 1, lease=secrets.token_hex(16))
                    return row.job
        return None

    def _held(self, job_id: int, lease: str) -> _Row | None:
        row = self.rows.get(job_id)
        return row if row is not None and row.status == "running" and row.job.lease == lease else None

    def heartbeat(self, job_id: int, *, lease: str, now: datetime, lease_secs: int) -> bool:
        with self.lock:
            row = self._held(job_id, lease)
            if row is not None:
                row.lease_until = now + timedelta(seconds=lease_secs)
            return row is not None

    def complete(self, job_id: int, *, lease: str, drop_body: bool = False) -> bool:
        with self.lock:
            row = self._held(job_id, lease)
            if row is not None:
                row.status, row.job = "done", replace(row.job, body=b"" if drop_body else row.job.body, lease="")
            return row is not None

    def retry(self, job_id: int, *, lease: str, error: str, run_after: datetime) -> bool:
        with self.lock:
            row = self._held(job_id, lease)
            if row is not None:
                row.status, row.run_after, row.error = "queued", run_after, error
                row.job = replace(row.job, lease="")
            return row is not None

    def bury(self, job_id: int, *, lease: str, error: str) -> bool:
        with self.lock:
            row = self._held(job_id, lease)
            if row is not None:
                row.status, row.error, row.job = "dead", error, replace(row.job, lease="")
            return row is not None

    def release_orphans(self, is_alive: Callable[[str], bool]) -> int:
        released = 0
        for row in self.rows.values():
            if row.status == "running" and not is_alive(row.worker):
                row.status, row.lease_until, released = "queued", None, released + 1
                row.job = replace(row.job, lease="")
        return released

    def stats(self) -> QueueStats:
        statuses = [row.status for row in self.rows.values()]
        return QueueStats(pending=sum(s in ("queued", "running") for s in statuses), dead=statuses.count("dead"))


class InMemoryMemoryStore:
    def __init__(self) -> None:
        self.profiles: dict[str, CallerProfile] = {}
        self.conversations: set[str] = set()
        self.rows: dict[str, tuple[Memory, np.ndarray, str]] = {}
        self.superseded: dict[str, str] = {}
        self.call_files: dict[str, dict[str, str]] = {}
        self.calls: dict[str, CallUpdate] = {}  # what the admin fake reads (caller, agent, start time)
        self.retired: dict[str, tuple[datetime, str]] = {}

    def caller(self, caller_id: str) -> CallerProfile | None:
        return self.profiles.get(caller_id)

    def load_call(self, conversation_id: str, caller_id: str | None) -> CallContext:
        if conversation_id in self.conversations or caller_id is None:
            return CallContext(processed=conversation_id in self.conversations, profile=None)
        return CallContext(processed=False, profile=self.profiles.get(caller_id),
                           active_facts=tuple(self._facts(caller_id)))

    def _active(self, caller_id: str, type: MemoryType | None) -> list[tuple[Memory, np.ndarray, str]]:
        return [row for mid, row in self.rows.items() if row[0].caller_id == caller_id
                and mid not in self.superseded and (type is None or row[0].type == type)]

    def _facts(self, caller_id: str) -> list[tuple[Memory, np.ndarray]]:
        rows = sorted(self._active(caller_id, "factual"), key=lambda r: r[0].created_at)
        return [(m, v) for m, v, _ in rows]

    def save_call(self, update: CallUpdate) -> bool:
        if update.conversation_id in self.conversations:
            return False
        self.conversations.add(update.conversation_id)
        self.calls[update.conversation_id] = update
        for old, new in update.superseded:
            if old in self.rows and self.rows[old][0].caller_id == update.caller_id:
                self.superseded[old] = new
        for stored in update.new_memories:
            self.rows[stored.memory.id] = (stored.memory, np.asarray(stored.vector, np.float32), stored.keywords)
        self.call_files.setdefault(update.conversation_id, {}).update(update.files)
        if update.profile is not None:
            self.profiles[update.profile.caller_id] = update.profile
        return True

    def link_file(self, conversation_id: str, kind: str, key: str) -> None:
        self.call_files.setdefault(conversation_id, {})[kind] = key

    def files(self, conversation_id: str) -> dict[str, str]:
        return dict(self.call_files.get(conversation_id, {}))

    def dense_search(self, caller_id: str, vector: np.ndarray, *, limit: int,
                     type: MemoryType | None) -> list[tuple[str, float]]:
        scored = [(m.id, float(v @ vector)) for m, v, _ in self._active(caller_id, type)]
        return sorted(scored, key=lambda s: -s[1])[:limit]

    def keyword_search(self, caller_id: str, terms: Sequence[str], *, limit: int,
                       type: MemoryType | None) -> list[tuple[str, float]]:
        wanted = {stem(t) for term in terms for t in _TOKEN.findall(term.lower())}
        scored = []
        for memory, _, keywords in self._active(caller_id, type):
            words = {stem(t) for t in _TOKEN.findall(f"{memory.text} {keywords}".lower())}
            overlap = len(wanted & words)
            if overlap:
                scored.append((memory.id, float(overlap)))
        return sorted(scored, key=lambda s: -s[1])[:limit]

    def memories(self, ids: Sequence[str]) -> dict[str, Memory]:
        return {i: self.rows[i][0] for i in ids if i in self.rows}

    def ping(self) -> None:
        return None


def _entry(r: _Row) -> InboxEntry:
    return InboxEntry(id=r.job.id, event_type=r.job.event_type, conversation_id=r.job.conversation_id,
                      status=r.status, attempts=r.job.attempts, last_error=r.error, received_at=r.job.received_at,
                      body_bytes=len(r.job.body))


class InMemoryAdminStore:
    """The operator's side over the two fakes above, with the SQLite adapter's semantics."""

    def __init__(self, store: InMemoryMemoryStore, queue: InMemoryJobQueue) -> None:
        self.store = store
        self.queue = queue
        self.audit: list[AuditEvent] = []

    def find_callers(self, query: CallerQuery) -> list[CallerProfile]:
        found = [p for p in self.store.profiles.values()
                 if (query.number is None or p.caller_id.partition("|")[0] == query.number)
                 and query.digits in p.caller_id
                 and query.name.lower() in p.first_name.lower()
                 and (query.seen_after is None or p.last_seen >= query.seen_after)
                 and (query.seen_before is None or p.last_seen < query.seen_before)]
        found.sort(key=lambda p: (-p.last_seen.timestamp(), p.caller_id))
        return found[query.offset:query.offset + query.limit]

    def caller_memories(self, caller_id: str) -> list[MemoryRecord]:
        rows = sorted((m for m, _, _ in self.store.rows.values() if m.caller_id == caller_id),
                      key=lambda m: (m.created_at, m.id))
        return [MemoryRecord(m, superseded_by=self.store.superseded.get(m.id),
                             retired_at=self.store.retired.get(m.id, (None, ""))[0],
                             retired_reason=self.store.retired.get(m.id, (None, ""))[1]) for m in rows]

    def caller_calls(self, caller_id: str) -> list[CallRecord]:
        calls = [CallRecord(u.conversation_id, u.agent_id, u.started_at, self.store.files(u.conversation_id))
                 for u in self.store.calls.values() if u.caller_id == caller_id]
        return sorted(calls, key=lambda c: (-c.started_at.timestamp(), c.conversation_id))

    def set_name(self, caller_id: str, first_name: str, *, source: str) -> bool:
        profile = self.store.profiles.get(caller_id)
        if profile is None:
            return False
        self.store.profiles[caller_id] = replace(profile, first_name=first_name, name_source=source)
        return True

    def change_memory(self, change: MemoryChange) -> bool:
        row = self.store.rows.get(change.memory_id)
        if row is None or row[0].caller_id != change.caller_id or change.memory_id in self.store.superseded:
            return False
        by = change.replacement.memory.id if change.replacement else DELETED
        self.store.superseded[change.memory_id] = by
        self.store.retired[change.memory_id] = (change.at, change.reason)
        if change.replacement is not None:
            r = change.replacement
            self.store.rows[r.memory.id] = (r.memory, np.asarray(r.vector, np.float32), r.keywords)
        self.refresh_profile(change.caller_id, change.top_facts)
        return True

    def erase_caller(self, caller_id: str, *, conversation_ids: Sequence[str] = ()) -> ErasedRows:
        own = [cid for cid, u in self.store.calls.items() if u.caller_id == caller_id]
        keys: list[str] = []
        inbox = 0
        for cid in dict.fromkeys([*own, *conversation_ids]):
            keys += self.store.call_files.pop(cid, {}).values()
            self.store.calls.pop(cid, None)
            self.store.conversations.discard(cid)
            for row in self.queue.rows.values():
                if row.job.conversation_id == cid and row.status != "erased":
                    row.status, row.error, row.job = "erased", "", replace(row.job, body=b"")
                    inbox += 1
        mine = [mid for mid, (m, _, _) in self.store.rows.items() if m.caller_id == caller_id]
        for mid in mine:
            del self.store.rows[mid]
            self.store.superseded.pop(mid, None)
            self.store.retired.pop(mid, None)
        profile = int(self.store.profiles.pop(caller_id, None) is not None)
        return ErasedRows(profile=profile, conversations=len(own), memories=len(mine), inbox=inbox,
                          file_keys=tuple(keys))

    def pending_bodies(self, event_type: str) -> list[tuple[str, bytes]]:
        return [(r.job.conversation_id, r.job.body) for r in self.queue.rows.values()
                if r.job.event_type == event_type and r.status in ("queued", "running", "dead")]

    def compact(self, *, full: bool = True) -> None:
        return None

    def inbox(self, *, status: str | None, limit: int, offset: int) -> list[InboxEntry]:
        rows = [r for _, r in sorted(self.queue.rows.items(), reverse=True) if status in (None, r.status)]
        return [_entry(r) for r in rows[offset:offset + limit]]

    def inbox_entry(self, job_id: int) -> InboxEntry | None:
        row = self.queue.rows.get(job_id)
        return None if row is None else _entry(row)

    def _dead(self, job_ids: Sequence[int] | None) -> list[_Row]:
        return [r for i, r in self.queue.rows.items()
                if r.status == "dead" and (job_ids is None or i in job_ids)]

    def requeue(self, job_ids: Sequence[int] | None, *, now: datetime) -> int:
        rows = self._dead(job_ids)
        for row in rows:
            row.status, row.run_after, row.job = "queued", now, replace(row.job, attempts=0)
        return len(rows)

    def purge(self, job_ids: Sequence[int] | None) -> int:
        rows = self._dead(job_ids)
        for row in rows:
            del self.queue.rows[row.job.id]
            self.queue.keys.discard((row.job.conversation_id, row.job.event_type))
        return len(rows)

    def expire_bodies(self, before: datetime) -> int:
        rows = [r for r in self.queue.rows.values()
                if r.status == "done" and r.job.received_at < before and r.job.body]
        for row in rows:
            row.job = replace(row.job, body=b"")
        return len(rows)

    def expire_files(self, kinds: Sequence[str], before: datetime) -> list[str]:
        keys = []
        for cid, update in self.store.calls.items():
            files = self.store.call_files.get(cid, {})
            if update.started_at < before:
                keys += [files.pop(kind) for kind in list(files) if kind in kinds]
        return keys

    def expire_memories(self, type: MemoryType, before: datetime) -> dict[str, int]:
        old = [m for m, _, _ in self.store.rows.values() if m.type == type and m.created_at < before]
        for memory in old:
            del self.store.rows[memory.id]
            self.store.superseded.pop(memory.id, None)
        return dict(Counter(m.caller_id for m in old))

    def refresh_profile(self, caller_id: str, top_facts: Sequence[str]) -> None:
        profile = self.store.profiles.get(caller_id)
        if profile is not None:
            count = len(self.store._active(caller_id, None))
            self.store.profiles[caller_id] = replace(profile, memory_count=count, top_facts=tuple(top_facts))

    def inactive_callers(self, before: datetime, *, limit: int) -> list[str]:
        old = sorted((p for p in self.store.profiles.values() if p.last_seen < before), key=lambda p: p.last_seen)
        return [p.caller_id for p in old[:limit]]

    def record_audit(self, event: AuditEvent) -> None:
        self.audit.append(event)

    def audit_events(self, *, limit: int, offset: int = 0) -> list[AuditEvent]:
        return list(reversed(self.audit))[offset:offset + limit]

    def totals(self) -> Totals:
        active = [m for mid, (m, _, _) in self.store.rows.items() if mid not in self.store.superseded]
        statuses = [r.status for r in self.queue.rows.values()]
        return Totals(callers=len(self.store.profiles),
                      memories={t: sum(m.type == t for m in active) for t in ("factual", "semantic")},
                      inbox={s: statuses.count(s) for s in sorted(set(statuses))})


def in_memory_deps(settings: Settings | None = None, *, clock: FixedClock | None = None,
                   store: InMemoryMemoryStore | None = None, with_worker: bool = False) -> Deps:
    """Deps made entirely of the fakes above (no files, no model), for tests of HTTP and the worker."""
    from agentic_memory.bootstrap import Deps

    settings = settings or load_settings({"ELEVENLABS_WORKSPACE_KEY": TEST_WORKSPACE_KEY,
                                          "ELEVENLABS_HMAC_KEY": TEST_HMAC_KEY}, env_file=None)
    memories, queue = store or InMemoryMemoryStore(), InMemoryJobQueue()
    deps = Deps(settings=settings, store=memories, queue=queue, blobs=InMemoryBlobStore(), embedder=HashEmbedder(),
                clock=clock or FixedClock(), admin=InMemoryAdminStore(memories, queue))
    if with_worker:
        deps.worker = deps.make_worker()
    return deps
