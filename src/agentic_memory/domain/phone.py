"""Caller identity: phone numbers normalised to E.164 with `phonenumbers`.

We accept every number the library calls *possible* (right length for its region), not only the ones
its metadata calls *valid*: new ranges and reserved test ranges (+1 555 01xx, +44 7700 900xxx) are real
callers to us.
"""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers

from agentic_memory.errors import InvalidPhoneNumber

_ALLOWED = re.compile(r"^[0-9+()\-.\s/]{3,40}$")
_SIP = re.compile(r"^(?:sips?|tel):", re.IGNORECASE)


def normalise_phone(raw: object, default_region: str = "US") -> str:
    """Return the E.164 form of `raw`, or raise InvalidPhoneNumber."""
    if not isinstance(raw, str):
        raise InvalidPhoneNumber("caller id must be a string phone number")
    return _e164(raw, default_region)


# A caller's number arrives again on every turn of a call (/retrieve) and on every call (/client-data), and
# phonenumbers' regexes are the costly part of a request's own work (bench/PERF_NOTES.md item 20). A rejected
# number raises and is not cached. Bounded to 4096 numbers.
@lru_cache(maxsize=4096)
def _e164(raw: str, default_region: str) -> str:
    text = _SIP.sub("", raw.strip()).split("@", 1)[0].split(";", 1)[0]
    if not _ALLOWED.match(text) or sum(ch.isdigit() for ch in text) < 7:
        raise InvalidPhoneNumber("not a phone number")
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, None if text.startswith("+") else default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber("not a phone number") from exc
    # IS_POSSIBLE_LOCAL_ONLY (a 7-digit US number) is not enough to identify a caller.
    if phonenumbers.is_possible_number_with_reason(number) != phonenumbers.ValidationResult.IS_POSSIBLE:
        raise InvalidPhoneNumber("not a possible phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


WITHHELD = frozenset({"", "anonymous", "private", "restricted", "unknown", "unavailable", "withheld", "blocked"})


def identify_caller(raw: object, default_region: str = "US") -> str | None:
    """E.164 for a usable caller id; None when it is withheld (missing, "anonymous", "private",
    "restricted", "unknown") or is not a phone number at all. Such calls have no memory: a shared
    "anonymous" caller would mix strangers' memories together."""
    if raw is None or (isinstance(raw, str) and raw.strip().lower() in WITHHELD):
        return None
    try:
        return normalise_phone(raw, default_region)
    except InvalidPhoneNumber:
        return None
