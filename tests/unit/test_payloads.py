"""elevenlabs/payloads.py and signature.py on the edges the end-to-end tests do not reach."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from agentic_memory.elevenlabs import payloads
from agentic_memory.elevenlabs.signature import sign, verify
from agentic_memory.errors import InvalidInput, Unauthorized
from tests.conftest import example

RECEIVED = datetime(2026, 1, 1, tzinfo=UTC)


def conversation(data: dict[str, Any]) -> Any:
    body = json.dumps({"type": payloads.TRANSCRIPTION, "data": {"conversation_id": "conv_1", **data}}).encode()
    return payloads.parse_conversation(payloads.parse_event(body), default_region="US", received_at=RECEIVED)


def test_the_real_example_parses() -> None:
    parsed = payloads.parse_conversation(payloads.parse_event(json.dumps(example("post_call_transcription.json"))
                                                              .encode()), default_region="US", received_at=RECEIVED)
    assert parsed.caller_id == "+14155550123"
    assert parsed.turns
    assert parsed.started_at != RECEIVED


def test_a_start_time_sent_as_a_digit_string_is_read() -> None:
    parsed = conversation({"metadata": {"start_time_unix_secs": "1767225760"}})
    assert parsed.started_at == datetime.fromtimestamp(1767225760, tz=UTC)


def test_unusable_start_times_fall_back_to_the_receipt_time() -> None:
    for value in (True, "soon", -5, 1e12, None):
        assert conversation({"metadata": {"start_time_unix_secs": value}}).started_at == RECEIVED


def test_turns_of_other_roles_and_empty_turns_are_left_out() -> None:
    parsed = conversation({"transcript": [
        {"role": "tool", "message": "lookup(order)"},
        {"role": "user", "message": None},
        {"role": "user", "message": "  Hi, it's Dana  ", "time_in_call_secs": 3},
        {"role": "assistant", "content": "Hello Dana", "time_in_call_secs": True},
        "not a turn",
    ]})
    assert [(t.index, t.role, t.text, t.time_in_call_secs) for t in parsed.turns] == [
        (2, "user", "Hi, it's Dana", 3.0), (3, "agent", "Hello Dana", 0.0)]


def test_analysis_keeps_reasoned_evaluations_and_non_empty_data_points() -> None:
    parsed = conversation({"analysis": {
        "evaluation_criteria_results": {"resolved": {"result": "success", "rationale": "Booked."},
                                        "polite": {"result": "success", "rationale": ""}},
        "evaluation": {"result": "failure"},
        "data_collection_results": {"order": {"value": "A-48213", "rationale": "said twice"},
                                    "empty": {"value": None}, "blank": {"value": "  "},
                                    "items": {"value": {"count": 2}}},
    }})
    assert [(e.criteria_id, e.result, e.rationale) for e in parsed.evaluations] == [("resolved", "success", "Booked.")]
    assert [(d.key, d.value) for d in parsed.data] == [("order", "A-48213"), ("items", '{"count":2}')]


def test_a_seed_style_evaluation_with_a_rationale_is_kept() -> None:
    parsed = conversation({"analysis": {"evaluation": {"result": "success", "rationale": "Caller was helped."}}})
    assert [(e.criteria_id, e.rationale) for e in parsed.evaluations] == [("evaluation", "Caller was helped.")]


def test_audio_must_be_non_empty_base64() -> None:
    def audio(value: Any) -> payloads.Event:
        return payloads.parse_event(json.dumps({"type": payloads.AUDIO,
                                                "data": {"conversation_id": "c", "full_audio": value}}).encode())

    assert payloads.parse_audio(audio(base64.b64encode(b"ID3mp3").decode())) == b"ID3mp3"
    for bad in ("", None, 7):
        with pytest.raises(InvalidInput, match="must be a base64 string"):
            payloads.parse_audio(audio(bad))
    with pytest.raises(InvalidInput, match="not valid base64"):
        payloads.parse_audio(audio("!!"))


def test_a_signature_is_refused_when_no_secret_is_configured() -> None:
    raw = b"{}"
    with pytest.raises(Unauthorized, match="no webhook secret configured"):
        verify(raw, sign(raw, "wsec_anything"), [])


def test_a_payload_without_a_time_of_its_own_is_marked_undated() -> None:
    seed = {"conversation_id": "conv_s", "transcript": [{"role": "user", "content": "Hi"}]}
    parsed = payloads.parse_conversation(payloads.parse_event(json.dumps(seed).encode()), default_region="US",
                                         received_at=RECEIVED)
    assert (parsed.dated, parsed.started_at) == (False, RECEIVED)
    assert conversation({"metadata": {"start_time_unix_secs": 1767225600}}).dated
