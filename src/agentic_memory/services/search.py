"""In-call memory search: one caller's memories from the memory engine, best first."""

from __future__ import annotations

from dataclasses import dataclass

from agentic_memory.domain.models import MemoryHit, MemoryType
from agentic_memory.domain.phone import normalise_phone
from agentic_memory.ports import MemoryEngine

MAX_LIMIT = 50


@dataclass(frozen=True, slots=True)
class SearchQuery:
    query: str
    user_id: str
    limit: int = 10
    type: MemoryType | None = None


def search(command: SearchQuery, *, engine: MemoryEngine, default_region: str = "US") -> tuple[str, list[MemoryHit]]:
    """Returns the caller's E.164 id and their best memories for the query. Raises StorageError (HTTP 503)
    when the engine cannot answer: an outage is never an empty list."""
    caller = normalise_phone(command.user_id, default_region)
    limit = max(1, min(command.limit, MAX_LIMIT))
    hits = engine.recall(caller, command.query, limit=limit, type=command.type)
    # Defence in depth: every engine scopes by caller already; never let anything else through.
    return caller, [hit for hit in hits if hit.memory.caller_id == caller
                    and (command.type is None or hit.memory.type == command.type)][:limit]
