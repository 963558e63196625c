"""Fusion: weights, priors, pins and recency, on plain ids and memories."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentic_memory.domain.models import Memory
from agentic_memory.domain.ranking import (
    FusionWeights,
    answer_shape,
    coverage,
    fuse,
    lean,
    pinned,
    prior,
    query_terms,
    slot_terms,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def memory(mid: str, *, type: str = "semantic", category: str = "transcript", slot: str | None = None) -> Memory:
    return Memory(id=mid, caller_id="+14155550123", type=type, text="x", conversation_id="c", agent_id="a",
                  created_at=T0, category=category, slot=slot)


def test_query_terms_drop_stopwords_and_duplicates_in_order():
    assert query_terms("What did I order last time? The ORDER number, please") == ["order", "number"]


def test_keyword_evidence_outweighs_equal_dense_evidence():
    ranked = fuse([("a", 0.5), ("b", 0.5)], [("b", 3.0)], {})
    assert [m for m, _ in ranked] == ["b", "a"]


def test_recency_breaks_ties_newest_first():
    created = {"old": T0, "new": T0 + timedelta(days=1)}
    ranked = fuse([("old", 0.5), ("new", 0.5)], [], created)
    assert [m for m, _ in ranked] == ["new", "old"]


def test_summaries_carry_a_lower_prior_than_turns_and_facts():
    summary = memory("s", type="factual", category="summary")
    assert prior(summary) == FusionWeights().summary < 1
    assert prior(memory("t")) == prior(memory("f", type="factual", category="preference")) == 1
    ranked = fuse([("s", 0.6), ("t", 0.5)], [], {}, priors={"s": prior(summary), "t": 1.0})
    assert [m for m, _ in ranked] == ["t", "s"]


def test_a_current_fact_whose_slot_the_query_names_is_pinned_first():
    fact = memory("f", type="factual", category="preference", slot="preference:milk")
    assert pinned(fact, query_terms("what milk do I take in my latte?"))
    assert pinned(memory("o", type="factual", slot="identifier:order"), ["orders"])
    assert not pinned(fact, query_terms("what did I order?"))
    assert not pinned(memory("t", slot=None), ["milk"])
    tenant = memory("n", type="factual", category="data", slot="data:tenant_name")
    assert pinned(tenant, query_terms("what's the tenant's name?"))
    assert not pinned(tenant, query_terms("what's the dog's name?"))
    assert not pinned(tenant, query_terms("when does the tenant move out?"))
    ranked = fuse([("t", 0.9), ("f", 0.1)], [("t", 5.0)], {}, pins=["f"])
    assert [m for m, _ in ranked] == ["f", "t"]


def test_pins_and_priors_never_add_ids_that_were_not_candidates():
    assert fuse([("a", 0.5)], [], {}, priors={"zzz": 2.0}, pins=["zzz"]) == [("a", 0.4 * 0.5)]


cosines = st.lists(st.tuples(st.sampled_from("abcdefgh"), st.floats(-1, 1)), max_size=8, unique_by=lambda x: x[0])
bm25s = st.lists(st.tuples(st.sampled_from("abcdefgh"), st.floats(0.01, 50)), max_size=8, unique_by=lambda x: x[0])


@given(dense=cosines, keyword=bm25s)
def test_fusion_ranks_each_candidate_once_best_first(dense, keyword):
    ranked = fuse(dense, keyword, {})
    ids = [m for m, _ in ranked]
    assert len(ids) == len(set(ids))
    assert set(ids) == {m for m, _ in (*dense, *keyword)}
    assert all(x[1] >= y[1] for x, y in itertools.pairwise(ranked))


def test_coverage_counts_query_words_found_in_the_texts() -> None:
    assert coverage(["pump", "storm"], ["The sump pumps quit during the storms."]) == 1.0
    assert coverage(["basement", "flood"], ["The sump pump quit."]) == 0.0
    assert coverage(["pump", "basement"], ["The sump pump quit."]) == 0.5
    assert coverage([], ["anything"]) == 0.0


def test_a_query_whose_words_are_missing_leans_on_the_dense_side() -> None:
    weights = FusionWeights(dense=0.4, keyword=0.6, lean=2.0)
    assert lean(weights, 1.0) == weights
    none = lean(weights, 0.0)
    assert (none.dense, none.keyword) == (1.0, 0.0)
    half = lean(weights, 0.5)
    assert abs(half.dense + half.keyword - 1.0) < 1e-9
    assert half.keyword < 0.6


def test_evaluation_rationales_and_summaries_rank_below_equal_evidence() -> None:
    assert prior(memory("e", type="factual", category="evaluation")) < 1.0
    assert prior(memory("s", type="factual", category="summary")) < 1.0
    assert prior(memory("p", type="factual", category="preference")) == prior(memory("t")) == 1.0


def test_a_standing_when_or_where_question_asks_for_its_slot_without_naming_it() -> None:
    slot_time = memory("t", type="factual", category="preference", slot="preference:appointment time")
    slot_call = memory("c", type="factual", category="contact", slot="contact:time")
    slot_address = memory("a", type="factual", category="contact", slot="contact:address")

    def pins(query: str) -> set[str]:
        return {m.id for m in (slot_time, slot_call, slot_address) if pinned(m, slot_terms(query, query_terms(query)))}

    assert pins("When can he drop the van off?") == {"t"}  # "time" alone is a stopword: never pinned
    assert pins("when is the best time to send someone?") == {"t"}
    assert pins("Where should the parcels go now?") == {"a"}
    assert pins("What's the address of the house they're buying?") == {"a"}
    assert pins("When did she last call?") == set()  # history, not a standing arrangement
    assert pins("When is the closing?") == set()  # a date, not a standing arrangement
    assert pins("Where did they go on holiday?") == set()


@given(st.text(max_size=80))
def test_slot_terms_only_ever_add_to_the_query_terms(query: str) -> None:
    terms = query_terms(query)
    extended = slot_terms(query, terms)
    assert extended[:len(terms)] == terms
    assert set(extended) - set(terms) <= {"appointment", "time", "address"}


def test_possessives_search_their_noun() -> None:
    assert query_terms("What's the dog's name?") == ["dog", "name"]


@pytest.mark.parametrize(("query", "holds", "lacks"), [
    ("When can she bring him in?", "Saturday mornings work", "she loves the vet"),
    ("¿Cuándo vacunan a su mamá?", "el sábado 30 a las 10:00", "gracias"),
    ("What day is the boiler service?", "I can do Thursday the 16th at 4", "the service takes an hour"),
    ("How heavy was the puppy at the check-up?", "she was 12 pounds on the 3rd", "a spaniel mix"),
    ("How much does the repair kit cost?", "the kit is 40 dollars", "the kit has washers"),
    ("How long does the visit take?", "it takes 20 minutes", "a free visit"),
    ("What time does the flight leave?", "départ à 7 h 05", "le vol est direct"),
])
def test_a_question_asking_for_a_date_weight_price_or_duration_knows_its_answers_shape(
        query: str, holds: str, lacks: str) -> None:
    shape = answer_shape(query)
    assert shape is not None
    assert shape(holds)
    assert not shape(lacks)


@pytest.mark.parametrize("query", [
    "What's the dog's name?", "How would the clinic like a warning when a supply is ending?",  # "when" joins
    "Why was the stock in trouble?",
])
def test_other_questions_expect_no_answer_shape(query: str) -> None:
    assert answer_shape(query) is None


@given(st.text(max_size=120))
def test_answer_shape_never_raises(query: str) -> None:
    shape = answer_shape(query)
    if shape is not None:
        assert shape(query) in (True, False)
