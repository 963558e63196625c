"""BatchingEmbedder: concurrent single-query embeds share one model call.

Under load, /retrieve requests arrive while the model is busy. Instead of queueing them one by one, each
of `parallel` model threads embeds everything waiting (up to `max_batch`) in one call, which costs far less
per query. At concurrency 1 nothing waits: there is no timer, only natural batching.

`submit` never blocks, so the HTTP layer awaits a query's vector on the event loop (`offload.settled`)
instead of parking a pool thread on it: with the 8-thread pool (http/app.py) holding the waits, no more
than 8 queries could ever batch together at concurrency 32.

The model threads may share one onnxruntime session whose intra-op pool spans every core: a query that
arrives alone then runs on all cores, while two concurrent batches share the pool (each caller thread works
on its own batch and takes the pool's help when it is free). One session keeps one copy of the weights; a
second session for lone queries cost a second copy of the weights and arena (bench/PERF_NOTES.md, item 18).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from agentic_memory.ports import Embedder


class BatchingEmbedder:
    def __init__(self, inner: Embedder, *, max_batch: int = 8, parallel: int = 2) -> None:
        self.inner = inner
        self.dim = inner.dim
        self.max_batch = max_batch
        self.parallel = parallel
        self._waiting: deque[tuple[str, Future[np.ndarray]]] = deque()
        self._running = 0  # model threads started and not yet out of work
        self._lock = threading.Lock()
        self._threads = ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="embed")  # kept warm

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) != 1:
            return self.inner.embed(texts)
        return self.submit(texts[0]).result()[np.newaxis]

    def submit(self, text: str) -> Future[np.ndarray]:
        """The text's vector (dim,), computed on a model thread. Never blocks."""
        future: Future[np.ndarray] = Future()
        with self._lock:
            self._waiting.append((text, future))
            start = self._running < self.parallel
            if start:
                self._running += 1
        if start:
            self._threads.submit(self._drain)
        return future

    def _drain(self) -> None:
        """A model thread: run batches until nothing waits."""
        while True:
            with self._lock:
                if not self._waiting:
                    self._running -= 1
                    return
                taken = [self._waiting.popleft() for _ in range(min(self.max_batch, len(self._waiting)))]
            # A caller that gave up (its request was cancelled) costs no model time.
            batch = [(text, f) for text, f in taken if f.set_running_or_notify_cancel()]
            if batch:
                self._run(batch)

    def _run(self, batch: list[tuple[str, Future[np.ndarray]]]) -> None:
        try:
            vectors = self.inner.embed([text for text, _ in batch])
        except BaseException as exc:  # noqa: BLE001 - handed to every waiting caller, re-raised there
            for _, f in batch:
                f.set_exception(exc)
            return
        for i, (_, f) in enumerate(batch):
            f.set_result(vectors[i])
