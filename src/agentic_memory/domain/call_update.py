"""What one processed call changes: its memories, the older facts they supersede, the caller's new profile.

Pure: the worker service loads what a call needs once (`MemoryStore.load_call`), decides here, and saves
the result once (`MemoryStore.save_call`), so any memory engine can reuse the decisions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

import numpy as np

from agentic_memory.domain import card
from agentic_memory.domain.chunking import Chunk
from agentic_memory.domain.dates import mentioned, resolve
from agentic_memory.domain.language import detect_language, normalise_language
from agentic_memory.domain.models import CallerProfile, Conversation, Fact, Memory, NameClaim, StoredMemory
from agentic_memory.domain.name_source import OPERATOR, may_replace
from agentic_memory.domain.names import choose

REPEAT_SIMILARITY = 0.97
UNDATED_STEP = timedelta(seconds=1)
Facts = tuple[tuple[Memory, np.ndarray], ...]  # active facts with their vectors
Supersessions = list[tuple[str, str]]  # (old memory id, id of the memory replacing it)


def memory_id(conversation_id: str, kind: str, index: int) -> str:
    """Derived from the conversation, so a retried job writes the same ids."""
    digest = hashlib.sha256(f"{conversation_id}\x00{kind}\x00{index}".encode()).hexdigest()
    return "mem_" + digest[:24]


def undated_start(received_at: datetime, latest_call: datetime | None) -> datetime:
    """When a call whose payload has no time of its own (the seed's flat format) took place, as far as
    arrival order tells: just after the newest call on record, and never after it arrived. Dating it by
    arrival alone would make a replay of old calls put every such call after all the dated ones."""
    if latest_call is None:
        return received_at
    return min(received_at, latest_call + UNDATED_STEP)


def dedupe_slots(facts: list[Fact]) -> list[Fact]:
    """Within one call, the last statement in a slot wins and repeated texts collapse."""
    last_in_slot = {f.slot: i for i, f in enumerate(facts) if f.slot}
    seen: set[str] = set()
    out = []
    for i, fact in enumerate(facts):
        if (fact.slot and last_in_slot[fact.slot] != i) or fact.text.lower() in seen:
            continue
        seen.add(fact.text.lower())
        out.append(fact)
    return out


def _fact_time(conversation: Conversation, fact: Fact) -> datetime:
    by_index = {t.index: t.time_in_call_secs for t in conversation.turns}
    offset = by_index.get(fact.turn_index, 0.0) if fact.turn_index is not None else 0.0
    return conversation.started_at + timedelta(seconds=offset)


def _replaced(new: Memory, vector: np.ndarray, existing: Facts) -> list[str] | None:
    """Ids of active facts `new` supersedes, or None when a newer fact already holds its slot."""
    out = []
    for old, old_vector in existing:
        same_slot = new.slot is not None and old.slot == new.slot
        repeat = old.text.lower() == new.text.lower() or (
            old.category == new.category and float(old_vector @ vector) >= REPEAT_SIMILARITY)
        if not (same_slot or repeat):
            continue
        if old.created_at > new.created_at:
            return None
        out.append(old.id)
    return out


def _keywords(conversation: Conversation, chunk: Chunk) -> str:
    """Indexed with a chunk, never returned: the call's date and title (what the call was about: a turn
    booking "Tuesday the 12th" is found by "what day is the boiler service?" though its turns never name the
    job), the neighbouring turns, and the dates its turns mention."""
    dates = mentioned(f"{chunk.text}\n{chunk.context}", conversation.started_at)
    title = f"\n{conversation.title}" if conversation.title else ""
    return f"{conversation.started_at:%B %Y %A}{title}\n{chunk.context}" + (f"\n{dates}" if dates else "")


def new_memories(conversation: Conversation, facts: list[Fact], chunks: list[Chunk], vectors: np.ndarray,
                 existing: Facts) -> tuple[list[StoredMemory], Supersessions]:
    """The call's memories (`vectors`: the facts' rows, then the chunks') and the (old, new) supersessions."""
    caller, cid, agent = conversation.caller_id or "", conversation.conversation_id, conversation.agent_id
    stored: list[StoredMemory] = []
    superseded: Supersessions = []
    for i, fact in enumerate(facts):
        memory = Memory(id=memory_id(cid, "fact", i), caller_id=caller, type="factual", text=fact.text,
                        conversation_id=cid, agent_id=agent, created_at=_fact_time(conversation, fact),
                        category=fact.category, slot=fact.slot)
        replaced = _replaced(memory, vectors[i], existing)
        if replaced is None:
            continue  # an older call's fact arriving late: the newer one stands
        superseded.extend((old, memory.id) for old in replaced)
        stored.append(StoredMemory(memory, vectors[i]))
    for j, chunk in enumerate(chunks):
        memory = Memory(id=memory_id(cid, "chunk", j), caller_id=caller, type="semantic", text=chunk.text,
                        conversation_id=cid, agent_id=agent,
                        created_at=conversation.started_at + timedelta(
                            seconds=chunk.turns[0].time_in_call_secs),
                        category="transcript", turn_start=chunk.start, turn_end=chunk.end)
        stored.append(StoredMemory(memory, vectors[len(facts) + j], keywords=_keywords(conversation, chunk)))
    return stored, superseded


def next_profile(conversation: Conversation, old: CallerProfile | None, claim: NameClaim | None,
                 active: Sequence[Memory], new: Sequence[Memory],
                 superseded: Sequence[tuple[str, str]]) -> CallerProfile:
    """The caller's profile after this call. A call older than the last one seen updates the counts and
    facts but not the name, language or last summary."""
    caller = conversation.caller_id or ""
    now = conversation.started_at
    old = old or CallerProfile(caller_id=caller, first_seen=now, last_seen=now)
    newest = old.call_count == 0 or now >= old.last_seen
    gone = {old_id for old_id, _ in superseded}
    facts = [m for m in active if m.id not in gone]
    facts += [m for m in new if m.type == "factual"]
    profile = replace(old, first_seen=min(old.first_seen, now), last_seen=max(old.last_seen, now),
                      call_count=old.call_count + 1, memory_count=old.memory_count + len(new) - len(gone),
                      top_facts=card.top_facts(facts))
    if not newest:
        return profile
    take_name = claim is not None and may_replace(old.name_source, claim.source)  # operator names hold
    language = normalise_language(conversation.language) or detect_language(
        t.text for t in conversation.caller_turns())
    first_name, name_source = old.first_name, old.name_source
    if claim is not None and take_name:
        # An operator's name gives way to the caller's own words only; otherwise the better-ranked source wins.
        first_name, name_source = ((claim.first_name, claim.source) if old.name_source == OPERATOR
                                   else choose(old.first_name, old.name_source, claim))
    summary = card.clean_text(resolve(conversation.summary, now), 300)  # no stale "next Tuesday" on the card
    return replace(profile, first_name=first_name, name_source=name_source, language=language or old.language,
                   last_call_summary=summary or old.last_call_summary)
