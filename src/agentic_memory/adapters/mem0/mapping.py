"""Between our Memory and Mem0's memory records: the metadata we send, and results mapped back.

A memory we send carries its kind in `metadata` (type, category, slot, conversation_id, agent_id,
timestamp, key); Mem0's own `id`, `user_id`, `score` and `created_at` come back beside it. A memory Mem0
extracted itself (AGENTIC_MEMORY_MEM0_INFER=true, or one written before this engine) has no type of
ours: it is a fact.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from agentic_memory.domain.models import Memory, MemoryHit, MemoryType

log = logging.getLogger(__name__)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SEPARATOR = "|"  # an owner key scoped per agent is "<number>|<agent id>"; an E.164 number never has one


def entity(owner: str) -> tuple[str, str | None]:
    """Our owner key -> Mem0's (user_id, agent_id): a per-agent scope is Mem0's agent_id."""
    number, _, agent = owner.partition(SEPARATOR)
    return number, agent or None


def metadata(memory: Memory) -> dict[str, Any]:
    out: dict[str, Any] = {"type": memory.type, "category": memory.category, "key": memory.id,
                           "conversation_id": memory.conversation_id, "agent_id": memory.agent_id,
                           "timestamp": memory.created_at.isoformat()}
    if memory.slot:
        out["slot"] = memory.slot
    if memory.turn_start is not None:
        out["turn_start"], out["turn_end"] = memory.turn_start, memory.turn_end
    return out


def _time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def owner_of(record: dict[str, Any], *, scoped: bool) -> str:
    """The owner key a record itself names (never the one we asked for: a leaked record must keep its own)."""
    user_id, agent_id = str(record.get("user_id") or ""), record.get("agent_id")
    return f"{user_id}{SEPARATOR}{agent_id}" if scoped and agent_id else user_id


def to_memory(record: dict[str, Any], *, scoped: bool = False) -> Memory:
    """`scoped`: the caller's memories are kept per agent (their owner key includes the agent id)."""
    raw = record.get("metadata")
    meta: dict[str, Any] = raw if isinstance(raw, dict) else {}
    kind: MemoryType = "semantic" if meta.get("type") == "semantic" else "factual"
    return Memory(
        id=str(record.get("id", "")), caller_id=owner_of(record, scoped=scoped), type=kind,
        text=str(record.get("memory") or ""), conversation_id=str(meta.get("conversation_id") or ""),
        agent_id=str(meta.get("agent_id") or record.get("agent_id") or ""),
        created_at=_time(meta.get("timestamp")) or _time(record.get("created_at")) or EPOCH,
        category=str(meta.get("category") or ""), slot=str(meta["slot"]) if meta.get("slot") else None,
        turn_start=_int(meta.get("turn_start")), turn_end=_int(meta.get("turn_end")))


def owned(records: Iterable[dict[str, Any]], owner: str, *, operation: str) -> list[dict[str, Any]]:
    """Only the owner's records (their user_id, and their agent_id when scoped per agent). Mem0 scopes by
    our filter already; a record of anyone else is dropped here and logged (its id only: never whose it
    was or what it says)."""
    user_id, agent_id = entity(owner)
    mine = []
    for record in records:
        if record.get("user_id") == user_id and (agent_id is None or record.get("agent_id") == agent_id):
            mine.append(record)
        else:
            log.error("mem0 returned another user's memory; dropped",
                      extra={"operation": operation, "memory_id": str(record.get("id", ""))[:64]})
    return mine


def to_hits(records: Sequence[dict[str, Any]], owner: str, *, type: MemoryType | None,
            limit: int) -> list[MemoryHit]:
    """Mem0 search results -> the caller's hits of the wanted type, best first; for a slot ("preference:milk")
    only its newest fact survives, even while Mem0 still holds an older one (an add still pending when the
    newer call was processed, so it could not be deleted then)."""
    hits = []
    scoped = entity(owner)[1] is not None
    for record in owned(records, owner, operation="search"):
        memory = to_memory(record, scoped=scoped)
        if type is not None and memory.type != type:
            continue
        score = record.get("score")
        hits.append(MemoryHit(memory, float(score) if isinstance(score, int | float) else 0.0))
    newest: dict[str, datetime] = {}
    for hit in hits:
        slot = hit.memory.slot
        if slot and hit.memory.created_at > newest.get(slot, EPOCH):
            newest[slot] = hit.memory.created_at
    kept = [h for h in hits if not h.memory.slot or h.memory.created_at >= newest[h.memory.slot]]
    kept.sort(key=lambda h: (-h.score, h.memory.id))
    return kept[:limit]
