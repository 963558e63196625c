"""Worker path: turn one stored webhook into files, memories and an updated caller profile.

Idempotent: memory ids are derived from the conversation, and the store applies a conversation at most
once, so a job retried after a crash changes nothing the second time.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import numpy as np
import orjson

from agentic_memory.domain import card
from agentic_memory.domain.chunking import Chunk, chunk_turns
from agentic_memory.domain.dates import mentioned, resolve
from agentic_memory.domain.facts import FactExtractor
from agentic_memory.domain.keys import call_key, safe_id
from agentic_memory.domain.language import detect_language, normalise_language
from agentic_memory.domain.models import CallerProfile, Conversation, Fact, Memory, NameClaim
from agentic_memory.domain.names import choose, extract_name
from agentic_memory.elevenlabs import payloads
from agentic_memory.ports import BlobStore, CallUpdate, Clock, Embedder, Job, MemoryStore, StoredMemory

log = logging.getLogger(__name__)
REPEAT_SIMILARITY = 0.97


@dataclass(frozen=True, slots=True)
class WorkerDeps:
    store: MemoryStore
    blobs: BlobStore
    embedder: Embedder
    extractor: FactExtractor
    clock: Clock
    default_region: str = "US"


def process_job(job: Job, deps: WorkerDeps) -> str:
    """Run one job; returns a short outcome for logs. Raises on failure (the worker retries)."""
    event = payloads.parse_event(job.body)
    if event.type == payloads.TRANSCRIPTION:
        conversation = payloads.parse_conversation(
            event, default_region=deps.default_region, received_at=job.received_at)
        return process_transcription(conversation, job.body, deps)
    if event.type == payloads.AUDIO:
        key = call_key(event.conversation_id, "audio.mp3")
        deps.blobs.put(key, payloads.parse_audio(event))
        deps.store.link_file(event.conversation_id, "audio", key)
        return "audio stored"
    kind = safe_id(event.type)
    key = call_key(event.conversation_id, f"{kind}.json")
    deps.blobs.put(key, job.body)
    deps.store.link_file(event.conversation_id, kind, key)
    return f"{kind} stored"


def _memory_id(conversation_id: str, kind: str, index: int) -> str:
    digest = hashlib.sha256(f"{conversation_id}\x00{kind}\x00{index}".encode()).hexdigest()
    return "mem_" + digest[:24]


def _transcript_json(conversation: Conversation) -> bytes:
    return orjson.dumps([{"index": t.index, "role": t.role, "message": t.text,
                          "time_in_call_secs": t.time_in_call_secs} for t in conversation.turns])


def _fact_time(conversation: Conversation, fact: Fact) -> datetime:
    by_index = {t.index: t.time_in_call_secs for t in conversation.turns}
    offset = by_index.get(fact.turn_index, 0.0) if fact.turn_index is not None else 0.0
    return conversation.started_at + timedelta(seconds=offset)


def process_transcription(conversation: Conversation, raw: bytes, deps: WorkerDeps) -> str:
    cid = conversation.conversation_id
    if deps.store.has_conversation(cid):
        return "already processed"
    files = {"payload": call_key(cid, "post_call_transcription.json"), "transcript": call_key(cid, "transcript.json")}
    deps.blobs.put(files["payload"], raw)
    deps.blobs.put(files["transcript"], _transcript_json(conversation))
    base = CallUpdate(conversation_id=cid, caller_id=conversation.caller_id, agent_id=conversation.agent_id,
                      started_at=conversation.started_at, profile=None, files=files)
    if conversation.caller_id is None:
        deps.store.save_call(base)
        return "stored without caller (no phone number or user id)"
    claim = extract_name(conversation)
    existing = deps.store.active_facts(conversation.caller_id)
    new, superseded = _memories(conversation, deps, claim, existing)
    profile = _profile(conversation, deps, claim, [m for m, _ in existing], new, superseded)
    saved = deps.store.save_call(replace(base, profile=profile, new_memories=new, superseded=superseded))
    return f"{len(new)} memories, {len(superseded)} superseded" if saved else "already processed"


def _memories(conversation: Conversation, deps: WorkerDeps, claim: NameClaim | None,
              existing: list[tuple[Memory, np.ndarray]]) -> tuple[list[StoredMemory], list[tuple[str, str]]]:
    caller = conversation.caller_id or ""
    facts = _dedupe_slots(deps.extractor.extract(conversation))
    chunks = chunk_turns(conversation.turns, caller_name=claim.first_name if claim else "")
    texts = [f.text for f in facts] + [c.index_text for c in chunks]
    vectors = deps.embedder.embed(texts) if texts else np.zeros((0, deps.embedder.dim), np.float32)
    stored: list[StoredMemory] = []
    superseded: list[tuple[str, str]] = []
    for i, fact in enumerate(facts):
        memory = Memory(id=_memory_id(conversation.conversation_id, "fact", i), caller_id=caller, type="factual",
                        text=fact.text, conversation_id=conversation.conversation_id, agent_id=conversation.agent_id,
                        created_at=_fact_time(conversation, fact), category=fact.category, slot=fact.slot)
        replaced = _replaced(memory, vectors[i], existing)
        if replaced is None:
            continue  # an older call's fact arriving late: the newer one stands
        superseded.extend((old, memory.id) for old in replaced)
        stored.append(StoredMemory(memory, vectors[i]))
    for j, chunk in enumerate(chunks):
        memory = Memory(id=_memory_id(conversation.conversation_id, "chunk", j), caller_id=caller, type="semantic",
                        text=chunk.text, conversation_id=conversation.conversation_id, agent_id=conversation.agent_id,
                        created_at=conversation.started_at + timedelta(seconds=chunk.turns[0].time_in_call_secs),
                        category="transcript", turn_start=chunk.start, turn_end=chunk.end)
        stored.append(StoredMemory(memory, vectors[len(facts) + j], keywords=_keywords(conversation, chunk)))
    return stored, superseded


def _dedupe_slots(facts: list[Fact]) -> list[Fact]:
    """Within one call, the last statement in a slot wins and repeated texts collapse."""
    last_in_slot = {f.slot: i for i, f in enumerate(facts) if f.slot}
    seen: set[str] = set()
    out = []
    for i, fact in enumerate(facts):
        if fact.slot and last_in_slot[fact.slot] != i or fact.text.lower() in seen:
            continue
        seen.add(fact.text.lower())
        out.append(fact)
    return out


def _replaced(new: Memory, vector: np.ndarray, existing: list[tuple[Memory, np.ndarray]]) -> list[str] | None:
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
    dates = mentioned(f"{chunk.text}\n{chunk.context}", conversation.started_at)
    return f"{conversation.started_at:%B %Y %A}\n{chunk.context}" + (f"\n{dates}" if dates else "")


def _profile(conversation: Conversation, deps: WorkerDeps, claim: NameClaim | None, active: list[Memory],
             new: list[StoredMemory], superseded: list[tuple[str, str]]) -> CallerProfile:
    caller = conversation.caller_id or ""
    now = conversation.started_at
    old = deps.store.caller(caller) or CallerProfile(caller_id=caller, first_seen=now, last_seen=now)
    newest = old.call_count == 0 or now >= old.last_seen
    gone = {old_id for old_id, _ in superseded}
    facts = [m for m in active if m.id not in gone]
    facts += [s.memory for s in new if s.memory.type == "factual"]
    profile = replace(old, first_seen=min(old.first_seen, now), last_seen=max(old.last_seen, now),
                      call_count=old.call_count + 1, memory_count=old.memory_count + len(new) - len(gone),
                      top_facts=card.top_facts(facts))
    if not newest:
        return profile
    language = normalise_language(conversation.language) or detect_language(
        t.text for t in conversation.caller_turns())
    first_name, name_source = choose(old.first_name, old.name_source, claim)
    return replace(profile, first_name=first_name, name_source=name_source,
                   language=language or old.language,
                   last_call_summary=card.clean_text(resolve(conversation.summary, now), 300) or old.last_call_summary)
