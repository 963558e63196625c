"""Worker path: turn one stored webhook into files, memories and an updated caller profile.

Load what the call needs once, decide in `domain/call_update.py`, save once. The memories go to the
memory engine (`ports.MemoryEngine`): our store, or Mem0 Cloud. Idempotent: memory ids are derived from
the conversation, the store applies a conversation at most once, and a remote engine records what it
sent, so a job retried after a crash stores nothing twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import orjson

from agentic_memory.domain.call_update import dedupe_slots, next_profile, undated_start
from agentic_memory.domain.chunking import chunk_turns
from agentic_memory.domain.facts import FactExtractor
from agentic_memory.domain.keys import call_key, safe_id
from agentic_memory.domain.models import CallUpdate, Conversation
from agentic_memory.domain.names import extract_name
from agentic_memory.domain.scope import Scope, owner_key
from agentic_memory.elevenlabs import payloads
from agentic_memory.ports import AudioSource, BlobStore, Clock, Job, MemoryEngine, MemoryStore, ProcessedCall

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WorkerDeps:
    store: MemoryStore
    blobs: BlobStore
    engine: MemoryEngine  # where the memories go: our store (local) or Mem0 Cloud
    extractor: FactExtractor
    clock: Clock
    default_region: str = "US"
    scope: Scope = "caller"
    audio: AudioSource | None = None  # fetch audio after the transcript (where audio webhooks cannot arrive)


@dataclass(frozen=True, slots=True)
class Outcome:
    summary: str  # short, for logs
    drop_body: bool = False  # the job's body now lives in a durable file: the queue need not keep it


def process_job(job: Job, deps: WorkerDeps) -> Outcome:
    """Run one job. Raises on failure (the worker retries)."""
    event = payloads.parse_event(job.body)
    if event.type == payloads.TRANSCRIPTION:
        conversation = payloads.parse_conversation(
            event, default_region=deps.default_region, received_at=job.received_at)
        if not conversation.dated:
            conversation = replace(conversation, started_at=undated_start(job.received_at, deps.store.latest_call()))
        if conversation.caller_id is not None and deps.scope != "caller":
            conversation = replace(conversation, caller_id=owner_key(conversation.caller_id, conversation.agent_id
                                                                     or "unknown-agent", deps.scope))
        summary = process_transcription(conversation, job.body, deps)
        if deps.audio is not None:
            summary += fetch_audio(event.conversation_id, deps, deps.audio)
        return Outcome(summary)
    if event.type == payloads.AUDIO:
        key = call_key(event.conversation_id, "audio.mp3")
        deps.blobs.put(key, payloads.parse_audio(event))
        deps.store.link_file(event.conversation_id, "audio", key)
        # Megabytes of base64 whose mp3 is now a durable file: keeping both would grow the inbox by the
        # size of every call's audio.
        return Outcome("audio stored", drop_body=True)
    kind = safe_id(event.type)
    key = call_key(event.conversation_id, f"{kind}.json")
    deps.blobs.put(key, job.body)
    deps.store.link_file(event.conversation_id, kind, key)
    return Outcome(f"{kind} stored")


def fetch_audio(conversation_id: str, deps: WorkerDeps, source: AudioSource) -> str:
    """Store the call's audio unless it already arrived (by webhook or an earlier run). A failure raises,
    so the job is retried; saving the transcript again is then a no-op."""
    if "audio" in deps.store.files(conversation_id):
        return ""
    audio = source.fetch(conversation_id)
    if audio is None:
        return "; no audio at ElevenLabs"
    key = call_key(conversation_id, "audio.mp3")
    deps.blobs.put(key, audio)
    deps.store.link_file(conversation_id, "audio", key)
    return "; audio fetched"


def _transcript_json(conversation: Conversation) -> bytes:
    return orjson.dumps([{"index": t.index, "role": t.role, "message": t.text,
                          "time_in_call_secs": t.time_in_call_secs} for t in conversation.turns])


def process_transcription(conversation: Conversation, raw: bytes, deps: WorkerDeps) -> str:
    cid = conversation.conversation_id
    context = deps.store.load_call(cid, conversation.caller_id)
    if context.processed:
        return "already processed"
    files = {"payload": call_key(cid, "post_call_transcription.json"),
             "transcript": call_key(cid, "transcript.json")}
    deps.blobs.put(files["payload"], raw)
    deps.blobs.put(files["transcript"], _transcript_json(conversation))
    base = CallUpdate(conversation_id=cid, caller_id=conversation.caller_id, agent_id=conversation.agent_id,
                      started_at=conversation.started_at, profile=None, files=files)
    if conversation.caller_id is None:
        deps.store.save_call(base)
        return "stored without caller (no phone number or user id)"
    claim = extract_name(conversation)
    facts = dedupe_slots(deps.extractor.extract(conversation))
    chunks = chunk_turns(conversation.turns, caller_name=claim.first_name if claim else "")
    remembered = deps.engine.remember(ProcessedCall(conversation, facts, chunks), context)
    profile = next_profile(conversation, context.profile, claim, remembered.active, remembered.new,
                           remembered.superseded)
    saved = deps.store.save_call(replace(base, profile=profile, new_memories=remembered.stored,
                                         superseded=remembered.stored_superseded))
    summary = f"{len(remembered.new)} memories, {len(remembered.superseded)} superseded"
    return summary if saved else "already processed"
