"""Ack path for post-call webhooks: verify, store durably, queue. Nothing else before the 200."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from agentic_memory.elevenlabs import payloads, signature
from agentic_memory.offload import run_blocking, settled
from agentic_memory.ports import Clock, JobQueue

# Checking a body means an HMAC over it and a JSON parse: microseconds for a transcript, tens of
# milliseconds for an audio webhook of several MB, which would stall every other request on the loop.
INLINE_CHECK_BYTES = 256 * 1024


@dataclass(frozen=True, slots=True)
class Accepted:
    event_type: str
    conversation_id: str
    duplicate: bool


def check_webhook(body: bytes, signature_header: str | None, *, secrets: Sequence[str], tolerance_secs: int,
                  now: float) -> payloads.Event:
    """Raises Unauthorized (401) or InvalidInput (400)."""
    signature.verify(body, signature_header, secrets, tolerance_secs=tolerance_secs, now=now)
    return payloads.parse_event(body)


async def accept_webhook(body: bytes, signature_header: str | None, *, secrets: Sequence[str],
                         tolerance_secs: int, queue: JobQueue, clock: Clock) -> Accepted:
    """Raises Unauthorized (401), InvalidInput (400) or StorageError (503); returns once durably stored."""
    now = clock.now()
    if len(body) <= INLINE_CHECK_BYTES:
        event = check_webhook(body, signature_header, secrets=secrets, tolerance_secs=tolerance_secs,
                              now=now.timestamp())
    else:
        event = await run_blocking(check_webhook, body, signature_header, secrets=secrets,
                                   tolerance_secs=tolerance_secs, now=now.timestamp())
    stored = queue.accept(event_type=event.type, conversation_id=event.conversation_id, body=body,
                          received_at=now)
    fresh = await settled(stored)
    return Accepted(event.type, event.conversation_id, duplicate=not fresh)
