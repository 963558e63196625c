"""The webhook ack's fast paths: when its commit may run on the event loop, and its route without the router."""

from __future__ import annotations

import time
from collections import deque
from typing import Any


class InlineAckGuard:
    """When an ack may commit on the event loop: only small bodies (parsing and writing a multi-megabyte
    audio webhook would hold the loop for tens of ms), and not for a while after commits were slow (a slow
    disk), judged on the median of recent ones so that a cold first commit or a checkpoint does not count."""

    MAX_BYTES = 256 * 1024
    SLOW_SECS = 0.002
    PAUSE_SECS = 10.0
    WINDOW = 16

    def __init__(self) -> None:
        self.recent: deque[float] = deque(maxlen=self.WINDOW)
        self.paused_until = 0.0

    def allows(self, body_bytes: int) -> bool:
        return body_bytes <= self.MAX_BYTES and time.monotonic() >= self.paused_until

    def observe(self, secs: float) -> None:
        self.recent.append(secs)
        if len(self.recent) == self.WINDOW and sorted(self.recent)[self.WINDOW // 2] > self.SLOW_SECS:
            self.recent.clear()
            self.paused_until = time.monotonic() + self.PAUSE_SECS


class PostCallFastPath:
    """Serves `POST /post-call` without FastAPI's router and dependency machinery, inside our request
    middleware (ids, body limits, access log). That machinery cost ~0.2 ms of a ~1 ms ack (A/B in
    bench/PERF_NOTES.md); the handler, its errors and its JSON are the same code as the documented route."""

    def __init__(self, app: Any, *, serve: Any) -> None:
        self.app = app
        self.serve = serve

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == "/post-call":
            await self.serve(scope, receive, send)
        else:
            await self.app(scope, receive, send)
