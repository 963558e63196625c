"""The dashboard's session cookie and CSRF tokens, both HMAC-signed with a key derived from the admin key.

Deriving the key from the admin key (instead of a new setting) means that rotating the admin key ends
every session. The cookie holds no secret: an expiry, a random session id and which admin key signed it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

COOKIE = "am_dashboard"
LOGIN_COOKIE = "am_login"  # double-submit token of the login form (login CSRF)
LIFETIME_SECS = 8 * 3600


def _key(admin_key: str) -> bytes:
    return hmac.new(admin_key.encode(), b"agentic-memory dashboard session v1", hashlib.sha256).digest()


def fingerprint(admin_key: str) -> str:
    return hashlib.sha256(admin_key.encode()).hexdigest()[:8]


def _sign(admin_key: str, payload: str) -> str:
    return hmac.new(_key(admin_key), payload.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class Session:
    session_id: str
    key: str  # the admin key that signed it (never sent to the browser)
    expires: int

    @property
    def actor(self) -> str:
        """The audit trail's "who", as the admin API writes it (a fingerprint of the key)."""
        return f"key:{fingerprint(self.key)}/dashboard"

    def csrf(self) -> str:
        return _sign(self.key, f"csrf|{self.session_id}")

    def csrf_ok(self, token: str) -> bool:
        return hmac.compare_digest(token.encode("utf-8", "replace"), self.csrf().encode())


def issue(admin_key: str, *, now: float | None = None) -> str:
    expires = int((now or time.time()) + LIFETIME_SECS)
    payload = f"{expires}.{secrets.token_hex(16)}.{fingerprint(admin_key)}"
    return f"{payload}.{_sign(admin_key, payload)}"


def verify(cookie: str, keys: tuple[str, ...], *, now: float | None = None) -> Session | None:
    """The session, when the cookie is signed by one of the current admin keys and has not expired."""
    parts = cookie.split(".")
    if len(parts) != 4 or not parts[0].isdigit():
        return None
    expires, session_id, fp, signature = parts
    payload = f"{expires}.{session_id}.{fp}"
    found = None
    for key in keys:  # every key is tried, so timing does not tell which one matched
        if hmac.compare_digest(signature.encode("utf-8", "replace"), _sign(key, payload).encode()):
            found = key
    if found is None or int(expires) < (now or time.time()):
        return None
    return Session(session_id=session_id, key=found, expires=int(expires))
