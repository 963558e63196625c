"""The roles the services depend on. Adapters implement them; `testing.py` ships in-memory fakes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import numpy as np

from agentic_memory.domain.chunking import Chunk
from agentic_memory.domain.models import (
    CallContext,
    CallerProfile,
    CallUpdate,
    Conversation,
    Fact,
    Memory,
    MemoryHit,
    MemoryType,
    StoredMemory,  # also re-exported: adapters and tests build them
)


class Clock(Protocol):
    def now(self) -> datetime: ...


class Embedder(Protocol):
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """(n, dim) float32 rows, L2-normalised."""
        ...


class BlobStore(Protocol):
    """Write-once-ish files keyed by sanitised relative keys ("calls/<id>/audio.mp3")."""

    def put(self, key: str, data: bytes) -> None: ...

    def get(self, key: str) -> bytes: ...

    def ping(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Job:
    id: int
    event_type: str
    conversation_id: str
    body: bytes
    attempts: int
    received_at: datetime


@dataclass(frozen=True, slots=True)
class QueueStats:
    """Counts that stay cheap however many webhooks were ever received (no count of done jobs)."""

    pending: int  # queued or running
    dead: int


class JobQueue(Protocol):
    """Durable inbox + work queue. `accept` is the only call on the webhook ack path."""

    def accept(self, *, event_type: str, conversation_id: str, body: bytes,
               received_at: datetime) -> Future[bool]:
        """Store the raw webhook and queue its job, durably. Never blocks, so it may be called on the event loop:
        the adapter runs the write however suits it (SQLite: a group commit on its writer thread) and the
        future resolves once the write is durable.

        Result: True when stored now, False when this (conversation_id, event_type) was accepted before
        (nothing changes). Fails with StorageError when nothing could be stored.
        """
        ...

    def claim(self, *, worker: str, now: datetime, lease_secs: int) -> Job | None: ...

    def complete(self, job_id: int, *, drop_body: bool = False) -> None:
        """Mark the job done. `drop_body`: its content now lives elsewhere (a call's audio, decoded into a
        durable file), so the inbox keeps only the row, whose key still turns retries into no-ops."""
        ...

    def retry(self, job_id: int, *, error: str, run_after: datetime) -> None: ...

    def bury(self, job_id: int, *, error: str) -> None: ...

    def stats(self) -> QueueStats: ...

    def release_orphans(self, is_alive: Callable[[str], bool]) -> int:
        """Requeue running jobs whose worker is gone, without waiting for their lease to expire."""
        ...


class MemoryStore(Protocol):
    def caller(self, caller_id: str) -> CallerProfile | None: ...

    def load_call(self, conversation_id: str, caller_id: str | None) -> CallContext:
        """One consistent read of what processing a call needs: whether it was saved before, and the caller's
        profile and active (not superseded) facts with their vectors, oldest first."""
        ...

    def save_call(self, update: CallUpdate) -> bool:
        """Apply `update` in one transaction; False (and no change) if the conversation was saved before."""
        ...

    def link_file(self, conversation_id: str, kind: str, key: str) -> None: ...

    def files(self, conversation_id: str) -> dict[str, str]: ...

    def dense_search(self, caller_id: str, vector: np.ndarray, *, limit: int,
                     type: MemoryType | None) -> list[tuple[str, float]]: ...

    def keyword_search(self, caller_id: str, terms: Sequence[str], *, limit: int,
                       type: MemoryType | None) -> list[tuple[str, float]]: ...

    def memories(self, ids: Sequence[str]) -> dict[str, Memory]: ...

    def ping(self) -> None: ...


@dataclass(frozen=True, slots=True)
class ProcessedCall:
    """A call with a caller, after our own pipeline: its facts (one per slot) and transcript chunks."""

    conversation: Conversation
    facts: Sequence[Fact]
    chunks: Sequence[Chunk]


@dataclass(frozen=True, slots=True)
class Remembered:
    """What a memory engine made of one call. The caller's profile is built from `active`, `new` and
    `superseded`; our store saves `stored` / `stored_superseded` in the call's one transaction (the local
    engine), which stay empty when the memories live elsewhere (Mem0, already written there)."""

    active: Sequence[Memory]  # the caller's current facts before this call
    new: Sequence[Memory]
    superseded: Sequence[tuple[str, str]]  # (old memory id, id of the memory replacing it)
    stored: Sequence[StoredMemory] = ()
    stored_superseded: Sequence[tuple[str, str]] = ()


class MemoryEngine(Protocol):
    """Where a caller's memories live and how they are found: our own store (local) or Mem0 Cloud.

    Caller profiles, idempotency, the queue and files stay in our store whichever engine runs.
    """

    def remember(self, call: ProcessedCall, context: CallContext) -> Remembered:
        """Decide this call's memories for its caller (newest fact per slot wins) and write them where
        they live. Safe to run again for the same call: it never stores a memory twice."""
        ...

    def recall(self, caller_id: str, query: str, *, limit: int, type: MemoryType | None) -> list[MemoryHit]:
        """The caller's best memories for `query`, best first: only theirs, only of `type` if given."""
        ...

    def forget(self, caller_id: str) -> None:
        """Erase the caller's memories held outside our store (erasing the store erases the rest)."""
        ...

    def ping(self) -> None: ...
