"""The optional LLM extractor against a fake chat-completions API on 127.0.0.1: fixed, malformed and slow answers."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from agentic_memory.adapters.llm_extractor import MAX_FACTS, LlmFactExtractor
from agentic_memory.bootstrap import build, local_engine
from agentic_memory.domain.facts import RuleFactExtractor
from agentic_memory.domain.models import Conversation, DataPoint, Fact, Turn
from agentic_memory.elevenlabs import builders
from agentic_memory.errors import ConfigurationError
from agentic_memory.ports import Job
from agentic_memory.services.process_call import WorkerDeps, process_job
from agentic_memory.testing import FixedClock, HashEmbedder, InMemoryBlobStore, InMemoryMemoryStore
from tests.conftest import make_settings
from tests.fakes.llm_api import API_KEY, FakeLlm, serve

SECRET_WORDS = "sump pump quit during the storm"  # caller's words: must never reach a log line
RULES = RuleFactExtractor()


def call(*said: str, data: tuple[DataPoint, ...] = (),
         summary: str = "Caller asked about a flooded basement.") -> Conversation:
    turns = [Turn(index=0, role="agent", text="Thanks for calling, how can I help?")]
    turns += [Turn(index=i + 1, role="user", text=text) for i, text in enumerate(said)]
    return Conversation(conversation_id="conv_llm_1", agent_id="agent_1", caller_id="+14155550100",
                        started_at=datetime(2026, 1, 14, 12, 0, tzinfo=UTC), turns=tuple(turns),
                        summary=summary, data=data)


CALL = call(f"Hi, Dana Whitfield here, my {SECRET_WORDS}.", "My order number is ORD-88231.",
            "Please text me from now on, I'll come by next Tuesday.")

ANSWER = {
    "caller_name": {"first_name": "Dana", "full_name": "Dana Whitfield"},
    "facts": [
        {"kind": "fact", "text": "Caller's sump pump quit during the storm.", "slot": "fact:basement", "turn": 1},
        {"kind": "contact", "text": "Caller prefers text messages.", "slot": "contact:channel", "turn": 3},
        {"kind": "plan", "text": "Caller will come by next Tuesday.", "slot": None, "turn": 99},
        {"kind": "preference", "text": "Caller likes mornings.", "slot": "Not A Slot!", "turn": None},
        {"kind": "fact", "text": "   ", "slot": None, "turn": None},
    ],
}


OPEN: list[LlmFactExtractor] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while OPEN:
        OPEN.pop().close()


def extractor(fake: FakeLlm, timeout: float = 5.0, *, url: str = "", key: str = API_KEY) -> LlmFactExtractor:
    OPEN.append(LlmFactExtractor(url or fake.url, "fake-model", key, fallback=RULES, timeout_secs=timeout))
    return OPEN[-1]


def test_a_fixed_answer_becomes_facts_beside_the_rules_analysis_and_identifiers():
    with serve(FakeLlm(answer=ANSWER)) as fake:
        llm = extractor(fake)
        facts = llm.extract(CALL)
    by_text = {f.text: f for f in facts}
    assert by_text["Caller name: Dana Whitfield"] == Fact("Caller name: Dana Whitfield", "data", "data:caller_name")
    assert by_text["Caller's sump pump quit during the storm."] == Fact(
        "Caller's sump pump quit during the storm.", "fact", "fact:basement", 1)
    assert by_text["Caller prefers text messages."].slot == "contact:channel"
    # Relative dates are pinned to the call's date; a turn that does not exist and a made-up slot are dropped.
    planned = next(f for f in facts if f.text.startswith("Caller will come by next Tuesday"))
    assert planned.text == "Caller will come by next Tuesday (Tue 20 Jan 2026)."
    assert planned.turn_index is None
    assert by_text["Caller likes mornings."].slot is None
    assert not any(f.text.strip() == "" for f in facts)
    # The summary and identifiers still come from the rules; the rules' caller-turn facts do not.
    rule_facts = RULES.extract(CALL)
    kept = [f for f in rule_facts if f.category in ("summary", "identifier")]
    assert kept
    assert all(f in facts for f in kept)
    assert not [f for f in rule_facts if f.category == "contact" and f in facts]
    assert llm.failures == 0


def test_the_request_is_a_json_schema_chat_completion_with_the_key_and_the_call_date():
    with serve(FakeLlm(answer=ANSWER)) as fake:
        extractor(fake).extract(CALL)
    ((path, headers, body),) = fake.requests
    assert path == "/v1/chat/completions"
    assert headers["Authorization"] == f"Bearer {API_KEY}"
    assert body["model"] == "fake-model"
    fmt = body["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["strict"] is True
    schema = fmt["json_schema"]["schema"]
    assert set(schema["required"]) == {"caller_name", "facts"}
    assert set(schema["properties"]["facts"]["items"]["required"]) == {"kind", "text", "slot", "turn"}
    user = body["messages"][-1]["content"]
    assert "Call date: 2026-01-14" in user
    assert "1 caller: Hi, Dana Whitfield here" in user
    assert "0 agent: Thanks for calling" in user


def test_the_prompt_names_every_fixed_slot_the_rules_give_contact_facts():
    # A slot the prompt does not name comes back under another name, and then never supersedes (or is
    # superseded by) the same fact the rules stored on a call where the LLM was down.
    said = call("Please text me from now on.", "Call me in the morning after nine.",
                "The new address is 58 Elm Hill Road in Springfield.")
    slots = {f.slot for f in RULES.extract(said) if f.category == "contact"}
    assert slots == {"contact:channel", "contact:time", "contact:address"}
    with serve(FakeLlm(answer=ANSWER)) as fake:
        extractor(fake).extract(said)
    system = fake.requests[0][2]["messages"][0]["content"]
    assert all(f'"{slot}"' in system for slot in slots)
    assert "fact:<topic>\" (pharmacy" in system  # the address is no longer offered as a `fact:` topic


def test_without_a_key_no_authorization_header_is_sent():
    with serve(FakeLlm(answer=ANSWER)) as fake:
        extractor(fake, url=fake.url + "/", key="").extract(CALL)
    assert "Authorization" not in fake.requests[0][1]


@pytest.mark.parametrize(("mode", "reason"), [
    ("not-json", "malformed answer"), ("wrong-shape", "malformed answer"), ("no-choices", "malformed answer"),
    ("error", "HTTP 500"),
])
def test_an_unusable_answer_falls_back_to_the_rules_and_logs_why_without_the_callers_words(mode, reason, caplog):
    caplog.set_level(logging.WARNING)
    with serve(FakeLlm(mode=mode)) as fake:
        llm = extractor(fake)
        facts = llm.extract(CALL)
    assert facts == RULES.extract(CALL)
    assert llm.failures == 1
    (record,) = [r for r in caplog.records if r.name.endswith("llm_extractor")]
    message = record.getMessage()
    assert reason in message
    assert "conv_llm_1" in message
    assert SECRET_WORDS not in caplog.text
    assert "oat milk" not in caplog.text
    assert "Dana" not in caplog.text


def test_a_slow_answer_times_out_and_the_rules_answer_in_bounded_time(caplog):
    caplog.set_level(logging.WARNING)
    with serve(FakeLlm(mode="slow", answer=ANSWER, delay_secs=2.0)) as fake:
        started = time.monotonic()
        facts = extractor(fake, timeout=0.3).extract(CALL)
        elapsed = time.monotonic() - started
    assert facts == RULES.extract(CALL)
    assert elapsed < 1.5
    assert "timeout" in caplog.text
    assert SECRET_WORDS not in caplog.text


def test_an_unreachable_endpoint_falls_back(caplog):
    caplog.set_level(logging.WARNING)
    with serve() as fake:
        url = fake.url
    facts = extractor(fake, 2, url=url).extract(CALL)  # the server is gone
    assert facts == RULES.extract(CALL)
    assert "request failed" in caplog.text


def test_a_fact_without_a_known_kind_rejects_the_whole_answer():
    bad = {"caller_name": None, "facts": [{"kind": "gossip", "text": "x", "slot": None, "turn": None}]}
    with serve(FakeLlm(answer=bad)) as fake:
        llm = extractor(fake)
        assert llm.extract(CALL) == RULES.extract(CALL)
    assert llm.failures == 1


def test_a_runaway_answer_is_capped_and_an_absent_or_odd_name_is_no_memory():
    many = {"caller_name": {"first_name": None, "full_name": "x" * 200},
            "facts": [{"kind": "fact", "text": f"Caller owns boat {i}.", "slot": None, "turn": None}
                      for i in range(MAX_FACTS + 10)]}
    with serve(FakeLlm(answer=many)) as fake:
        facts = extractor(fake).extract(CALL)
    assert len([f for f in facts if f.text.startswith("Caller owns boat")]) == MAX_FACTS
    assert not [f for f in facts if f.slot == "data:caller_name"]


def test_a_call_where_the_caller_said_nothing_asks_no_llm():
    silent = Conversation(conversation_id="c", agent_id="a", caller_id="+14155550100",
                          started_at=datetime(2026, 1, 14, tzinfo=UTC),
                          turns=(Turn(index=0, role="agent", text="Hello?"),), summary="No answer.")
    with serve(FakeLlm(answer=ANSWER)) as fake:
        assert extractor(fake).extract(silent) == RULES.extract(silent)
    assert fake.requests == []


def test_long_transcripts_keep_their_end():
    long_call = call(*(["filler words " * 40] * 60), "My name is spelled S-T-E-F-A-N.")
    with serve(FakeLlm(answer=ANSWER)) as fake:
        extractor(fake).extract(long_call)
    user = fake.requests[0][2]["messages"][-1]["content"]
    assert "S-T-E-F-A-N" in user
    assert user.startswith("Call date:")
    assert len(user) < 25_000


# -- chosen in bootstrap.py only -------------------------------------------------------------------------

def _deps(tmp_path, **overrides):
    return build(make_settings(tmp_path / "data", **overrides), embedder=HashEmbedder(), with_worker=False)


def test_the_default_is_the_rules(tmp_path):
    deps = _deps(tmp_path)
    try:
        assert isinstance(deps.worker_deps().extractor, RuleFactExtractor)
    finally:
        deps.close()


def test_url_and_model_select_the_llm_extractor(tmp_path):
    with serve(FakeLlm(answer=ANSWER)) as fake:
        deps = _deps(tmp_path, llm_url=fake.url + "/", llm_model="fake-model", llm_api_key=API_KEY,
                     llm_timeout_secs=3)
        try:
            chosen = deps.worker_deps().extractor
            assert isinstance(chosen, LlmFactExtractor)
            assert chosen.endpoint == f"{fake.url}/chat/completions"
            assert any(f.slot == "data:caller_name" for f in chosen.extract(CALL))
        finally:
            deps.close()
    assert fake.requests[0][1]["Authorization"] == f"Bearer {API_KEY}"


@pytest.mark.parametrize("overrides", [{"llm_url": "http://127.0.0.1:9/v1"}, {"llm_model": "m"}])
def test_half_a_configuration_is_refused(tmp_path, overrides):
    deps = _deps(tmp_path, **overrides)
    try:
        with pytest.raises(ConfigurationError, match="AGENTIC_MEMORY_LLM_URL and AGENTIC_MEMORY_LLM_MODEL"):
            deps.worker_deps()
    finally:
        deps.close()


def test_a_url_that_is_not_http_is_refused(tmp_path):
    with pytest.raises(ValueError, match="AGENTIC_MEMORY_LLM_URL"):
        make_settings(tmp_path, llm_url="localhost:8000/v1", llm_model="m")


# -- through the worker path ------------------------------------------------------------------------------

def test_the_worker_stores_the_llm_facts_and_a_newer_slot_supersedes_the_older(caplog):
    store = InMemoryMemoryStore()
    first = {"caller_name": {"first_name": "Marco", "full_name": None},
             "facts": [{"kind": "fact", "text": "Caller uses the pharmacy on Main Street.",
                        "slot": "fact:pharmacy", "turn": 0}]}
    with serve(FakeLlm(answer=first)) as fake:
        deps = WorkerDeps(store=store, blobs=InMemoryBlobStore(), engine=local_engine(store, HashEmbedder()),
                          extractor=extractor(fake), clock=FixedClock())
        process_job(_job("c1", "hi it's marco, I get my pills on Main Street"), deps)
        fake.answer = {"caller_name": {"first_name": None, "full_name": None},
                       "facts": [{"kind": "fact", "text": "Caller now uses the pharmacy on Oak Avenue.",
                                  "slot": "fact:pharmacy", "turn": 0}]}
        process_job(_job("c2", "I switched to the one on Oak Avenue"), deps)
        fake.mode = "error"
        caplog.set_level(logging.WARNING)
        process_job(_job("c3", "Please text me from now on."), deps)  # the LLM is down: the rules answer
    active = sorted(m.text for m, _ in store.load_call("unseen", WORKER_CALLER).active_facts)
    # The newer pharmacy superseded the older one; the third call's fact came from the rules.
    assert active == ["Caller name: Marco", "Caller now uses the pharmacy on Oak Avenue.",
                      "Caller wants to be texted from now on."]
    assert "HTTP 500" in caplog.text
    assert "Oak Avenue" not in caplog.text


def test_an_address_from_the_llm_replaces_the_one_the_rules_stored_in_the_same_slot():
    store = InMemoryMemoryStore()
    moved = {"caller_name": {"first_name": None, "full_name": None},
             "facts": [{"kind": "contact", "text": "Caller's address is now 41 Elm Court in Springfield.",
                        "slot": "contact:address", "turn": 0}]}
    with serve(FakeLlm(mode="error", answer=moved)) as fake:
        deps = WorkerDeps(store=store, blobs=InMemoryBlobStore(), engine=local_engine(store, HashEmbedder()),
                          extractor=extractor(fake), clock=FixedClock())
        process_job(_job("c1", "It's 58 Elm Hill Road in Springfield."), deps)  # the LLM is down: the rules
        fake.mode = "fixed"
        process_job(_job("c2", "We moved, it's 41 Elm Court in Springfield now."), deps)
    active = [(m.text, m.slot) for m, _ in store.load_call("unseen", WORKER_CALLER).active_facts]
    assert active == [("Caller's address is now 41 Elm Court in Springfield.", "contact:address")]


WORKER_CALLER = "+16129782029"


def _job(cid: str, said: str) -> Job:
    payload = builders.transcription(conversation_id=cid, caller=WORKER_CALLER, turns=[("user", said)],
                                     start_time=1767225600 + int(cid[1:]) * 86400)
    return Job(id=int(cid[1:]), event_type="post_call_transcription", conversation_id=cid,
               body=json.dumps(payload).encode(), attempts=1,
               received_at=datetime.fromtimestamp(1767225600 + int(cid[1:]) * 86400, UTC))
