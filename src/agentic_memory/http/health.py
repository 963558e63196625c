"""`/health`: liveness, backend probes and queue depth. It answers fast even when a backend hangs."""

from __future__ import annotations

import asyncio
import contextlib
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from agentic_memory.bootstrap import Deps
from agentic_memory.http import schemas
from agentic_memory.ports import QueueStats

PROBE_TIMEOUT_SECS = 1.0
CHECKS = ("database", "files", "queue", "memory_engine")


def probes_inline(adapter: object) -> bool:
    """An adapter declares `probe_inline = True` when its `ping`/`stats` cannot wait on a network, a lock or
    another process (a local SQLite file read in WAL mode, a local directory): those run on the event loop."""
    return getattr(adapter, "probe_inline", False) is True


class Probes:
    """Runs the probes on a thread of their own, all in one hop, so a thread pool busy with requests cannot
    delay the answer, and a hung backend costs one timeout instead of a hung health check.

    When every adapter declares its probes inline-safe (the embedded backends), they run on the loop: the
    thread hop was most of /health's time. Any inline failure is asked again through the thread, so an
    error is reported the same way (and a probe that now hangs is timed out) whichever path found it."""

    def __init__(self, deps: Deps, *, timeout_secs: float) -> None:
        self.deps = deps
        self.timeout_secs = timeout_secs
        self.executor: ThreadPoolExecutor | None = None
        self.inflight: asyncio.Future[dict[str, Any]] | None = None
        self.inline = all(probes_inline(a) for a in (deps.store, deps.blobs, deps.queue, deps.engine))

    def close(self) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=False, cancel_futures=True)
            self.executor = None

    def _probe(self, results: dict[str, str], stats: list[QueueStats]) -> None:
        """Fills `results` as each probe finishes, so that a timeout still shows which one hung."""
        deps = self.deps
        probes = (("database", deps.store.ping), ("files", deps.blobs.ping), ("queue", deps.queue.stats),
                  ("memory_engine", deps.engine.ping))  # Mem0: one cheap authenticated call; local: the store
        for name, probe in probes:
            results[name] = "timeout"
            try:
                value = probe()
            except Exception as exc:  # noqa: BLE001 - health reports failures instead of raising them
                results[name] = f"error: {exc.__class__.__name__}"
                continue
            results[name] = "ok"
            if isinstance(value, QueueStats):
                stats.append(value)

    async def report(self) -> dict[str, Any]:
        """Concurrent health checks share the probe run in flight (single flight): under load, /health
        costs one thread hop per probe run, not one per request."""
        if self.inline:
            results: dict[str, str] = {}
            stats: list[QueueStats] = []
            self._probe(results, stats)
            if all(results.get(name) == "ok" for name in CHECKS):
                return self._summary(results, stats)
        if self.inflight is None or self.inflight.done():
            self.inflight = asyncio.ensure_future(self._report())
        return await asyncio.shield(self.inflight)

    async def _report(self) -> dict[str, Any]:
        if self.executor is None:
            # Two threads: one probe may hang past its timeout while the next health check runs.
            self.executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="health")
        results: dict[str, str] = {}
        stats: list[QueueStats] = []
        with contextlib.suppress(TimeoutError):  # a probe past its timeout is reported below, not raised
            await asyncio.wait_for(asyncio.get_running_loop().run_in_executor(
                self.executor, self._probe, results, stats), self.timeout_secs)
        return self._summary(results, stats)

    def _summary(self, results: dict[str, str], stats: list[QueueStats]) -> dict[str, Any]:
        # A probe still running is the one that hung; the ones after it never ran.
        checks = {name: results.get(name, "skipped") for name in CHECKS}
        if checks["queue"] == "ok":
            del checks["queue"]  # listed only when it failed (the depth below says the rest)
        worker = self.deps.worker
        checks["worker"] = "running" if worker and not worker.stopping.is_set() else "external"
        ok = all(v in ("ok", "running", "external") for v in checks.values())
        depth = {"pending": stats[0].pending, "dead": stats[0].dead} if stats else {"pending": 0, "dead": 0}
        return {"status": "ok" if ok else "degraded", "checks": checks, "queue": depth}


def health_routes(probes: Probes) -> APIRouter:
    router = APIRouter()

    @router.get("/health", response_model=schemas.Health, summary="Liveness and queue depth (no auth)")
    async def health() -> JSONResponse:
        return JSONResponse(await probes.report())

    return router
