"""One suite for the MemoryEngine port, run on the local engine (real SQLite) and on Mem0 Cloud (the fake
Mem0 API over HTTP). Calls go in through the worker service, memories come out through `recall`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agentic_memory.adapters.embeddings.batching import BatchingEmbedder
from agentic_memory.adapters.local_engine import LocalMemoryEngine
from agentic_memory.bootstrap import Deps, build
from agentic_memory.domain.facts import RuleFactExtractor
from agentic_memory.domain.models import Conversation, Turn
from agentic_memory.ports import MemoryEngine
from agentic_memory.services.process_call import WorkerDeps, process_transcription
from agentic_memory.testing import FixedClock, HashEmbedder
from tests.conftest import make_settings
from tests.fakes.mem0_api import API_KEY, FakeMem0, serve

ALICE, BOB = "+14155550111", "+14155550122"
T0 = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


@pytest.fixture(params=["local", "mem0"])
def deps(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Deps]:
    if request.param == "local":
        built = build(make_settings(tmp_path / "data"), embedder=HashEmbedder(), with_worker=False)
        yield built
        built.close()
        return
    with serve(FakeMem0(pending_polls=1)) as fake:
        settings = make_settings(tmp_path / "data", memory_engine="mem0", mem0_api_key=API_KEY,
                                 mem0_host=fake.url, mem0_timeout_secs=5.0)
        built = build(settings, with_worker=False)
        built.engine.sleep = lambda _: None  # type: ignore[attr-defined]  # poll again at once
        yield built
        built.close()


def remember(deps: Deps, cid: str, caller: str, lines: list[str], *, day: int = 0) -> str:
    turns = tuple(Turn(i, "user" if i % 2 else "agent", text, 5.0 * i)
                  for i, text in enumerate(["Hello, how can I help?", *lines]))
    conversation = Conversation(conversation_id=cid, agent_id="agent_1", caller_id=caller,
                                started_at=T0.replace(day=5 + day), turns=turns)
    worker = WorkerDeps(store=deps.store, blobs=deps.blobs, engine=deps.engine, extractor=RuleFactExtractor(),
                        clock=FixedClock())
    return process_transcription(conversation, b"{}", worker)


def texts(engine: MemoryEngine, caller: str, query: str, **options: object) -> list[str]:
    hits = engine.recall(caller, query, limit=int(options.get("limit", 10)),  # type: ignore[call-overload]  # options: loose test kwargs
                         type=options.get("type"))  # type: ignore[arg-type]  # a MemoryType or None
    assert all(h.memory.caller_id == caller for h in hits)
    return [h.memory.text for h in hits]


def test_remembered_facts_and_chunks_come_back_in_our_shape(deps):
    remember(deps, "conv_a1", ALICE, ["My order number is A-48213.", "I prefer oat milk."])
    hits = deps.engine.recall(ALICE, "order number", limit=10, type=None)
    assert hits, "nothing recalled"
    assert any("A-48213" in h.memory.text for h in hits)
    for hit in hits:
        assert hit.memory.caller_id == ALICE
        assert hit.memory.conversation_id == "conv_a1"
        assert hit.memory.agent_id == "agent_1"
        assert hit.memory.type in ("factual", "semantic")
        assert hit.memory.created_at.tzinfo is not None
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)


def test_type_filter_and_limit_are_honoured(deps):
    remember(deps, "conv_a1", ALICE, ["My order number is A-48213.", "I prefer oat milk.",
                                      "My email is alice@example.com."])
    factual = deps.engine.recall(ALICE, "order number milk email", limit=10, type="factual")
    semantic = deps.engine.recall(ALICE, "order number milk email", limit=10, type="semantic")
    assert factual
    assert all(h.memory.type == "factual" for h in factual)
    assert semantic
    assert all(h.memory.type == "semantic" for h in semantic)
    assert len(deps.engine.recall(ALICE, "order number milk email", limit=1, type=None)) == 1


def test_a_caller_never_recalls_another_callers_memories(deps):
    remember(deps, "conv_a1", ALICE, ["My order number is A-48213 and I prefer oat milk."])
    remember(deps, "conv_b1", BOB, ["My order number is Z-99999 and I prefer almond milk."])
    for query in ("order number", "milk", "Z-99999", "A-48213"):
        assert not any("Z-99999" in t or "almond" in t for t in texts(deps.engine, ALICE, query))
        assert not any("A-48213" in t or "oat" in t for t in texts(deps.engine, BOB, query))
    assert texts(deps.engine, "+14155550199", "order number") == []


def test_the_newest_fact_in_a_slot_wins(deps):
    remember(deps, "conv_a1", ALICE, ["I prefer oat milk."], day=0)
    remember(deps, "conv_a2", ALICE, ["I prefer soy milk."], day=1)
    facts = texts(deps.engine, ALICE, "milk", type="factual")
    assert any("soy" in t for t in facts)
    assert not any("oat" in t for t in facts)
    assert deps.store.caller(ALICE).top_facts[0].lower().count("soy") == 1  # the profile agrees


def test_processing_a_call_again_stores_nothing_twice(deps):
    first = remember(deps, "conv_a1", ALICE, ["My order number is A-48213."])
    assert remember(deps, "conv_a1", ALICE, ["My order number is A-48213."]) == "already processed"
    assert first != "already processed"
    hits = texts(deps.engine, ALICE, "order number A-48213", limit=50)
    assert len(hits) == len(set(hits))


def test_ping(deps):
    deps.engine.ping()


def test_a_prepared_query_recalls_what_an_unprepared_one_does(deps):
    remember(deps, "conv_a1", ALICE, ["My order number is A-48213.", "I prefer oat milk."])
    local = deps.settings.memory_engine == "local"
    if local:
        deps.engine.embedder = BatchingEmbedder(HashEmbedder())  # type: ignore[attr-defined]  # the local engine's
    pending = deps.engine.prepare("order number")  # never blocks; Mem0 has nothing to start
    vector = None if pending is None else pending.result(10)
    assert (pending is None) == (not local)
    prepared = deps.engine.recall(ALICE, "order number", limit=10, type=None, vector=vector)
    assert [h.memory.text for h in prepared] == texts(deps.engine, ALICE, "order number")


def test_a_staged_recall_ranks_as_the_keyword_and_the_full_recall_do(deps):
    """The proxy's turn: one keyword search serves the keyword ranking (handed over first) and the full one."""
    if deps.settings.memory_engine != "local":  # Mem0 ranks on its side: the proxy calls its plain recall
        assert not hasattr(deps.engine, "recall_staged")
        return
    remember(deps, "conv_a1", ALICE, ["My order number is A-48213.", "I prefer oat milk.", "My dentist is Dr. Lee."])
    engine = deps.engine
    assert isinstance(engine, LocalMemoryEngine)
    vector = engine.embedder.embed(["which milk do I take"])[0]
    first: list[list[str]] = []
    staged = engine.recall_staged(ALICE, "which milk do I take", limit=10, vector=lambda: vector,
                                  on_keywords=lambda hits: first.append([h.memory.text for h in hits]))
    full = engine.recall(ALICE, "which milk do I take", limit=10, type=None, vector=vector)
    keywords = engine.recall_keywords(ALICE, "which milk do I take", limit=10)
    assert [(h.memory.id, h.score) for h in staged] == [(h.memory.id, h.score) for h in full]
    assert first == [[h.memory.text for h in keywords]]
    assert "oat" in first[0][0]
    nothing: list[list[str]] = []
    assert engine.recall_staged(BOB, "which milk", limit=10, vector=lambda: vector,
                                on_keywords=nothing.append) == []
    assert nothing == [[]]  # a caller with no memories: an empty keyword ranking, then nothing
