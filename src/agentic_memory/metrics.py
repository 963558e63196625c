"""Prometheus metrics (prometheus-client). One `Metrics` per process, owned by `Deps`.

Several processes (API instances, `agentic-memory worker`): set `PROMETHEUS_MULTIPROC_DIR` to one empty
directory shared by all of them *before they start*; each process then writes its samples there and
`GET /metrics` sums them (the library's multiprocess mode). Counts that live in the database (queue
depth by state, dead letters, callers, memories) are read from it at scrape time, so they are right
whichever process serves the scrape.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, cast

from agentic_memory.ports import AdminStore, Embedder

if TYPE_CHECKING:  # annotations only; prometheus-client is imported with the first collector (see Metrics)
    import numpy as np
    from prometheus_client import Counter, Histogram
    from prometheus_client.core import Metric
    from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
JOB_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


def multiprocess_dir() -> str | None:
    # The lowercase name is prometheus-client's older spelling, which it still honours.
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.environ.get("prometheus_multiproc_dir")  # noqa: SIM112 - see above


_MAKING = threading.Lock()


class Metrics:
    """The process's collectors, made on first use: importing prometheus-client (and the parts of the
    standard library it pulls in) was a seventh of the Lambda handler's import, and there no request is
    timed (the Lambda app has no /metrics): the first observation is the first embedding."""

    requests: Histogram
    acks: Counter
    jobs: Histogram
    job_failures: Counter
    embedding: Histogram
    embedded_texts: Counter
    _own: Sequence[Collector]

    def __getattr__(self, name: str) -> Any:  # reached only while the collectors do not exist yet
        if name not in Metrics.__annotations__:
            raise AttributeError(name)
        with _MAKING:
            if "_own" not in self.__dict__:
                self._make()
        return self.__dict__[name]

    def _make(self) -> None:
        from prometheus_client import Counter, Histogram

        # registry=None: not in the library's global registry, so several apps in one test process coexist.
        self.requests = Histogram("agentic_memory_http_request_duration_seconds",
                                  "HTTP request latency by route template, method and status",
                                  ["route", "method", "status"], buckets=LATENCY_BUCKETS, registry=None)
        self.acks = Counter("agentic_memory_webhook_acks_total",
                            "POST /post-call answers by status (200 = stored durably)", ["status"], registry=None)
        self.jobs = Histogram("agentic_memory_job_duration_seconds", "Worker job duration by event type and outcome",
                              ["event_type", "outcome"], buckets=JOB_BUCKETS, registry=None)
        self.job_failures = Counter("agentic_memory_job_failures_total",
                                    "Failed job attempts by event type; final=true went to the dead letters",
                                    ["event_type", "final"], registry=None)
        self.embedding = Histogram("agentic_memory_embedding_seconds", "Time to embed one batch of texts",
                                   buckets=LATENCY_BUCKETS, registry=None)
        self.embedded_texts = Counter("agentic_memory_embedded_texts_total", "Texts embedded", registry=None)
        self._own: Sequence[Collector] = (self.requests, self.acks, self.jobs, self.job_failures, self.embedding,
                                          self.embedded_texts)

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route, method, str(status)).observe(seconds)
        if route == "/post-call" and method == "POST":
            self.acks.labels(str(status)).inc()

    def observe_job(self, event_type: str, outcome: str, seconds: float) -> None:
        self.jobs.labels(event_type, outcome).observe(seconds)
        if outcome != "done":
            self.job_failures.labels(event_type, str(outcome == "dead").lower()).inc()

    def render(self, admin: AdminStore | None) -> bytes:
        from prometheus_client import CollectorRegistry, generate_latest
        from prometheus_client.multiprocess import MultiProcessCollector

        registry = CollectorRegistry(auto_describe=False)
        if multiprocess_dir():
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # prometheus-client's own signature is untyped
        else:
            for collector in self._own:
                registry.register(collector)
        if admin is not None:
            registry.register(cast("Collector", StoreCollector(admin)))  # the registry asks only for collect()
        return generate_latest(registry)


class StoreCollector:
    """Gauges read from the database at scrape time."""

    def __init__(self, admin: AdminStore) -> None:
        self.admin = admin

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.core import GaugeMetricFamily

        totals = self.admin.totals()
        queue = GaugeMetricFamily("agentic_memory_queue_jobs", "Inbox jobs by state", labels=["state"])
        for state in ("queued", "running", "done", "dead", "erased"):
            queue.add_metric([state], totals.inbox.get(state, 0))
        yield queue
        yield GaugeMetricFamily("agentic_memory_dead_letters", "Jobs that failed for good",
                                value=totals.inbox.get("dead", 0))
        yield GaugeMetricFamily("agentic_memory_callers", "Known callers", value=totals.callers)
        memories = GaugeMetricFamily("agentic_memory_memories", "Active memories by type", labels=["type"])
        for kind, count in sorted(totals.memories.items()):
            memories.add_metric([kind], count)
        yield memories


class TimedEmbedder:
    """An Embedder that records how long each batch took."""

    def __init__(self, inner: Embedder, metrics: Metrics) -> None:
        self.inner = inner
        self.metrics = metrics
        self.dim = inner.dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        started = time.perf_counter()
        try:
            return self.inner.embed(texts)
        finally:
            self._observe(started, len(texts))

    @property
    def submit(self) -> Callable[[str], Future[np.ndarray]] | None:
        """The wrapped embedder's `submit` (BatchingEmbedder), timed the same way; None when it has none."""
        inner = getattr(self.inner, "submit", None)
        if inner is None:
            return None

        def submit(text: str) -> Future[np.ndarray]:
            started = time.perf_counter()
            future: Future[np.ndarray] = inner(text)
            future.add_done_callback(lambda _: self._observe(started, 1))
            return future
        return submit

    def _observe(self, started: float, texts: int) -> None:
        self.metrics.embedding.observe(time.perf_counter() - started)
        self.metrics.embedded_texts.inc(texts)

    def __getattr__(self, name: str) -> Any:  # close(), warm-up hooks of the wrapped embedder
        return getattr(self.inner, name)


class MetricsMiddleware:
    """Pure ASGI: one latency observation per HTTP request, labelled by route template (not raw path)."""

    def __init__(self, app: Any, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def tracking_send(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or (scope["path"] if scope["path"] in KNOWN_PATHS else "unmatched")
            self.metrics.observe_request(template, scope.get("method", ""), status, time.perf_counter() - started)


KNOWN_PATHS = frozenset({"/post-call", "/client-data", "/retrieve", "/health", "/metrics"})
