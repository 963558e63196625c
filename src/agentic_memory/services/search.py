"""In-call memory search: one caller's memories, dense + keyword evidence fused, best first."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from agentic_memory.domain.models import Memory, MemoryHit, MemoryType
from agentic_memory.domain.phone import identify_caller
from agentic_memory.domain.ranking import (
    FusionWeights,
    Parts,
    coverage,
    fusion_parts,
    lean,
    pinned,
    prior,
    query_terms,
)
from agentic_memory.domain.scope import Scope, owner_key
from agentic_memory.ports import Embedder, MemoryStore

MAX_LIMIT = 50
CANDIDATES = 100


@dataclass(frozen=True, slots=True)
class SearchQuery:
    query: str
    user_id: str | None
    limit: int = 10
    type: MemoryType | None = None
    agent_id: str | None = None


@dataclass(frozen=True, slots=True)
class ExplainedHit:
    memory: Memory
    parts: Parts


def search(command: SearchQuery, *, store: MemoryStore, embedder: Embedder, default_region: str = "US",
           weights: FusionWeights | None = None, scope: Scope = "caller",
           checkpoint: Callable[[], None] | None = None) -> tuple[str, list[MemoryHit]]:
    """Returns the caller's E.164 id and their best memories for the query; a withheld caller id ("", None
    for no number) has none. `checkpoint` runs before each costly step and may raise to abandon the search
    (the proxy's budget: no work after the deadline)."""
    caller, hits = explain(command, store=store, embedder=embedder, default_region=default_region,
                           weights=weights, scope=scope, checkpoint=checkpoint)
    return caller, [MemoryHit(hit.memory, hit.parts.score) for hit in hits]


def explain(command: SearchQuery, *, store: MemoryStore, embedder: Embedder, default_region: str = "US",
            weights: FusionWeights | None = None, scope: Scope = "caller",
            checkpoint: Callable[[], None] | None = None) -> tuple[str, list[ExplainedHit]]:
    """`search`, with what each signal contributed to every hit's score (the dashboard's playground)."""
    check = checkpoint or _no_check
    caller = identify_caller(command.user_id, default_region)
    if caller is None:
        return "", []
    owner = owner_key(caller, command.agent_id, scope)
    weights = weights or FusionWeights()
    limit = max(1, min(command.limit, MAX_LIMIT))
    pool = max(CANDIDATES, limit * 2)
    check()
    vector = embedder.embed([command.query])[0]
    check()
    dense = store.dense_search(owner, vector, limit=pool, type=command.type)
    if not dense:
        return caller, []  # no memories of this type for this caller: skip the keyword query
    terms = query_terms(command.query)
    check()
    keyword = store.keyword_search(owner, terms, limit=pool, type=command.type)
    found = store.memories(list({memory_id for memory_id, _ in (*dense, *keyword)}))
    if weights.lean:
        weights = lean(weights, coverage(terms, (found[m].text for m, _ in keyword if m in found)))
    created = {memory_id: memory.created_at for memory_id, memory in found.items()}
    parts = fusion_parts(dense, keyword, created, weights,
                         priors={memory_id: prior(memory, weights) for memory_id, memory in found.items()},
                         pins=[memory_id for memory_id, memory in found.items() if pinned(memory, terms)])
    ranked = sorted(parts.items(), key=lambda item: (-item[1].score, item[0]))
    hits = [ExplainedHit(found[memory_id], p) for memory_id, p in ranked if memory_id in found]
    # Defence in depth: the store scopes by caller already; never let anything else through.
    return caller, [hit for hit in hits if hit.memory.caller_id == owner][:limit]


def _no_check() -> None:
    return None
