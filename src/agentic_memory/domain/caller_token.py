"""Signed caller tokens: how the memory proxy learns who is calling without trusting any text in the chat.

`/client-data` issues one per call; it reaches the proxy inside `custom_llm_extra_body` (ElevenLabs copies
that dict into every Custom LLM request as `elevenlabs_extra_body`) or, as a fallback, through the
`{{caller_token}}` dynamic variable rendered into the operator's system prompt. A token is
`amc1_<digits of the E.164 number>_<issued unix time>_<HMAC-SHA256, base64url>`, signed with a key derived
from the workspace key: whoever can forge one already holds the key that authenticates the proxy itself.
A web client allowed to override `custom_llm_extra_body` can therefore name no caller but its own.

When `/client-data` knows the agent, the token names it too and is signed over it:
`amc2_<digits>_<issued>_<agent id, base64url>_<HMAC>`. The proxy then looks up that agent's memories of the
caller (AGENTIC_MEMORY_SCOPE=agent_and_caller) and refuses the token on a request made for another agent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass

PREFIX = "amc"  # every version's tokens start with it (scrub_tokens looks for it before the regex)
MAX_AGE_SECS = 24 * 3600  # a call's prompt is rendered once, at its start; calls last minutes to hours
BUCKET_SECS = 3600  # issue times are rounded down, so one caller's /client-data answer stays cacheable
MAX_AGENT = 256  # characters of an agent id a token can carry (/client-data accepts no longer one)
# The agent is base64url: its "_" and "-" are told from the separators by the MAC's fixed 43 characters.
FIND = re.compile(r"\b(amc[12])_(\d{6,15})_(\d{9,11})_(?:([A-Za-z0-9_-]{1,342})_)?([A-Za-z0-9_-]{43})"
                  r"(?![A-Za-z0-9_-])")
_DERIVE = b"agentic-memory caller token v1"


@dataclass(frozen=True, slots=True)
class Token:
    caller: str  # E.164
    agent_id: str  # "" when it names none (amc1, or /client-data was not told the agent)


def signing_key(workspace_key: str) -> bytes:
    """The token key, derived from a workspace key (so rotating that key rotates tokens too)."""
    return hmac.new(workspace_key.encode(), _DERIVE, hashlib.sha256).digest()


def _mac(key: bytes, version: str, digits: str, issued: int, agent: str) -> str:
    signed = f"{version}|{digits}|{issued}" + (f"|{agent}" if version == "amc2" else "")
    digest = hmac.new(key, signed.encode(), hashlib.sha256).digest()
    return _b64(digest)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def issue(caller_id: str, key: bytes, *, now: float, agent_id: str = "") -> str:
    """A token for `caller_id` (E.164, "+" then digits), naming `agent_id` when given."""
    digits = caller_id.removeprefix("+")
    if not digits.isdigit():
        raise ValueError("caller_id must be an E.164 number")
    if len(agent_id) > MAX_AGENT:
        raise ValueError(f"agent_id is longer than {MAX_AGENT} characters")
    issued = int(now) // BUCKET_SECS * BUCKET_SECS
    if not agent_id:
        return f"amc1_{digits}_{issued}_{_mac(key, 'amc1', digits, issued, '')}"
    agent = _b64(agent_id.encode())
    return f"amc2_{digits}_{issued}_{agent}_{_mac(key, 'amc2', digits, issued, agent)}"


def read(text: str, keys: tuple[bytes, ...], *, now: float, agent_id: str = "") -> Token | None:
    """The first valid, unexpired token found in `text`; None if there is none. `agent_id`: the agent this
    request is known to be for; a token naming another agent is then refused (one minted for agent A
    cannot fetch A's memories on agent B's call)."""
    if PREFIX not in text:  # most system prompts: a substring test instead of the regex's scan of every position
        return None
    for match in FIND.finditer(text):
        version, digits, issued, agent, mac = match.groups()
        if (version == "amc1") != (agent is None) or not 0 <= now - int(issued) <= MAX_AGE_SECS + BUCKET_SECS:
            continue
        ok = False
        for key in keys:  # every key is compared, so timing does not tell which one matched
            ok |= hmac.compare_digest(_mac(key, version, digits, int(issued), agent or ""), mac)
        if not ok:
            continue
        named = _agent(agent)
        if named is None or (agent_id and named and named != agent_id):
            continue
        return Token("+" + digits, named or agent_id)
    return None


def _agent(encoded: str | None) -> str | None:
    """The agent id a signed token carries ("" for none); None if its bytes are not an id (never signed so)."""
    if encoded is None:
        return ""
    try:
        return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None


def verify(text: str, keys: tuple[bytes, ...], *, now: float) -> str | None:
    """The E.164 caller of the first valid, unexpired token found in `text`; None if there is none."""
    token = read(text, keys, now=now)
    return None if token is None else token.caller


def strip(text: str) -> str:
    """`text` without tokens: the model has no use for them."""
    return FIND.sub("", text)
