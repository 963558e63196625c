"""Mem0MemoryEngine: the caller's memories kept in Mem0 Cloud instead of our database.

By default Mem0 receives what our pipeline decided (facts and transcript chunks, `infer=False`, typed in
metadata), so names, slots and newest-wins stay ours; with `infer=True` Mem0 gets the call's turns and
extracts memories itself. Profiles, idempotency, the queue and files stay in our store. An owner key
scoped per agent ("<number>|<agent id>", AGENTIC_MEMORY_SCOPE=agent_and_caller) is Mem0's user_id plus
agent_id.

Writes are asynchronous on Mem0's side: each add is an event. `remember` records every event id in the
call's ledger before sending the next add, then polls the events (a bounded while); anything still
pending or failed raises EngineUnavailable, so the worker retries later, and the retry polls the recorded
events instead of adding the same memories again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from agentic_memory.adapters.mem0.cloud import Mem0Cloud, scope_filter
from agentic_memory.adapters.mem0.ledger import Ledger
from agentic_memory.adapters.mem0.mapping import entity, metadata, owned, to_hits, to_memory
from agentic_memory.domain.call_update import new_memories
from agentic_memory.domain.models import CallContext, Conversation, Memory, MemoryHit, MemoryType
from agentic_memory.errors import EngineUnavailable
from agentic_memory.ports import BlobStore, ProcessedCall, Remembered

log = logging.getLogger(__name__)
TRANSCRIPT = "transcript"  # the ledger key of the one add that carries a whole call (infer=True)
MAX_TOP_K = 100


class Mem0MemoryEngine:
    def __init__(self, cloud: Mem0Cloud, blobs: BlobStore, *, infer: bool = False, poll_attempts: int = 10,
                 poll_interval_secs: float = 0.25, sleep: Callable[[float], None] = time.sleep) -> None:
        self.cloud = cloud
        self.blobs = blobs
        self.infer = infer
        self.poll_attempts = poll_attempts
        self.poll_interval_secs = poll_interval_secs
        self.sleep = sleep

    def ping(self) -> None:
        self.cloud.ping()

    def remember(self, call: ProcessedCall, context: CallContext) -> Remembered:  # noqa: ARG002 - the port's
        """Our decisions, Mem0's storage: the caller's current facts come from Mem0 (not our store, which
        holds none), newest-per-slot is decided by the same domain rules as locally (without vectors:
        same slot or same text), then the memories are written and the facts they replace deleted."""
        conversation = call.conversation
        cid = conversation.conversation_id
        caller = conversation.caller_id or ""
        # A retry of this job finds its own earlier adds in Mem0: they are this call's, not older facts.
        active = [m for m in self.facts(caller) if m.conversation_id != cid]
        count = len(call.facts) + len(call.chunks)
        stored, superseded = new_memories(
            conversation, list(call.facts), list(call.chunks), np.zeros((count, 1), np.float32),
            tuple((m, np.zeros(1, np.float32)) for m in active))
        new = [s.memory for s in stored]
        if self.infer:
            superseded = []  # Mem0 extracts and maintains its own facts: ours are not there to replace them
        self.write(conversation, new, superseded=[old for old, _ in superseded])
        return Remembered(active=active, new=new, superseded=superseded)

    def facts(self, caller_id: str) -> list[Memory]:
        """The caller's current facts in Mem0 (every page), oldest first. Adds still pending are not there."""
        user_id, agent_id = entity(caller_id)
        records = self.cloud.get_all(filters=scope_filter(user_id, agent_id=agent_id, type="factual"))
        facts = [to_memory(r, scoped=agent_id is not None) for r in owned(records, caller_id, operation="get_all")]
        return sorted(facts, key=lambda m: (m.created_at, m.id))

    def write(self, conversation: Conversation, memories: Sequence[Memory], *,
              superseded: Sequence[str] = ()) -> int:
        """Send one call's memories (at most once), wait for Mem0 to take them, then delete the facts they
        supersede (Mem0 ids; Mem0 keeps their history). Returns how many adds this run sent."""
        caller = conversation.caller_id
        if caller is None:
            return 0
        ledger = Ledger(self.blobs, conversation.conversation_id)
        user_id, agent_id = entity(caller)
        sent = 0
        for key, messages, meta, stamp in self._adds(conversation, memories):
            if key in ledger.entries:
                continue  # queued by an earlier run of this job: poll it, never add it twice
            event_id = self.cloud.add(messages, user_id=user_id, metadata=meta, infer=self.infer,
                                      timestamp=stamp, agent_id=agent_id)
            ledger.record(key, event_id)
            sent += 1
        self._settle(ledger)
        for memory_id in superseded:
            self.cloud.delete(memory_id)
        return sent

    def _adds(self, conversation: Conversation,
              memories: Sequence[Memory]) -> list[tuple[str, list[dict[str, str]], dict[str, Any], int]]:
        if self.infer:
            messages = [{"role": "user" if t.role == "user" else "assistant", "content": t.text}
                        for t in conversation.turns if t.text.strip()]
            meta = {"type": "factual", "category": "inferred", "conversation_id": conversation.conversation_id,
                    "agent_id": conversation.agent_id, "timestamp": conversation.started_at.isoformat()}
            return [(TRANSCRIPT, messages, meta, int(conversation.started_at.timestamp()))] if messages else []
        return [(m.id, [{"role": "user", "content": m.text}], metadata(m), int(m.created_at.timestamp()))
                for m in memories if m.text.strip()]

    def _settle(self, ledger: Ledger) -> None:
        waiting = ledger.pending()
        for attempt in range(self.poll_attempts):
            if not waiting:
                return
            if attempt:
                self.sleep(self.poll_interval_secs * attempt)
            still = []
            for key in waiting:
                state = self.cloud.event(ledger.entries[key].event_id)
                if state.done:
                    ledger.settle(key, state.memory_ids)
                elif state.failed:
                    ledger.drop(key)
                    raise EngineUnavailable("mem0 failed to store a memory; the job will add it again")
                else:
                    still.append(key)
            waiting = still
        if waiting:
            raise EngineUnavailable(f"mem0 has not yet stored {len(waiting)} memories; the job will poll again")

    def prepare(self, query: str) -> None:
        """Nothing to start: Mem0 embeds the query on its side."""

    def recall(self, caller_id: str, query: str, *, limit: int, type: MemoryType | None,
               checkpoint: Callable[[], None] | None = None, vector: object = None,  # noqa: ARG002 - the port's; Mem0 embeds on its side
               ) -> list[MemoryHit]:
        if checkpoint is not None:
            checkpoint()  # the proxy's budget: no request to Mem0 once it is spent
        top_k = min(MAX_TOP_K, max(limit * 3, 20))  # room for what isolation, type and slots drop
        user_id, agent_id = entity(caller_id)
        records = self.cloud.search(query, filters=scope_filter(user_id, agent_id=agent_id, type=type), top_k=top_k)
        return to_hits(records, caller_id, type=type, limit=limit)

    def forget(self, caller_id: str) -> None:
        """Erase the caller's memories in Mem0 (their profile and files are erased by our store)."""
        user_id, agent_id = entity(caller_id)
        self.cloud.delete_all(user_id=user_id, agent_id=agent_id)
