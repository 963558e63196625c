"""The operator's use cases: find callers, see what is remembered and why, fix names and memories.

Every function takes the ports it needs (`AdminDeps`), records an audit event (who, what, which caller
as a keyed hash) and returns plain JSON-ready dicts: the admin API sends them as they are and the CLI
prints them as tables, so both show exactly the same thing.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from agentic_memory.domain import card
from agentic_memory.domain.models import CallerProfile, Memory, StoredMemory
from agentic_memory.domain.name_source import OPERATOR
from agentic_memory.domain.names import clean_name
from agentic_memory.domain.phone import normalise_phone
from agentic_memory.domain.pseudonym import caller_ref
from agentic_memory.domain.scope import split_key
from agentic_memory.elevenlabs import payloads
from agentic_memory.errors import InvalidInput, InvalidPhoneNumber, NotFound
from agentic_memory.ports import (
    DELETED,
    AdminStore,
    AuditEvent,
    BackupArchives,
    BlobStore,
    CallerQuery,
    Clock,
    Embedder,
    MemoryChange,
    MemoryEngine,
    MemoryRecord,
    MemoryStore,
)

log = logging.getLogger("agentic_memory.audit")
MAX_PAGE = 500
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_MEMORY_TEXT = 2000
Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class AdminDeps:
    admin: AdminStore
    store: MemoryStore
    blobs: BlobStore
    embedder: Embedder | None  # None with the Mem0 engine, whose memories our store does not hold
    clock: Clock
    ref_secret: str
    default_region: str = "US"
    backups: BackupArchives | None = None
    # Where memories live when not in our store (Mem0): erasure forgets them there too. None for a backup's
    # stores, and for the local engine it is harmless (its forget does nothing).
    engine: MemoryEngine | None = None


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def audit(deps: AdminDeps, actor: str, action: str, caller_id: str = "", /, **detail: object) -> None:
    """Store and log one audit event. The caller appears only as a keyed hash."""
    ref = caller_ref(split_key(caller_id)[0], deps.ref_secret) if caller_id else ""
    deps.admin.record_audit(AuditEvent(at=deps.clock.now(), actor=actor, action=action, caller_ref=ref,
                                       detail=dict(detail)))
    log.info("audit", extra={"actor": actor, "action": action, "caller_ref": ref, "detail": detail})


def number(raw: str, deps: AdminDeps) -> str:
    """A number in any format (spaces, dashes, 00 prefix, tel: URI, national form) -> E.164."""
    return normalise_phone(raw, deps.default_region)


def read_blob(blobs: BlobStore, key: str | None) -> bytes | None:
    """The file's bytes, or None when it is gone (expired by retention, or never written)."""
    if not key:
        return None
    try:
        return blobs.get(key)
    except KeyError:
        return None


def active_facts(store: MemoryStore, caller_id: str) -> list[Memory]:
    """The caller's active facts, as the worker reads them (no call is ever saved under id "")."""
    return [m for m, _ in store.load_call("", caller_id).active_facts]


def profile_json(profile: CallerProfile, deps: AdminDeps) -> Json:
    number, agent = split_key(profile.caller_id)
    return {"number": number, "agent_id": agent or None, "caller_ref": caller_ref(number, deps.ref_secret),
            "first_name": profile.first_name, "name_source": profile.name_source, "language": profile.language,
            "first_seen": iso(profile.first_seen), "last_seen": iso(profile.last_seen),
            "call_count": profile.call_count, "memory_count": profile.memory_count,
            "last_call_summary": profile.last_call_summary, "top_facts": list(profile.top_facts)}


def memory_json(memory: Memory) -> Json:
    return {"id": memory.id, "type": memory.type, "text": memory.text, "category": memory.category,
            "slot": memory.slot, "conversation_id": memory.conversation_id, "agent_id": memory.agent_id,
            "created_at": iso(memory.created_at)}


def _status(record: MemoryRecord) -> str:
    if record.superseded_by is None:
        return "active"
    if record.superseded_by == DELETED:
        return "deleted"
    return "edited" if record.retired_reason == "operator_edit" else "superseded"


def history_json(records: Sequence[MemoryRecord]) -> Json:
    """Memories with their status, and per slot the chain of what replaced what, from which call, when."""
    by_id = {r.memory.id: r for r in records}
    out = []
    for r in records:
        replacement = by_id.get(r.superseded_by or "")
        retired_at = r.retired_at or (replacement.memory.created_at if replacement else None)
        out.append({**memory_json(r.memory), "status": _status(r), "superseded_by": r.superseded_by,
                    "retired_at": iso(retired_at),
                    "replaced_in_call": replacement.memory.conversation_id if replacement else None})
    slots: dict[str, list[Json]] = {}
    for item in out:
        if item["slot"]:
            slots.setdefault(item["slot"], []).append(item)
    return {"memories": out, "slots": {slot: [{k: i[k] for k in ("id", "text", "status", "conversation_id",
                                                               "created_at", "retired_at", "superseded_by")}
                                              for i in items] for slot, items in sorted(slots.items())}}


def list_callers(deps: AdminDeps, *, actor: str, query: str = "", name: str = "", seen_after: datetime | None = None,
                 seen_before: datetime | None = None, limit: int = 50, offset: int = 0) -> Json:
    """Search by number (any format, or a fragment of its digits), name fragment, last-seen window."""
    if not 1 <= limit <= MAX_PAGE or offset < 0:
        raise InvalidInput(f"limit must be 1..{MAX_PAGE} and offset >= 0")
    exact: str | None = None
    digits = ""
    if query.strip():
        try:
            exact = number(query, deps)
        except InvalidPhoneNumber:
            digits = "".join(ch for ch in query if ch.isdigit())
            if not digits:
                raise InvalidInput("q must be a phone number or some of its digits") from None
    found = deps.admin.find_callers(CallerQuery(number=exact, digits=digits, name=name.strip(),
                                                seen_after=seen_after, seen_before=seen_before,
                                                limit=limit + 1, offset=offset))
    audit(deps, actor, "callers.list", results=min(len(found), limit))
    return {"callers": [profile_json(p, deps) for p in found[:limit]],
            "next_offset": offset + limit if len(found) > limit else None}


def owners(deps: AdminDeps, e164: str) -> list[CallerProfile]:
    """The number's profiles: one, or one per agent under AGENTIC_MEMORY_SCOPE=agent_and_caller."""
    return deps.admin.find_callers(CallerQuery(number=e164, limit=MAX_PAGE))


def _profile(deps: AdminDeps, raw_number: str, agent_id: str | None = None) -> CallerProfile:
    found = owners(deps, number(raw_number, deps))
    if agent_id:
        found = [p for p in found if split_key(p.caller_id)[1] in (agent_id, "")]
    if not found:
        raise NotFound("no caller with this number")
    if len(found) > 1:
        agents = ", ".join(sorted(split_key(p.caller_id)[1] for p in found))
        raise InvalidInput(f"this number has separate memories with several agents ({agents}): give agent_id")
    return found[0]


def _call_details(deps: AdminDeps, conversation_id: str, files: dict[str, str], *, transcript: bool) -> Json:
    detail: Json = {"summary": "", "title": ""}
    raw = read_blob(deps.blobs, files.get("payload"))
    if raw is not None:
        event = payloads.parse_event(raw)
        conversation = payloads.parse_conversation(event, default_region=deps.default_region,
                                                   received_at=EPOCH)
        detail = {"summary": conversation.summary, "title": conversation.title,
                  "duration_secs": conversation.duration_secs}
    turns = read_blob(deps.blobs, files.get("transcript")) if transcript else None
    if turns is not None:
        detail["transcript"] = orjson.loads(turns)
    detail["audio"] = f"/admin/calls/{conversation_id}/audio" if "audio" in files else None
    return detail


def show_caller(deps: AdminDeps, raw_number: str, *, actor: str, transcripts: bool = False,
                agent_id: str | None = None) -> Json:
    """Profile, memories with history, and calls (summary, audio link; transcripts on request)."""
    profile = _profile(deps, raw_number, agent_id)
    calls = [{"conversation_id": c.conversation_id, "agent_id": c.agent_id, "started_at": iso(c.started_at),
              "files": c.files, **_call_details(deps, c.conversation_id, c.files, transcript=transcripts)}
             for c in deps.admin.caller_calls(profile.caller_id)]
    audit(deps, actor, "callers.show", profile.caller_id)
    return {"caller": profile_json(profile, deps), **history_json(deps.admin.caller_memories(profile.caller_id)),
            "calls": calls}


def call_audio(deps: AdminDeps, conversation_id: str, *, actor: str) -> bytes:
    audio = read_blob(deps.blobs, deps.store.files(conversation_id).get("audio"))
    if audio is None:
        raise NotFound("no audio for this call")
    audit(deps, actor, "calls.audio", conversation_id=conversation_id)
    return audio


def rename_caller(deps: AdminDeps, raw_number: str, name: str, *, actor: str, agent_id: str | None = None) -> Json:
    """An operator's correction: wins over data collection and summaries until the caller introduces
    themselves again (domain/name_source.py)."""
    profile = _profile(deps, raw_number, agent_id)
    cleaned = clean_name(name)
    if not cleaned:
        raise InvalidInput("not a usable name")
    first = cleaned.split()[0]
    deps.admin.set_name(profile.caller_id, first, source=OPERATOR)
    audit(deps, actor, "callers.rename", profile.caller_id, previous_source=profile.name_source)
    renamed = deps.store.caller(profile.caller_id)
    return profile_json(renamed or profile, deps)


def _memory(deps: AdminDeps, memory_id: str) -> Memory:
    memory = deps.store.memories([memory_id]).get(memory_id)
    if memory is None:
        raise NotFound("no memory with this id")
    return memory


def _top_facts(deps: AdminDeps, caller_id: str, *, drop: str, add: Memory | None) -> tuple[str, ...]:
    facts = [m for m in active_facts(deps.store, caller_id) if m.id != drop]
    if add is not None and add.type == "factual":
        facts.append(add)
    return card.top_facts(facts)


def edit_memory(deps: AdminDeps, memory_id: str, text: str, *, actor: str) -> Json:
    """Replace an active memory's text: the old one stays in history, superseded by the edit."""
    text = " ".join(text.split())
    if not text or len(text) > MAX_MEMORY_TEXT:
        raise InvalidInput(f"text must be 1..{MAX_MEMORY_TEXT} characters")
    old = _memory(deps, memory_id)
    now = deps.clock.now()
    new_id = "mem_" + hashlib.sha256(f"{old.id}\x00edit\x00{now.isoformat()}".encode()).hexdigest()[:24]
    new = Memory(id=new_id, caller_id=old.caller_id, type=old.type, text=text, conversation_id=old.conversation_id,
                 agent_id=old.agent_id, created_at=now, category=old.category, slot=old.slot,
                 turn_start=old.turn_start, turn_end=old.turn_end)
    if deps.embedder is None:  # unreachable in practice: with Mem0 our store holds no memory to find
        raise InvalidInput("memories live in Mem0 Cloud with this engine: edit them there")
    vector = deps.embedder.embed([text])[0]
    change = MemoryChange(caller_id=old.caller_id, memory_id=old.id, at=now, reason="operator_edit",
                          replacement=StoredMemory(new, vector),
                          top_facts=_top_facts(deps, old.caller_id, drop=old.id, add=new))
    if not deps.admin.change_memory(change):
        raise NotFound("this memory is no longer active (edited, deleted or superseded)")
    audit(deps, actor, "memories.edit", old.caller_id, memory_id=old.id, new_memory_id=new.id)
    return {"memory": memory_json(new), "replaces": old.id}


def delete_memory(deps: AdminDeps, memory_id: str, *, actor: str) -> Json:
    """Retire an active memory: no longer recalled, still visible in the caller's history."""
    old = _memory(deps, memory_id)
    change = MemoryChange(caller_id=old.caller_id, memory_id=old.id, at=deps.clock.now(), reason="operator_delete",
                          replacement=None, top_facts=_top_facts(deps, old.caller_id, drop=old.id, add=None))
    if not deps.admin.change_memory(change):
        raise NotFound("this memory is no longer active (edited, deleted or superseded)")
    audit(deps, actor, "memories.delete", old.caller_id, memory_id=old.id)
    return {"deleted": old.id}


def audit_log(deps: AdminDeps, *, limit: int = 100, offset: int = 0) -> Json:
    events = deps.admin.audit_events(limit=min(max(limit, 1), MAX_PAGE), offset=max(offset, 0))
    return {"events": [{"at": iso(e.at), "actor": e.actor, "action": e.action, "caller_ref": e.caller_ref,
                        "detail": e.detail} for e in events]}
