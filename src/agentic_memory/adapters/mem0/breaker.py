"""A circuit breaker: while Mem0 keeps failing, refuse calls at once instead of waiting out each timeout.

/retrieve runs on the same bounded thread pool as /client-data; without this, a Mem0 outage whose
requests hang until the timeout would hold every one of those threads, and /client-data (answered
from our own store) would queue behind them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from agentic_memory.errors import EngineUnavailable


class Breaker:
    def __init__(self, *, threshold: int = 3, cooldown_secs: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.threshold = threshold
        self.cooldown_secs = cooldown_secs
        self.clock = clock
        self._failures = 0
        self._open_until = 0.0
        self._lock = threading.Lock()

    def check(self) -> None:
        """Raises EngineUnavailable while open. After the cooldown one call goes through as a trial."""
        with self._lock:
            if self._open_until and self.clock() < self._open_until:
                raise EngineUnavailable("mem0 failed repeatedly just now; calls paused for a few seconds",
                                        retry_after=self._open_until - self.clock())

    def failed(self) -> None:
        with self._lock:
            self._failures += 1
            if self._failures >= self.threshold:
                self._open_until = self.clock() + self.cooldown_secs
                self._failures = self.threshold - 1  # after the cooldown, one more failure reopens it

    def succeeded(self) -> None:
        with self._lock:
            self._failures = 0
            self._open_until = 0.0
