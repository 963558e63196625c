"""What this deployment has already sent Mem0 for a call: one small JSON file per conversation.

Mem0's add is asynchronous and has no idempotency key, so a job retried after a crash must know which
memories it already queued. Each add's event id is written here, durably, before the next add is sent;
a retry polls those events instead of adding again. A crash between Mem0 accepting an add and this write
can still duplicate that one memory: the window is one request. Kept in the blob store (files / S3),
beside the call's other files, so it works whichever database runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson

from agentic_memory.domain.keys import call_key
from agentic_memory.ports import BlobStore

PENDING, DONE = "PENDING", "SUCCEEDED"


@dataclass(slots=True)
class Entry:
    event_id: str
    status: str = PENDING
    memory_ids: list[str] = field(default_factory=list)


class Ledger:
    """One conversation's entries, keyed by our memory key (or "transcript" when Mem0 extracts)."""

    def __init__(self, blobs: BlobStore, conversation_id: str) -> None:
        self._blobs = blobs
        self._key = call_key(conversation_id, "mem0_events.json")
        try:
            raw = orjson.loads(blobs.get(self._key))
        except KeyError:  # nothing sent for this call yet
            raw = {}
        self.entries: dict[str, Entry] = {
            k: Entry(v["event_id"], v.get("status", PENDING), list(v.get("memory_ids", []))) for k, v in raw.items()}

    @property
    def blob_key(self) -> str:
        return self._key

    def save(self) -> None:
        self._blobs.put(self._key, orjson.dumps(
            {k: {"event_id": e.event_id, "status": e.status, "memory_ids": e.memory_ids}
             for k, e in self.entries.items()}, option=orjson.OPT_SORT_KEYS))

    def record(self, key: str, event_id: str) -> None:
        self.entries[key] = Entry(event_id)
        self.save()

    def settle(self, key: str, memory_ids: tuple[str, ...]) -> None:
        entry = self.entries[key]
        entry.status, entry.memory_ids = DONE, list(memory_ids)
        self.save()

    def drop(self, key: str) -> None:
        """The event failed: forget it, so the retry adds that memory again."""
        self.entries.pop(key, None)
        self.save()

    def pending(self) -> list[str]:
        return [k for k, e in self.entries.items() if e.status != DONE]
