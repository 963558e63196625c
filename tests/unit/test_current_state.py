"""Questions about the present rank the newest call's word on a topic first; questions about the past do not.

The local engine on real SQLite with the hash embedder: the keyword side carries the topic, the call order
decides between an old and a new value."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agentic_memory.adapters.local_engine import LocalMemoryEngine
from agentic_memory.bootstrap import Deps, build
from agentic_memory.domain.facts import RuleFactExtractor
from agentic_memory.domain.models import Conversation, Memory, Turn
from agentic_memory.domain.ranking import FusionWeights, asks_now, call_recency
from agentic_memory.services.process_call import WorkerDeps, process_transcription
from agentic_memory.testing import FixedClock, HashEmbedder
from tests.conftest import make_settings

CALLER = "+14155550111"
T0 = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


@pytest.fixture
def deps(tmp_path: Path) -> Iterator[Deps]:
    built = build(make_settings(tmp_path / "data"), embedder=HashEmbedder(), with_worker=False)
    yield built
    built.close()


def remember(deps: Deps, cid: str, line: str, day: int) -> None:
    turns = (Turn(0, "agent", "Pharmacy, how can I help?", 0.0), Turn(1, "user", line, 4.0))
    conversation = Conversation(conversation_id=cid, agent_id="agent_1", caller_id=CALLER,
                                started_at=T0 + timedelta(days=day), turns=turns)
    process_transcription(conversation, b"{}", WorkerDeps(store=deps.store, blobs=deps.blobs, engine=deps.engine,
                                                          extractor=RuleFactExtractor(), clock=FixedClock()))


def first(engine: LocalMemoryEngine, query: str) -> str:
    return engine.recall(CALLER, query, limit=5, type=None)[0].memory.text


def test_a_question_about_now_ranks_the_newest_calls_value_first(deps: Deps) -> None:
    remember(deps, "c_old", "Deliveries go to Oak Street; deliveries to the back door.", 0)
    for day, line in enumerate(["My cat is doing better.", "The refill was late.", "I paid by card.",
                                "Thanks for the help.", "My doctor changed.", "The label was wrong."], start=5):
        remember(deps, f"c_{day}", line, day)  # other calls: the topic's words are rare, as in real life
    remember(deps, "c_new", "Deliveries go to Elm Court.", 20)
    plain = LocalMemoryEngine(deps.store, deps.embedder, weights=FusionWeights(current=0.0))
    engine = LocalMemoryEngine(deps.store, deps.embedder)
    assert "Oak" in first(plain, "Where should my deliveries go now?")  # the stronger keyword match alone
    assert "Elm" in first(engine, "Where should my deliveries go now?")
    assert "Oak" in first(engine, "Where did the deliveries go in January?")  # the past: no preference


@pytest.mark.parametrize(("query", "now"), [
    ("Where should her deliveries go?", True),
    ("What's his current address?", True),
    ("When can she bring the cat in?", True),
    ("¿Cuál es su dirección actual?", True),
    ("What did the vet say?", False),
    ("Where was the old address?", False),
    ("What's the dog's name?", False),  # no word about the present: ranked as usual
    ("Where did they live before they moved to the new place?", False),
])
def test_asks_now(query: str, now: bool) -> None:
    assert asks_now(query) is now


def test_call_recency_ranks_calls_oldest_to_newest() -> None:
    def m(mid: str, cid: str, day: int) -> Memory:
        return Memory(id=mid, caller_id=CALLER, type="semantic", text="x", conversation_id=cid, agent_id="a",
                      created_at=T0 + timedelta(days=day))

    ranks = call_recency([m("a", "c2", 5), m("b", "c1", 1), m("c", "c3", 9), m("d", "c2", 6)])
    assert ranks == {"a": 0.5, "b": 0.0, "c": 1.0, "d": 0.5}
    assert call_recency([m("a", "c1", 0)]) == {"a": 0.0}
    assert call_recency([]) == {}


def test_a_changed_standing_arrangement_replaces_the_old_one_for_a_question_in_other_words(deps: Deps) -> None:
    remember(deps, "c_old", "I work days, so it has to be a weekday evening, after six.", 0)
    remember(deps, "c_new", "Evenings are out now. The only time I can do now is Saturday mornings.", 30)
    engine = LocalMemoryEngine(deps.store, deps.embedder)
    hits = engine.recall(CALLER, "When can he drop the van off?", limit=5, type=None)
    assert hits[0].memory.text == "Caller can only do Saturday mornings now."
    assert hits[0].memory.slot == "preference:appointment time"
    assert not [h for h in hits if h.memory.type == "factual" and "weekday evening" in h.memory.text]  # superseded


def test_a_question_asking_for_a_weight_lifts_the_turn_that_holds_one(deps: Deps) -> None:
    remember(deps, "c_1", "The puppy had her check-up and she was 12 pounds.", 0)
    remember(deps, "c_2", "The puppy had her check-up and she was very calm.", 1)
    boosted = LocalMemoryEngine(deps.store, deps.embedder, weights=FusionWeights(answer=5.0))
    for limit in (1, 5):
        hits = boosted.explain(CALLER, "How heavy was the puppy at the check-up?", limit=limit, type=None)
        assert "12 pounds" in hits[0].memory.text
        assert hits[0].parts.prior == 6.0
