"""Caller references for audit trails, receipts and admin URLs: a keyed hash, never the number.

A plain SHA-256 of a phone number is reversed by hashing every possible number (~10^10 per country
code, minutes on a laptop); an HMAC with a server secret is not.
"""

from __future__ import annotations

import hashlib
import hmac

PREFIX = "c_"


def caller_ref(caller_id: str, secret: str) -> str:
    digest = hmac.new(secret.encode(), caller_id.encode(), hashlib.sha256).hexdigest()
    return PREFIX + digest[:32]


def is_caller_ref(text: str) -> bool:
    return text.startswith(PREFIX) and len(text) == len(PREFIX) + 32 and all(c in "0123456789abcdef" for c in text[2:])
