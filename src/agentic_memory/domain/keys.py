"""Object keys built from outside ids: sanitised so no id can escape its folder."""

from __future__ import annotations

import hashlib
import re

_SAFE = re.compile(r"^[A-Za-z0-9_-]{1,100}$")
_KEY = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]*(/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$")


def safe_id(raw: str) -> str:
    """`raw` itself when it is plainly safe, else a readable slug plus a hash (so distinct ids stay distinct)."""
    if _SAFE.match(raw):
        return raw
    slug = re.sub(r"[^A-Za-z0-9_-]+", "_", raw).strip("_")[:60] or "id"
    return f"{slug}-{hashlib.sha256(raw.encode('utf-8', 'surrogatepass')).hexdigest()[:16]}"


def call_key(conversation_id: str, name: str) -> str:
    return f"calls/{safe_id(conversation_id)}/{name}"


def check_key(key: str) -> str:
    """Refuse keys with absolute paths, `..`, hidden segments or odd characters."""
    if len(key) > 512 or not _KEY.match(key) or any(part in ("", ".", "..") for part in key.split("/")):
        raise ValueError(f"unsafe object key: {key!r}")
    return key
