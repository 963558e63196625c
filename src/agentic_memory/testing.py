"""In-memory fakes of every port, shipped and tested like real adapters (tests/contract)."""

from __future__ import annotations

import copy
import hashlib
import re
import secrets
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from agentic_memory.config import Settings, load_settings
from agentic_memory.domain.keys import check_key
from agentic_memory.domain.keyword_score import Candidate, Corpus, bm25, index_terms, query_phrases
from agentic_memory.domain.models import CallContext, CallerProfile, CallUpdate, Memory, MemoryType
from agentic_memory.errors import ElevenLabsApiError
from agentic_memory.ports import (
    DELETED,
    Activity,
    AuditEvent,
    CallerQuery,
    CallRecord,
    DayCalls,
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

    def delete_prefix(self, prefix: str) -> int:
        folder = check_key(prefix.rstrip("/")) + "/"
        doomed = [key for key in self.blobs if key.startswith(folder)]
        for key in doomed:
            del self.blobs[key]
        return len(doomed)

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
    finished_at: datetime | None = None


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
                row.finished_at = datetime.now(UTC)  # as the SQLite queue: wall-clock time of completion
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

    def latest_call(self) -> datetime | None:
        return max((p.last_seen for p in self.profiles.values()), default=None)

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
        """The SQL stores' scoring (domain/keyword_score.py) over a scan of the caller's memories."""
        phrases = query_phrases(terms)
        rows = self._active(caller_id, type)
        if not phrases or not rows:
            return []
        candidates = [Candidate(m.id, index_terms(m.text), index_terms(keywords)) for m, _, keywords in rows]
        corpus = Corpus(documents=len(candidates), terms=sum(len(c.text) + len(c.keywords) for c in candidates))
        return bm25(phrases, candidates, corpus, limit=limit)

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

    def compact(self, *, full: bool = True) -> None:  # noqa: ARG002 - the port's signature; nothing to compact
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


    def activity(self, since: datetime) -> Activity:
        calls = sorted(self.store.calls.values(), key=lambda u: u.started_at)
        first: dict[str, datetime] = {}
        for u in calls:
            first.setdefault(u.caller_id or "", u.started_at)
        per_day: dict[str, list[tuple[str, bool]]] = {}
        for u in calls:
            if u.started_at >= since:
                who = u.caller_id or ""
                per_day.setdefault(u.started_at.astimezone(UTC).date().isoformat(), []).append(
                    (who, first[who] == u.started_at))
        days = [DayCalls(day=day, calls=len(rows), callers=len({c for c, _ in rows}),
                         new_callers=len({c for c, is_first in rows if is_first}))
                for day, rows in sorted(per_day.items())]
        latencies = sorted((r.finished_at, (r.finished_at - r.job.received_at).total_seconds())
                           for r in self.queue.rows.values()
                           if r.status == "done" and r.finished_at is not None and r.finished_at >= since)
        counts = Counter(p.memory_count for p in self.store.profiles.values())
        return Activity(days=days, latencies=latencies, memories_per_caller=dict(sorted(counts.items())))


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


def merge_patch(target: dict[str, Any], patch: dict[str, Any]) -> None:
    """RFC 7386: objects merge, null deletes, anything else replaces (how ElevenLabs applies PATCHes)."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            merge_patch(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


class InMemoryElevenLabs:
    """`ElevenLabsAdmin` over plain dicts: agents, tools, workspace secrets, settings and webhooks behave
    as the API does (merge patches, secrets and webhooks that know who uses them). Writes are recorded in
    `writes` as (operation, target id)."""

    def __init__(self) -> None:
        self.agents: dict[str, dict[str, Any]] = {}
        self.tools: dict[str, dict[str, Any]] = {}
        self.secrets: dict[str, dict[str, str]] = {}
        self.webhooks: dict[str, dict[str, Any]] = {}
        self.settings: dict[str, Any] = {}
        self.phone_numbers: list[dict[str, Any]] = []
        self.conversations: dict[str, dict[str, Any]] = {}
        self.audio: dict[str, bytes] = {}
        self.calls: list[dict[str, Any]] = []
        self.writes: list[tuple[str, str]] = []
        self._ids = 0

    def _new_id(self, prefix: str) -> str:
        self._ids += 1
        return f"{prefix}_{self._ids:06d}"

    def _missing(self, what: str) -> ElevenLabsApiError:
        return ElevenLabsApiError(f"{what}: HTTP 404 not found", status=404)

    def add_agent(self, agent_id: str, *, tool_ids: Sequence[str] = ()) -> None:
        self.agents[agent_id] = {"agent_id": agent_id, "name": agent_id, "platform_settings": {},
                                 "conversation_config": {"agent": {"prompt": {"tool_ids": list(tool_ids)}}}}

    def get_agent(self, agent_id: str) -> dict[str, Any]:
        if agent_id not in self.agents:
            raise self._missing(f"get agent {agent_id}")
        return copy.deepcopy(self.agents[agent_id])

    def update_agent(self, agent_id: str, body: dict[str, Any]) -> None:
        if agent_id not in self.agents:
            raise self._missing(f"update agent {agent_id}")
        self.writes.append(("update_agent", agent_id))
        merge_patch(self.agents[agent_id], body)

    def list_tools(self) -> list[dict[str, Any]]:
        return copy.deepcopy(list(self.tools.values()))

    def create_tool(self, tool_config: dict[str, Any]) -> str:
        tool_id = self._new_id("tool")
        self.writes.append(("create_tool", tool_id))
        self.tools[tool_id] = {"id": tool_id, "tool_config": copy.deepcopy(tool_config)}
        return tool_id

    def update_tool(self, tool_id: str, tool_config: dict[str, Any]) -> None:
        self.writes.append(("update_tool", tool_id))
        self.tools[tool_id]["tool_config"] = copy.deepcopy(tool_config)

    def delete_tool(self, tool_id: str) -> None:
        self.writes.append(("delete_tool", tool_id))
        del self.tools[tool_id]

    def tool_users(self, tool_id: str) -> list[str]:
        return [agent_id for agent_id, agent in self.agents.items()
                if tool_id in agent.get("conversation_config", {}).get("agent", {}).get("prompt", {}).get(
                    "tool_ids", [])]

    def list_secrets(self) -> list[dict[str, Any]]:
        return [{"secret_id": secret_id, "name": secret["name"], "used_by": self._secret_users(secret_id)}
                for secret_id, secret in self.secrets.items()]

    def _secret_users(self, secret_id: str) -> dict[str, list[str]]:
        needle = repr({"secret_id": secret_id})
        return {"tools": [t for t, tool in self.tools.items() if needle in repr(tool)],
                "agents": [a for a, agent in self.agents.items() if needle in repr(agent)],
                "others": ["workspace settings"] if needle in repr(self.settings) else []}

    def create_secret(self, name: str, value: str) -> str:
        secret_id = self._new_id("sec")
        self.writes.append(("create_secret", secret_id))
        self.secrets[secret_id] = {"name": name, "value": value}
        return secret_id

    def delete_secret(self, secret_id: str) -> None:
        if any(self._secret_users(secret_id).values()):
            raise ElevenLabsApiError(f"delete secret {secret_id}: HTTP 400 in use", status=400)
        self.writes.append(("delete_secret", secret_id))
        del self.secrets[secret_id]

    def get_settings(self) -> dict[str, Any]:
        return copy.deepcopy(self.settings)

    def update_settings(self, body: dict[str, Any]) -> None:
        self.writes.append(("update_settings", ""))
        merge_patch(self.settings, body)

    def list_webhooks(self) -> list[dict[str, Any]]:
        out = []
        for webhook_id, hook in self.webhooks.items():
            view = {k: v for k, v in hook.items() if k != "secret"}
            view["usage"] = ([{"usage_type": "ConvAI Agent Settings"}] if any(
                a.get("platform_settings", {}).get("workspace_overrides", {}).get("webhooks", {}).get(
                    "post_call_webhook_id") == webhook_id for a in self.agents.values()) else []) + (
                [{"usage_type": "ConvAI Settings"}]
                if self.settings.get("webhooks", {}).get("post_call_webhook_id") == webhook_id else [])
            out.append(view)
        return out

    def create_webhook(self, name: str, url: str) -> tuple[str, str | None]:
        webhook_id = self._new_id("wh")
        self.writes.append(("create_webhook", webhook_id))
        secret = "wsec_" + hashlib.sha256(webhook_id.encode()).hexdigest()[:32]
        self.webhooks[webhook_id] = {"webhook_id": webhook_id, "name": name, "webhook_url": url,
                                     "is_disabled": False, "is_auto_disabled": False, "retry_enabled": False,
                                     "secret": secret}
        return webhook_id, secret

    def update_webhook(self, webhook_id: str, *, name: str, is_disabled: bool, retry_enabled: bool) -> None:
        self.writes.append(("update_webhook", webhook_id))
        self.webhooks[webhook_id].update(name=name, is_disabled=is_disabled, retry_enabled=retry_enabled,
                                         is_auto_disabled=self.webhooks[webhook_id]["is_auto_disabled"]
                                         and is_disabled)

    def delete_webhook(self, webhook_id: str) -> None:
        self.writes.append(("delete_webhook", webhook_id))
        del self.webhooks[webhook_id]

    def list_phone_numbers(self, agent_id: str) -> list[dict[str, Any]]:
        return [n for n in self.phone_numbers if (n.get("assigned_agent") or {}).get("agent_id") == agent_id]

    def outbound_call(self, *, provider: str, agent_id: str, phone_number_id: str, to_number: str,
                      client_data: dict[str, Any]) -> dict[str, Any]:
        self.calls.append({"provider": provider, "agent_id": agent_id, "agent_phone_number_id": phone_number_id,
                           "to_number": to_number, "conversation_initiation_client_data": client_data})
        return {"success": True, "conversation_id": self._new_id("conv")}

    def list_conversations(self, agent_id: str, *, after_unix: int | None,
                           cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        rows = [{"conversation_id": c["conversation_id"], "status": c["status"]}
                for c in self.conversations.values() if c.get("agent_id") == agent_id
                and (after_unix is None or c["metadata"]["start_time_unix_secs"] >= after_unix)]
        start = int(cursor or 0)
        page = rows[start:start + 2]  # small pages, so every caller pages
        return page, (str(start + 2) if start + 2 < len(rows) else None)

    def get_conversation(self, conversation_id: str) -> dict[str, Any]:
        if conversation_id not in self.conversations:
            raise self._missing(f"get conversation {conversation_id}")
        return copy.deepcopy(self.conversations[conversation_id])

    def get_audio(self, conversation_id: str) -> bytes:
        if conversation_id not in self.audio:
            raise self._missing(f"get audio {conversation_id}")
        return self.audio[conversation_id]
