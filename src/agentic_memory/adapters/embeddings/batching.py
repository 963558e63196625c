"""BatchingEmbedder: concurrent single-query embeds share one model call.

Under load, /retrieve requests arrive while the model is busy. Instead of queueing them one by one,
whoever holds a free slot (`parallel` model calls may run at once) embeds everything waiting (up to
`max_batch`) in one call, which costs far less per query. At concurrency 1 nothing waits: there is no
timer, only natural batching.

`solo` (optional: the same model with every core) embeds a query that finds no other batch running and
nobody waiting: an idle server answers one query on all cores, a busy one runs one batch per core.

Each caller sleeps on its own lock and is woken exactly once: when its vector is ready, or when a finished
batch hands it the free slot. (One shared condition woke every waiting thread after every batch, and each
woken thread had to take the GIL back only to find its query still waiting.)
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

from agentic_memory.ports import Embedder


class _Request:
    __slots__ = ("error", "lead", "result", "text", "wake")

    def __init__(self, text: str) -> None:
        self.text = text
        self.result: np.ndarray | None = None
        self.error: BaseException | None = None
        self.lead = False  # True once this caller holds a slot and must run a batch itself
        self.wake = threading.Lock()
        self.wake.acquire()  # released once: result ready, or a slot handed over


class BatchingEmbedder:
    def __init__(self, inner: Embedder, *, max_batch: int = 32, parallel: int = 2,
                 solo: Embedder | None = None) -> None:
        self.inner = inner
        self.solo = solo
        self.dim = inner.dim
        self.max_batch = max_batch
        self.parallel = parallel
        self._waiting: list[_Request] = []
        self._running = 0
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) != 1:
            return self.inner.embed(texts)
        request = _Request(texts[0])
        with self._lock:
            if self._running < self.parallel:
                self._running += 1
                request.lead = True
            else:
                self._waiting.append(request)
        if not request.lead:
            request.wake.acquire()
        if request.lead:
            self._lead(request)
        if request.error is not None:
            raise request.error
        if request.result is None:  # set by the batch that ran it, unless that batch raised (handled above)
            raise RuntimeError("embedding batch finished without a result")
        return request.result

    def _lead(self, own: _Request) -> None:
        """Holding a slot: embed our query with everything waiting, then hand the slot to the next waiter."""
        with self._lock:
            batch = [own, *self._waiting[: self.max_batch - 1]]
            del self._waiting[: len(batch) - 1]
            alone = self._running == 1 and len(batch) == 1
        try:
            self._run(batch, self.solo if alone and self.solo is not None else self.inner)
        finally:
            with self._lock:
                successor = self._waiting.pop(0) if self._waiting else None
                if successor is None:
                    self._running -= 1
                else:
                    successor.lead = True
            for r in batch[1:]:
                r.wake.release()
            if successor is not None:
                successor.wake.release()

    def _run(self, batch: list[_Request], model: Embedder) -> None:
        try:
            vectors = model.embed([r.text for r in batch])
        except BaseException as exc:  # noqa: BLE001 - handed to every waiting caller, re-raised there
            for r in batch:
                r.error = exc
            return
        for i, r in enumerate(batch):
            r.result = vectors[i : i + 1]
