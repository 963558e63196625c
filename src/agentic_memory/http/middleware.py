"""Pure ASGI middleware: request ids, per-endpoint body limits, one structured access-log line."""

from __future__ import annotations

import json
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from agentic_memory.logs import access_fields, request_id

log = logging.getLogger("agentic_memory.access")
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]
_SAFE_ID = re.compile(rb"^[A-Za-z0-9._-]{1,64}$")


class BodyTooLarge(Exception):
    pass


class RequestMiddleware:
    def __init__(self, app: ASGIApp, *, limits: dict[str, int], default_limit: int) -> None:
        self.app = app
        self.limits = limits
        self.default_limit = default_limit

    async def __call__(self, scope: Scope, receive: Callable[[], Awaitable[Message]],
                       send: Callable[[Message], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        rid = new_request_id(headers.get(b"x-request-id", b""))
        token = request_id.set(rid)
        fields: dict[str, object] = {}
        fields_token = access_fields.set(fields)
        limit = self.limits.get(scope["path"], self.default_limit)
        started = time.perf_counter()
        status = {"code": 500, "sent": False}

        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await _too_large(send, rid, limit, status)
            log_request(scope, status["code"], started, fields)
            access_fields.reset(fields_token)
            request_id.reset(token)
            return

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Answer 413 now: the app may turn the exception into its own error (FastAPI makes
                    # any failure while reading a body a 400), and whatever it sends next is dropped.
                    if not status["sent"]:
                        await _too_large(send, rid, limit, status)
                    status["blocked"] = True
                    raise BodyTooLarge()
            return message

        async def tracking_send(message: Message) -> None:
            if status.get("blocked"):
                return
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                status["sent"] = True
                message.setdefault("headers", []).append((b"x-request-id", rid.encode()))
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not status["sent"]:
                await _too_large(send, rid, limit, status)
        finally:
            log_request(scope, status["code"], started, fields)
            access_fields.reset(fields_token)
            request_id.reset(token)


def new_request_id(incoming: bytes) -> str:
    """The client's X-Request-Id if it is a safe one, else a new id. A log correlation id, not a secret: no
    getrandom syscall per request (under load the loop lost the CPU there; bench/PERF_NOTES.md, proxy,
    session 20)."""
    return incoming.decode() if _SAFE_ID.match(incoming) else f"{random.getrandbits(64):016x}"


async def _too_large(send: Callable[[Message], Awaitable[None]], rid: str, limit: int,
                     status: dict[str, Any]) -> None:
    status["code"] = 413
    status["sent"] = True
    await too_large(send, rid, limit)


async def too_large(send: Callable[[Message], Awaitable[None]], rid: str, limit: int) -> None:
    """The 413 every endpoint answers for a body over its limit (the connection is closed after it)."""
    body = json.dumps({"error": "request body too large", "detail": {"max_bytes": limit}}).encode()
    await send({"type": "http.response.start", "status": 413, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"x-request-id", rid.encode()), (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


def log_request(scope: Scope, status: int, started: float, fields: dict[str, object]) -> None:
    """The request's one access-log line: the fields its route added, then method, path, status and ms."""
    log.info("request", extra={**fields, "method": scope.get("method"), "path": scope.get("path"),
                               "status": status, "ms": round((time.perf_counter() - started) * 1000, 2)})
