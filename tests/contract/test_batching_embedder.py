"""BatchingEmbedder gives every concurrent caller exactly its own vector, and shares model calls."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from agentic_memory.adapters.embeddings.batching import BatchingEmbedder
from agentic_memory.testing import HashEmbedder


class SlowCounting(HashEmbedder):
    def __init__(self):
        super().__init__()
        self.calls = 0

    def embed(self, texts):
        self.calls += 1
        time.sleep(0.01)
        return super().embed(texts)


def test_concurrent_callers_get_their_own_vectors_in_fewer_model_calls():
    inner = SlowCounting()
    batching = BatchingEmbedder(inner, max_batch=16, parallel=1)
    texts = [f"query number {i} about order {i * 7}" for i in range(64)]
    results: dict[int, np.ndarray] = {}

    def run(i):
        results[i] = batching.embed([texts[i]])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(64)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    expected = HashEmbedder().embed(texts)
    for i in range(64):
        assert results[i].shape == (1, inner.dim)
        assert np.array_equal(results[i][0], expected[i])
    assert inner.calls < 64


def test_errors_reach_every_caller_and_batches_pass_through():
    class Broken(HashEmbedder):
        def embed(self, texts):  # noqa: ARG002 - the Embedder port's signature
            raise RuntimeError("down")

    with pytest.raises(RuntimeError):
        BatchingEmbedder(Broken()).embed(["x"])
    many = BatchingEmbedder(HashEmbedder()).embed(["a", "b", "c"])
    assert many.shape == (3, 64)


def test_at_most_parallel_model_calls_run_at_once_and_every_caller_is_answered():
    class Overlap(SlowCounting):
        def __init__(self):
            super().__init__()
            self.running = self.peak = 0
            self.lock = threading.Lock()

        def embed(self, texts):
            with self.lock:
                self.running += 1
                self.peak = max(self.peak, self.running)
            try:
                return super().embed(texts)
            finally:
                with self.lock:
                    self.running -= 1

    inner = Overlap()
    batching = BatchingEmbedder(inner, max_batch=4, parallel=2)
    texts = [f"question {i}" for i in range(48)]
    results: dict[int, np.ndarray] = {}
    threads = [threading.Thread(target=lambda i=i: results.__setitem__(i, batching.embed([texts[i]])))
               for i in range(48)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    expected = HashEmbedder().embed(texts)
    assert all(np.array_equal(results[i][0], expected[i]) for i in range(48))
    assert inner.peak <= 2
    assert inner.calls >= 48 // 4  # batches never exceed max_batch


def test_submitted_queries_batch_without_a_thread_each_and_a_cancelled_one_costs_no_model_time():
    class Gated(HashEmbedder):
        def __init__(self):
            super().__init__()
            self.gate = threading.Event()
            self.batches: list[list[str]] = []

        def embed(self, texts):
            self.gate.wait(10)
            self.batches.append(list(texts))
            return super().embed(texts)

    inner = Gated()
    batching = BatchingEmbedder(inner, max_batch=32, parallel=1)
    first = batching.submit("first")  # occupies the one model thread until the gate opens
    time.sleep(0.05)
    queued = [batching.submit(f"q{i}") for i in range(20)]  # returns at once: nobody holds a thread for these
    gone = batching.submit("abandoned")
    assert gone.cancel()
    inner.gate.set()
    expected = HashEmbedder().embed(["first", *(f"q{i}" for i in range(20))])
    assert np.array_equal(first.result(10), expected[0])
    assert all(np.array_equal(f.result(10), expected[i + 1]) for i, f in enumerate(queued))
    assert inner.batches == [["first"], [f"q{i}" for i in range(20)]]  # 20 waiters, one model call

