"""`POST /v1/chat/completions`: ElevenLabs' Custom LLM, with the caller's memories injected on every turn.

authenticate -> identify the caller from a signed token -> recall within the budget -> inject -> forward
to the upstream LLM -> relay its answer byte for byte (SSE chunk by chunk, `[DONE]` and tool-call deltas
included; errors with their status). A client that hangs up cancels the upstream request at once.
"""

from __future__ import annotations

import asyncio
import time
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import orjson
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from agentic_memory.bootstrap import Deps
from agentic_memory.domain import caller_token, recall
from agentic_memory.errors import InvalidInput
from agentic_memory.http.auth import WorkspaceKey
from agentic_memory.http.errors import error_response, install_error_handlers
from agentic_memory.http.middleware import RequestMiddleware
from agentic_memory.logs import annotate
from agentic_memory.services.proxy import Recaller, caller_hash, identify, scrub_tokens

if TYPE_CHECKING:  # imported where used: the Lambda package leaves aiohttp out (the proxy needs `serve`)
    import aiohttp

PATH = "/v1/chat/completions"
MAX_BYTES = 8 * 1024 * 1024  # ElevenLabs resends the whole conversation (and its tools) every turn
RELAYED_HEADERS = ("content-type", "content-encoding", "cache-control", "retry-after")  # raw bytes + their encoding
RELAYED_PREFIXES = ("x-ratelimit-", "openai-")
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
BODY_DOC = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "required": ["messages"], "additionalProperties": True,
    "description": "An OpenAI chat-completions request, as ElevenLabs' Custom LLM sends it; every field but "
                   "`elevenlabs_extra_body` is forwarded as is",
    "properties": {
        "model": {"type": "string"},
        "stream": {"type": "boolean"},
        "messages": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["role"], "additionalProperties": True,
            "properties": {"role": {"type": "string", "enum": ["system", "developer", "user", "assistant", "tool"]},
                           "content": {"type": ["string", "array", "null"]}}}},
        "elevenlabs_extra_body": {
            "type": "object", "additionalProperties": True,
            "description": "ElevenLabs' copy of our /client-data `custom_llm_extra_body`",
            "properties": {"caller_id": {"type": "string"}, "caller_token": {"type": "string"}}}}}}}}}


class Upstream:
    """The OpenAI-compatible API behind the proxy: one pooled keep-alive HTTP client per running app.

    aiohttp rather than httpx: its C HTTP parser costs ~0.4 ms of CPU per streamed answer where httpx's
    pure-Python stack (httpcore, h11, anyio) cost ~1.5-2 ms; at 8 concurrent turns on 2 cores that CPU was
    most of what the relay added (bench/PERF_NOTES.md, "Memory proxy").
    """

    def __init__(self, base_url: str, api_key: str, model: str) -> None:
        self.url = f"{base_url}/chat/completions" if base_url else ""
        self.model = model
        # identity: the bytes relayed are the bytes the upstream sent, with no re-encoding on either side
        self.headers = {"content-type": "application/json", "accept-encoding": "identity"}
        if api_key:
            self.headers["authorization"] = f"Bearer {api_key}"
        self.proxy = _env_proxy(self.url)
        # One session per event loop, made and closed by the app's lifespan in that loop: an aiohttp session
        # belongs to the loop it was made in (tests run one app's lifespan in two loops at once).
        self._clients: dict[asyncio.AbstractEventLoop, aiohttp.ClientSession] = {}

    def client(self) -> aiohttp.ClientSession:
        import aiohttp

        loop = asyncio.get_running_loop()
        session = self._clients.get(loop)
        if session is None:
            session = self._clients[loop] = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=256, keepalive_timeout=60),
                # sock_read: the longest silence allowed between two chunks of a model's answer
                timeout=aiohttp.ClientTimeout(total=None, connect=5.0, sock_read=120.0),
                auto_decompress=False, skip_auto_headers=("User-Agent",))
        return session

    async def aclose(self) -> None:
        session = self._clients.pop(asyncio.get_running_loop(), None)
        if session is not None:
            await session.close()


class Relay(Response):
    """Sends `payload` upstream and relays the answer, while watching for the client hanging up: then the
    upstream request is closed wherever it is (connecting, waiting for the first token, streaming)."""

    def __init__(self, upstream: Upstream, payload: bytes) -> None:
        super().__init__()
        self.upstream = upstream
        self.payload = payload

    async def __call__(self, scope: Any, receive: Receive, send: Send) -> None:
        relay = asyncio.ensure_future(self._relay(scope, send))
        watch = asyncio.ensure_future(_disconnected(receive))
        try:
            await asyncio.wait({relay, watch}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (relay, watch):
                task.cancel()
            await asyncio.gather(relay, watch, return_exceptions=True)
        error = relay.exception() if relay.done() and not relay.cancelled() else None
        # A send to a client already gone may fail (OSError) before the watcher hears the disconnect.
        if (watch.done() and not watch.cancelled() and not relay.done()) or isinstance(error, OSError):
            annotate(client_disconnected=True)
            return
        if error is not None:
            raise error

    async def _relay(self, scope: Any, send: Send) -> None:
        import aiohttp

        client = self.upstream.client()
        started = time.monotonic()
        try:
            response = await client.post(self.upstream.url, data=self.payload, headers=self.upstream.headers,
                                       proxy=self.upstream.proxy)
        except TimeoutError:  # aiohttp's connect and read timeouts are TimeoutErrors too
            annotate(upstream_error="timeout")
            await error_response(504, "upstream LLM timed out")(scope, _no_receive, send)
            return
        except aiohttp.ClientError as exc:
            annotate(upstream_error=exc.__class__.__name__)
            await error_response(502, "upstream LLM unreachable")(scope, _no_receive, send)
            return
        try:
            await self._answer(scope, response, started, send)
        except BaseException:
            response.close()  # mid-answer (cancelled: the client hung up): the upstream stops generating
            raise
        response.release()  # back to the pool when read to its end; closed when the answer broke off

    @staticmethod
    async def _answer(scope: Any, response: aiohttp.ClientResponse, started: float, send: Send) -> None:
        import aiohttp

        headers = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in response.headers.items()
                   if name.lower() in RELAYED_HEADERS or name.lower().startswith(RELAYED_PREFIXES)]
        annotate(upstream_status=response.status)
        streamed = response.content_type == "text/event-stream"
        # iter_any: whatever has arrived, at once; several SSE events that came together go out in one send
        chunks = response.content.iter_any()
        first = True
        if not streamed:  # a JSON answer or error: whole, with its length, as the upstream sent it
            body = bytearray()
            try:
                async for chunk in chunks:
                    if first:
                        annotate(upstream_ttfb_ms=_ms(started))
                        first = False
                    body += chunk
            except (aiohttp.ClientError, TimeoutError) as exc:
                annotate(upstream_error=exc.__class__.__name__)
                await error_response(502, "upstream LLM answer broken off")(scope, _no_receive, send)
                return
            headers.append((b"content-length", str(len(body)).encode()))
            await send({"type": "http.response.start", "status": response.status, "headers": headers})
            await send({"type": "http.response.body", "body": bytes(body)})
            return
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        try:
            async for chunk in chunks:
                if first:
                    annotate(upstream_ttfb_ms=_ms(started))
                    first = False
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except (aiohttp.ClientError, TimeoutError) as exc:  # the status is sent: end the stream where it broke
            annotate(upstream_error=exc.__class__.__name__)
        await send({"type": "http.response.body", "body": b""})


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}


def _env_proxy(url: str) -> str | None:
    """HTTP(S)_PROXY for the upstream unless NO_PROXY covers it (read from the environment only: aiohttp's
    trust_env would also read ~/.netrc, and the upstream's credentials are ours to send)."""
    parts = urlsplit(url)
    if not url or urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return urllib.request.getproxies_environment().get(parts.scheme)


def _ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 2)


def _parse(raw: bytes) -> dict[str, Any]:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidInput("body is not valid JSON") from None
    if not isinstance(body, dict) or not isinstance(body.get("messages"), list) or not body["messages"]:
        raise InvalidInput("body must be a chat-completions request with a non-empty `messages` list")
    return body


def proxy_router(deps: Deps) -> APIRouter:
    """The proxy's route, authenticated by the workspace key (ElevenLabs sends it as the Custom LLM's
    `Authorization: Bearer` secret)."""
    settings = deps.settings
    require_key = WorkspaceKey(settings.workspace_keys)
    api_key = settings.upstream_api_key.get_secret_value() if settings.upstream_api_key else ""
    upstream = Upstream(settings.upstream_url, api_key, settings.upstream_model)
    recaller = Recaller(deps.store, deps.engine, budget_ms=settings.proxy_budget_ms,
                        default_region=settings.default_region, scope=settings.scope)
    keys = tuple(caller_token.signing_key(key) for key in settings.workspace_keys)
    hash_key = keys[0] if keys else b""

    @asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        if upstream.url:
            upstream.client()  # now, not on the first call: building it (TLS context) takes ~0.1-0.7 s
        yield
        await upstream.aclose()
        recaller.close()

    router = APIRouter(lifespan=lifespan)

    @router.post(PATH, dependencies=[Depends(require_key)], openapi_extra=BODY_DOC, response_model=None,
                 summary="Memory proxy: ElevenLabs' Custom LLM (OpenAI chat completions, streamed or not)")
    async def chat_completions(request: Request) -> Response:
        arrived = time.monotonic()
        if not upstream.url:
            return error_response(503, "the memory proxy is off: set AGENTIC_MEMORY_UPSTREAM_URL")
        body = _parse(await request.body())
        token = identify(body, keys, now=time.time())
        caller = None if token is None else token.caller
        messages = scrub_tokens(body["messages"])
        found = await recaller.recall(caller, messages, arrived=arrived,
                                      agent_id="" if token is None else token.agent_id)
        if found.block:
            messages = recall.inject(messages, found.block)
        forward = {key: value for key, value in body.items() if key != "elevenlabs_extra_body"}
        forward["messages"] = messages
        if upstream.model:
            forward["model"] = upstream.model
        annotate(caller=caller_hash(caller, hash_key), memories=found.injected, recall=found.status,
                 retrieval_ms=found.ms, stream=bool(body.get("stream")))
        return Relay(upstream, orjson.dumps(forward))

    return router


def create_proxy_app(deps: Deps) -> FastAPI:
    """The proxy alone (`agentic-memory proxy`): the chat-completions route and `/health`, nothing else."""
    from agentic_memory import __version__

    app = FastAPI(title="AgenticMemory proxy", version=__version__,
                  description="ElevenLabs' Custom LLM with the caller's memories injected on every turn.")
    install_error_handlers(app)
    app.include_router(proxy_router(deps))

    @app.get("/health", summary="Liveness (no auth)")
    async def health() -> JSONResponse:
        return JSONResponse({"status": "ok", "upstream": "set" if deps.settings.upstream_url else "unset"})

    app.add_middleware(RequestMiddleware, limits={PATH: MAX_BYTES}, default_limit=deps.settings.max_request_bytes)
    return app
