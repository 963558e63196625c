"""`/health`: liveness, backend probes and queue depth. It answers fast even when a backend hangs."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from agentic_memory.bootstrap import Deps
from agentic_memory.http import schemas

PROBE_TIMEOUT_SECS = 1.0


class Probes:
    """Runs the probes on threads of their own, so a thread pool busy with requests cannot delay the
    answer, and a hung backend costs one timeout instead of a hung health check."""

    def __init__(self, deps: Deps, *, timeout_secs: float) -> None:
        self.deps = deps
        self.timeout_secs = timeout_secs
        self.executor: ThreadPoolExecutor | None = None

    def close(self) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=False, cancel_futures=True)
            self.executor = None

    async def _run(self, probe: Callable[[], Any]) -> tuple[str, Any]:
        if self.executor is None:
            self.executor = ThreadPoolExecutor(max_workers=3, thread_name_prefix="health")
        try:
            result = await asyncio.wait_for(asyncio.get_running_loop().run_in_executor(self.executor, probe),
                                            self.timeout_secs)
        except TimeoutError:
            return "timeout", None
        except Exception as exc:  # noqa: BLE001 - health reports failures instead of raising them
            return f"error: {exc.__class__.__name__}", None
        return "ok", result

    async def report(self) -> dict[str, Any]:
        deps = self.deps
        (database, _), (files, _), (queue, stats) = await asyncio.gather(
            self._run(deps.store.ping), self._run(deps.blobs.ping), self._run(deps.queue.stats))
        checks = {"database": database, "files": files}
        if queue != "ok":
            checks["queue"] = queue
        checks["worker"] = "running" if deps.worker and not deps.worker.stopping.is_set() else "external"
        ok = all(v in ("ok", "running", "external") for v in checks.values())
        depth = {"pending": stats.pending if stats else 0, "dead": stats.dead if stats else 0}
        return {"status": "ok" if ok else "degraded", "checks": checks, "queue": depth}


def health_routes(probes: Probes) -> APIRouter:
    router = APIRouter()

    @router.get("/health", response_model=schemas.Health, summary="Liveness and queue depth (no auth)")
    async def health() -> JSONResponse:
        return JSONResponse(await probes.report())

    return router
