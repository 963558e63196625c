"""create_app(deps): thin routes (authenticate -> parse -> service -> response) and error mapping."""

from __future__ import annotations

import asyncio
import functools
import hmac
import logging
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import Any, TypeVar

import anyio.to_thread
import orjson
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from agentic_memory import __version__
from agentic_memory.bootstrap import Deps
from agentic_memory.domain import caller_token
from agentic_memory.elevenlabs.responses import client_data_response, memory_json
from agentic_memory.errors import AgenticMemoryError, Busy, InvalidInput, StorageError, Unauthorized
from agentic_memory.http import schemas
from agentic_memory.http.ack import InlineAckGuard, PostCallFastPath
from agentic_memory.http.middleware import Activity, RequestMiddleware
from agentic_memory.http.proxy import MAX_BYTES as PROXY_MAX_BYTES
from agentic_memory.http.proxy import PATH as PROXY_PATH
from agentic_memory.http.proxy import proxy_router
from agentic_memory.logs import annotate
from agentic_memory.services.client_data import CallerBriefing, brief_caller
from agentic_memory.services.ingest import accept_webhook
from agentic_memory.services.search import SearchQuery, search

log = logging.getLogger(__name__)
Body = TypeVar("Body", bound=BaseModel)
OK_BODY = b'{"status":"ok"}'
OK_LENGTH = str(len(OK_BODY)).encode()
THREADS = 8  # anyio's thread-pool size for blocking work such as search; anyio's default is 40
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": schemas.Error, "description": "Invalid input"},
    401: {"model": schemas.Error, "description": "Missing or wrong credentials"},
    413: {"model": schemas.Error, "description": "Body too large"},
    503: {"model": schemas.Error, "description": "Storage unavailable; retry"},
}
SIGNED_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "description": "An ElevenLabs post-call webhook: {type, event_timestamp, data} or the "
    "flat seed format", "additionalProperties": True}}}},
    "parameters": [{"name": "ElevenLabs-Signature", "in": "header", "required": True,
                    "schema": {"type": "string", "example": "t=1767225732,v0=<hex hmac>"}}]}


def _error(status: int, message: str, detail: object = None) -> JSONResponse:
    body: dict[str, Any] = {"error": message}
    if detail is not None:
        body["detail"] = detail
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


def _known_error(exc: Exception) -> JSONResponse | None:
    """The JSON error for the exceptions we raise on purpose; None for anything else."""
    if isinstance(exc, Unauthorized):
        return _error(401, str(exc))
    if isinstance(exc, InvalidInput):
        return _error(400, str(exc))
    if isinstance(exc, StorageError):
        log.error("storage unavailable", extra={"error": str(exc)})
        return _error(503, "storage unavailable, retry later")
    return None


def _json_body(model: type[BaseModel]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": model.model_json_schema()}}}}


def _parse(model: type[Body], raw: bytes) -> Body:
    """Validate a JSON body. Done in the route, after the auth dependency, so that a caller without a key
    learns nothing from how we parse (FastAPI parses declared bodies before running dependencies)."""
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": ("body", *e.get("loc", ()))} for e in exc.errors()]) from None


def _presented_key(request: Request) -> str:
    key = request.headers.get("x-workspace-key")
    if key:
        return key
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _key_matches(presented: str, keys: tuple[str, ...]) -> bool:
    ok = False
    for key in keys:  # every key is compared, so timing does not tell which one is close
        ok |= hmac.compare_digest(presented.encode("utf-8", "replace"), key.encode())
    return ok and bool(presented)


def create_app(deps: Deps) -> FastAPI:
    settings = deps.settings
    workspace_keys, hmac_keys = settings.workspace_keys, settings.hmac_keys  # split once, not per request
    activity = Activity()
    inline = InlineAckGuard()
    ack_executor: ThreadPoolExecutor | None = None  # made on first use after each startup, shut down at shutdown

    def ack_pool() -> ThreadPoolExecutor:
        nonlocal ack_executor
        if ack_executor is None:
            ack_executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="ack")
        return ack_executor

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        nonlocal ack_executor
        # Each thread-pool thread holds its own SQLite connection and page cache; more threads than this
        # only add memory and GIL contention on 2 cores (the work behind them is CPU or one fsync lock).
        anyio.to_thread.current_default_thread_limiter().total_tokens = THREADS
        thread = deps.worker.start_thread() if deps.worker else None
        yield
        if deps.worker and thread:
            deps.worker.stop()
            await run_in_threadpool(thread.join, 30)
        if ack_executor is not None:
            ack_executor.shutdown(wait=True)
            ack_executor = None

    app = FastAPI(title="AgenticMemory", version=__version__, lifespan=lifespan,
                  description="Per-caller memory for ElevenLabs voice agents.")
    app.state.deps = deps

    # Async on purpose: FastAPI runs plain-def dependencies in the thread pool, and that hop cost more
    # than everything else /client-data does (measured with py-spy under load).
    async def require_key(request: Request) -> None:
        if not _key_matches(_presented_key(request), workspace_keys):
            raise Unauthorized("missing or invalid workspace key (X-Workspace-Key or Authorization: Bearer)")

    async def require_retrieve_key(request: Request) -> None:
        if settings.retrieve_auth:
            await require_key(request)

    token_key = caller_token.signing_key(workspace_keys[0]) if settings.upstream_url and workspace_keys else b""

    @lru_cache(maxsize=4096)
    def client_data_body(briefing: CallerBriefing, token: str) -> bytes:
        """The response bytes are a pure function of the briefing, itself built from the profile just read
        (and of the proxy's caller token, which changes once an hour)."""
        return orjson.dumps(client_data_response(briefing, prompt_template=settings.prompt_template,
                                                 base_prompt=settings.base_prompt, caller_token=token))

    @app.exception_handler(InvalidInput)
    @app.exception_handler(Unauthorized)
    @app.exception_handler(StorageError)
    async def _known(_: Request, exc: Exception) -> JSONResponse:
        return _known_error(exc) or _error(500, "internal error")

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        detail = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
        return _error(400, "invalid request", detail)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error", exc_info=exc)
        return _error(500, "internal error")

    @app.post("/client-data", response_model=schemas.ClientDataResponse, responses=ERRORS,
              dependencies=[Depends(require_key)], openapi_extra=_json_body(schemas.ClientDataRequest),
              summary="ElevenLabs conversation-initiation webhook")
    async def client_data(request: Request) -> Response:
        body = _parse(schemas.ClientDataRequest, await request.body())
        # One indexed row read, well under a millisecond: cheaper inline than a thread-pool hop.
        briefing = brief_caller(body.caller_id, store=deps.store, default_region=settings.default_region)
        token = caller_token.issue(briefing.caller_id, token_key, now=time.time()) if token_key else ""
        return Response(client_data_body(briefing, token), media_type="application/json")

    @app.post("/retrieve", response_model=schemas.RetrieveResponse, responses=ERRORS,
              dependencies=[Depends(require_retrieve_key)], openapi_extra=_json_body(schemas.RetrieveRequest),
              summary="In-call memory search tool")
    async def retrieve(request: Request) -> Response:
        body = _parse(schemas.RetrieveRequest, await request.body())
        command = SearchQuery(query=body.query, user_id=body.user_id, limit=body.limit, type=body.type)
        _, hits = await run_in_threadpool(search, command, store=deps.store, embedder=deps.embedder,
                                          default_region=settings.default_region)
        # Serialised directly: re-validating our own dicts through the response model cost more than the JSON
        # (the model still documents /docs; a test checks these bytes against it).
        return Response(orjson.dumps({"memories": [memory_json(hit) for hit in hits]}), media_type="application/json")

    @app.post("/post-call", response_model=schemas.Ok, responses=ERRORS, openapi_extra=SIGNED_BODY,
              summary="ElevenLabs post-call webhooks (transcription, audio, failures)")
    async def post_call(request: Request) -> Response:
        # Documents the endpoint and serves it if mounted without PostCallFastPath, which normally answers
        # first with the same `acknowledge` (a comment, not a docstring: FastAPI would publish a docstring).
        await acknowledge(await request.body(), request.headers.get("elevenlabs-signature"))
        return Response(OK_BODY, media_type="application/json")

    async def acknowledge(body: bytes, signature: str | None) -> None:
        accept = functools.partial(accept_webhook, body, signature,
                                   secrets=hmac_keys, tolerance_secs=settings.signature_tolerance_secs,
                                   queue=deps.queue, clock=deps.clock)
        accepted = None
        if activity.alone and inline.allows(len(body)):
            # Nothing else is being served, so the loop may wait on this one commit and fsync itself: the
            # thread hop cost more than the commit (A/B in bench/PERF_NOTES.md). Never waits for a lock:
            # if another writer holds it, the commit goes to the thread pool like under load.
            started = time.monotonic()
            try:
                accepted = accept(wait=False)
            except Busy:
                pass
            inline.observe(time.monotonic() - started)
        if accepted is None:
            # A plain executor hop is leaner than anyio's (no limiter or cancel scope).
            accepted = await asyncio.get_running_loop().run_in_executor(ack_pool(), accept)
        if deps.worker is not None and not accepted.duplicate:
            deps.worker.wake.set()
        annotate(event_type=accepted.event_type, duplicate=accepted.duplicate)

    async def serve_post_call(scope: Any, receive: Any, send: Any) -> None:
        chunks = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the sender gave up before the body arrived: nothing to store or answer
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        signature = next((value.decode("latin-1") for name, value in scope["headers"]
                          if name == b"elevenlabs-signature"), None)
        try:
            await acknowledge(b"".join(chunks), signature)
        except AgenticMemoryError as exc:
            response = _known_error(exc)
            if response is None:
                raise
            await response(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", b"application/json"), (b"content-length", OK_LENGTH)]})
        await send({"type": "http.response.body", "body": OK_BODY})

    @app.get("/health", response_model=schemas.Health, summary="Liveness and queue depth (no auth)")
    async def health() -> JSONResponse:
        checks: dict[str, str] = {}
        queue = {"pending": 0, "dead": 0}
        for name, probe in (("database", deps.store.ping), ("files", deps.blobs.ping)):
            try:
                probe()
                checks[name] = "ok"
            except Exception as exc:  # noqa: BLE001 - health reports failures instead of raising them
                checks[name] = f"error: {exc.__class__.__name__}"
        try:
            stats = deps.queue.stats()
            queue = {"pending": stats.pending, "dead": stats.dead}
        except Exception as exc:  # noqa: BLE001
            checks["queue"] = f"error: {exc.__class__.__name__}"
        checks["worker"] = "running" if deps.worker and not deps.worker.stopping.is_set() else "external"
        ok = all(v in ("ok", "running", "external") for v in checks.values())
        return JSONResponse({"status": "ok" if ok else "degraded", "checks": checks, "queue": queue})

    app.include_router(proxy_router(deps, require_key))
    app.add_middleware(PostCallFastPath, serve=serve_post_call)  # type: ignore[arg-type]
    limits = {"/post-call": settings.max_post_call_bytes, PROXY_PATH: PROXY_MAX_BYTES}
    app.add_middleware(RequestMiddleware, limits=limits, default_limit=settings.max_request_bytes,  # type: ignore[arg-type]
                       activity=activity)
    return app
