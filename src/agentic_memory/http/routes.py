"""The three webhook/tool routes: authenticate -> parse -> one service call -> response bytes."""

from __future__ import annotations

import functools
import time
from functools import lru_cache
from typing import Any, TypeVar

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError

from agentic_memory.bootstrap import Deps
from agentic_memory.domain import caller_token
from agentic_memory.domain.greeting import GreetingPolicy
from agentic_memory.domain.models import CallerBriefing
from agentic_memory.elevenlabs.responses import client_data_response, memory_json
from agentic_memory.http import schemas
from agentic_memory.http.auth import WorkspaceKey
from agentic_memory.logs import annotate
from agentic_memory.offload import run_blocking, settled, then
from agentic_memory.services.client_data import brief_caller
from agentic_memory.services.ingest import accept_webhook
from agentic_memory.services.search import SearchQuery, search

Body = TypeVar("Body", bound=BaseModel)
OK_BODY = b'{"status":"ok"}'
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": schemas.Error, "description": "Invalid input"},
    401: {"model": schemas.Error, "description": "Missing or wrong credentials"},
    413: {"model": schemas.Error, "description": "Body too large"},
    503: {"model": schemas.Error, "description": "Storage or embedding unavailable; retry"},
}
SIGNED_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "description": "An ElevenLabs post-call webhook: {type, event_timestamp, data} or the "
    "flat seed format", "additionalProperties": True}}}},
    "parameters": [{"name": "ElevenLabs-Signature", "in": "header", "required": True,
                    "schema": {"type": "string", "example": "t=1767225732,v0=<hex hmac>"}}]}


def _json_body(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema()
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def _parse(model: type[Body], raw: bytes) -> Body:
    """Validate a JSON body. Done in the route, after the auth dependency, so that a caller without a key
    learns nothing from how we parse (FastAPI parses declared bodies before running dependencies)."""
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e.get("loc", ()))} for e in exc.errors()]
        raise RequestValidationError(errors) from None


def routes(deps: Deps, *, documented: bool = True) -> APIRouter:
    """`documented=False` leaves the routes out of /docs: no response models, error models and JSON schemas
    are built (~0.1 s of a Lambda cold start, where API Gateway routes no /docs)."""
    settings = deps.settings
    hmac_keys = settings.hmac_keys  # split once, not per request
    require_key = WorkspaceKey(settings.workspace_keys)
    require_retrieve_key = WorkspaceKey(settings.workspace_keys, required=settings.retrieve_auth)
    router = APIRouter()
    greeting = GreetingPolicy.of(settings.first_message, settings.first_message_templates)

    # A local store's search is CPU work under the GIL: on the model thread, right after the batch, it skips
    # a hop through the loop and the pool and costs less CPU (offload.then; bench/PERF_NOTES.md, item 21).
    # A network database's search waits on I/O, which the pool's threads overlap; a model thread waiting
    # on the network would start no batch meanwhile, so PostgreSQL keeps the pool.
    search_on_model_thread = getattr(deps.engine, "probe_inline", False) is True

    # The memory proxy's caller token, issued only when the proxy is on (see docs/elevenlabs.md).
    token_key = caller_token.signing_key(settings.workspace_keys[0]) if settings.upstream_url else b""

    @lru_cache(maxsize=4096)
    def client_data_body(briefing: CallerBriefing, token: str) -> bytes:
        """The response bytes are a pure function of the briefing, itself built from the profile just read
        (and of the proxy's caller token, which changes once an hour)."""
        return orjson.dumps(client_data_response(briefing, prompt_template=settings.prompt_template,
                                                 base_prompt=settings.base_prompt, greeting=greeting,
                                                 caller_token=token))

    def docs(response: type[BaseModel], body: type[BaseModel] | None = None) -> dict[str, Any]:
        if not documented:
            return {"include_in_schema": False}
        return {"response_model": response, "responses": ERRORS,
                "openapi_extra": _json_body(body) if body else SIGNED_BODY}

    @router.post("/client-data", dependencies=[Depends(require_key)],
                 summary="ElevenLabs conversation-initiation webhook",
                 **docs(schemas.ClientDataResponse, schemas.ClientDataRequest))
    async def client_data(request: Request) -> Response:
        body = _parse(schemas.ClientDataRequest, await request.body())
        briefing = await run_blocking(brief_caller, body.caller_id, store=deps.store,
                                      default_region=settings.default_region, agent_id=body.agent_id,
                                      scope=settings.scope)
        token = caller_token.issue(briefing.caller_id, token_key, now=time.time(), agent_id=body.agent_id or "") \
            if token_key and briefing.caller_id else ""
        return Response(client_data_body(briefing, token), media_type="application/json")

    @router.post("/retrieve", dependencies=[Depends(require_retrieve_key)], summary="In-call memory search tool",
                 **docs(schemas.RetrieveResponse, schemas.RetrieveRequest))
    async def retrieve(request: Request) -> Response:
        body = _parse(schemas.RetrieveRequest, await request.body())
        command = SearchQuery(query=body.query, user_id=body.user_id, limit=body.limit, type=body.type,
                              agent_id=body.agent_id)
        find = functools.partial(search, command, engine=deps.engine, default_region=settings.default_region,
                                 scope=settings.scope)
        # A query waiting for the model holds no pool thread, so all concurrent queries can share one model
        # call (adapters/embeddings/batching.py).
        pending = deps.engine.prepare(body.query)
        if pending is None:
            _, hits = await run_blocking(find)
        elif search_on_model_thread:
            _, hits = await settled(then(pending, lambda vector: find(vector=vector)))
        else:
            _, hits = await run_blocking(find, vector=await settled(pending))
        # Serialised directly: re-validating our own dicts through the response model cost more than the JSON
        # (the model still documents /docs; a test checks these bytes against it).
        body_bytes = orjson.dumps({"memories": [memory_json(hit) for hit in hits]})
        return Response(body_bytes, media_type="application/json")

    @router.post("/post-call", summary="ElevenLabs post-call webhooks (transcription, audio, failures)",
                 **docs(schemas.Ok))
    async def post_call(request: Request) -> Response:
        accepted = await accept_webhook(await request.body(), request.headers.get("elevenlabs-signature"),
                                        secrets=hmac_keys, tolerance_secs=settings.signature_tolerance_secs,
                                        queue=deps.queue, clock=deps.clock)
        if deps.worker is not None and not accepted.duplicate:
            deps.worker.wake.set()
        annotate(event_type=accepted.event_type, duplicate=accepted.duplicate)
        return Response(OK_BODY, media_type="application/json")

    return router
