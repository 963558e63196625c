"""Mem0MemoryEngine against the fake Mem0 API: at-most-once adds, pending events, isolation, erasure."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import pytest

from agentic_memory.adapters.mem0 import sdk
from agentic_memory.adapters.mem0.cloud import Mem0Cloud
from agentic_memory.adapters.mem0.engine import Mem0MemoryEngine
from agentic_memory.domain.models import Conversation, Memory, Turn
from agentic_memory.errors import EngineUnavailable
from agentic_memory.testing import InMemoryBlobStore
from tests.fakes.mem0_api import API_KEY, FakeMem0, serve

ALICE, BOB = "+14155550111", "+14155550122"
T0 = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
ADD = ("POST", "/v3/memories/add/")


@pytest.fixture
def fake() -> Iterator[FakeMem0]:
    with serve() as running:
        yield running


@pytest.fixture
def blobs() -> InMemoryBlobStore:
    return InMemoryBlobStore()


def make_engine(fake: FakeMem0, blobs: InMemoryBlobStore, tmp_path: Path, **options: object) -> Mem0MemoryEngine:
    cloud = Mem0Cloud(partial(sdk.connect, api_key=API_KEY, host=fake.url, data_dir=tmp_path / "data",
                              timeout_secs=2.0))
    return Mem0MemoryEngine(cloud, blobs, sleep=lambda _: None, **options)  # type: ignore[arg-type]  # options: loose kwargs of the test


@pytest.fixture
def engine(fake: FakeMem0, blobs: InMemoryBlobStore, tmp_path: Path) -> Iterator[Mem0MemoryEngine]:
    built = make_engine(fake, blobs, tmp_path)
    yield built
    built.cloud.close()


def call(cid: str, caller: str, *, at: datetime = T0) -> Conversation:
    return Conversation(conversation_id=cid, agent_id="agent_1", caller_id=caller, started_at=at,
                        turns=(Turn(0, "agent", "Hello, how can I help?"),
                               Turn(1, "user", "My order number is A-48213 and I take oat milk.")))


def fact(mid: str, caller: str, text: str, *, slot: str | None = None, at: datetime = T0,
         cid: str = "conv_1") -> Memory:
    return Memory(id=mid, caller_id=caller, type="factual", text=text, conversation_id=cid, agent_id="agent_1",
                  created_at=at, category="preference", slot=slot)


def chunk(mid: str, caller: str, text: str, *, cid: str = "conv_1") -> Memory:
    return Memory(id=mid, caller_id=caller, type="semantic", text=text, conversation_id=cid, agent_id="agent_1",
                  created_at=T0, category="transcript", turn_start=0, turn_end=1)


def test_write_then_recall_maps_back_to_our_shape(engine):
    memories = [fact("mem_a", ALICE, "Takes oat milk", slot="preference:milk"),
                chunk("mem_b", ALICE, "Caller: My order number is A-48213")]
    assert engine.write(call("conv_1", ALICE), memories) == 2
    hits = engine.recall(ALICE, "order number", limit=5, type=None)
    assert [h.memory.text for h in hits] == ["Caller: My order number is A-48213"]
    memory = hits[0].memory
    assert (memory.caller_id, memory.type, memory.conversation_id, memory.agent_id) == (
        ALICE, "semantic", "conv_1", "agent_1")
    assert memory.created_at == T0
    assert (memory.turn_start, memory.turn_end) == (0, 1)
    assert [h.memory.text for h in engine.recall(ALICE, "oat milk", limit=5, type="factual")] == ["Takes oat milk"]
    assert engine.recall(ALICE, "oat milk", limit=5, type="semantic") == []


def test_a_retried_job_polls_its_events_instead_of_adding_again(fake, blobs, tmp_path):
    fake.pending_polls = 1000  # Mem0 is slow today: every event stays PENDING
    engine = make_engine(fake, blobs, tmp_path, poll_attempts=3)
    memories = [fact("mem_a", ALICE, "Takes oat milk"), fact("mem_c", ALICE, "Lives in Leeds")]
    with pytest.raises(EngineUnavailable):
        engine.write(call("conv_1", ALICE), memories)
    assert engine.recall(ALICE, "oat milk", limit=5, type=None) == []  # not searchable yet, and we know it
    with pytest.raises(EngineUnavailable):
        engine.write(call("conv_1", ALICE), memories)  # the worker's retry
    assert fake.count(*ADD) == 2
    fake.settle_all()
    assert engine.write(call("conv_1", ALICE), memories) == 0
    assert fake.count(*ADD) == 2
    assert [h.memory.text for h in engine.recall(ALICE, "oat milk", limit=5, type=None)] == ["Takes oat milk"]
    engine.cloud.close()


def test_an_outage_mid_call_resumes_where_it_stopped(engine, fake):
    memories = [fact(f"mem_{i}", ALICE, f"fact number {i}") for i in range(4)]
    fake.fail_next = [None, None, 429]  # the SDK's ping, the first add, then a rate limit
    with pytest.raises(EngineUnavailable):
        engine.write(call("conv_1", ALICE), memories)
    assert engine.write(call("conv_1", ALICE), memories) == 3
    assert fake.count(*ADD) == 5  # 1 + the refused one + 3: nothing added twice
    assert len(list(fake.memories)) == 4


def test_a_failed_event_is_added_again_on_retry(engine, fake):
    fake.fail_events = True
    with pytest.raises(EngineUnavailable):
        engine.write(call("conv_1", ALICE), [fact("mem_a", ALICE, "Takes oat milk")])
    fake.fail_events = False
    assert engine.write(call("conv_1", ALICE), [fact("mem_a", ALICE, "Takes oat milk")]) == 1
    assert [m["memory"] for m in fake.memories.values()] == ["Takes oat milk"]


def test_a_leaked_memory_of_another_user_is_dropped(engine, fake):
    engine.write(call("conv_b", BOB), [fact("mem_b", BOB, "Bob takes almond milk", cid="conv_b")])
    engine.write(call("conv_a", ALICE), [fact("mem_a", ALICE, "Alice takes oat milk", cid="conv_a")])
    fake.leak = True
    hits = engine.recall(ALICE, "milk", limit=10, type=None)
    assert [h.memory.caller_id for h in hits] == [ALICE]
    assert fake.count("POST", "/v3/memories/search/") == 1


def test_newest_fact_in_a_slot_wins_and_superseded_ones_are_deleted(engine, fake):
    old = fact("mem_old", ALICE, "Takes oat milk", slot="preference:milk", cid="conv_1")
    engine.write(call("conv_1", ALICE), [old])
    # A second call while the first's fact is still visible: both are in Mem0 for a moment.
    new = fact("mem_new", ALICE, "Takes soy milk", slot="preference:milk", at=T0 + timedelta(days=1), cid="conv_2")
    fake.seed(user_id=ALICE, text="Takes soy milk", metadata={"type": "factual", "slot": "preference:milk",
                                                              "timestamp": new.created_at.isoformat()})
    assert [h.memory.text for h in engine.recall(ALICE, "milk", limit=5, type=None)] == ["Takes soy milk"]
    current = engine.facts(ALICE)
    stale = [m.id for m in current if m.text == "Takes oat milk"]
    engine.write(call("conv_2", ALICE, at=new.created_at), [], superseded=stale)
    engine.write(call("conv_2", ALICE, at=new.created_at), [], superseded=stale)  # retried: delete is idempotent
    assert [m.text for m in engine.facts(ALICE)] == ["Takes soy milk"]
    assert [h["event"] for h in engine.cloud.history(stale[0])] == ["ADD", "DELETE"]


def test_infer_mode_sends_the_turns_once(fake, blobs, tmp_path):
    engine = make_engine(fake, blobs, tmp_path, infer=True)
    assert engine.write(call("conv_1", ALICE), [fact("mem_a", ALICE, "ignored in infer mode")]) == 1
    assert engine.write(call("conv_1", ALICE), []) == 0
    assert [m["memory"] for m in fake.memories.values()] == ["My order number is A-48213 and I take oat milk."]
    assert [h.memory.type for h in engine.recall(ALICE, "order number", limit=3, type="factual")] == ["factual"]
    engine.cloud.close()


def test_forget_erases_only_that_caller(engine):
    engine.write(call("conv_a", ALICE), [fact("mem_a", ALICE, "Alice takes oat milk", cid="conv_a")])
    engine.write(call("conv_b", BOB), [fact("mem_b", BOB, "Bob takes almond milk", cid="conv_b")])
    engine.forget(ALICE)
    assert engine.facts(ALICE) == []
    assert [m.text for m in engine.facts(BOB)] == ["Bob takes almond milk"]


def test_an_owner_key_scoped_per_agent_is_mem0s_agent_id(engine, fake):
    sales, support = f"{ALICE}|sales", f"{ALICE}|support"
    engine.write(call("conv_s", sales), [fact("mem_s", sales, "Alice takes oat milk", cid="conv_s")])
    engine.write(call("conv_p", support), [fact("mem_p", support, "Alice wants a refund", cid="conv_p")])
    assert sorted((m["user_id"], m["agent_id"]) for m in fake.memories.values()) == [
        (ALICE, "sales"), (ALICE, "support")]
    hits = engine.recall(sales, "milk refund", limit=5, type=None)
    assert [(h.memory.text, h.memory.caller_id) for h in hits] == [("Alice takes oat milk", sales)]
    assert engine.recall(ALICE, "milk refund", limit=5, type=None) == []  # unscoped: neither agent's
    fake.leak = True  # Mem0 returns the other agent's memory of the same user: still dropped
    assert [h.memory.caller_id for h in engine.recall(support, "milk refund", limit=5, type=None)] == [support]
    engine.forget(sales)
    assert [m["agent_id"] for m in fake.memories.values()] == ["support"]
