"""The admin API under /admin/ and GET /metrics, on their own key (never the workspace key).

Phone numbers travel in query strings or JSON bodies, never in paths: the access log records paths.
Every route runs its service in the thread pool (they read and write the database).
"""

from __future__ import annotations

import hashlib
import hmac
import io
import logging
import re
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, ValidationError

from agentic_memory.bootstrap import Deps
from agentic_memory.errors import InvalidInput, NotFound, Unauthorized
from agentic_memory.http.schemas import Error
from agentic_memory.metrics import CONTENT_TYPE, MetricsMiddleware
from agentic_memory.offload import run_blocking
from agentic_memory.services import admin, bulk, dead_letters, erasure, retention

log = logging.getLogger(__name__)
Body = TypeVar("Body", bound=BaseModel)
MAX_ID = 2**63 - 1  # SQLite's INTEGER
_OPERATOR = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")
ADMIN_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": Error, "description": why} for status, why in (
        (400, "Invalid input"), (401, "Missing or wrong admin key"), (404, "No such caller, memory or job"),
        (413, "Body too large"), (503, "Storage unavailable; retry"))}


class NumberBody(BaseModel):
    number: str = Field(min_length=1, max_length=64)


class RenameBody(NumberBody):
    name: str = Field(min_length=1, max_length=100)
    agent_id: str | None = Field(None, max_length=256)


class MemoryBody(BaseModel):
    text: str = Field(min_length=1, max_length=admin.MAX_MEMORY_TEXT)


JobId = Annotated[int, Field(ge=1, le=MAX_ID)]


class BackupBody(BaseModel):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$", description="Archive name, without .tar.gz")


class JobsBody(BaseModel):
    ids: list[JobId] | None = Field(None, max_length=10_000, description="Job ids; omit or null for every dead letter")


def _parse(model: type[Body], raw: bytes) -> Body:
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) or "body" for e in exc.errors())
        raise InvalidInput(f"invalid request body: {fields}") from None


def _json_body(model: type[BaseModel], *, required: bool = True) -> dict[str, Any]:
    """Documents a body the route parses itself (after the key check: without the key, nothing about it is revealed)."""
    return {"requestBody": {"required": required,
                            "content": {"application/json": {"schema": model.model_json_schema()}}}}


def presented_admin_key(request: Request) -> str:
    key = request.headers.get("x-admin-key")
    if key:
        return key
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _matching_key(presented: str, keys: tuple[str, ...]) -> str | None:
    found = None
    for key in keys:  # every key is compared, so timing does not tell which one is close
        if hmac.compare_digest(presented.encode("utf-8", "replace"), key.encode()) and presented:
            found = key
    return found


async def operator(request: Request) -> str:
    """The audit trail's "who": which admin key (a fingerprint), plus the X-Operator name if given."""
    keys: tuple[str, ...] = request.app.state.admin_keys
    key = _matching_key(presented_admin_key(request), keys)
    if key is None:
        raise Unauthorized("missing or invalid admin key (X-Admin-Key or Authorization: Bearer)"
                           if keys else "admin API disabled: AGENTIC_MEMORY_ADMIN_KEY is not set")
    who = f"key:{hashlib.sha256(key.encode()).hexdigest()[:8]}"
    name = request.headers.get("x-operator", "")
    return f"{who}/{name}" if _OPERATOR.match(name) else who


Actor = Annotated[str, Depends(operator)]


def admin_router(deps: Deps) -> APIRouter:
    ops = deps.admin_deps()

    router = APIRouter(prefix="/admin", tags=["admin"], responses=ADMIN_ERRORS)

    async def run(fn: Callable[..., dict[str, Any]], *args: Any, **kwargs: Any) -> JSONResponse:
        return JSONResponse(await run_blocking(fn, ops, *args, **kwargs))

    @router.get("/callers", summary="List or search callers (number in any format or digits, name, last seen)")
    async def list_callers(actor: Actor, q: str = "", name: str = "", seen_after: datetime | None = None,
                           seen_before: datetime | None = None, limit: Annotated[int, Query(ge=1, le=500)] = 50,
                           offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0) -> JSONResponse:
        return await run(admin.list_callers, actor=actor, query=q, name=name, seen_after=seen_after,
                         seen_before=seen_before, limit=limit, offset=offset)

    @router.get("/caller", summary="One caller: profile, memories with history, calls")
    async def show_caller(actor: Actor, number: str, transcripts: bool = False,
                          agent_id: str | None = None) -> JSONResponse:
        return await run(admin.show_caller, number, actor=actor, transcripts=transcripts, agent_id=agent_id)

    @router.get("/caller/export", summary="Everything held about one caller (right of access)")
    async def export_caller(actor: Actor, number: str) -> JSONResponse:
        return await run(erasure.export_caller, number, actor=actor)

    @router.put("/caller/name", summary="Correct a caller's name (source becomes 'operator')",
                openapi_extra=_json_body(RenameBody))
    async def rename(actor: Actor, request: Request) -> JSONResponse:
        body = _parse(RenameBody, await request.body())
        return await run(admin.rename_caller, body.number, body.name, actor=actor, agent_id=body.agent_id)

    @router.post("/caller/erase", summary="Erase a caller everywhere; returns the receipt",
                 openapi_extra=_json_body(NumberBody))
    async def erase(actor: Actor, request: Request) -> JSONResponse:
        body = _parse(NumberBody, await request.body())
        return await run(erasure.erase_caller, body.number, actor=actor)

    @router.get("/calls/{conversation_id}/audio", summary="A call's audio (MP3)", response_class=Response,
                responses={200: {"content": {"audio/mpeg": {}}, "description": "The MP3"}})
    async def audio(actor: Actor, conversation_id: str) -> Response:
        data = await run_blocking(admin.call_audio, ops, conversation_id, actor=actor)
        return Response(data, media_type="audio/mpeg")

    @router.patch("/memories/{memory_id}", summary="Edit one memory (the old text stays in its history)",
                  openapi_extra=_json_body(MemoryBody))
    async def edit_memory(actor: Actor, memory_id: str, request: Request) -> JSONResponse:
        body = _parse(MemoryBody, await request.body())
        return await run(admin.edit_memory, memory_id, body.text, actor=actor)

    @router.delete("/memories/{memory_id}", summary="Delete one memory (kept in history, never recalled)")
    async def delete_memory(actor: Actor, memory_id: str) -> JSONResponse:
        return await run(admin.delete_memory, memory_id, actor=actor)

    @router.get("/dead", summary="Dead letters (or jobs in another state)")
    async def list_dead(actor: Actor, status: str = "dead", limit: Annotated[int, Query(ge=1, le=500)] = 50,
                        offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0) -> JSONResponse:
        return await run(dead_letters.list_jobs, actor=actor, status=None if status == "any" else status,
                         limit=limit, offset=offset)

    @router.get("/dead/{job_id}", summary="One job: error, attempts, event type, conversation id")
    async def show_dead(actor: Actor, job_id: Annotated[int, PathParam(ge=1, le=MAX_ID)]) -> JSONResponse:
        return await run(dead_letters.show_job, job_id, actor=actor)

    @router.post("/dead/replay", summary="Queue dead letters again (body {ids}; no ids = all)",
                 openapi_extra=_json_body(JobsBody, required=False))
    async def replay(actor: Actor, request: Request) -> JSONResponse:
        body = _parse(JobsBody, await request.body())
        return await run(dead_letters.replay, body.ids, actor=actor)

    @router.post("/dead/purge", summary="Delete dead letters (body {ids}; no ids = all)",
                 openapi_extra=_json_body(JobsBody, required=False))
    async def purge(actor: Actor, request: Request) -> JSONResponse:
        body = _parse(JobsBody, await request.body())
        return await run(dead_letters.purge, body.ids, actor=actor)

    @router.post("/retention/run", summary="Apply the configured retention now")
    async def run_retention(actor: Actor) -> JSONResponse:
        policy = retention.policy_from(deps.settings)
        return JSONResponse({"removed": await run_blocking(retention.run_retention, ops, policy, actor=actor)})

    @router.get("/doctor", summary="The installation's health checks (as `agentic-memory doctor`)")
    async def doctor_checks(actor: Actor) -> JSONResponse:
        from agentic_memory.doctor import report, run_checks

        doc = report(await run_blocking(run_checks, deps.settings))
        await run_blocking(admin.audit, ops, actor, "doctor")
        return JSONResponse(doc)

    @router.post("/backup", summary="Write a backup archive into the data dir's backups/ folder",
                 openapi_extra=_json_body(BackupBody))
    async def backup(actor: Actor, request: Request) -> JSONResponse:
        from agentic_memory.adapters.sqlite.backup import create_backup

        body = _parse(BackupBody, await request.body())
        folder = deps.settings.data_dir / "backups"
        folder.mkdir(exist_ok=True)
        manifest = await run_blocking(create_backup, deps.settings.data_dir, folder / f"{body.name}.tar.gz")
        await run_blocking(admin.audit, ops, actor, "backup", name=body.name)
        return JSONResponse(manifest)

    @router.get("/export", summary="Every memory of every caller, as JSONL", response_class=Response,
                responses={200: {"content": {"application/x-ndjson": {}}, "description": "One memory per line"}})
    async def export_all(actor: Actor) -> Response:
        def write() -> str:
            handle = io.StringIO()
            bulk.export_memories(ops, handle, actor=actor)
            return handle.getvalue()

        return Response(await run_blocking(write), media_type="application/x-ndjson")

    @router.get("/audit", summary="Audit events, newest first")
    async def audit_log(actor: Actor, limit: Annotated[int, Query(ge=1, le=500)] = 100,
                        offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0) -> JSONResponse:
        return await run(admin.audit_log, limit=limit, offset=offset)

    return router


def metrics_router(deps: Deps) -> APIRouter:
    router = APIRouter()

    @router.get("/metrics", include_in_schema=False)  # Prometheus text, not JSON: kept out of /docs
    async def metrics(request: Request) -> Response:
        if deps.settings.admin_keys:
            await operator(request)
        body = await run_blocking(deps.metrics.render, deps.admin)
        return Response(body, media_type=CONTENT_TYPE)

    return router


def include_admin(app: FastAPI, deps: Deps) -> None:
    """Mount the admin API and /metrics, map NotFound to 404, and time every request (outermost layer)."""
    app.state.admin_keys = deps.settings.admin_keys
    if deps.admin is not None:
        app.include_router(admin_router(deps))
    else:  # a backend without an AdminStore yet: the API still serves, only /admin is missing
        log.warning("admin API unavailable: this database backend has no admin store")
    app.include_router(metrics_router(deps))

    @app.exception_handler(NotFound)
    async def _not_found(_: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=404)

    app.add_middleware(MetricsMiddleware, metrics=deps.metrics)
