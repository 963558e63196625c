"""BatchingEmbedder: concurrent single-query embeds share one model call.

Under load, /retrieve requests arrive while the model is busy. Instead of queueing them one by one,
whoever finds a free slot takes everything waiting (up to `max_batch`) and embeds it in one call, which
costs far less per query. At concurrency 1 nothing waits: there is no timer, only natural batching.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

from agentic_memory.ports import Embedder


class _Request:
    __slots__ = ("done", "error", "result", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.result: np.ndarray | None = None
        self.error: BaseException | None = None
        self.done = False


class BatchingEmbedder:
    def __init__(self, inner: Embedder, *, max_batch: int = 32, parallel: int = 2) -> None:
        self.inner = inner
        self.dim = inner.dim
        self.max_batch = max_batch
        self.parallel = parallel
        self._waiting: list[_Request] = []
        self._running = 0
        self._cond = threading.Condition()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) != 1:
            return self.inner.embed(texts)
        request = _Request(texts[0])
        with self._cond:
            self._waiting.append(request)
            while not request.done:
                if self._running < self.parallel and self._waiting:
                    batch = self._waiting[: self.max_batch]
                    del self._waiting[: len(batch)]
                    self._running += 1
                    self._cond.release()
                    try:
                        self._run(batch)
                    finally:
                        self._cond.acquire()
                        self._running -= 1
                        self._cond.notify_all()
                else:
                    self._cond.wait()
        if request.error is not None:
            raise request.error
        if request.result is None:  # set by the batch that ran it, unless that batch raised (handled above)
            raise RuntimeError("embedding batch finished without a result")
        return request.result

    def _run(self, batch: list[_Request]) -> None:
        try:
            vectors = self.inner.embed([r.text for r in batch])
        except BaseException as exc:  # noqa: BLE001 - handed to every waiting caller, re-raised there
            for r in batch:
                r.error, r.done = exc, True
            return
        for i, r in enumerate(batch):
            r.result, r.done = vectors[i : i + 1], True
