"""The memory proxy's decisions: who is calling, what to look up, within what budget, and what to inject.

Memory never delays or breaks the agent's reply: retrieval runs on its own small thread pool under a hard
deadline; past it, or on any error, the request goes on unenriched. A retrieval still queued at the
deadline is cancelled before it starts, and one already running stops at its next step (before the
embedding, the dense search, the keyword search), so an abandoned lookup does not keep a core busy.
While several abandoned lookups are still inside the store, turns skip recall at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from agentic_memory.domain import caller_token, recall
from agentic_memory.ports import MemoryEngine, MemoryStore
from agentic_memory.services.search import SearchQuery, search

log = logging.getLogger(__name__)
CANDIDATES = 10  # searched; the block keeps the best MAX_MEMORIES the model does not have yet
# Fused scores below this are noise: for small talk ("hi, how are you today?", "okay thanks, bye") every
# memory scored 0.02-0.10, while memories answering the utterance scored 0.2-1.9 (a 6-fact caller, the
# packaged model). Below it, nothing is injected rather than five unrelated lines.
MIN_SCORE = 0.15
# Lookups at once. More than the cores on purpose: concurrent lookups meet in the BatchingEmbedder, which
# embeds them in one model call (two calls at most run at once), so a few threads here cost little CPU
# and save the queueing that 2 threads cost at 8 concurrent calls (bench/proxy.py on a loaded machine:
# retrieval p50 220 ms with 2 threads, 81 ms with 8).
RECALL_THREADS = 8
STUCK_LIMIT = RECALL_THREADS // 2
# ElevenLabs calls the LLM again, with the same latest utterance, after every tool result (and when a turn
# is retried): the same caller and query within this long get the memories just found, at no cost.
REPEAT_SECS = 120.0
REPEAT_ENTRIES = 2048


class Expired(Exception):
    """The retrieval's deadline passed: stop before the next costly step."""


@dataclass(frozen=True, slots=True)
class Recall:
    block: str  # "" when nothing is injected
    injected: int
    status: str  # ok | repeat | none | no_caller | no_query | new_caller | timeout | stuck | error
    ms: float


def identify(body: dict[str, Any], keys: tuple[bytes, ...], *, now: float) -> str | None:
    """The caller's E.164 number from a signed token: first `elevenlabs_extra_body.caller_token` (our
    `custom_llm_extra_body`, copied there by ElevenLabs), else a token rendered into a system message from
    `{{caller_token}}`. Never from user, assistant or tool text, and never from an unsigned number."""
    extra = body.get("elevenlabs_extra_body")
    if isinstance(extra, dict):
        token = extra.get("caller_token")
        if isinstance(token, str):
            caller = caller_token.verify(token, keys, now=now)
            if caller is not None:
                return caller
    messages = body.get("messages")
    if isinstance(messages, list):
        return caller_token.verify(recall.system_text(messages), keys, now=now)
    return None


def scrub_tokens(messages: list[Any]) -> list[Any]:
    """System messages without caller tokens (the model has no use for them)."""
    out = []
    for message in messages:
        if isinstance(message, dict) and message.get("role") in ("system", "developer") \
                and isinstance(message.get("content"), str) and caller_token.PREFIX in message["content"]:
            message = {**message, "content": caller_token.strip(message["content"])}
        out.append(message)
    return out


def caller_hash(caller: str | None, key: bytes) -> str:
    """A log-safe handle for a caller: keyed, so the few billion phone numbers cannot be tried offline."""
    if caller is None:
        return ""
    return hmac.new(key, caller.encode(), hashlib.sha256).hexdigest()[:16]


class Recaller:
    def __init__(self, store: MemoryStore, engine: MemoryEngine, *, budget_ms: int, default_region: str) -> None:
        self.store = store  # the caller's profile (memory count) lives here whichever engine runs
        self.engine = engine
        self.budget = budget_ms / 1000
        self.default_region = default_region
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._stuck = 0  # lookups past their deadline and still running
        self._recent: dict[tuple[str, str], tuple[float, list[tuple[Any, str]]]] = {}  # only touched on the loop

    def pool(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=RECALL_THREADS, thread_name_prefix="recall")
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    async def recall(self, caller: str | None, messages: Sequence[Any], *, arrived: float | None = None) -> Recall:
        """`arrived`: when the request came in (time.monotonic()); the budget runs from then, so reading and
        parsing the body, and any wait for the event loop, come out of it rather than on top of it."""
        started = time.monotonic()
        if caller is None:
            return Recall("", 0, "no_caller", 0.0)
        text = recall.query(messages)
        if not text:
            return Recall("", 0, "no_query", 0.0)
        hits = self._repeat(caller, text, started)
        if hits is not None:
            return self._result(hits, messages, started, "repeat")
        if self._stuck >= STUCK_LIMIT:
            # Lookups abandoned at their deadline are still inside the store: memory is stuck right now,
            # so waiting the budget again would only delay the reply. Skip until one of them returns.
            return Recall("", 0, "stuck", 0.0)
        deadline = (started if arrived is None else min(arrived, started)) + self.budget
        if deadline <= started:  # the budget went before recall could begin (a stalled loop): do not start
            return Recall("", 0, "timeout", 0.0)
        future = self.pool().submit(self._lookup, caller, text, deadline)
        try:
            hits = await asyncio.wait_for(asyncio.wrap_future(future), timeout=max(0.0, deadline - started))
        except (TimeoutError, Expired):  # Expired: the lookup saw the deadline a moment before the loop did
            if not future.cancel():  # a queued lookup never starts; a running one stops at its next step
                self._count_stuck(future)
            return Recall("", 0, "timeout", _ms(started))
        except Exception as exc:  # noqa: BLE001 - memory must never break the reply: forward unenriched
            log.warning("proxy recall failed", extra={"error": exc.__class__.__name__})
            return Recall("", 0, "error", _ms(started))
        if hits is None:
            return Recall("", 0, "new_caller", _ms(started))
        if len(self._recent) >= REPEAT_ENTRIES:
            del self._recent[next(iter(self._recent))]  # the oldest
        self._recent[(caller, text)] = (started + REPEAT_SECS, hits)
        return self._result(hits, messages, started, "ok")

    def _repeat(self, caller: str, text: str, now: float) -> list[tuple[Any, str]] | None:
        entry = self._recent.get((caller, text))
        if entry is None:
            return None
        if entry[0] < now:
            del self._recent[(caller, text)]
            return None
        return entry[1]

    @staticmethod
    def _result(hits: list[tuple[Any, str]], messages: Sequence[Any], started: float, status: str) -> Recall:
        known = recall.context_words(messages)
        fresh = [(created, text) for created, text in hits if not recall.already_known(text, known)]
        block = recall.block(fresh)
        injected = block.count("\n- ") if block else 0
        return Recall(block, injected, status if injected else "none", _ms(started))

    def _count_stuck(self, future: Future[Any]) -> None:
        with self._lock:
            self._stuck += 1

        def returned(_: Future[Any]) -> None:
            with self._lock:
                self._stuck -= 1

        future.add_done_callback(returned)  # at once if it has just finished

    def _lookup(self, caller: str, text: str, deadline: float) -> list[tuple[Any, str]] | None:
        def checkpoint() -> None:
            if time.monotonic() >= deadline:
                raise Expired

        checkpoint()
        profile = self.store.caller(caller)  # one primary-key read: skips the embedding for new callers
        if profile is None or profile.memory_count == 0:
            return None
        _, hits = search(SearchQuery(query=text, user_id=caller, limit=CANDIDATES), engine=self.engine,
                         default_region=self.default_region, checkpoint=checkpoint)
        return [(hit.memory.created_at, hit.memory.text) for hit in hits if hit.score >= MIN_SCORE]


def _ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 2)
