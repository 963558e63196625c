"""`ElevenLabs-Signature: t=<unix>,v0=<hex>` = HMAC-SHA256(secret, "{t}.{raw body}").

Byte-compatible with the official SDK's `construct_event`, but stricter: constant-time comparison,
future timestamps rejected too, and several secrets accepted at once for rotation.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Sequence

from agentic_memory.errors import Unauthorized

MAX_HEADER_LENGTH = 1024


def sign(raw_body: bytes, secret: str, timestamp: int | None = None) -> str:
    """Build a header exactly as ElevenLabs does (used by tests, the demo and benchmarks)."""
    ts = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{ts}.".encode() + raw_body, hashlib.sha256).hexdigest()
    return f"t={ts},v0={mac}"


def _parse(header: str) -> tuple[int, list[str]]:
    if len(header) > MAX_HEADER_LENGTH:
        raise Unauthorized("signature header too long")
    timestamp: str | None = None
    signatures: list[str] = []
    for part in header.split(","):
        name, sep, value = part.partition("=")
        if not sep:
            continue
        if name == "t":
            timestamp = value
        elif name == "v0":
            signatures.append(value)
    if timestamp is None or not signatures or not timestamp.isascii() or not timestamp.isdigit():
        raise Unauthorized("malformed signature header")
    return int(timestamp), signatures


def verify(raw_body: bytes, header: str | None, secrets: Sequence[str], *, tolerance_secs: int = 1800,
           now: float | None = None) -> None:
    """Raise Unauthorized unless `header` signs `raw_body` with one of `secrets`, recently."""
    if not header:
        raise Unauthorized("missing ElevenLabs-Signature header")
    if not secrets:
        raise Unauthorized("no webhook secret configured")
    timestamp, signatures = _parse(header)
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_secs:
        raise Unauthorized("signature timestamp outside the tolerance window")
    message = f"{timestamp}.".encode() + raw_body
    ok = False
    for secret in secrets:
        expected = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest().encode()
        for candidate in signatures:
            # Compare every pair (no early exit) so timing does not reveal which key matched.
            ok |= hmac.compare_digest(expected, candidate.encode("utf-8", "replace"))
    if not ok:
        raise Unauthorized("signature does not match")
