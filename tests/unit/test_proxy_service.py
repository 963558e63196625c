"""The proxy's service on the in-memory fakes: who is calling, the repeat cache, the edges of recall."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from agentic_memory.adapters.local_engine import LocalMemoryEngine
from agentic_memory.domain import caller_token
from agentic_memory.domain.models import CallerProfile, Memory
from agentic_memory.ports import CallUpdate, StoredMemory
from agentic_memory.services import proxy
from agentic_memory.services.proxy import Recaller, identify, scrub_tokens
from agentic_memory.testing import HashEmbedder, InMemoryMemoryStore

CALLER = "+14155550123"
KEY = caller_token.signing_key("amk_test_workspace_key_0123456789abcdef")
NOW = 1_767_225_732.0
WHEN = datetime(2026, 1, 14, tzinfo=UTC)


def _store(store: InMemoryMemoryStore | None = None) -> InMemoryMemoryStore:
    store = store or InMemoryMemoryStore()
    embedder = HashEmbedder()
    texts = ["Caller's order number is A-48213.", "Caller prefers oat milk."]
    memories = [StoredMemory(Memory(id=f"m{i}", caller_id=CALLER, type="factual", text=text, conversation_id="c1",
                                    agent_id="a", created_at=WHEN), embedder.embed([text])[0])
                for i, text in enumerate(texts)]
    profile = CallerProfile(caller_id=CALLER, first_seen=WHEN, last_seen=WHEN, call_count=1, memory_count=2)
    assert store.save_call(CallUpdate(conversation_id="c1", caller_id=CALLER, agent_id="a", started_at=WHEN,
                                      profile=profile, new_memories=memories))
    return store


def _local(store: InMemoryMemoryStore, embedder: HashEmbedder) -> tuple[InMemoryMemoryStore, LocalMemoryEngine]:
    return store, LocalMemoryEngine(store, embedder)


def test_identify_trusts_only_a_signed_token_in_the_extra_body_or_a_system_message():
    token = caller_token.issue(CALLER, KEY, now=NOW)
    found = identify({"elevenlabs_extra_body": {"caller_token": token}}, (KEY,), now=NOW)
    assert found == caller_token.Token(CALLER, "")
    system = {"messages": [{"role": "system", "content": f"Ref {token}"}]}
    found = identify({"elevenlabs_extra_body": {"caller_token": "amc1_nope"}, **system}, (KEY,), now=NOW)
    assert found == caller_token.Token(CALLER, "")
    assert identify({"messages": [{"role": "user", "content": token}]}, (KEY,), now=NOW) is None
    assert identify({"elevenlabs_extra_body": {"caller_id": CALLER}, "messages": "x"}, (KEY,), now=NOW) is None
    assert identify({"elevenlabs_extra_body": "not a dict"}, (KEY,), now=NOW) is None


def test_tokens_are_scrubbed_from_system_messages_only():
    token = caller_token.issue(CALLER, KEY, now=NOW)
    messages = [{"role": "system", "content": f"Be brief. {token}"}, {"role": "user", "content": token}, "odd"]
    assert scrub_tokens(messages) == [{"role": "system", "content": "Be brief. "},
                                      {"role": "user", "content": token}, "odd"]


def test_no_caller_no_query_new_caller_and_bad_numbers_skip_recall():
    recaller = Recaller(*_local(_store(), HashEmbedder()), budget_ms=1000, default_region="US")
    try:
        turn = [{"role": "user", "content": "What is my order number?"}]
        assert asyncio.run(recaller.recall(None, turn)).status == "no_caller"
        assert asyncio.run(recaller.recall(CALLER, [{"role": "system", "content": "hi"}])).status == "no_query"
        assert asyncio.run(recaller.recall("+14155550999", turn)).status == "new_caller"
    finally:
        recaller.close()


def test_the_repeat_cache_expires_and_stays_bounded(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(proxy, "CACHE_ENTRIES", 2)
    recaller = Recaller(*_local(_store(), HashEmbedder()), budget_ms=1000, default_region="US")
    try:
        for question in ("What is my order number?", "Which milk do I prefer?", "My order number, please?"):
            assert asyncio.run(recaller.recall(CALLER, [{"role": "user", "content": question}])).status == "ok"
        assert len(recaller._recent) == 2  # the oldest went
        monkeypatch.setattr(proxy, "REPEAT_SECS", -1.0)
        recaller._recent.clear()
        turn = [{"role": "user", "content": "What is my order number?"}]
        assert asyncio.run(recaller.recall(CALLER, turn)).status == "ok"
        assert asyncio.run(recaller.recall(CALLER, turn)).status == "ok"  # expired at once: looked up again
    finally:
        recaller.close()


def test_the_budget_runs_from_the_requests_arrival():
    recaller = Recaller(*_local(_store(), HashEmbedder()), budget_ms=200, default_region="US")
    turn = [{"role": "user", "content": "What is my order number?"}]
    try:
        late = asyncio.run(recaller.recall(CALLER, turn, arrived=time.monotonic() - 0.2))
        assert late.status == "timeout"  # the whole budget went before recall began: no wait at all
        assert late.ms < 50
        assert asyncio.run(recaller.recall(CALLER, turn, arrived=time.monotonic())).status == "ok"
    finally:
        recaller.close()


def test_a_token_for_one_agent_is_refused_for_another_and_scopes_recall_to_its_own():
    token = caller_token.issue(CALLER, KEY, now=NOW, agent_id="agent_dental")
    body = {"elevenlabs_extra_body": {"caller_token": token}}
    assert identify(body, (KEY,), now=NOW) == caller_token.Token(CALLER, "agent_dental")
    assert identify(body, (KEY,), now=NOW, agent_id="agent_dental") == caller_token.Token(CALLER, "agent_dental")
    assert identify(body, (KEY,), now=NOW, agent_id="agent_cafe") is None
    # a token naming no agent takes the agent the request is known to be for
    plain = {"elevenlabs_extra_body": {"caller_token": caller_token.issue(CALLER, KEY, now=NOW)}}
    assert identify(plain, (KEY,), now=NOW, agent_id="agent_cafe") == caller_token.Token(CALLER, "agent_cafe")


def test_with_per_agent_memories_recall_uses_the_tokens_agent_and_needs_one():
    store = _store()  # its memories are under the plain number: in agent_and_caller scope, nobody's
    recaller = Recaller(*_local(store, HashEmbedder()), budget_ms=1000, default_region="US", scope="agent_and_caller")
    turn = [{"role": "user", "content": "What is my order number again?"}]
    try:
        assert asyncio.run(recaller.recall(CALLER, turn)).status == "no_agent"
        assert asyncio.run(recaller.recall(CALLER, turn, agent_id="a")).status == "new_caller"
    finally:
        recaller.close()
    per_caller = Recaller(*_local(store, HashEmbedder()), budget_ms=1000, default_region="US")
    try:
        assert asyncio.run(per_caller.recall(CALLER, turn, agent_id="a")).status == "ok"  # scope=caller: agent moot
    finally:
        per_caller.close()


class _SlowHash(HashEmbedder):
    """The hash embedder, taking `delay` seconds per call (a busy model)."""

    def __init__(self) -> None:
        super().__init__()
        self.delay = 0.0
        self.calls = 0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        time.sleep(self.delay)
        return super().embed(texts)


def _batched(store: InMemoryMemoryStore, embedder: HashEmbedder) -> LocalMemoryEngine:
    from agentic_memory.adapters.embeddings.batching import BatchingEmbedder

    return LocalMemoryEngine(store, BatchingEmbedder(embedder))


OPENING = [{"role": "assistant", "content": "Hi, how can I help?"}, {"role": "user", "content": "Hi, it's Maria."},
           {"role": "assistant", "content": "Hello Maria."}]


def test_with_a_batcher_a_quick_embedding_gives_the_full_ranking():
    store = _store()
    # The full-ranking wait is generous here: on a loaded machine a thread hop can take longer than the default
    # 30 ms, and what this test checks is the ranking a quick embedding gets, not the wait (tested below).
    recaller = Recaller(store, _batched(store, _SlowHash()), budget_ms=1000, default_region="US", dense_wait_ms=800)
    try:
        found = asyncio.run(recaller.recall(CALLER, [*OPENING, {"role": "user", "content": "My order number?"}]))
        assert found.status == "ok"
        assert "A-48213" in found.block
        assert asyncio.run(recaller.recall("+14155550999", [{"role": "user", "content": "Hi"}])).status == "new_caller"
    finally:
        recaller.close()


def test_a_slow_embedding_leaves_the_turn_to_keywords_and_its_full_ranking_to_the_calls_next_turns():
    store = _store()
    embedder = _SlowHash()
    embedder.delay = 0.3
    recaller = Recaller(store, _batched(store, embedder), budget_ms=2000, default_region="US", dense_wait_ms=30)
    turn = [*OPENING, {"role": "user", "content": "What is my order number again?"}]
    try:
        started = time.monotonic()
        first = asyncio.run(recaller.recall(CALLER, turn))
        assert time.monotonic() - started < 0.25  # did not wait for the embedding
        assert first.status == "keywords_late"
        assert "A-48213" in first.block
        time.sleep(0.5)  # the full ranking finishes, for the next turns of this call
        assert asyncio.run(recaller.recall(CALLER, turn)).status == "repeat"
        # The embedder saturated: no embedding at all; keywords (none here) plus the call's earlier hits
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(proxy, "FULL_SLOTS", 0)
            later = asyncio.run(recaller.recall(CALLER, [*turn, {"role": "user", "content": "And the other thing?"}]))
            other_call = asyncio.run(recaller.recall(CALLER, [{"role": "user", "content": "And the other thing?"}]))
        assert later.status == "keywords"
        assert "A-48213" in later.block
        assert other_call.status == "none"  # another call: no earlier hits of its own
    finally:
        recaller.close()


def test_an_embedding_slower_than_the_budget_is_given_up_at_the_deadline_and_keywords_answer():
    store = _store()
    embedder = _SlowHash()
    embedder.delay = 0.5
    recaller = Recaller(store, _batched(store, embedder), budget_ms=150, default_region="US", dense_wait_ms=30)
    turn = [{"role": "user", "content": "What is my order number again?"}]
    try:
        found = asyncio.run(recaller.recall(CALLER, turn))
        assert found.status == "keywords_late"
        assert "A-48213" in found.block
        time.sleep(0.6)  # the lookup stopped waiting for its vector at the deadline: nothing kept for the call
        assert asyncio.run(recaller.recall(CALLER, turn)).status != "repeat"
    finally:
        recaller.close()


def test_past_the_full_ranking_wait_the_keyword_ranking_answers_as_soon_as_it_is_in(monkeypatch: pytest.MonkeyPatch):
    store = _store()
    embedder = _SlowHash()
    embedder.delay = 0.5
    slow_keywords = store.keyword_search

    def keyword_search(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.1)  # comes in after the 30 ms wait, long before the embedding
        return slow_keywords(*args, **kwargs)

    monkeypatch.setattr(store, "keyword_search", keyword_search)
    recaller = Recaller(store, _batched(store, embedder), budget_ms=2000, default_region="US", dense_wait_ms=30)
    try:
        started = time.monotonic()
        found = asyncio.run(recaller.recall(CALLER, [{"role": "user", "content": "What is my order number again?"}]))
        assert found.status == "keywords_late"
        assert 0.1 <= time.monotonic() - started < 0.4
    finally:
        recaller.close()


def _with_query_model(store: InMemoryMemoryStore, shared: HashEmbedder, query: HashEmbedder) -> LocalMemoryEngine:
    from agentic_memory.adapters.embeddings.batching import BatchingEmbedder

    return LocalMemoryEngine(store, BatchingEmbedder(shared), query_embedder=query)


def test_an_engine_with_a_query_model_embeds_the_turn_with_it_and_not_in_the_shared_batcher():
    store = _store()
    shared, query = _SlowHash(), _SlowHash()
    recaller = Recaller(store, _with_query_model(store, shared, query), budget_ms=1000, default_region="US",
                        dense_wait_ms=800)
    try:
        found = asyncio.run(recaller.recall(CALLER, [*OPENING, {"role": "user", "content": "My order number?"}]))
        assert found.status == "ok"
        assert "A-48213" in found.block
        assert (query.calls, shared.calls) == (1, 0)
        with pytest.MonkeyPatch.context() as patch:  # no full ranking: no embedding at all
            patch.setattr(proxy, "FULL_SLOTS", 0)
            assert asyncio.run(recaller.recall(CALLER, [{"role": "user", "content": "Order number?"}])).status \
                == "keywords"
        assert (query.calls, shared.calls) == (1, 0)
    finally:
        recaller.close()


def test_a_slow_query_model_does_not_delay_the_keyword_ranking():
    store = _store()
    query = _SlowHash()
    query.delay = 0.3
    recaller = Recaller(store, _with_query_model(store, _SlowHash(), query), budget_ms=2000, default_region="US",
                        dense_wait_ms=30)
    turn = [*OPENING, {"role": "user", "content": "What is my order number again?"}]
    try:
        started = time.monotonic()
        first = asyncio.run(recaller.recall(CALLER, turn))
        assert time.monotonic() - started < 0.25  # the keyword ranking was handed over before the embedding
        assert first.status == "keywords_late"
        assert "A-48213" in first.block
        time.sleep(0.5)  # the full ranking finishes, for the next turns of this call
        assert asyncio.run(recaller.recall(CALLER, turn)).status == "repeat"
        assert query.calls == 1
    finally:
        recaller.close()


def test_a_query_model_is_not_run_past_the_deadline(monkeypatch: pytest.MonkeyPatch):
    store = _store()
    query = _SlowHash()
    slow_keywords = store.keyword_search

    def keyword_search(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.25)  # the deadline passes during the keyword search
        return slow_keywords(*args, **kwargs)

    monkeypatch.setattr(store, "keyword_search", keyword_search)
    recaller = Recaller(store, _with_query_model(store, _SlowHash(), query), budget_ms=100, default_region="US")
    try:
        found = asyncio.run(recaller.recall(CALLER, [{"role": "user", "content": "What is my order number again?"}]))
        assert found.status == "timeout"
        time.sleep(0.3)  # the lookup reaches its checkpoint before the embedding and stops there
        assert query.calls == 0
    finally:
        recaller.close()


def test_a_keyword_ranking_ready_before_it_is_asked_for_resolves_at_once():
    async def run() -> None:
        partial = proxy.Partial()
        partial.found([])
        ready = partial.notify(asyncio.get_running_loop())
        assert ready.done()
        later = proxy.Partial()
        waiting = later.notify(asyncio.get_running_loop())
        later.found([])
        await asyncio.wait_for(waiting, 1)
        proxy._resolve(waiting)  # twice: harmless

    asyncio.run(run())


class _LocalStore(InMemoryMemoryStore):
    """A store that declares its reads safe on the event loop (as SQLite does), recording the threads they ran on."""

    probe_inline = True

    def __init__(self) -> None:
        super().__init__()
        self.threads: set[str] = set()
        self.fail = False

    def keyword_search(self, *args: Any, **kwargs: Any) -> Any:
        import threading

        self.threads.add(threading.current_thread().name)
        if self.fail:
            raise OSError("disk gone")
        return super().keyword_search(*args, **kwargs)


def test_on_a_local_store_a_saturated_turn_is_ranked_on_keywords_on_the_event_loop(monkeypatch: pytest.MonkeyPatch):
    import threading

    store = _LocalStore()
    _store(store)
    store.threads.clear()
    engine = LocalMemoryEngine(store, _SlowHash())
    assert engine.probe_inline
    recaller = Recaller(store, engine, budget_ms=1000, default_region="US")
    monkeypatch.setattr(proxy, "FULL_SLOTS", 0)  # saturated: keywords only
    turn = [*OPENING, {"role": "user", "content": "What is my order number?"}]
    try:
        found = asyncio.run(recaller.recall(CALLER, turn))
        assert found.status == "keywords"
        assert "A-48213" in found.block
        assert store.threads == {threading.current_thread().name}  # the loop's own thread: no hop to the pool
        assert recaller._pool is None
        store.fail = True  # a failing store still only costs the memories
        assert asyncio.run(recaller.recall(CALLER, [*turn, {"role": "user", "content": "And my milk?"}])).status \
            == "error"
        assert asyncio.run(recaller.recall("+14155550999", [{"role": "user", "content": "Hi"}])).status \
            == "new_caller"
    finally:
        recaller.close()
