"""The right to erasure and the right of access: erase a caller everywhere, export what is held.

Scope: what came from the caller's own calls (their profile, memories and history, indexes, processed
and unprocessed webhooks, files). Another caller who said this number in their own call keeps that call.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from agentic_memory.domain.keys import call_key
from agentic_memory.domain.models import CallerProfile
from agentic_memory.domain.phone import normalise_phone
from agentic_memory.domain.pseudonym import caller_ref
from agentic_memory.domain.scope import split_key
from agentic_memory.elevenlabs import payloads
from agentic_memory.errors import InvalidInput, NotFound
from agentic_memory.services.admin import (
    EPOCH,
    AdminDeps,
    audit,
    history_json,
    iso,
    number,
    owners,
    profile_json,
    read_blob,
)

Json = dict[str, Any]
# Files a call may have even when no link to them was committed (a crash between write and link).
KNOWN_FILES = ("post_call_transcription.json", "transcript.json", "audio.mp3", "call_initiation_failure.json")
Progress = Callable[[int, int], None]


def _dig(value: Any, *path: str) -> dict[str, Any]:
    for name in path:
        value = value.get(name) if isinstance(value, dict) else None
    return value if isinstance(value, dict) else {}


def _failure_numbers(event: payloads.Event, region: str) -> set[str]:
    body = _dig(event.payload, "data", "metadata", "body")
    found = set()
    for raw in (body.get("From"), body.get("To"), body.get("from_number"), body.get("to_number")):
        try:
            found.add(normalise_phone(raw, region))
        except InvalidInput:
            continue
    return found


def webhook_callers(body: bytes, region: str) -> set[str]:
    """The numbers a stored webhook belongs to (unparseable bodies belong to no one we can name)."""
    try:
        event = payloads.parse_event(body)
        if event.type == payloads.TRANSCRIPTION:
            caller = payloads.parse_conversation(event, default_region=region, received_at=EPOCH).caller_id
            return {caller} if caller else set()
        if event.type == payloads.FAILURE:
            return _failure_numbers(event, region)
    except InvalidInput:
        return set()
    return set()


def _erase(deps: AdminDeps, e164: str) -> dict[str, int]:
    """Erase the number from one set of stores (the live ones, or one backup's), under every owner key it
    has (one per agent with AGENTIC_MEMORY_SCOPE=agent_and_caller); returns the counts."""
    unprocessed = [cid for kind in (payloads.TRANSCRIPTION, payloads.FAILURE)
                   for cid, body in deps.admin.pending_bodies(kind)
                   if e164 in webhook_callers(body, deps.default_region)]
    keys = list(dict.fromkeys([e164, *(p.caller_id for p in owners(deps, e164))]))
    counts = dict.fromkeys(("profile", "conversations", "memories", "inbox_rows", "files"), 0)
    counts["unprocessed_webhooks"] = len(unprocessed)
    file_keys = {call_key(cid, name) for cid in unprocessed for name in KNOWN_FILES}
    if deps.engine is not None:
        # Memories held by a remote engine (Mem0) first: if it fails, our rows still name the caller, so
        # the operator's retry finds them and tries again.
        for key in keys:
            deps.engine.forget(key)
    for index, key in enumerate(keys):
        rows = deps.admin.erase_caller(key, conversation_ids=unprocessed if index == 0 else ())
        for name, value in (("profile", rows.profile), ("conversations", rows.conversations),
                            ("memories", rows.memories), ("inbox_rows", rows.inbox)):
            counts[name] += value
        folders = {k.split("/")[1] for k in rows.file_keys if k.startswith("calls/")}
        file_keys |= set(rows.file_keys) | {f"calls/{folder}/{name}" for folder in folders for name in KNOWN_FILES}
    counts["files"] = sum(deps.blobs.delete(key) for key in sorted(file_keys))
    return counts


def erase_caller(deps: AdminDeps, raw_number: str, *, actor: str, reason: str = "request",
                 compact: bool = True, include_backups: bool = True) -> Json:
    """Delete everything held about one number, in backups made by the backup command too; returns the
    receipt (keyed hash, counts, time)."""
    caller = number(split_key(raw_number)[0], deps)
    if not owners(deps, caller) and not deps.admin.caller_calls(caller) and not any(
            caller in webhook_callers(body, deps.default_region) for kind in (payloads.TRANSCRIPTION, payloads.FAILURE)
            for _, body in deps.admin.pending_bodies(kind)):
        raise NotFound("nothing is held about this number")
    counts = _erase(deps, caller)
    if owners(deps, caller):  # a call of theirs committed by the worker meanwhile: erase that too
        for name, value in _erase(deps, caller).items():
            counts[name] += value
    if compact:
        deps.admin.compact()
    counts["backups"] = 0
    if deps.backups is not None and include_backups:
        for admin_store, store, blobs in deps.backups.stores():
            _erase(replace(deps, admin=admin_store, store=store, blobs=blobs, backups=None, engine=None), caller)
            counts["backups"] += 1
    at = deps.clock.now()
    ref = caller_ref(caller, deps.ref_secret)
    receipt_id = "er_" + hashlib.sha256(f"{ref}\x00{at.isoformat()}".encode()).hexdigest()[:20]
    audit(deps, actor, "callers.erase", caller, receipt_id=receipt_id, **counts)
    return {"receipt_id": receipt_id, "caller_ref": ref, "erased_at": iso(at), "reason": reason, "counts": counts}


def _owner_export(deps: AdminDeps, profile: CallerProfile) -> Json:
    calls = []
    for call in deps.admin.caller_calls(profile.caller_id):
        item: Json = {"conversation_id": call.conversation_id, "agent_id": call.agent_id,
                      "started_at": iso(call.started_at), "files": call.files}
        for kind in ("transcript", "payload"):
            raw = read_blob(deps.blobs, call.files.get(kind))
            if raw is not None:
                item[kind] = payloads.load_json(raw)
        calls.append(item)
    return {"caller": profile_json(profile, deps), **history_json(deps.admin.caller_memories(profile.caller_id)),
            "calls": calls}


def export_caller(deps: AdminDeps, raw_number: str, *, actor: str) -> Json:
    """Everything held about one number, as one JSON document (audio as links; `callers export --zip`).
    With per-agent memories, the most recent agent's are at the top and the others in `other_agents`."""
    caller = number(raw_number, deps)
    found = owners(deps, caller)
    if not found:
        raise NotFound("no caller with this number")
    audit(deps, actor, "callers.export", caller)
    first, *others = (_owner_export(deps, profile) for profile in found)
    return {"exported_at": iso(deps.clock.now()), **first, "other_agents": others}
