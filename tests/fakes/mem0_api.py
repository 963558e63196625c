"""A fake Mem0 Platform API on 127.0.0.1, written from Mem0's documented API and the mem0ai SDK's calls.

What it holds the client to (each a way a real Mem0 project answers):
- every request carries `Authorization: Token <key>` (else 401);
- `GET /v1/ping/` answers the SDK's constructor with org_id / project_id / user_email;
- `POST /v3/memories/add/` takes the entity ids at the top level and answers `PENDING` with an `event_id`;
  the memories exist only once `GET /v1/event/<id>/` has been polled to `SUCCEEDED` (after
  `pending_polls` polls that still say PENDING);
- `POST /v3/memories/search/` rejects top-level entity ids (400) and wants them inside `filters`; filters
  follow Mem0's v2 rules (AND / OR / NOT, `*`, `in`, `ne`, exact `metadata` match, and the implicit
  null-scoping: an entity not named in the filter must be null on the memory);
- `POST /v3/memories/` (get_all) pages with `page` / `page_size` and answers {count, next, previous, results};
- `DELETE /v1/memories/<id>/`, `DELETE /v1/memories/?user_id=...`, `GET /v1/memories/<id>/history/`.

Switches for failure tests: `fail_next` (a queue of status codes or "timeout" for the next requests),
`leak` (search results include another user's memory, which the client must drop), `fail_events`
(events end FAILED). `requests` records (method, path) of every request served.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes.local_http import serving

API_KEY = "m0-fake-api-key-0123456789abcdef"
ENTITIES = ("user_id", "agent_id", "app_id", "run_id")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_EVENT = re.compile(r"^/v1/event/([^/]+)/$")
_MEMORY = re.compile(r"^/v1/memories/([^/]+)/$")
_HISTORY = re.compile(r"^/v1/memories/([^/]+)/history/$")


class BadRequest(Exception):
    """A request the real API would refuse with 400."""


@dataclass
class Event:
    payload: dict[str, Any]
    polls_left: int
    status: str = "PENDING"
    memory_ids: list[str] = field(default_factory=list)


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if len(w) > 1}


def _mentioned(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {k for k in node if k in ENTITIES}
        for key in ("AND", "OR", "NOT"):
            if key in node:
                found |= _mentioned(node[key])
        return found
    if isinstance(node, list):
        return set().union(*(_mentioned(n) for n in node)) if node else set()
    return set()


def _compare(value: Any, wanted: Any) -> bool:
    if wanted == "*":
        return value is not None
    if isinstance(wanted, dict):
        ops = {"in": lambda v, w: v in w, "ne": lambda v, w: v != w, "eq": lambda v, w: v == w,
               "gte": lambda v, w: v is not None and v >= w, "lte": lambda v, w: v is not None and v <= w,
               "gt": lambda v, w: v is not None and v > w, "lt": lambda v, w: v is not None and v < w,
               "contains": lambda v, w: v is not None and w in v,
               "icontains": lambda v, w: v is not None and str(w).lower() in str(v).lower()}
        unknown = set(wanted) - set(ops)
        if unknown:
            raise BadRequest(f"unsupported operator(s): {sorted(unknown)}")
        return all(ops[op](value, arg) for op, arg in wanted.items())
    return bool(value == wanted)


def _matches(memory: dict[str, Any], node: Any) -> bool:
    if isinstance(node, list):
        return all(_matches(memory, n) for n in node)
    if not isinstance(node, dict):
        raise BadRequest("a filter condition must be an object")
    for key, wanted in node.items():
        if key == "AND":
            ok = all(_matches(memory, n) for n in wanted)
        elif key == "OR":
            ok = any(_matches(memory, n) for n in wanted)
        elif key == "NOT":
            ok = not _matches(memory, wanted)
        elif key == "metadata":
            if not isinstance(wanted, dict):
                raise BadRequest("metadata filter must be an object")
            ok = all(memory["metadata"].get(k) == v for k, v in wanted.items())
        elif key in (*ENTITIES, "created_at", "updated_at", "categories"):
            ok = _compare(memory.get(key), wanted)
        elif key == "memory_ids":
            ok = memory["id"] in wanted
        else:
            raise BadRequest(f"unknown filter field {key!r}")
        if not ok:
            return False
    return True


class FakeMem0:
    """The fake's state. Thread-safe: the HTTP server serves each request on its own thread."""

    def __init__(self, *, api_key: str = API_KEY, pending_polls: int = 1, page_size_cap: int = 100) -> None:
        self.api_key = api_key
        self.org_id = "org_fake"
        self.project_id = "proj_fake"
        self.pending_polls = pending_polls
        self.page_size_cap = page_size_cap
        self.memories: dict[str, dict[str, Any]] = {}
        self.history: dict[str, list[dict[str, Any]]] = {}
        self.events: dict[str, Event] = {}
        self.fail_next: list[int | str | None] = []
        self.timeout_secs = 2.0
        self.leak = False
        self.fail_events = False
        self.requests: list[tuple[str, str]] = []
        self.lock = threading.RLock()
        self.url = ""

    # ----- helpers used by tests -----

    def settle_all(self) -> None:
        """As if every pending event had been processed (the platform's own pace)."""
        with self.lock:
            for event in self.events.values():
                if event.status == "PENDING":
                    self._finish(event)

    def count(self, method: str, path: str) -> int:
        with self.lock:
            return sum(1 for m, p in self.requests if m == method and p == path)

    def seed(self, *, user_id: str, text: str, metadata: dict[str, Any] | None = None,
             agent_id: str | None = None) -> str:
        with self.lock:
            return self._create(text, {"user_id": user_id, "agent_id": agent_id, "metadata": metadata or {}})

    # ----- behaviour -----

    def _create(self, text: str, payload: dict[str, Any]) -> str:
        memory_id = str(uuid.uuid4())
        stamp = payload.get("timestamp")
        created = datetime.fromtimestamp(stamp, UTC).isoformat() if isinstance(stamp, int) else _now()
        self.memories[memory_id] = {
            "id": memory_id, "memory": text, "metadata": dict(payload.get("metadata") or {}),
            "categories": [], "created_at": created, "updated_at": created,
            **{k: payload.get(k) for k in ENTITIES}}
        self.history[memory_id] = [{"id": str(uuid.uuid4()), "memory_id": memory_id, "old_memory": None,
                                    "new_memory": text, "event": "ADD", "created_at": created}]
        return memory_id

    def _finish(self, event: Event) -> None:
        if self.fail_events:
            event.status = "FAILED"
            return
        payload = event.payload
        messages = payload["messages"]
        if payload.get("infer", True):
            # Stands in for Mem0's LLM extraction: one memory per thing the user said.
            texts = [m["content"] for m in messages if m["role"] == "user"]
        else:
            texts = [m["content"] for m in messages]
        event.memory_ids = [self._create(text, payload) for text in texts]
        event.status = "SUCCEEDED"

    def add(self, body: dict[str, Any]) -> dict[str, Any]:
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise BadRequest("messages must be a non-empty list")
        for message in messages:
            if not isinstance(message, dict) or message.get("role") not in ("user", "assistant") \
                    or not isinstance(message.get("content"), str) or not message["content"].strip():
                raise BadRequest("each message needs role user or assistant and non-empty content")
        if not any(body.get(k) for k in ENTITIES):
            raise BadRequest("At least one identifier (user_id, agent_id, run_id, app_id) is required.")
        if "metadata" in body and not isinstance(body["metadata"], dict):
            raise BadRequest("metadata must be an object")
        if "infer" in body and not isinstance(body["infer"], bool):
            raise BadRequest("infer must be a boolean")
        if "timestamp" in body and not isinstance(body["timestamp"], int):
            raise BadRequest("timestamp must be a Unix timestamp (integer)")
        event_id = str(uuid.uuid4())
        self.events[event_id] = Event(payload=body, polls_left=self.pending_polls)
        return {"message": "Memory processing has been queued for background execution", "status": "PENDING",
                "event_id": event_id}

    def event(self, event_id: str) -> tuple[int, Any]:
        event = self.events.get(event_id)
        if event is None:
            return 404, {"detail": "Event not found"}
        if event.status == "PENDING":
            if event.polls_left > 0:
                event.polls_left -= 1
            else:
                self._finish(event)
        results = [{"id": mid, "event": "ADD", "data": {"memory": self.memories[mid]["memory"]}}
                   for mid in event.memory_ids if mid in self.memories]
        return 200, {"id": event_id, "event_type": "ADD", "status": event.status, "payload": event.payload,
                     "results": results, "created_at": _now(), "updated_at": _now()}

    def _scoped(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        filters = body.get("filters")
        if not isinstance(filters, dict) or not _mentioned(filters):
            raise BadRequest("filters must contain at least one of: user_id, agent_id, run_id, app_id")
        null_scoped = set(ENTITIES) - _mentioned(filters)
        return [m for m in self.memories.values()
                if all(m.get(k) is None for k in null_scoped) and _matches(m, filters)]

    def search(self, body: dict[str, Any]) -> dict[str, Any]:
        top_level = [k for k in ENTITIES if k in body]
        if top_level:
            raise BadRequest(f"Top-level entity parameters {top_level} are not supported; use filters")
        query = body.get("query")
        if not isinstance(query, str) or not query.strip():
            raise BadRequest("query must be a non-empty string")
        top_k = body.get("top_k", 10)
        if not isinstance(top_k, int) or not 1 <= top_k <= 1000:
            raise BadRequest("top_k must be an integer from 1 to 1000")
        threshold = body.get("threshold", 0.1)
        wanted = _words(query)
        scored = []
        for memory in self._scoped(body):
            words = _words(memory["memory"])
            score = len(wanted & words) / math.sqrt(len(wanted) * len(words)) if wanted and words else 0.0
            if score >= threshold:
                scored.append({**memory, "score": round(score, 4)})
        scored.sort(key=lambda m: (-m["score"], m["id"]))
        results = scored[:top_k]
        if self.leak:
            scope = _mentioned(body["filters"])
            foreign = [m for m in self.memories.values() if "user_id" in scope and m["user_id"] is not None
                       and not _matches(m, body["filters"])]
            stranger = foreign[0] if foreign else {
                "id": str(uuid.uuid4()), "memory": f"leaked: {query}", "user_id": "+19995550000",
                "agent_id": None, "app_id": None, "run_id": None, "metadata": {"type": "factual"},
                "categories": [], "created_at": _now(), "updated_at": _now()}
            results = [{**stranger, "score": 0.99}, *results]
        return {"results": results}

    def get_all(self, body: dict[str, Any], query: dict[str, list[str]]) -> dict[str, Any]:
        try:
            page = int(query.get("page", ["1"])[0])
            size = min(int(query.get("page_size", ["100"])[0]), self.page_size_cap)
        except ValueError:
            raise BadRequest("page and page_size must be integers") from None
        if page < 1 or size < 1:
            raise BadRequest("page and page_size must be positive")
        found = sorted(self._scoped(body), key=lambda m: (m["created_at"], m["id"]))
        start = (page - 1) * size
        base = f"{self.url}/v3/memories/"
        more = start + size < len(found)
        return {"count": len(found), "results": found[start:start + size],
                "next": f"{base}?page={page + 1}&page_size={size}" if more else None,
                "previous": f"{base}?page={page - 1}&page_size={size}" if page > 1 else None}

    def delete(self, memory_id: str) -> tuple[int, Any]:
        memory = self.memories.pop(memory_id, None)
        if memory is None:
            return 404, {"detail": "Memory not found"}
        self.history[memory_id].append({"id": str(uuid.uuid4()), "memory_id": memory_id,
                                        "old_memory": memory["memory"], "new_memory": None, "event": "DELETE",
                                        "created_at": _now()})
        return 200, {"message": "Memory deleted successfully!"}

    def delete_all(self, query: dict[str, list[str]]) -> dict[str, Any]:
        scope = {k: query[k][0] for k in ENTITIES if k in query}
        if not scope:
            raise BadRequest("At least one filter is required to delete all memories")
        doomed = [mid for mid, m in self.memories.items() if all(m.get(k) == v for k, v in scope.items())]
        for memory_id in doomed:
            self.delete(memory_id)
        return {"message": "Memories deleted successfully!"}

    def handle(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        """One request, already authenticated. Returns (status, JSON body)."""
        if method == "GET" and path == "/v1/ping/":
            return 200, {"status": "ok", "message": "API key is valid", "org_id": self.org_id,
                         "project_id": self.project_id, "user_email": "developer@example.com"}
        if method == "POST" and path == "/v3/memories/add/":
            return 200, self.add(body)
        if method == "POST" and path == "/v3/memories/search/":
            return 200, self.search(body)
        if method == "POST" and path == "/v3/memories/":
            return 200, self.get_all(body, query)
        if method == "DELETE" and path == "/v1/memories/":
            return 200, self.delete_all(query)
        if method == "GET" and (match := _EVENT.match(path)):
            return self.event(match.group(1))
        if method == "GET" and (match := _HISTORY.match(path)):
            history = self.history.get(match.group(1))
            return (200, history) if history is not None else (404, {"detail": "Memory not found"})
        if method == "DELETE" and (match := _MEMORY.match(path)):
            return self.delete(match.group(1))
        if method == "GET" and (match := _MEMORY.match(path)):
            memory = self.memories.get(match.group(1))
            return (200, memory) if memory is not None else (404, {"detail": "Memory not found"})
        return 404, {"detail": "Not found"}


def _handler(fake: FakeMem0) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall

        def log_message(self, *_: Any) -> None:
            return  # quiet: pytest would show it as test output

        def _reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(raw)

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            with fake.lock:
                fake.requests.append((self.command, parts.path))
                failure = fake.fail_next.pop(0) if fake.fail_next else None
            if failure == "timeout":
                time.sleep(fake.timeout_secs)
                self._reply(504, {"detail": "gateway timeout"})
                return
            if isinstance(failure, int):
                headers = {"Retry-After": "1"} if failure == 429 else None
                self._reply(failure, {"detail": f"injected {failure}"}, headers)
                return
            if self.headers.get("Authorization") != f"Token {fake.api_key}":
                self._reply(401, {"detail": "Invalid API key"})
                return
            try:
                body = json.loads(raw) if raw else {}
                with fake.lock:
                    status, answer = fake.handle(self.command, parts.path, parse_qs(parts.query), body)
            except (BadRequest, json.JSONDecodeError) as exc:
                status, answer = 400, {"detail": str(exc)}
            self._reply(status, answer)

        do_GET = do_POST = do_DELETE = do_PUT = _serve

    return Handler


@contextmanager
def serve(fake: FakeMem0 | None = None) -> Iterator[FakeMem0]:
    """Serve `fake` (or a new one) on a free 127.0.0.1 port until the block ends; `fake.url` is its base."""
    fake = fake or FakeMem0()
    with serving(_handler(fake)) as port:
        fake.url = f"http://127.0.0.1:{port}"
        yield fake
