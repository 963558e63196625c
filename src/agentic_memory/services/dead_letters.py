"""Dead letters: webhooks whose processing failed for good. List, inspect, replay, purge."""

from __future__ import annotations

from typing import Any

from agentic_memory.errors import InvalidInput, NotFound
from agentic_memory.ports import InboxEntry
from agentic_memory.services.admin import MAX_PAGE, AdminDeps, audit, iso

Json = dict[str, Any]
STATUSES = ("queued", "running", "done", "dead", "erased")


def entry_json(entry: InboxEntry) -> Json:
    return {"id": entry.id, "event_type": entry.event_type, "conversation_id": entry.conversation_id,
            "status": entry.status, "attempts": entry.attempts, "error": entry.last_error,
            "received_at": iso(entry.received_at), "body_bytes": entry.body_bytes}


def list_jobs(deps: AdminDeps, *, actor: str, status: str | None = "dead", limit: int = 50, offset: int = 0) -> Json:
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(STATUSES)}")
    if not 1 <= limit <= MAX_PAGE or offset < 0:
        raise InvalidInput(f"limit must be 1..{MAX_PAGE} and offset >= 0")
    entries = deps.admin.inbox(status=status, limit=limit + 1, offset=offset)
    audit(deps, actor, "dead.list", status=status or "any", results=min(len(entries), limit))
    return {"jobs": [entry_json(e) for e in entries[:limit]],
            "next_offset": offset + limit if len(entries) > limit else None}


def show_job(deps: AdminDeps, job_id: int, *, actor: str) -> Json:
    """The job's error, attempts, event type and conversation id. The raw body is not shown: it holds
    the caller's number and words (export the caller for those)."""
    entry = deps.admin.inbox_entry(job_id)
    if entry is None:
        raise NotFound("no job with this id")
    audit(deps, actor, "dead.show", job_id=job_id)
    return entry_json(entry)


def replay(deps: AdminDeps, job_ids: list[int] | None, *, actor: str) -> Json:
    """Dead jobs back to the queue with a fresh attempt count (all of them when `job_ids` is None)."""
    count = deps.admin.requeue(job_ids, now=deps.clock.now())
    if job_ids is not None and count == 0:
        raise NotFound("none of these jobs is a dead letter")
    audit(deps, actor, "dead.replay", jobs=count)
    return {"replayed": count}


def purge(deps: AdminDeps, job_ids: list[int] | None, *, actor: str) -> Json:
    """Delete dead jobs and their bodies: the webhook is given up (a retry by ElevenLabs is accepted anew)."""
    count = deps.admin.purge(job_ids)
    if job_ids is not None and count == 0:
        raise NotFound("none of these jobs is a dead letter")
    audit(deps, actor, "dead.purge", jobs=count)
    return {"purged": count}
