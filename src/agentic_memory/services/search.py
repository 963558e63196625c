"""In-call memory search: one caller's memories, dense + keyword evidence fused, best first."""

from __future__ import annotations

from dataclasses import dataclass

from agentic_memory.domain.models import MemoryHit, MemoryType
from agentic_memory.domain.phone import normalise_phone
from agentic_memory.domain.ranking import FusionWeights, coverage, fuse, lean, pinned, prior, query_terms
from agentic_memory.ports import Embedder, MemoryStore

MAX_LIMIT = 50
CANDIDATES = 100


@dataclass(frozen=True, slots=True)
class SearchQuery:
    query: str
    user_id: str
    limit: int = 10
    type: MemoryType | None = None


def search(command: SearchQuery, *, store: MemoryStore, embedder: Embedder, default_region: str = "US",
           weights: FusionWeights | None = None) -> tuple[str, list[MemoryHit]]:
    """Returns the caller's E.164 id and their best memories for the query."""
    caller = normalise_phone(command.user_id, default_region)
    weights = weights or FusionWeights()
    limit = max(1, min(command.limit, MAX_LIMIT))
    pool = max(CANDIDATES, limit * 2)
    vector = embedder.embed([command.query])[0]
    dense = store.dense_search(caller, vector, limit=pool, type=command.type)
    if not dense:
        return caller, []  # no memories of this type for this caller: skip the keyword query
    terms = query_terms(command.query)
    keyword = store.keyword_search(caller, terms, limit=pool, type=command.type)
    found = store.memories(list({memory_id for memory_id, _ in (*dense, *keyword)}))
    if weights.lean:
        weights = lean(weights, coverage(terms, (found[m].text for m, _ in keyword if m in found)))
    created = {memory_id: memory.created_at for memory_id, memory in found.items()}
    ranked = fuse(dense, keyword, created, weights,
                  priors={memory_id: prior(memory, weights) for memory_id, memory in found.items()},
                  pins=[memory_id for memory_id, memory in found.items() if pinned(memory, terms)])
    hits = [MemoryHit(found[memory_id], score) for memory_id, score in ranked if memory_id in found]
    # Defence in depth: the store scopes by caller already; never let anything else through.
    return caller, [hit for hit in hits if hit.memory.caller_id == caller][:limit]
