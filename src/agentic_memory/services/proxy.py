"""The memory proxy's decisions: who is calling, what to look up, within what budget, and what to inject.

Memory never delays or breaks the agent's reply: retrieval runs on its own small thread pool under a hard
deadline; past it, or on any error, the request goes on unenriched. A retrieval still queued at the
deadline is cancelled before it starts, and one already running stops at its next step (before the
embedding, the dense search, the keyword search), so an abandoned lookup does not keep a core busy.

Speed over completeness under load: a turn ranks the caller's memories on keywords, then embeds its query
(with the engine's own query model, on the recall thread, if it has one: bootstrap.py gives the local engine
an int8 copy of its model on one core; else in the engine's shared batcher, started before the keywords), and
takes the full ranking only if it is done within DENSE_WAIT_MS; while FULL_SLOTS full
rankings are in flight (or a lookup is stuck in the store) it does not embed at all. Keyword turns also
get what full rankings found on the call's earlier turns. With several lookups stuck, turns skip recall.
On a local store (`probe_inline`: SQLite) a keyword-only turn is ranked on the event loop itself.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from agentic_memory.domain import caller_token, recall
from agentic_memory.domain.models import MemoryHit, MemoryType
from agentic_memory.domain.phone import identify_caller
from agentic_memory.domain.scope import Scope, owner_key
from agentic_memory.ports import Embedder, MemoryEngine, MemoryStore

log = logging.getLogger(__name__)
CANDIDATES = 10  # searched; the block keeps the best MAX_MEMORIES the model does not have yet
# Fused scores below this are noise: for small talk ("hi, how are you today?", "okay thanks, bye") every
# memory scored 0.02-0.10, while memories answering the utterance scored 0.2-1.9 (a 6-fact caller, the
# packaged model). Below it, nothing is injected rather than five unrelated lines.
MIN_SCORE = 0.15
# A keyword-only ranking has no dense part, so its scores run lower, and every memory it returns shares a
# word with the utterance: at 0.15 it dropped answers it had in its top 5 (voice-dev questions, keywords
# only: 64 of 108 injected at 0.15, 74 at 0.05, 77 in the top 5; small talk 1.8 lines per utterance at 0.15,
# 2.4 at 0.05, where the full ranking at 0.15 injects 4.0: bench/PERF_NOTES.md, item 31).
KEYWORD_MIN_SCORE = 0.05
# Lookups at once. More than the cores on purpose: at most FULL_SLOTS of them embed (on one core each with
# the query model, or batched in the BatchingEmbedder), so a few threads here cost little CPU and save the
# queueing that 2 threads cost at 8 concurrent calls (bench/proxy.py on a loaded machine: retrieval p50
# 220 ms with 2 threads, 81 ms with 8).
RECALL_THREADS = 8
STUCK_LIMIT = RECALL_THREADS // 2
# ElevenLabs calls the LLM again, with the same latest utterance, after every tool result (and when a turn
# is retried): the same caller and query within this long get the memories just found, at no cost.
REPEAT_SECS = 120.0
CONVERSATION_SECS = 3600.0  # what a call's earlier turns found, for its later ones (calls last minutes)
CACHE_ENTRIES = 2048
# Full rankings (query embedding + dense search) in flight at once. Past it a turn does not queue behind the
# others (an embedding is the costliest step of a turn; a slow store holds a thread each): it is
# ranked on keywords, recency and its call's earlier hits alone. Counted from the submit, on the loop, so a
# burst of turns cannot all start one before the first is seen. Each embeds on one core (the query model), and
# one core is left to the event loop (the relay, keyword-only turns): on 2 cores one full ranking at a time
# halved what recall added at 8 concurrent turns, and still ranked as many turns in full as two did with the
# fp32 batcher (bench/PERF_NOTES.md, items 59 and 61).
FULL_SLOTS = max(1, len(os.sched_getaffinity(0)) - 1) if hasattr(os, "sched_getaffinity") else 1
# How long a turn waits for the full ranking (embedding + keywords) once the keyword one is in, counted from
# its arrival. Under load the full ranking is what makes the tail (bench/PERF_NOTES.md, proxy), so past
# this the turn goes on with keywords, recency and its call's earlier hits (the hard budget stays the cap
# for a memory that is slow or failing).
DENSE_WAIT_MS = 30


class Expired(Exception):
    """The retrieval's deadline passed: stop before the next costly step."""


@dataclass(frozen=True, slots=True)
class Recall:
    block: str  # "" when nothing is injected
    injected: int
    # ok | keywords | keywords_late | repeat | none | no_caller | no_agent | no_query | new_caller | timeout
    # | stuck | error
    status: str
    ms: float


def identify(body: dict[str, Any], keys: tuple[bytes, ...], *, now: float,
             agent_id: str = "") -> caller_token.Token | None:
    """The caller (E.164) and agent from a signed token: first `elevenlabs_extra_body.caller_token` (our
    `custom_llm_extra_body`, copied there by ElevenLabs), else a token rendered into a system message from
    `{{caller_token}}`. Never from user, assistant or tool text, and never from an unsigned number.
    `agent_id`: the agent the request is known to be for, if any; a token minted for another is refused."""
    extra = body.get("elevenlabs_extra_body")
    if isinstance(extra, dict):
        token = extra.get("caller_token")
        if isinstance(token, str):
            found = caller_token.read(token, keys, now=now, agent_id=agent_id)
            if found is not None:
                return found
    messages = body.get("messages")
    if isinstance(messages, list):
        return caller_token.read(recall.system_text(messages), keys, now=now, agent_id=agent_id)
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


@runtime_checkable
class KeywordEngine(Protocol):
    """An engine that can rank without the query's embedding (the local one; Mem0 ranks on its side)."""

    def recall_keywords(self, caller_id: str, query: str, *, limit: int, type: MemoryType | None = None,
                        checkpoint: Callable[[], None] | None = None) -> list[MemoryHit]: ...

    def recall_staged(self, caller_id: str, query: str, *, limit: int, vector: Callable[[], Any],
                      on_keywords: Callable[[list[MemoryHit]], None],
                      checkpoint: Callable[[], None] | None = None) -> list[MemoryHit]: ...


Hits = list[tuple[Any, str]]  # (created_at, text), best first


class Recaller:
    def __init__(self, store: MemoryStore, engine: MemoryEngine, *, budget_ms: int, default_region: str,
                 scope: Scope = "caller", dense_wait_ms: int = DENSE_WAIT_MS) -> None:
        self.store = store  # the caller's profile (memory count) lives here whichever engine runs
        self.engine = engine
        self.budget = budget_ms / 1000
        self.dense_wait = dense_wait_ms / 1000
        self.default_region = default_region
        self.scope = scope
        self._keywords = engine if isinstance(engine, KeywordEngine) else None
        # A store that answers without waiting on a network or another process (local SQLite, as for /health)
        # ranks a keyword-only turn on the event loop: ~1 ms of work, where the hop to a recall thread and back
        # took ~10 ms at 8 concurrent turns on 2 busy cores (bench/PERF_NOTES.md, item 60).
        self._inline = self._keywords if getattr(engine, "probe_inline", False) is True else None
        # A local engine may carry a cheaper model for queries (bootstrap.py: int8, one core), run inline
        # below rather than handed to the engine's shared batcher.
        self._query_embedder: Embedder | None = getattr(engine, "query_embedder", None) if self._keywords else None
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._stuck = 0  # lookups past their deadline and still running
        self._full = 0  # full rankings (embedding + dense search) started and not yet returned
        # Both only touched on the loop:
        self._recent: dict[tuple[str, str], tuple[float, Hits]] = {}
        self._conversations: dict[tuple[str, str], tuple[float, Hits]] = {}

    def pool(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=RECALL_THREADS, thread_name_prefix="recall")
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    async def recall(self, caller: str | None, messages: Sequence[Any], *, arrived: float | None = None,
                     agent_id: str = "") -> Recall:
        """`arrived`: when the request came in (time.monotonic()); the budget runs from then, so reading and
        parsing the body, and any wait for the event loop, come out of it rather than on top of it.
        `agent_id`: the agent the caller token names ("" when none), for AGENTIC_MEMORY_SCOPE=agent_and_caller."""
        started = time.monotonic()
        caller = identify_caller(caller, self.default_region)
        if caller is None:
            return Recall("", 0, "no_caller", 0.0)
        if self.scope != "caller" and not agent_id:
            return Recall("", 0, "no_agent", 0.0)  # memories are per agent, and this token names none
        owner = owner_key(caller, agent_id, self.scope)
        text = recall.query(messages)
        if not text:
            return Recall("", 0, "no_query", 0.0)
        hits = self._repeat(owner, text, started)
        if hits is not None:
            return self._result(hits, messages, started, "repeat")
        if self._stuck >= STUCK_LIMIT:
            # Lookups abandoned at their deadline are still inside the store: memory is stuck right now,
            # so waiting the budget again would only delay the reply. Skip until one of them returns.
            # (With fewer stuck, turns are ranked on keywords alone, which skips the dense search.)
            return Recall("", 0, "stuck", 0.0)
        deadline = (started if arrived is None else min(arrived, started)) + self.budget
        if deadline <= started:  # the budget went before recall could begin (a stalled loop): do not start
            return Recall("", 0, "timeout", 0.0)
        conversation = (owner, _conversation_id(messages))
        # The embedder is saturated, or earlier lookups are stuck in the store: do not queue behind them.
        dense = self._keywords is None or not (self._full >= FULL_SLOTS or self._stuck)
        if not dense and self._inline is not None and not self._stuck:
            return self._keywords_inline(self._inline, owner, text, messages, conversation, started)
        partial = Partial()
        future = self.pool().submit(self._lookup, owner, text, deadline, dense, partial,
                                    recall.embedding_query(messages))
        if dense:
            self._count(future, "_full")
        waiting = asyncio.wrap_future(future)
        waiting.add_done_callback(_retrieved)
        full_by = min(deadline, started + self.dense_wait) if self._keywords is not None and dense else deadline
        try:
            # Timers on the loop give the lookup up; never a wait on a thread. Past `full_by` the keyword
            # ranking answers if it is in (the full one, finishing, still serves this call's later turns).
            done, _ = await asyncio.wait({waiting}, timeout=_left(full_by))
            if not done and partial.hits is None:  # whichever comes first now: the keyword ranking or the full
                ready = partial.notify(asyncio.get_running_loop())
                either: set[asyncio.Future[Any]] = {waiting, ready}
                await asyncio.wait(either, timeout=_left(deadline), return_when=asyncio.FIRST_COMPLETED)
                ready.cancel()
                done = {waiting} if waiting.done() else set()
            if done:
                hits, status = waiting.result(), partial.status
            elif partial.hits is not None:
                future.add_done_callback(functools.partial(self._late, owner, text, conversation, partial))
                hits, status = partial.hits, "keywords_late"
            else:
                raise TimeoutError
        except (TimeoutError, Expired, asyncio.CancelledError) as exc:
            if not future.cancel():  # a queued lookup never starts; a running one stops at its next step
                self._count_stuck(future)
            if isinstance(exc, asyncio.CancelledError):
                raise
            return Recall("", 0, "timeout", _ms(started))
        except Exception as exc:  # noqa: BLE001 - memory must never break the reply: forward unenriched
            log.warning("proxy recall failed", extra={"error": exc.__class__.__name__})
            return Recall("", 0, "error", _ms(started))
        if hits is None:
            return Recall("", 0, "new_caller", _ms(started))
        if status == "ok":  # a full (embedding + keywords) ranking: good for the same turn again, and later ones
            self._remember(owner, text, conversation, hits)
        else:
            hits = self._with_earlier(hits, conversation)
        return self._result(hits, messages, started, status)

    def _keywords_inline(self, keywords: KeywordEngine, owner: str, text: str, messages: Sequence[Any],
                         conversation: tuple[str, str], started: float) -> Recall:
        """A keyword-only turn, on the event loop (only for a `probe_inline` store, and never while a lookup is
        stuck in it: then turns go through the pool, whose deadline can give them up)."""
        try:
            profile = self.store.caller(owner)
            if profile is None or profile.memory_count == 0:
                return Recall("", 0, "new_caller", _ms(started))
            hits = _kept(keywords.recall_keywords(owner, text, limit=CANDIDATES), owner, KEYWORD_MIN_SCORE)
        except Exception as exc:  # noqa: BLE001 - memory must never break the reply: forward unenriched
            log.warning("proxy recall failed", extra={"error": exc.__class__.__name__})
            return Recall("", 0, "error", _ms(started))
        return self._result(self._with_earlier(hits, conversation), messages, started, "keywords")

    def _lookup(self, owner: str, text: str, deadline: float, dense: bool, partial: Partial,
                embed: str) -> Hits | None:
        """On a recall thread, one hop from the loop: the profile read, then the keyword ranking, left in
        `partial` for the loop (which takes it if the deadline comes first), then the full ranking with the
        vector of `embed` (the query with less context): embedded here by the engine's query model if it has
        one, else started in its batcher before the keyword ranking and waited for after it."""
        checkpoint = _checkpoint(deadline)
        checkpoint()
        profile = self.store.caller(owner)  # one primary-key read: skips the embedding for new callers
        if profile is None or profile.memory_count == 0:
            return None
        pending: Future[Any] | None = None
        vector: Callable[[], Any] | None = None
        if dense and self._keywords is not None:
            if self._query_embedder is not None:
                vector = _embedded(self._query_embedder, embed, checkpoint)
            else:  # `prepare` never blocks; None when the engine embeds inside `recall`
                pending = self.engine.prepare(embed)
                vector = None if pending is None else _awaited(pending, deadline)
        try:
            if self._keywords is not None and vector is not None:
                # One keyword search for both rankings: the keyword one goes to `partial` while the
                # embedding finishes, then the full one is ranked with its vector.
                hits = self._keywords.recall_staged(
                    owner, text, limit=CANDIDATES, vector=vector, checkpoint=checkpoint,
                    on_keywords=lambda found: partial.found(_kept(found, owner, KEYWORD_MIN_SCORE)))
            elif self._keywords is not None and not dense:
                partial.found(_kept(self._keywords.recall_keywords(owner, text, limit=CANDIDATES,
                                                                   checkpoint=checkpoint), owner, KEYWORD_MIN_SCORE))
                partial.status = "keywords"
                return partial.hits
            else:
                hits = self.engine.recall(owner, text, limit=CANDIDATES, type=None, checkpoint=checkpoint)
            partial.status = "ok"
            return _kept(hits, owner)
        finally:
            if pending is not None:
                pending.cancel()  # still queued in the batcher (given up): it never reaches the model

    def _remember(self, owner: str, text: str, conversation: tuple[str, str], hits: Hits) -> None:
        now = time.monotonic()
        with self._lock:  # also called from a recall thread (`_late`)
            _put(self._recent, (owner, text), (now + REPEAT_SECS, hits))
            _put(self._conversations, conversation, (now + CONVERSATION_SECS, hits))

    def _late(self, owner: str, text: str, conversation: tuple[str, str], partial: Partial,
              future: Future[Hits | None]) -> None:
        """A full ranking that finished after its turn went on with keywords: kept for the call's next turns."""
        if not future.cancelled() and future.exception() is None and partial.status == "ok":
            hits = future.result()
            if hits is not None:
                self._remember(owner, text, conversation, hits)

    def _with_earlier(self, found: Hits, conversation: tuple[str, str]) -> Hits:
        """Keyword hits, then what full rankings found for this conversation's earlier turns: the topic of a
        call moves slowly, and the model no longer sees what was injected before (it is not in the history)."""
        entry = self._conversations.get(conversation)
        if entry is None or entry[0] < time.monotonic():
            return found
        seen = {text for _, text in found}
        return [*found, *(hit for hit in entry[1] if hit[1] not in seen)]

    def _repeat(self, owner: str, text: str, now: float) -> Hits | None:
        entry = self._recent.get((owner, text))
        if entry is None or entry[0] < now:
            return None  # an expired entry is dropped when the cache is full (the oldest goes first)
        return entry[1]

    @staticmethod
    def _result(hits: Hits, messages: Sequence[Any], started: float, status: str) -> Recall:
        known = recall.context_words(messages)
        fresh = [(created, text) for created, text in hits if not recall.already_known(text, known)]
        block = recall.block(fresh)
        injected = block.count("\n- ") if block else 0
        return Recall(block, injected, status if injected else "none", _ms(started))

    def _count_stuck(self, future: Future[Any]) -> None:
        self._count(future, "_stuck")

    def _count(self, future: Future[Any], counter: str) -> None:
        """`counter` + 1 until `future` is done (at once if it has just finished)."""
        with self._lock:
            setattr(self, counter, getattr(self, counter) + 1)

        def returned(_: Future[Any]) -> None:
            with self._lock:
                setattr(self, counter, getattr(self, counter) - 1)

        future.add_done_callback(returned)


class Partial:
    """What a lookup has found so far, read by the loop when the wait for the full ranking is over."""

    def __init__(self) -> None:
        self.hits: Hits | None = None  # the keyword ranking, once done
        self.status = "ok"
        self._ready: tuple[asyncio.AbstractEventLoop, asyncio.Future[None]] | None = None
        self._lock = threading.Lock()

    def notify(self, loop: asyncio.AbstractEventLoop) -> asyncio.Future[None]:
        """A future on `loop` resolved when the keyword ranking is in (at once if it already is). Only asked
        for past the wait for the full ranking: before, the lookup wakes the loop once, when it returns."""
        ready: asyncio.Future[None] = loop.create_future()
        with self._lock:
            if self.hits is None:
                self._ready = (loop, ready)
                return ready
        ready.set_result(None)
        return ready

    def found(self, hits: Hits) -> None:
        """On the recall thread."""
        with self._lock:
            self.hits = hits
            waiter = self._ready
        if waiter is not None:
            waiter[0].call_soon_threadsafe(_resolve, waiter[1])


def _resolve(ready: asyncio.Future[None]) -> None:
    if not ready.done():
        ready.set_result(None)


def _kept(hits: list[MemoryHit], owner: str, floor: float = MIN_SCORE) -> Hits:
    return [(hit.memory.created_at, hit.memory.text) for hit in hits
            if hit.memory.caller_id == owner and hit.score >= floor]


def _retrieved(waiting: asyncio.Future[Any]) -> None:
    """Marks the outcome of a lookup nobody awaited any more as seen (no "never retrieved" warnings)."""
    if not waiting.cancelled():
        waiting.exception()


def _awaited(pending: Future[Any], deadline: float) -> Callable[[], Any]:
    """The vector the batcher is computing, waited for until `deadline`."""
    def vector() -> Any:
        try:
            return pending.result(timeout=_left(deadline))
        except FutureTimeout:
            raise Expired from None

    return vector


def _embedded(embedder: Embedder, text: str, checkpoint: Callable[[], None]) -> Callable[[], Any]:
    """The vector computed here, on the recall thread, when asked for: once the keyword ranking is in `partial`,
    which it does not delay."""
    def vector() -> Any:
        checkpoint()
        return embedder.embed([text])[0]

    return vector


def _left(deadline: float) -> float:
    return max(0.0, deadline - time.monotonic())


def _checkpoint(deadline: float) -> Callable[[], None]:
    def checkpoint() -> None:
        if time.monotonic() >= deadline:
            raise Expired

    return checkpoint


def _conversation_id(messages: Sequence[Any]) -> str:
    """This call, as far as its history tells: its first two non-system messages (the greeting and the caller's
    first words), which ElevenLabs resends unchanged every turn. Two calls of one caller that begin with the
    same words share earlier hits: they are that caller's own memories either way."""
    opening = [recall.text_of(m.get("content")) for m in messages
               if isinstance(m, dict) and m.get("role") in ("user", "assistant")][:2]
    return hashlib.blake2b("\x1f".join(opening).encode(), digest_size=12).hexdigest()


def _put(cache: dict[Any, Any], key: Any, value: Any) -> None:
    cache.pop(key, None)
    if len(cache) >= CACHE_ENTRIES:
        del cache[next(iter(cache))]  # the oldest
    cache[key] = value


def _ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 2)
