"""Signed caller tokens: how the memory proxy learns who is calling without trusting any text in the chat.

`/client-data` issues one per call; it reaches the proxy inside `custom_llm_extra_body` (ElevenLabs copies
that dict into every Custom LLM request as `elevenlabs_extra_body`) or, as a fallback, through the
`{{caller_token}}` dynamic variable rendered into the operator's system prompt. A token is
`amc1_<digits of the E.164 number>_<issued unix time>_<HMAC-SHA256, base64url>`, signed with a key derived
from the workspace key: whoever can forge one already holds the key that authenticates the proxy itself.
A web client allowed to override `custom_llm_extra_body` can therefore name no caller but its own.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

PREFIX = "amc1"
MAX_AGE_SECS = 24 * 3600  # a call's prompt is rendered once, at its start; calls last minutes to hours
BUCKET_SECS = 3600  # issue times are rounded down, so one caller's /client-data answer stays cacheable
FIND = re.compile(r"\bamc1_(\d{6,15})_(\d{9,11})_([A-Za-z0-9_-]{43})(?![A-Za-z0-9_-])")
_DERIVE = b"agentic-memory caller token v1"


def signing_key(workspace_key: str) -> bytes:
    """The token key, derived from a workspace key (so rotating that key rotates tokens too)."""
    return hmac.new(workspace_key.encode(), _DERIVE, hashlib.sha256).digest()


def _mac(key: bytes, digits: str, issued: int) -> str:
    digest = hmac.new(key, f"{PREFIX}|{digits}|{issued}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def issue(caller_id: str, key: bytes, *, now: float) -> str:
    """A token for `caller_id` (E.164, "+" then digits)."""
    digits = caller_id.removeprefix("+")
    if not digits.isdigit():
        raise ValueError("caller_id must be an E.164 number")
    issued = int(now) // BUCKET_SECS * BUCKET_SECS
    return f"{PREFIX}_{digits}_{issued}_{_mac(key, digits, issued)}"


def verify(text: str, keys: tuple[bytes, ...], *, now: float) -> str | None:
    """The E.164 caller of the first valid, unexpired token found in `text`; None if there is none."""
    for match in FIND.finditer(text):
        digits, issued, mac = match.group(1), int(match.group(2)), match.group(3)
        if not 0 <= now - issued <= MAX_AGE_SECS + BUCKET_SECS:
            continue
        ok = False
        for key in keys:  # every key is compared, so timing does not tell which one matched
            ok |= hmac.compare_digest(_mac(key, digits, issued), mac)
        if ok:
            return "+" + digits
    return None


def strip(text: str) -> str:
    """`text` without tokens: the model has no use for them."""
    return FIND.sub("", text)
