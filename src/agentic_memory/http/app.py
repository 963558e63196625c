"""create_app(deps): the FastAPI app, its lifespan (thread pool, in-process worker) and its middleware."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI

from agentic_memory import __version__
from agentic_memory.bootstrap import Deps
from agentic_memory.http.errors import install_error_handlers
from agentic_memory.http.health import PROBE_TIMEOUT_SECS, Probes, health_routes
from agentic_memory.http.middleware import RequestMiddleware
from agentic_memory.http.routes import routes
from agentic_memory.offload import run_blocking

# The thread pool every blocking port call runs on (`offload.run_blocking`). Each thread holds its own
# SQLite connection and page cache, and the work behind it is CPU (embedding) or the database's single
# write lock, so more threads than this only add memory and GIL contention on a small machine.
THREADS = 8


def create_app(deps: Deps, *, probe_timeout_secs: float = PROBE_TIMEOUT_SECS,
               webhooks_only: bool = False) -> FastAPI:
    """`webhooks_only`: the three ElevenLabs routes and /health, all that API Gateway routes to the Lambda
    handler. The memory proxy, the dashboard, the admin API and /metrics are then neither imported (httpx,
    jinja2) nor built (~40 routes of pydantic schemas): they would only lengthen a cold start."""
    probes = Probes(deps, timeout_secs=probe_timeout_secs)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = THREADS
        thread = deps.worker.start_thread() if deps.worker else None
        # Everything built so far (the model, the app, imported modules) lives as long as the process: out of
        # the collector's sight, a full collection under load scans only what came after, ~1-6 ms of CPU
        # instead of a 55-75 ms pause of every request in flight (bench/PERF_NOTES.md, item 22).
        gc.freeze()
        try:
            yield
        finally:
            gc.unfreeze()
            if deps.worker and thread:
                deps.worker.stop()
                await run_blocking(thread.join, 30)
            probes.close()

    app = FastAPI(title="AgenticMemory", version=__version__, lifespan=lifespan,
                  description="Per-caller memory for ElevenLabs voice agents.")
    install_error_handlers(app)
    app.include_router(routes(deps, documented=not webhooks_only))
    app.include_router(health_routes(probes))
    limits = {"/post-call": deps.settings.max_post_call_bytes}
    if webhooks_only:
        app.add_middleware(RequestMiddleware, limits=limits, default_limit=deps.settings.max_request_bytes)
        return app
    from agentic_memory.http.admin import include_admin
    from agentic_memory.http.dashboard.routes import include_dashboard
    from agentic_memory.http.proxy import MAX_BYTES as PROXY_MAX_BYTES
    from agentic_memory.http.proxy import PATH as PROXY_PATH
    from agentic_memory.http.proxy import ChatCompletions, Proxy, proxy_router

    proxy = Proxy(deps)
    app.include_router(proxy_router(deps, proxy))
    limits[PROXY_PATH] = PROXY_MAX_BYTES
    app.add_middleware(RequestMiddleware, limits=limits, default_limit=deps.settings.max_request_bytes)
    include_dashboard(app, deps)  # /dashboard, over the same admin services
    include_admin(app, deps)  # the admin API, /metrics, and the request-latency layer outside everything
    # Outside all of ours: POST /v1/chat/completions answered without the layers above (bench/PERF_NOTES.md, 50)
    app.add_middleware(ChatCompletions, proxy=proxy, metrics=deps.metrics)
    return app
