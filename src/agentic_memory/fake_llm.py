"""A fake OpenAI-compatible LLM on 127.0.0.1, for the proxy's tests and benchmark (never used in production).

`POST <anything>/chat/completions` answers like OpenAI, streamed (SSE) or not, and records what it
received and the exact bytes it sent. Behaviour comes from the request's `model`, `+`-separated:
`tools` (an `end_call` tool call instead of text), `pause=S` (stream: wait S seconds after the first
chunk), `slow=S` (wait S seconds before answering at all), `fail=STATUS` (an OpenAI-style error),
`drop` (hang up after the first part of the answer, as a crashing provider would).
A client that hangs up during a pause is counted in `disconnects`.

Run alone: `python -m agentic_memory.fake_llm --port 9000`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
TEXT = ("Hello", " from", " the", " fake", " model", ".")


class Dropped(Exception):
    """Raised to make the server cut the connection mid-answer (the `drop` mode)."""


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeLLM:
    received: list[Received] = field(default_factory=list)
    sent: list[bytes] = field(default_factory=list)
    disconnects: int = 0
    url: str = ""  # the base URL, e.g. http://127.0.0.1:PORT/v1, once serving
    _server: Any = None
    _thread: threading.Thread | None = None

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        raw = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
        if scope["method"] != "POST" or not scope["path"].endswith("/chat/completions"):
            await self._send(send, 404, b'{"error":{"message":"not found"}}', "application/json")
            return
        body = json.loads(raw)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        self.received.append(Received(scope["path"], headers, body))
        options = _options(str(body.get("model", "")))
        if "slow" in options and await _hung_up(receive, float(options["slow"])):
            self.disconnects += 1
            return
        if "fail" in options:
            status = int(options["fail"])
            error = {"error": {"message": f"fake failure {status}", "type": "fake_error", "code": str(status)}}
            await self._send(send, status, json.dumps(error).encode(), "application/json",
                             extra=[(b"retry-after", b"1")] if status == 429 else [])
            return
        number = len(self.received)
        if not body.get("stream"):
            answer = json.dumps(_completion(number, "tools" in options)).encode()
            if "drop" in options:  # announce the whole length, send half, hang up
                await send({"type": "http.response.start", "status": 200, "headers": [
                    (b"content-type", b"application/json"), (b"content-length", str(len(answer)).encode())]})
                await send({"type": "http.response.body", "body": answer[: len(answer) // 2], "more_body": True})
                raise Dropped
            await self._send(send, 200, answer, "application/json")
            return
        chunks = _stream(number, "tools" in options)
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-cache")]})
        sent = b""
        for i, chunk in enumerate(chunks):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            sent += chunk
            if i == 0 and "pause" in options and await _hung_up(receive, float(options["pause"])):
                self.disconnects += 1
                self.sent.append(sent)
                return
            if i == 1 and "drop" in options:
                self.sent.append(sent)
                raise Dropped
        await send({"type": "http.response.body", "body": b""})
        self.sent.append(sent)

    async def _send(self, send: Send, status: int, body: bytes, content_type: str,
                    extra: list[tuple[bytes, bytes]] | None = None) -> None:
        await send({"type": "http.response.start", "status": status, "headers": [
            (b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode()), *(extra or [])]})
        await send({"type": "http.response.body", "body": body})
        self.sent.append(body)

    def start(self, port: int = 0) -> str:
        """Serve on 127.0.0.1 in a background thread; returns the base URL (".../v1")."""
        import uvicorn

        port = port or _free_port()
        config = uvicorn.Config(self, host="127.0.0.1", port=port, lifespan="off", log_config=None,
                                access_log=False, timeout_keep_alive=75)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True, name="fake-llm")
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("fake LLM did not start")
            time.sleep(0.01)
        self.url = f"http://127.0.0.1:{port}/v1"
        return self.url

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
            self._server = self._thread = None


async def _hung_up(receive: Receive, secs: float) -> bool:
    """Wait `secs`; True as soon as the client disconnects within them."""
    try:
        async with asyncio.timeout(secs):
            while (await receive())["type"] != "http.disconnect":
                pass
            return True
    except TimeoutError:
        return False


def _options(model: str) -> dict[str, str]:
    out = {}
    for part in model.split("+")[1:]:
        key, _, value = part.partition("=")
        out[key] = value
    return out


def _base(number: int) -> dict[str, Any]:
    return {"id": f"chatcmpl-fake-{number}", "created": 1767225600, "model": "fake-model",
            "system_fingerprint": "fp_fake"}


def _completion(number: int, tools: bool) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": "".join(TEXT)}
    finish = "stop"
    if tools:
        message = {"role": "assistant", "content": None, "tool_calls": [{
            "id": "call_fake_1", "type": "function",
            "function": {"name": "end_call", "arguments": '{"reason": "caller said goodbye"}'}}]}
        finish = "tool_calls"
    return {**_base(number), "object": "chat.completion",
            "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 6, "total_tokens": 16}}


def _stream(number: int, tools: bool) -> list[bytes]:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        body = {**_base(number), "object": "chat.completion.chunk",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]}
        return b"data: " + json.dumps(body, separators=(",", ":")).encode() + b"\n\n"

    out = [chunk({"role": "assistant", "content": ""})]
    if tools:
        out.append(chunk({"tool_calls": [{"index": 0, "id": "call_fake_1", "type": "function",
                                          "function": {"name": "end_call", "arguments": ""}}]}))
        out.append(chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"reason": '}}]}))
        out.append(chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"caller said goodbye"}'}}]}))
        out.append(chunk({}, "tool_calls"))
    else:
        out.extend(chunk({"content": word}) for word in TEXT)
        out.append(chunk({}, "stop"))
    out.append(b"data: [DONE]\n\n")
    return out


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description="A fake OpenAI-compatible LLM on 127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    import uvicorn

    uvicorn.run(FakeLLM(), host="127.0.0.1", port=args.port, lifespan="off", log_config=None,
                access_log=False, timeout_keep_alive=75)


if __name__ == "__main__":
    main()
