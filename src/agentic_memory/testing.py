"""In-memory fakes of every port, shipped and tested like real adapters (tests/contract)."""

from __future__ import annotations

import hashlib
import re
import threading
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
from agentic_memory.ports import Job, QueueStats

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
                out[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dim] += 1.0
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
                job_id = len(self.rows) + 1
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
                    row.job = replace(row.job, attempts=row.job.attempts + 1)
                    return row.job
        return None

    def complete(self, job_id: int, *, drop_body: bool = False) -> None:
        row = self.rows[job_id]
        row.status = "done"
        if drop_body:
            row.job = replace(row.job, body=b"")

    def retry(self, job_id: int, *, error: str, run_after: datetime) -> None:
        row = self.rows[job_id]
        row.status, row.run_after, row.error = "queued", run_after, error

    def bury(self, job_id: int, *, error: str) -> None:
        row = self.rows[job_id]
        row.status, row.error = "dead", error

    def release_orphans(self, is_alive: Callable[[str], bool]) -> int:
        released = 0
        for row in self.rows.values():
            if row.status == "running" and not is_alive(row.worker):
                row.status, row.lease_until, released = "queued", None, released + 1
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


def in_memory_deps(settings: Settings | None = None, *, clock: FixedClock | None = None,
                   store: InMemoryMemoryStore | None = None, with_worker: bool = False) -> Deps:
    """Deps made entirely of the fakes above (no files, no model), for tests of HTTP and the worker."""
    from agentic_memory.bootstrap import Deps

    settings = settings or load_settings({"ELEVENLABS_WORKSPACE_KEY": TEST_WORKSPACE_KEY,
                                          "ELEVENLABS_HMAC_KEY": TEST_HMAC_KEY}, env_file=None)
    deps = Deps(settings=settings, store=store or InMemoryMemoryStore(), queue=InMemoryJobQueue(),
                blobs=InMemoryBlobStore(), embedder=HashEmbedder(), clock=clock or FixedClock())
    if with_worker:
        deps.worker = deps.make_worker()
    return deps
