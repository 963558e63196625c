"""Ack path for post-call webhooks: verify, store durably, queue. Nothing else before the 200."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from agentic_memory.elevenlabs import payloads, signature
from agentic_memory.errors import InvalidInput
from agentic_memory.ports import Clock, JobQueue


@dataclass(frozen=True, slots=True)
class Accepted:
    event_type: str
    conversation_id: str
    duplicate: bool


def accept_webhook(body: bytes, signature_header: str | None, *, secrets: Sequence[str], tolerance_secs: int,
                   queue: JobQueue, clock: Clock, wait: bool = True) -> Accepted:
    """Raises Unauthorized (401), InvalidInput (400) or StorageError (503); returns once durably stored.
    With `wait=False` it raises Busy, having stored nothing, when the write lock is taken."""
    now = clock.now()
    signature.verify(body, signature_header, secrets, tolerance_secs=tolerance_secs, now=now.timestamp())
    event = payloads.parse_event(body)
    if event.type == payloads.AUDIO:
        audio = event.payload["data"].get("full_audio")
        if not isinstance(audio, str) or not audio:
            raise InvalidInput("data.full_audio must be a base64 string")
    fresh = queue.accept(event_type=event.type, conversation_id=event.conversation_id, body=body, received_at=now,
                         wait=wait)
    return Accepted(event.type, event.conversation_id, duplicate=not fresh)
