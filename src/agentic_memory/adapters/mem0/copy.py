"""Copying memories into Mem0: a conversation at a time, through the engine's at-most-once write."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable

from agentic_memory.adapters.mem0.engine import Mem0MemoryEngine
from agentic_memory.domain.models import Conversation, Memory


def copy_memories(memories: Iterable[Memory], engine: Mem0MemoryEngine, *,
                  on_copied: Callable[[int], None] = lambda _: None) -> int:
    """Send `memories` (a conversation's together) to Mem0 as they are (`infer=False`). Resumable: each
    conversation's ledger remembers what was sent, so a second run polls instead of adding again.
    Returns how many memories were handled; `on_copied(n)` after each conversation."""
    done = 0
    for conversation_id, group in itertools.groupby(memories, key=lambda m: m.conversation_id):
        batch = list(group)
        first = batch[0]
        stub = Conversation(conversation_id=conversation_id, agent_id=first.agent_id, caller_id=first.caller_id,
                            started_at=min(m.created_at for m in batch), turns=())
        engine.write(stub, batch)
        done += len(batch)
        on_copied(len(batch))
    return done
