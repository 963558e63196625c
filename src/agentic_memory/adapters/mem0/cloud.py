"""Mem0Cloud: the Mem0 Platform calls the engine uses, on the official SDK, errors translated into ours.

Every failure leaves here as EngineUnavailable (a StorageError: HTTP 503, and the worker retries with
backoff), carrying Mem0's Retry-After when it sent one. The SDK client is built on first use, so a
server whose Mem0 is down still starts and still answers /client-data from its own store.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from agentic_memory.adapters.mem0.breaker import Breaker
from agentic_memory.errors import EngineUnavailable

log = logging.getLogger(__name__)
PAGE_SIZE = 100
MAX_PAGES = 1000  # a runaway `next` chain stops here (100,000 memories for one caller)


@dataclass(frozen=True, slots=True)
class EventState:
    """Where an asynchronous add stands: PENDING / RUNNING / SUCCEEDED / FAILED, and what it created."""

    status: str
    memory_ids: tuple[str, ...] = ()

    @property
    def done(self) -> bool:
        return self.status == "SUCCEEDED"

    @property
    def failed(self) -> bool:
        return self.status == "FAILED"


def scope_filter(user_id: str, *, agent_id: str | None = None, type: str | None = None) -> dict[str, Any]:
    """A v2 filter for one caller. Mem0 scopes implicitly: an entity left out must be null on the memory,
    so a deployment that adds with an agent_id must search with the same one."""
    conditions: list[dict[str, Any]] = [{"user_id": user_id}]
    if agent_id:
        conditions.append({"agent_id": agent_id})
    if type:
        conditions.append({"metadata": {"type": type}})
    return {"AND": conditions}


class Mem0Cloud:
    def __init__(self, connect: Callable[[], Any], *, breaker: Breaker | None = None) -> None:
        self._connect = connect
        self.breaker = breaker or Breaker()
        self._sdk: Any = None
        self._lock = threading.Lock()

    def _client(self) -> Any:
        if self._sdk is None:
            with self._lock:
                if self._sdk is None:
                    self._sdk = self._connect()
        return self._sdk

    def close(self) -> None:
        if self._sdk is not None:
            self._sdk.client.close()

    @contextmanager
    def _call(self, operation: str, *, missing_ok: bool = False) -> Iterator[Any]:
        self.breaker.check()
        try:
            client = self._client()  # raises EngineUnavailable itself
        except EngineUnavailable:
            self.breaker.failed()
            raise
        from mem0.exceptions import MemoryError as Mem0Error  # type: ignore[import-untyped]  # imported by now

        try:
            yield client
        except Mem0Error as exc:
            info = exc.debug_info or {}
            status = info.get("status_code")
            retry_after = info.get("retry_after")
            if missing_ok and status == 404:
                return
            if status is None or status == 429 or status >= 500:  # an outage, not a refused request
                self.breaker.failed()
            log.warning("mem0 call failed", extra={"operation": operation, "status": status,
                                                   "error_code": exc.error_code})
            # `from None`: the SDK's chained httpx error prints its URL, and a delete_all URL carries the
            # caller's phone number; the operation, status and error code say what failed.
            raise EngineUnavailable(f"mem0 {operation} failed: {exc.error_code}",
                                    retry_after=float(retry_after) if retry_after else None) from None
        except httpx.HTTPStatusError as exc:  # calls made on the SDK's httpx client directly (events)
            status = exc.response.status_code
            if status == 429 or status >= 500:
                self.breaker.failed()
            log.warning("mem0 call failed", extra={"operation": operation, "status": status})
            raise EngineUnavailable(f"mem0 {operation} failed: HTTP_{status}",
                                    retry_after=_retry_after(exc.response)) from None
        except httpx.HTTPError as exc:
            self.breaker.failed()
            log.warning("mem0 unreachable", extra={"operation": operation, "error": exc.__class__.__name__})
            raise EngineUnavailable(f"mem0 {operation} failed: {exc.__class__.__name__}") from None
        except ValueError as exc:  # the SDK's own argument checks, or a body that is not JSON
            raise EngineUnavailable(f"mem0 {operation} rejected: {exc.__class__.__name__}") from exc
        self.breaker.succeeded()

    def ping(self) -> None:
        """The SDK's own key check (`GET /v1/ping/`), on its authenticated client."""
        with self._call("ping") as client:
            client.client.get("/v1/ping/").raise_for_status()

    def add(self, messages: Sequence[dict[str, str]], *, user_id: str, metadata: dict[str, Any], infer: bool,
            timestamp: int, agent_id: str | None = None) -> str:
        """Queue an add; returns the event id to poll. Nothing is searchable until the event succeeds.
        With `infer=False` Mem0 stores each message as given, else its LLM extracts memories from them."""
        extra = {"agent_id": agent_id} if agent_id else {}
        with self._call("add") as client:
            answer = client.add(list(messages), user_id=user_id, metadata=metadata, infer=infer,
                                timestamp=timestamp, **extra)
        event_id = _event_id(answer)
        if not event_id:
            raise EngineUnavailable("mem0 add answered without an event id")
        return event_id

    def event(self, event_id: str) -> EventState:
        with self._call("event") as client:
            response = client.client.get(f"/v1/event/{quote(event_id, safe='')}/")
            response.raise_for_status()
            body = response.json()
        results = body.get("results") or []
        ids = tuple(str(r["id"]) for r in results if isinstance(r, dict) and r.get("id"))
        return EventState(status=str(body.get("status", "")).upper(), memory_ids=ids)

    def search(self, query: str, *, filters: dict[str, Any], top_k: int) -> list[dict[str, Any]]:
        with self._call("search") as client:
            answer = client.search(query, filters=filters, top_k=top_k)
        results = answer.get("results", []) if isinstance(answer, dict) else answer
        return [r for r in results if isinstance(r, dict)]

    def get_all(self, *, filters: dict[str, Any], page_size: int = PAGE_SIZE) -> Iterator[dict[str, Any]]:
        """Every memory the filter matches, page after page."""
        for page in range(1, MAX_PAGES + 1):
            with self._call("get_all") as client:
                answer = client.get_all(filters=filters, page=page, page_size=page_size)
            results = answer.get("results", []) if isinstance(answer, dict) else answer
            yield from (r for r in results if isinstance(r, dict))
            if not isinstance(answer, dict) or not answer.get("next") or not results:
                return

    def delete(self, memory_id: str) -> None:
        """Delete one memory; one that is already gone (a retried job) is not an error."""
        with self._call("delete", missing_ok=True) as client:
            client.delete(memory_id)

    def delete_all(self, *, user_id: str, agent_id: str | None = None) -> None:
        extra = {"agent_id": agent_id} if agent_id else {}
        with self._call("delete_all") as client:
            client.delete_all(user_id=user_id, **extra)

    def history(self, memory_id: str) -> list[dict[str, Any]]:
        with self._call("history") as client:
            answer = client.history(memory_id)
        return [h for h in answer if isinstance(h, dict)] if isinstance(answer, list) else []


def _event_id(answer: Any) -> str:
    """v3 answers {"event_id": ...}; older platform versions wrapped it as {"results": [{...}]}."""
    if isinstance(answer, dict) and answer.get("event_id"):
        return str(answer["event_id"])
    results = answer.get("results") if isinstance(answer, dict) else answer
    if isinstance(results, list) and results and isinstance(results[0], dict):
        return str(results[0].get("event_id") or "")
    return ""


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers["Retry-After"])
    except (KeyError, ValueError):
        return None
