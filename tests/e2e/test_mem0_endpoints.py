"""The three endpoints with AGENTIC_MEMORY_MEMORY_ENGINE=mem0: signed webhooks in, names and greetings from
our profile, facts out of /retrieve from Mem0 (the fake Mem0 API over HTTP on 127.0.0.1)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from agentic_memory.adapters.mem0.breaker import Breaker
from agentic_memory.bootstrap import Deps
from agentic_memory.elevenlabs import builders
from agentic_memory.http.schemas import RetrieveResponse
from agentic_memory.testing import FixedClock
from tests.conftest import auth, built_deps, drain, make_settings, post_signed
from tests.e2e.test_endpoints import (
    test_audio_before_transcript_is_linked_to_the_caller,
    test_authentication_comes_before_any_parsing,
    test_call_initiation_failures_are_stored,
    test_client_data_accepts_bearer_and_rejects_missing_or_wrong_keys,
    test_health_needs_no_auth_and_reports_the_queue,
    test_new_caller_gets_a_neutral_greeting_and_all_variables,
    test_post_call_answers_503_when_storage_fails_so_elevenlabs_retries,
    test_post_call_example_is_acked_stored_once_and_processed,
    test_post_call_rejects_bad_signatures_and_bad_json,
    test_retrieve_finds_only_the_callers_own_memories,
    test_retrieve_validates_input,
    test_withheld_caller_ids_get_a_neutral_200_and_malformed_requests_a_400,
)
from tests.fakes.mem0_api import API_KEY, FakeMem0, serve

# The e2e endpoint suite, collected here again: with this module's `deps`, `client` and `worker` it runs
# on the Mem0 engine (the tests that build their own local server are not repeated).
MEM0_RUNS_OF_THE_ENDPOINT_SUITE = (
    test_audio_before_transcript_is_linked_to_the_caller, test_authentication_comes_before_any_parsing,
    test_call_initiation_failures_are_stored, test_client_data_accepts_bearer_and_rejects_missing_or_wrong_keys,
    test_withheld_caller_ids_get_a_neutral_200_and_malformed_requests_a_400,
    test_health_needs_no_auth_and_reports_the_queue,
    test_new_caller_gets_a_neutral_greeting_and_all_variables,
    test_post_call_answers_503_when_storage_fails_so_elevenlabs_retries,
    test_post_call_example_is_acked_stored_once_and_processed, test_post_call_rejects_bad_signatures_and_bad_json,
    test_retrieve_finds_only_the_callers_own_memories, test_retrieve_validates_input)

ALICE, BOB = "+14155550111", "+14155550122"
ADD = ("POST", "/v3/memories/add/")


@pytest.fixture
def fake() -> Iterator[FakeMem0]:
    with serve(FakeMem0(pending_polls=1)) as running:
        yield running


@pytest.fixture
def deps(fake: FakeMem0, tmp_path: Path) -> Iterator[Deps]:
    """The real SQLite store, queue and files; memories in Mem0 (the fake, over HTTP)."""
    settings = make_settings(tmp_path / "data", memory_engine="mem0", mem0_api_key=API_KEY, mem0_host=fake.url,
                             mem0_timeout_secs=1.0)
    with built_deps(settings, clock=FixedClock(datetime.now(UTC))) as built:
        built.engine.sleep = lambda _: None  # type: ignore[attr-defined]  # poll Mem0's events again at once
        # Failure tests below inject many failures in a row: the breaker has its own test.
        built.engine.cloud.breaker = Breaker(threshold=1000)  # type: ignore[attr-defined]  # the Mem0 engine
        yield built


def call(client: TestClient, cid: str, caller: str, lines: list[str], *, ago: int = 100) -> None:
    turns = [("agent", "Hello, how can I help?")] + [("user", line) for line in lines]
    payload = builders.transcription(conversation_id=cid, caller=caller, turns=turns,
                                     start_time=int(time.time()) - ago, summary="A short call.")
    assert post_signed(client, payload).status_code == 200


def retrieve(client: TestClient, caller: str, query: str, **extra: object) -> list[dict[str, object]]:
    response = client.post("/retrieve", json={"query": query, "user_id": caller, **extra}, headers=auth())
    assert response.status_code == 200, response.text
    return list(response.json()["memories"])


def test_no_model_is_loaded_and_nothing_is_called_before_first_use(deps, fake):
    assert deps.embedder is None
    assert fake.requests == []


def test_a_returning_caller_is_greeted_by_name_and_their_facts_come_from_mem0(client, worker, fake):
    call(client, "conv_alice_1", ALICE, ["Hi, my name is Maya.", "My order number is A-48213 and I prefer oat milk."])
    assert drain(worker) == 1
    assert fake.count(*ADD) >= 2  # facts and chunks went to Mem0...
    card = client.post("/client-data", json={"caller_id": ALICE}, headers=auth()).json()
    assert card["dynamic_variables"]["caller_name"] == "Maya"  # ...the name stayed ours
    assert card["dynamic_variables"]["returning_caller"] == "yes"
    assert card["conversation_config_override"]["agent"]["first_message"].startswith("Hello Maya")
    memories = retrieve(client, "415-555-0111", "what is my order number")
    assert any("A-48213" in str(m["memory"]) for m in memories[:5])
    RetrieveResponse.model_validate({"memories": memories})
    top = memories[0]
    assert set(top) == {"id", "memory", "user_id", "score", "metadata", "created_at"}
    assert top["user_id"] == ALICE
    assert top["metadata"]["conversation_id"] == "conv_alice_1"  # type: ignore[index]  # JSON
    factual = retrieve(client, ALICE, "milk", type="factual", limit=1)
    assert len(factual) == 1
    assert factual[0]["metadata"]["type"] == "factual"  # type: ignore[index]  # JSON


def test_a_leaked_foreign_memory_never_reaches_the_caller(client, worker, fake):
    call(client, "conv_alice_1", ALICE, ["My order number is A-48213."])
    call(client, "conv_bob_1", BOB, ["My order number is Z-99999."])
    drain(worker)
    fake.leak = True
    memories = retrieve(client, ALICE, "order number")
    assert memories
    assert all(m["user_id"] == ALICE for m in memories)
    assert not any("Z-99999" in str(m["memory"]) for m in memories)


def test_retrieve_is_503_while_mem0_is_down_and_client_data_still_answers(client, worker, fake):
    call(client, "conv_alice_1", ALICE, ["Hi, my name is Maya.", "My order number is A-48213."])
    drain(worker)
    for failure in (500, 503, 429, "timeout"):
        fake.fail_next = [failure]
        fake.timeout_secs = 1.5
        response = client.post("/retrieve", json={"query": "order", "user_id": ALICE}, headers=auth())
        assert response.status_code == 503, failure
        assert "error" in response.json()
        fake.fail_next = [503] * 3
        card = client.post("/client-data", json={"caller_id": ALICE}, headers=auth())
        assert card.status_code == 200
        assert card.json()["dynamic_variables"]["caller_name"] == "Maya"
        fake.fail_next = []
    assert retrieve(client, ALICE, "order number")


def test_a_hanging_mem0_costs_a_few_timeouts_then_retrieve_fails_fast(client, deps, worker, fake):
    call(client, "conv_alice_1", ALICE, ["Hi, my name is Maya.", "My order number is A-48213."])
    drain(worker)
    now = [0.0]
    deps.engine.cloud.breaker = Breaker(threshold=3, cooldown_secs=30, clock=lambda: now[0])  # type: ignore[attr-defined]  # Mem0
    fake.timeout_secs = 2.0  # longer than the client's 1 s timeout: Mem0 hangs
    fake.fail_next = ["timeout"] * 20
    for _ in range(3):
        assert client.post("/retrieve", json={"query": "order", "user_id": ALICE}, headers=auth()).status_code == 503
    served = len(fake.requests)
    started = time.perf_counter()
    for _ in range(5):
        assert client.post("/retrieve", json={"query": "order", "user_id": ALICE}, headers=auth()).status_code == 503
    assert time.perf_counter() - started < 1.0  # no request waited for Mem0
    assert len(fake.requests) == served
    assert client.post("/client-data", json={"caller_id": ALICE}, headers=auth()).status_code == 200
    fake.fail_next = []
    now[0] += 31  # the cooldown is over: the next call tries Mem0 again, and it is back
    assert retrieve(client, ALICE, "order number")


def test_the_worker_retries_mem0_errors_without_adding_twice(client, deps, fake):
    worker = deps.make_worker()
    call(client, "conv_alice_1", ALICE, ["My order number is A-48213 and I prefer oat milk.",
                                         "My email is maya@example.com."])
    fake.fail_next = [None, None, None, 429]  # ping, get_all, the first add, then a rate limit
    assert drain(worker) == 1
    assert client.get("/health").json()["queue"]["pending"] == 1  # queued again with backoff
    adds_before = fake.count(*ADD)
    fake.pending_polls = 1000  # Mem0 takes its time: the job must not pretend it is done
    deps.clock.advance(3600)  # type: ignore[attr-defined]  # the fake clock  # past the backoff
    assert worker.run_once()
    assert client.get("/health").json()["queue"]["pending"] == 1
    fake.settle_all()
    deps.clock.advance(3600)  # type: ignore[attr-defined]  # the fake clock
    assert worker.run_once()
    assert client.get("/health").json()["queue"]["pending"] == 0
    texts = [m["memory"] for m in fake.memories.values()]
    assert len(texts) == len(set(texts))  # every memory once, though three runs sent adds
    assert fake.count(*ADD) - adds_before == len(texts) - 1  # the first add was never repeated
    assert retrieve(client, ALICE, "email")


@settings(max_examples=12, deadline=None, derandomize=True, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(owners=st.lists(st.integers(0, 11), min_size=1, max_size=10), leak=st.booleans(),
       asker=st.integers(0, 11), kind=st.sampled_from([None, "factual", "semantic"]), limit=st.integers(1, 50))
def test_isolation_over_many_callers(client, worker, fake, owners, leak, asker, kind, limit):
    callers = [f"+1415555{n:04d}" for n in range(200, 212)]
    fake.leak = False
    for i, owner in enumerate(owners):
        cid = f"conv_{len(fake.events)}_{i}"
        call(client, cid, callers[owner], [f"My order number is ORD-{owner:02d}-{i} and I prefer oat milk."])
    drain(worker)
    fake.leak = leak
    body = {"query": "order number milk", "user_id": callers[asker], "limit": limit}
    if kind:
        body["type"] = kind
    response = client.post("/retrieve", json=body, headers=auth())
    assert response.status_code == 200
    memories = response.json()["memories"]
    assert len(memories) <= limit
    for memory in memories:
        assert memory["user_id"] == callers[asker]
        assert not any(f"ORD-{other:02d}-" in memory["memory"] for other in set(owners) if other != asker)
        assert kind is None or memory["metadata"]["type"] == kind


def test_erasing_a_caller_erases_their_memories_in_mem0_too(client, worker, deps, fake):
    from agentic_memory.services.erasure import erase_caller

    call(client, "conv_alice_erase", ALICE, ["Hi, my name is Maya.", "My order number is A-48213."])
    call(client, "conv_bob_erase", BOB, ["Hi, my name is Tom.", "I prefer oat milk."])
    assert drain(worker) == 2
    assert any(m["user_id"] == ALICE for m in fake.memories.values())
    receipt = erase_caller(deps.admin_deps(), ALICE, actor="test")
    assert receipt["counts"]["profile"] == 1
    assert [m for m in fake.memories.values() if m["user_id"] == ALICE] == []  # Mem0 holds nothing of hers
    assert any(m["user_id"] == BOB for m in fake.memories.values())  # and still everything of his
    assert retrieve(client, ALICE, "order number") == []
