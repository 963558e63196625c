"""`agentic-memory serve --workers N`: N API processes (uvicorn's supervisor, spawned children) and one
post-call worker in the supervisor.

Each API process builds its own adapters from the environment (`app_from_environment`, a uvicorn factory):
its own connection pool or SQLite connections, its own copy of the embedding model. The post-call worker
runs once, in the supervisor, so the number of API processes never multiplies the queue's consumers
(on SQLite that keeps one queue writer; `agentic-memory worker` adds more where the backend allows).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from agentic_memory.config import ensure_keys, load_settings

FACTORY = "agentic_memory.http.processes:app_from_environment"

SQLITE_WARNING = (
    "SQLite with {n} API processes: safe on this one host (never on a network filesystem). Reads run in "
    "parallel; every write (a webhook's ack, a worker's results) takes turns on the database's single write "
    "lock, so more processes add read throughput, not write throughput. One post-call worker runs, in the "
    "supervisor. For API processes on several hosts, or writes in parallel, use PostgreSQL "
    "(docs/scaling.md).")


def app_from_environment() -> FastAPI:
    """One API process's app, configured like the supervisor (the same environment and keys.json), no worker."""
    from agentic_memory.bootstrap import build
    from agentic_memory.http.app import create_app
    from agentic_memory.logs import configure_logging

    settings, _ = ensure_keys(load_settings())
    configure_logging(settings.log_level)
    deps = build(settings, with_worker=False)
    app = create_app(deps)
    serve = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(running: FastAPI) -> AsyncIterator[None]:
        try:
            async with serve(running):
                yield
        finally:
            deps.close()

    app.router.lifespan_context = lifespan
    return app
