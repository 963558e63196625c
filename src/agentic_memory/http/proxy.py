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
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

import orjson
from fastapi import APIRouter, Depends, FastAPI
from fastapi.responses import JSONResponse, Response

from agentic_memory.bootstrap import Deps
from agentic_memory.domain import caller_token, recall
from agentic_memory.errors import AgenticMemoryError, InvalidInput
from agentic_memory.http.auth import UNAUTHORIZED, WorkspaceKey, key_from_headers, key_matches
from agentic_memory.http.errors import error_response, install_error_handlers, known_error
from agentic_memory.http.middleware import ASGIApp, RequestMiddleware, Scope, log_request, new_request_id, too_large
from agentic_memory.logs import access_fields, annotate, request_id
from agentic_memory.services.proxy import Recaller, caller_hash, identify, scrub_tokens

if TYPE_CHECKING:  # imported where used: the Lambda package leaves aiohttp out (the proxy needs `serve`)
    import aiohttp
    import yarl

    from agentic_memory.metrics import Metrics

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
        self._target: yarl.URL | None = None
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
                auto_decompress=False, skip_auto_headers=("User-Agent",),
                # No cookies: a cookie the upstream sets for one caller's turn must not ride on another's
                # (and the default jar's per-request filtering is CPU on the loop for nothing)
                cookie_jar=aiohttp.DummyCookieJar())
        return session

    def target(self) -> yarl.URL:
        """The upstream URL, parsed once (aiohttp parses a string URL again on every request)."""
        if self._target is None:
            import yarl

            self._target = yarl.URL(self.url)
        return self._target

    async def aclose(self) -> None:
        session = self._clients.pop(asyncio.get_running_loop(), None)
        if session is not None:
            await session.close()


class Answer:
    """The response side of one proxied request: sends straight to the server (no per-message wrapper), adds
    the request id to the response's headers and remembers the status for the log line and the metrics."""

    __slots__ = ("rid", "send", "started", "status")

    def __init__(self, send: Send, rid: str) -> None:
        self.send = send
        self.rid = rid.encode()
        self.status = 500  # until a response starts (as the request middleware counts a failure)
        self.started = False

    async def start(self, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        self.status = status
        self.started = True
        headers.append((b"x-request-id", self.rid))
        await self.send({"type": "http.response.start", "status": status, "headers": headers})

    async def json(self, response: Response) -> None:
        """An error built by `error_response`, with the bytes and headers the FastAPI route sent."""
        await self.start(response.status_code, list(response.raw_headers))
        await self.send({"type": "http.response.body", "body": response.body})

    async def too_large(self, limit: int) -> None:
        self.status = 413
        self.started = True
        await too_large(self.send, self.rid.decode(), limit)


async def relay(upstream: Upstream, payload: bytes, receive: Receive, answer: Answer) -> None:
    """Sends `payload` upstream and relays the answer, while watching for the client hanging up: then the
    upstream request is closed wherever it is (connecting, waiting for the first token, streaming).

    The relay runs in the request's own task and a watcher task cancels it on the disconnect (one task and
    no `asyncio.wait` per request: the relay's loop CPU is what the added time to first byte is made of at
    concurrency 8, bench/PERF_NOTES.md item 50)."""
    task = cast("asyncio.Task[None]", asyncio.current_task())  # a request always runs in a task
    state = {"over": False, "hung_up": False}

    def hung_up(watch: asyncio.Task[None]) -> None:
        # Run by the loop once the watcher is done; `over` is set (synchronously) when the relay has ended,
        # so a disconnect heard after that cancels nothing.
        if not state["over"] and not watch.cancelled() and watch.exception() is None:
            state["hung_up"] = True
            task.cancel()

    watch = asyncio.ensure_future(_disconnected(receive))
    watch.add_done_callback(hung_up)
    try:
        await _relay(upstream, payload, answer)
    except asyncio.CancelledError:
        if not state["hung_up"]:
            raise
        task.uncancel()
        annotate(client_disconnected=True)
    except OSError:  # a send to a client already gone may fail before the watcher hears the disconnect
        annotate(client_disconnected=True)
    finally:
        state["over"] = True
        watch.cancel()


async def _relay(upstream: Upstream, payload: bytes, answer: Answer) -> None:
    import aiohttp

    client = upstream.client()
    started = time.monotonic()
    try:
        response = await client.post(upstream.target(), data=payload, headers=upstream.headers,
                                     proxy=upstream.proxy)
    except TimeoutError:  # aiohttp's connect and read timeouts are TimeoutErrors too
        annotate(upstream_error="timeout")
        await answer.json(error_response(504, "upstream LLM timed out"))
        return
    except aiohttp.ClientError as exc:
        annotate(upstream_error=exc.__class__.__name__)
        await answer.json(error_response(502, "upstream LLM unreachable"))
        return
    try:
        await _answer(response, started, answer)
    except BaseException:
        response.close()  # mid-answer (cancelled: the client hung up): the upstream stops generating
        raise
    response.release()  # back to the pool when read to its end; closed when the answer broke off


async def _answer(response: aiohttp.ClientResponse, started: float, answer: Answer) -> None:
    import aiohttp

    headers = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in response.headers.items()
               if name.lower() in RELAYED_HEADERS or name.lower().startswith(RELAYED_PREFIXES)]
    annotate(upstream_status=response.status)
    streamed = response.content_type == "text/event-stream"
    # iter_any: whatever has arrived, at once; several SSE events that came together go out in one send
    content = response.content
    chunks = content.iter_any()
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
            await answer.json(error_response(502, "upstream LLM answer broken off"))
            return
        headers.append((b"content-length", str(len(body)).encode()))
        await answer.start(response.status, headers)
        await answer.send({"type": "http.response.body", "body": bytes(body)})
        return
    await answer.start(response.status, headers)
    try:
        async for chunk in chunks:
            if first:
                annotate(upstream_ttfb_ms=_ms(started))
                first = False
            # The upstream's end already in with this chunk: it goes out with the end of our answer, in one
            # write instead of two (nothing waits for it: the end is known, not awaited)
            last = content.at_eof()
            await answer.send({"type": "http.response.body", "body": chunk, "more_body": not last})
            if last:
                return
    except (aiohttp.ClientError, TimeoutError) as exc:  # the status is sent: end the stream where it broke
        annotate(upstream_error=exc.__class__.__name__)
    await answer.send({"type": "http.response.body", "body": b""})


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


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


async def _read_body(receive: Receive, answer: Answer) -> bytes | None:
    """The request body, or None when it outgrew MAX_BYTES (413 answered) or the client left."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            annotate(client_disconnected=True)
            return None
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BYTES:
            await answer.too_large(MAX_BYTES)
            return None
        if not message.get("more_body", False):
            if not chunks:
                return chunk
            chunks.append(chunk)
            return b"".join(chunks)
        chunks.append(chunk)


class Proxy:
    """What every proxied request shares (the upstream client, the recaller, the keys), and the request itself."""

    def __init__(self, deps: Deps) -> None:
        settings = deps.settings
        self.workspace_keys = settings.workspace_keys
        api_key = settings.upstream_api_key.get_secret_value() if settings.upstream_api_key else ""
        self.upstream = Upstream(settings.upstream_url, api_key, settings.upstream_model)
        self.recaller = Recaller(deps.store, deps.engine, budget_ms=settings.proxy_budget_ms,
                                 default_region=settings.default_region, scope=settings.scope)
        self.keys = tuple(caller_token.signing_key(key) for key in settings.workspace_keys)
        self.hash_key = self.keys[0] if self.keys else b""

    @asynccontextmanager
    async def lifespan(self, _: Any) -> AsyncIterator[None]:
        if self.upstream.url:
            self.upstream.client()  # now, not on the first call: building it (TLS context) takes ~0.1-0.7 s
        yield
        await self.upstream.aclose()
        self.recaller.close()

    async def serve(self, receive: Receive, answer: Answer, *, declared: bytes, presented: str) -> None:
        """One request, in the order the FastAPI route and our middleware answered it: the declared length
        (413), the workspace key (401), the upstream (503), the body (413 past the limit, 400 when it is not a
        chat-completions request), then recall, injection and the relay."""
        arrived = time.monotonic()
        if declared.isdigit() and int(declared) > MAX_BYTES:
            await answer.too_large(MAX_BYTES)
            return
        if not key_matches(presented, self.workspace_keys):
            await answer.json(error_response(401, UNAUTHORIZED))
            return
        if not self.upstream.url:
            await answer.json(error_response(503, "the memory proxy is off: set AGENTIC_MEMORY_UPSTREAM_URL"))
            return
        raw = await _read_body(receive, answer)
        if raw is None:
            return
        body = _parse(raw)
        token = identify(body, self.keys, now=time.time())
        caller = None if token is None else token.caller
        messages = scrub_tokens(body["messages"])
        found = await self.recaller.recall(caller, messages, arrived=arrived,
                                           agent_id="" if token is None else token.agent_id)
        if found.block:
            messages = recall.inject(messages, found.block)
        forward = {key: value for key, value in body.items() if key != "elevenlabs_extra_body"}
        forward["messages"] = messages
        if self.upstream.model:
            forward["model"] = self.upstream.model
        annotate(caller=caller_hash(caller, self.hash_key), memories=found.injected, recall=found.status,
                 retrieval_ms=found.ms, stream=bool(body.get("stream")))
        await relay(self.upstream, orjson.dumps(forward), receive, answer)


class ChatCompletions:
    """Pure ASGI, the app's outermost layer of our own: answers `POST /v1/chat/completions` itself, so a turn
    skips Starlette's and FastAPI's per-request layers (our request and metrics middlewares, exception
    middlewares, the router, the key dependency, Request/Response objects and a wrapper around every chunk
    sent), ~15-20% of the event loop at 8 concurrent turns (bench/PERF_NOTES.md, item 50). What they did for
    this path it does itself, with the same bytes: request id, 413/401/503/400 JSON errors, the one access-log
    line, the request-latency metric. The documented route (`proxy_router`) stays for the OpenAPI schema.
    Anything else goes on to `app`; an unexpected error reaches Starlette's 500 handler as before."""

    def __init__(self, app: ASGIApp, *, proxy: Proxy, metrics: Metrics | None = None) -> None:
        self.app = app
        self.proxy = proxy
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        incoming = declared = b""
        key = authorization = None
        for name, value in scope["headers"]:  # as before: the last X-Request-Id / length, the first key
            if name == b"x-request-id":
                incoming = value
            elif name == b"content-length":
                declared = value
            elif name == b"x-workspace-key" and key is None:
                key = value.decode("latin-1")
            elif name == b"authorization" and authorization is None:
                authorization = value.decode("latin-1")
        rid = new_request_id(incoming)
        rid_token = request_id.set(rid)
        fields: dict[str, object] = {}
        fields_token = access_fields.set(fields)
        answer = Answer(send, rid)
        try:
            await self.proxy.serve(receive, answer, declared=declared, presented=key_from_headers(key, authorization))
        except AgenticMemoryError as exc:  # InvalidInput: a 400, as the route's exception handler answered
            if answer.started:
                raise
            await answer.json(known_error(exc))
        finally:
            log_request(scope, answer.status, started, fields)
            if self.metrics is not None:
                self.metrics.observe_request(PATH, "POST", answer.status, time.perf_counter() - started)
            access_fields.reset(fields_token)
            request_id.reset(rid_token)


def proxy_router(deps: Deps, proxy: Proxy) -> APIRouter:
    """The proxy's documented route (what /docs and the OpenAPI schema show), authenticated by the workspace key
    (ElevenLabs sends it as the Custom LLM's `Authorization: Bearer` secret). Requests are answered by
    `ChatCompletions` before the router; mounted without it, the route hands the request to the same code."""
    require_key = WorkspaceKey(deps.settings.workspace_keys)
    router = APIRouter(lifespan=proxy.lifespan)

    @router.post(PATH, dependencies=[Depends(require_key)], openapi_extra=BODY_DOC, response_model=None,
                 summary="Memory proxy: ElevenLabs' Custom LLM (OpenAI chat completions, streamed or not)")
    async def chat_completions() -> Response:
        return _Served(proxy)

    return router


class _Served(Response):
    def __init__(self, proxy: Proxy) -> None:
        super().__init__()
        self.proxy = proxy

    async def __call__(self, scope: Any, receive: Receive, send: Send) -> None:
        await ChatCompletions(_no_app, proxy=self.proxy)(scope, receive, send)


async def _no_app(_scope: Any, _receive: Receive, _send: Send) -> None:
    raise AssertionError("only POST /v1/chat/completions reaches the proxy's route")


def create_proxy_app(deps: Deps) -> FastAPI:
    """The proxy alone (`agentic-memory proxy`): the chat-completions route and `/health`, nothing else."""
    from agentic_memory import __version__

    app = FastAPI(title="AgenticMemory proxy", version=__version__,
                  description="ElevenLabs' Custom LLM with the caller's memories injected on every turn.")
    install_error_handlers(app)
    proxy = Proxy(deps)
    app.include_router(proxy_router(deps, proxy))

    @app.get("/health", summary="Liveness (no auth)")
    async def health() -> JSONResponse:
        return JSONResponse({"status": "ok", "upstream": "set" if deps.settings.upstream_url else "unset"})

    app.add_middleware(RequestMiddleware, limits={PATH: MAX_BYTES}, default_limit=deps.settings.max_request_bytes)
    app.add_middleware(ChatCompletions, proxy=proxy)
    return app
