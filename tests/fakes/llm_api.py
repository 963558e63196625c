"""A fake OpenAI-compatible chat-completions API over real HTTP on 127.0.0.1, for the LLM extractor's tests.

`mode` picks the answer: "fixed" (the JSON in `answer`), "not-json" (content that is not JSON), "wrong-shape"
(JSON that is not the schema's object), "no-choices" (a body without choices), "error" (HTTP 500) or
"slow" (sleeps `delay_secs`, then answers as "fixed"). Every request body and its headers are recorded.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes.local_http import serving

API_KEY = "sk-fake-llm-key-0123456789abcdef"


@dataclass
class FakeLlm:
    mode: str = "fixed"
    answer: dict[str, Any] = field(default_factory=lambda: {"caller_name": {"first_name": None, "full_name": None},
                                                             "facts": []})
    delay_secs: float = 2.0
    requests: list[tuple[str, dict[str, str], Any]] = field(default_factory=list)  # (path, headers, body)
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reply(self) -> tuple[int, Any]:
        content: str
        if self.mode == "error":
            return 500, {"error": {"message": "injected"}}
        if self.mode == "no-choices":
            return 200, {"id": "x", "object": "chat.completion"}
        if self.mode == "not-json":
            content = "Sure! Here are the facts: the caller likes oat milk"
        elif self.mode == "wrong-shape":
            content = json.dumps({"memories": ["Caller likes oat milk."]})
        else:
            if self.mode == "slow":
                time.sleep(self.delay_secs)
            content = json.dumps(self.answer)
        return 200, {"id": "chatcmpl-1", "object": "chat.completion", "model": "fake",
                     "choices": [{"index": 0, "finish_reason": "stop",
                                  "message": {"role": "assistant", "content": content}}]}


def _handler(fake: FakeLlm) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_: Any) -> None:
            return

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with fake.lock:
                fake.requests.append((self.path, dict(self.headers), json.loads(raw or b"null")))
            status, body = fake.reply() if self.path == "/v1/chat/completions" else (404, {"error": "no route"})
            out = json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)
            except (BrokenPipeError, ConnectionResetError):
                return  # the client gave up (the slow mode's point)

    return Handler


@contextmanager
def serve(fake: FakeLlm | None = None) -> Iterator[FakeLlm]:
    """Serve `fake` on a free 127.0.0.1 port until the block ends; `fake.url` is its base URL (…/v1)."""
    fake = fake or FakeLlm()
    with serving(_handler(fake)) as port:
        fake.url = f"http://127.0.0.1:{port}/v1"
        yield fake
