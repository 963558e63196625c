"""The roles the services depend on. Adapters implement them; `testing.py` ships in-memory fakes."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

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
from agentic_memory.domain.ranking import Parts

if TYPE_CHECKING:  # annotations only: a greeting never loads numpy
    import numpy as np


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

    def get(self, key: str) -> bytes:
        """The object's bytes; KeyError when there is none."""
        ...

    def delete_prefix(self, prefix: str) -> int:
        """Erase every object under `prefix` ("calls/<id>"), for good: on a versioned store every version.
        Returns how many objects (or versions) were deleted."""
        ...

    def delete(self, key: str) -> bool:
        """Remove the object (every version, where the backend keeps versions); False if there was none."""
        ...

    def ping(self) -> None: ...


class AudioSource(Protocol):
    """Where a call's audio can be fetched from after the fact (ElevenLabs' conversation audio endpoint)."""

    def fetch(self, conversation_id: str) -> bytes | None:
        """The call's mp3, or None when there is none (audio disabled or deleted). Raises StorageError on a
        failure worth retrying."""
        ...


@dataclass(frozen=True, slots=True)
class Job:
    id: int
    event_type: str
    conversation_id: str
    body: bytes
    attempts: int
    received_at: datetime
    lease: str = ""  # the claim's token: only its holder may complete, retry, bury or extend the job


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

    def claim(self, *, worker: str, now: datetime, lease_secs: int) -> Job | None:
        """Lease the oldest ready job (or one whose lease expired) to `worker` until now + lease_secs.

        Each claim carries a fresh `Job.lease` token. Once the lease expires (or the job is released) the
        job can be claimed again and the old token stops working, so a stalled worker that wakes up late
        cannot complete, retry or bury a job someone else now runs.
        """
        ...

    def heartbeat(self, job_id: int, *, lease: str, now: datetime, lease_secs: int) -> bool:
        """Extend a held lease to now + lease_secs (long jobs); False if `lease` no longer holds the job."""
        ...

    def complete(self, job_id: int, *, lease: str, drop_body: bool = False) -> bool:
        """Mark the job done; False (nothing changed) if `lease` no longer holds it. `drop_body`: its content
        now lives elsewhere (a call's audio, decoded into a durable file), so the inbox keeps only the row,
        whose key still turns retries into no-ops."""
        ...

    def retry(self, job_id: int, *, lease: str, error: str, run_after: datetime) -> bool: ...

    def bury(self, job_id: int, *, lease: str, error: str) -> bool: ...

    def stats(self) -> QueueStats: ...

    def release_orphans(self, is_alive: Callable[[str], bool]) -> int:
        """Requeue running jobs whose worker is gone, without waiting for their lease to expire."""
        ...


@dataclass(frozen=True, slots=True)
class DeadLetter:
    message_id: str
    event_type: str
    conversation_id: str
    error: str
    receive_count: int


@runtime_checkable
class DeadLetterQueue(Protocol):
    """A queue whose dead letters live apart (SQS's DLQ): an operator can look at them and send them back."""

    def dead_letters(self, *, limit: int = 10) -> list[DeadLetter]: ...

    def redrive(self, *, limit: int = 1000) -> int:
        """Move up to `limit` dead letters back to the work queue; returns how many moved."""
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

    def latest_call(self) -> datetime | None:
        """Start time of the newest call on record, any caller (None when there is none): where a call
        that carries no time of its own falls in arrival order."""
        ...

    def link_file(self, conversation_id: str, kind: str, key: str) -> None: ...

    def files(self, conversation_id: str) -> dict[str, str]: ...

    def dense_search(self, caller_id: str, vector: np.ndarray, *, limit: int,
                     type: MemoryType | None) -> list[tuple[str, float]]: ...

    def keyword_search(self, caller_id: str, terms: Sequence[str], *, limit: int,
                       type: MemoryType | None) -> list[tuple[str, float]]:
        """`domain.keyword_score.bm25` of the caller's active memories (of `type`) holding any of `terms`,
        with that caller's statistics: a store only finds the candidates and their index terms."""
        ...

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


@dataclass(frozen=True, slots=True)
class ExplainedHit:
    """A recalled memory with what each ranking signal added to its score."""

    memory: Memory
    parts: Parts


@runtime_checkable
class ExplainingEngine(Protocol):
    """An engine that ranks on our side and can say why (the local one): the dashboard's search playground."""

    def explain(self, caller_id: str, query: str, *, limit: int, type: MemoryType | None) -> list[ExplainedHit]: ...


class MemoryEngine(Protocol):
    """Where a caller's memories live and how they are found: our own store (local) or Mem0 Cloud.

    Caller profiles, idempotency, the queue and files stay in our store whichever engine runs.
    """

    def remember(self, call: ProcessedCall, context: CallContext) -> Remembered:
        """Decide this call's memories for its caller (newest fact per slot wins) and write them where
        they live. Safe to run again for the same call: it never stores a memory twice."""
        ...

    def prepare(self, query: str) -> Future[np.ndarray] | None:
        """Starts the query's embedding and returns its future, or None when this engine needs none (Mem0).
        Never blocks, so it may be called on the event loop: the HTTP layer awaits the vector there and then
        passes it to `recall`, so a query waiting for the model holds no pool thread."""
        ...

    def recall(self, caller_id: str, query: str, *, limit: int, type: MemoryType | None,
               checkpoint: Callable[[], None] | None = None, vector: np.ndarray | None = None) -> list[MemoryHit]:
        """The owner's best memories for `query`, best first: only theirs, only of `type` if given.
        `caller_id` is the owner key (domain/scope.py). `checkpoint` runs before each costly step and may
        raise to abandon the recall (the proxy's budget). `vector`: what `prepare(query)` resolved to, if
        it was called (else the engine embeds the query itself)."""
        ...

    def forget(self, caller_id: str) -> None:
        """Erase the owner's memories held outside our store (erasing the store erases the rest)."""
        ...

    def ping(self) -> None: ...

# --- The operator's side (services/admin.py, services/erasure.py, services/retention.py) ---------------

DELETED = "operator:deleted"  # `superseded_by` of a memory an operator deleted: inactive, history kept


@dataclass(frozen=True, slots=True)
class CallerQuery:
    """Callers matching all given filters, most recently seen first."""

    number: str | None = None  # exact E.164 (with AGENTIC_MEMORY_SCOPE=agent_and_caller: its keys for every agent)
    digits: str = ""  # a fragment of the number
    name: str = ""  # a fragment of the first name, case-insensitive
    seen_after: datetime | None = None
    seen_before: datetime | None = None
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True, slots=True)
class MemoryRecord:
    """A memory with its place in history: active, or retired (superseded, edited or deleted) and when."""

    memory: Memory
    superseded_by: str | None = None
    retired_at: datetime | None = None
    retired_reason: str = ""  # "" (by a later call), "operator_edit", "operator_delete", "retention"


@dataclass(frozen=True, slots=True)
class CallRecord:
    conversation_id: str
    agent_id: str
    started_at: datetime
    files: dict[str, str]


@dataclass(frozen=True, slots=True)
class MemoryChange:
    """An operator's edit (with `replacement`) or deletion of one active memory, applied atomically."""

    caller_id: str
    memory_id: str
    at: datetime
    reason: str
    replacement: StoredMemory | None
    top_facts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ErasedRows:
    """What the store deleted for one caller; `file_keys` are left for the service to delete."""

    profile: int
    conversations: int
    memories: int
    inbox: int
    file_keys: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class InboxEntry:
    id: int
    event_type: str
    conversation_id: str
    status: str
    attempts: int
    last_error: str
    received_at: datetime
    body_bytes: int


@dataclass(frozen=True, slots=True)
class AuditEvent:
    at: datetime
    actor: str
    action: str
    caller_ref: str  # keyed hash of the number (domain/pseudonym.py), never the number
    detail: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Totals:
    callers: int
    memories: dict[str, int]  # active memories by type
    inbox: dict[str, int]  # inbox rows by status


@dataclass(frozen=True, slots=True)
class DayCalls:
    day: str  # UTC date, ISO (2026-01-31)
    calls: int
    callers: int  # distinct callers that day
    new_callers: int  # of which this was their first call


@dataclass(frozen=True, slots=True)
class Activity:
    """The dashboard's history, read from the database (never from one process's in-memory metrics)."""

    days: list[DayCalls]  # days with calls since the window's start, oldest first
    latencies: list[tuple[datetime, float]]  # (finished at, seconds from webhook received to job done)
    memories_per_caller: dict[int, int]  # active memory count -> how many callers have that many


# What `agentic-memory copy` moves, in this order, and each kind's key (services/bulk.py).
COPY_KEYS: dict[str, tuple[str, ...]] = {
    "callers": ("caller_id",),
    "conversations": ("conversation_id",),
    "call_files": ("conversation_id", "kind"),
    "memories": ("id",),
    "inbox": ("conversation_id", "event_type"),
    "audit_events": ("id",),
}
# The fields of each kind's records, the same on every backend.
COPY_FIELDS: dict[str, tuple[str, ...]] = {
    "callers": ("caller_id", "first_seen", "last_seen", "call_count", "first_name", "name_source", "language",
                "last_call_summary", "memory_count", "top_facts"),
    "conversations": ("conversation_id", "caller_id", "agent_id", "started_at", "processed_at"),
    "call_files": ("conversation_id", "kind", "key"),
    "memories": ("id", "caller_id", "type", "text", "category", "slot", "conversation_id", "agent_id",
                 "created_at", "turn_start", "turn_end", "superseded_by", "retired_at", "retired_reason",
                 "vector", "keywords"),
    "inbox": ("event_type", "conversation_id", "body", "received_at", "status", "attempts", "run_after",
              "lease_until", "lease_token", "worker", "last_error", "finished_at"),
    "audit_events": ("id", "at", "actor", "action", "caller_ref", "detail"),
}
COPY_TIMES = frozenset({"first_seen", "last_seen", "started_at", "processed_at", "created_at", "retired_at",
                        "received_at", "run_after", "lease_until", "finished_at", "at"})


class RecordStore(Protocol):
    """Every row of one database as plain records, for `agentic-memory copy` (services/bulk.py).

    A record has the COPY_FIELDS of its kind: times as POSIX seconds (float or None), vectors as float32
    bytes, webhook bodies as bytes (b"" once dropped), a caller's top facts as a list of str, keywords as
    space-separated words.
    """

    def count(self, kind: str) -> int: ...

    def read(self, kind: str, *, after: tuple[Any, ...] | None, limit: int) -> list[dict[str, Any]]:
        """Up to `limit` records in the order of their COPY_KEYS, after the key `after` (None: the first)."""
        ...

    def write(self, kind: str, records: Sequence[dict[str, Any]]) -> int:
        """Insert, in one transaction, the records whose key is not there yet; returns how many it inserted."""
        ...

    def finish(self) -> None:
        """After a copy into this database: whatever keeps later inserts right (identity counters)."""
        ...


class BackupArchives(Protocol):
    """Backups made by the backup command, reachable so that an erasure reaches them too."""

    def stores(self) -> Iterator[tuple[AdminStore, MemoryStore, BlobStore]]:
        """Each archive opened as stores; changes are written back into it before the next is opened."""
        ...


class AdminStore(Protocol):
    """What operators read and change. Small on purpose: each backend implements it in its own SQL."""

    def find_callers(self, query: CallerQuery) -> list[CallerProfile]: ...

    def caller_memories(self, caller_id: str) -> list[MemoryRecord]:
        """Every memory of the caller, active and retired, oldest first."""
        ...

    def caller_calls(self, caller_id: str) -> list[CallRecord]:
        """The caller's processed calls, newest first, with their file keys."""
        ...

    def set_name(self, caller_id: str, first_name: str, *, source: str) -> bool: ...

    def change_memory(self, change: MemoryChange) -> bool:
        """Retire the active memory (and insert its replacement) in one transaction; refresh the profile's
        memory count and top facts. False when no such active memory of that caller exists."""
        ...

    def erase_caller(self, caller_id: str, *, conversation_ids: Sequence[str] = ()) -> ErasedRows:
        """Delete the caller's profile, memories (history and indexes too), conversations, file links and
        inbox bodies, plus the inbox rows of `conversation_ids` (their unprocessed webhooks). Inbox rows
        stay as empty tombstones (status "erased") so a retried webhook stays a no-op."""
        ...

    def pending_bodies(self, event_type: str) -> list[tuple[str, bytes]]:
        """(conversation id, raw body) of webhooks of `event_type` not processed yet (queued, running, dead)."""
        ...

    def compact(self, *, full: bool = True) -> None:
        """Make deleted bytes unrecoverable from the storage files: journal always; with `full`, also
        free pages and index segments, which may rewrite the whole database (slow when it is large)."""
        ...

    def inbox(self, *, status: str | None, limit: int, offset: int) -> list[InboxEntry]: ...

    def inbox_entry(self, job_id: int) -> InboxEntry | None: ...

    def requeue(self, job_ids: Sequence[int] | None, *, now: datetime) -> int:
        """Dead jobs (all when `job_ids` is None) back to queued with a fresh attempt count."""
        ...

    def purge(self, job_ids: Sequence[int] | None) -> int:
        """Delete dead jobs and their bodies (all when `job_ids` is None)."""
        ...

    def expire_bodies(self, before: datetime) -> int:
        """Empty the bodies of processed webhooks received before `before` (rows stay for idempotency)."""
        ...

    def expire_files(self, kinds: Sequence[str], before: datetime) -> list[str]:
        """Unlink files of these kinds from calls started before `before`; returns their keys to delete."""
        ...

    def expire_memories(self, type: MemoryType, before: datetime) -> dict[str, int]:
        """Delete memories of `type` created before `before`; returns how many per caller (whose profile
        must then be refreshed, see `refresh_profile`)."""
        ...

    def refresh_profile(self, caller_id: str, top_facts: Sequence[str]) -> None:
        """Recount the caller's active memories and store `top_facts`."""
        ...

    def inactive_callers(self, before: datetime, *, limit: int) -> list[str]: ...

    def record_audit(self, event: AuditEvent) -> None: ...

    def audit_events(self, *, limit: int, offset: int = 0) -> list[AuditEvent]: ...

    def totals(self) -> Totals: ...

    def activity(self, since: datetime) -> Activity:
        """Calls per UTC day (started since `since`), the latency of every job done since `since`, and the
        distribution of active memories per caller (all callers)."""
        ...

class ElevenLabsAdmin(Protocol):
    """The ElevenLabs API calls `agentic-memory elevenlabs ...` makes. Reads answer the API's JSON as plain
    dicts; writes take the request body as the API documents it. Errors are ElevenLabsApiError."""

    def get_agent(self, agent_id: str) -> dict[str, Any]: ...

    def update_agent(self, agent_id: str, body: dict[str, Any]) -> None: ...

    def list_tools(self) -> list[dict[str, Any]]: ...

    def create_tool(self, tool_config: dict[str, Any]) -> str: ...

    def update_tool(self, tool_id: str, tool_config: dict[str, Any]) -> None: ...

    def delete_tool(self, tool_id: str) -> None: ...

    def tool_users(self, tool_id: str) -> list[str]:
        """Ids of the agents that still use the tool."""

    def list_secrets(self) -> list[dict[str, Any]]: ...

    def create_secret(self, name: str, value: str) -> str: ...

    def delete_secret(self, secret_id: str) -> None: ...

    def get_settings(self) -> dict[str, Any]: ...

    def update_settings(self, body: dict[str, Any]) -> None: ...

    def list_webhooks(self) -> list[dict[str, Any]]: ...

    def create_webhook(self, name: str, url: str) -> tuple[str, str | None]:
        """Returns the webhook id and its HMAC secret, which the API shows only now."""

    def update_webhook(self, webhook_id: str, *, name: str, is_disabled: bool, retry_enabled: bool) -> None: ...

    def delete_webhook(self, webhook_id: str) -> None: ...

    def list_phone_numbers(self, agent_id: str) -> list[dict[str, Any]]: ...

    def outbound_call(self, *, provider: str, agent_id: str, phone_number_id: str, to_number: str,
                      client_data: dict[str, Any]) -> dict[str, Any]: ...

    def list_conversations(self, agent_id: str, *, after_unix: int | None,
                           cursor: str | None) -> tuple[list[dict[str, Any]], str | None]: ...

    def get_conversation(self, conversation_id: str) -> dict[str, Any]: ...

    def get_audio(self, conversation_id: str) -> bytes: ...
