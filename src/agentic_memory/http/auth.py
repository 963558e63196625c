"""Workspace-key authentication, as a FastAPI dependency."""

from __future__ import annotations

import hmac

from fastapi import Request

from agentic_memory.errors import Unauthorized

UNAUTHORIZED = "missing or invalid workspace key (X-Workspace-Key or Authorization: Bearer)"


def presented_key(request: Request) -> str:
    return key_from_headers(request.headers.get("x-workspace-key"), request.headers.get("authorization"))


def key_from_headers(workspace_key: str | None, authorization: str | None) -> str:
    """The key a request presents: X-Workspace-Key, else an `Authorization: Bearer` token (first of each)."""
    if workspace_key:
        return workspace_key
    scheme, _, token = (authorization or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def key_matches(presented: str, keys: tuple[str, ...]) -> bool:
    ok = False
    for key in keys:  # every key is compared, so timing does not tell which one is close
        ok |= hmac.compare_digest(presented.encode("utf-8", "replace"), key.encode())
    return ok and bool(presented)


class WorkspaceKey:
    """Requires one of `keys` (X-Workspace-Key or Authorization: Bearer); `required=False` lets anyone in.

    Async on purpose: FastAPI runs plain-def dependencies in the thread pool, a hop that cost more than
    everything else /client-data does (bench/PERF_NOTES.md)."""

    def __init__(self, keys: tuple[str, ...], *, required: bool = True) -> None:
        self.keys = keys
        self.required = required

    async def __call__(self, request: Request) -> None:
        if self.required and not key_matches(presented_key(request), self.keys):
            raise Unauthorized(UNAUTHORIZED)
