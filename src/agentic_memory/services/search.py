"""In-call memory search: one caller's memories from the memory engine, best first."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agentic_memory.domain.models import MemoryHit, MemoryType
from agentic_memory.domain.phone import identify_caller
from agentic_memory.domain.scope import Scope, owner_key
from agentic_memory.errors import InvalidInput
from agentic_memory.ports import ExplainedHit, ExplainingEngine, MemoryEngine

if TYPE_CHECKING:  # annotations only: a greeting (Lambda) never imports numpy
    import numpy as np

MAX_LIMIT = 50


@dataclass(frozen=True, slots=True)
class SearchQuery:
    query: str
    user_id: str | None
    limit: int = 10
    type: MemoryType | None = None
    agent_id: str | None = None


def search(command: SearchQuery, *, engine: MemoryEngine, default_region: str = "US", scope: Scope = "caller",
           checkpoint: Callable[[], None] | None = None, vector: np.ndarray | None = None,
           ) -> tuple[str, list[MemoryHit]]:
    """Returns the caller's E.164 id and their best memories for the query; a withheld caller id ("", None
    for no number) has none. `checkpoint` runs before each costly step and may raise to abandon the search
    (the proxy's budget: no work after the deadline). `vector`: the query's
    embedding from `engine.prepare`, if the caller awaited it. Raises StorageError (HTTP 503) when the engine cannot
    answer: an outage is never an empty list."""
    caller = identify_caller(command.user_id, default_region)
    if caller is None:
        return "", []
    owner = owner_key(caller, command.agent_id, scope)
    limit = max(1, min(command.limit, MAX_LIMIT))
    hits = engine.recall(owner, command.query, limit=limit, type=command.type, checkpoint=checkpoint,
                         vector=vector)
    # Defence in depth: every engine scopes by owner already; never let anything else through.
    return caller, [hit for hit in hits if hit.memory.caller_id == owner
                    and (command.type is None or hit.memory.type == command.type)][:limit]


def explain(command: SearchQuery, *, engine: MemoryEngine, default_region: str = "US",
            scope: Scope = "caller") -> tuple[str, list[ExplainedHit]]:
    """`search`, with what each signal contributed to every hit's score (the dashboard's playground). Only an
    engine that ranks on our side can say that (the local one); Mem0 ranks on its servers."""
    if not isinstance(engine, ExplainingEngine):
        raise InvalidInput("the search playground needs the local memory engine (Mem0 ranks on its side)")
    caller = identify_caller(command.user_id, default_region)
    if caller is None:
        return "", []
    owner = owner_key(caller, command.agent_id, scope)
    limit = max(1, min(command.limit, MAX_LIMIT))
    hits = engine.explain(owner, command.query, limit=limit, type=command.type)
    return caller, [hit for hit in hits if hit.memory.caller_id == owner][:limit]
