"""Build realistic ElevenLabs webhook bodies (for the demo, tests and benchmarks), as ElevenLabs sends them."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

AGENT_ID = "agent_01jxk8q3v9f2m7n4p6r8s0t2w4"
AGENT_NUMBER = "+14155550100"


def _turn(role: str, message: str | None, offset: int) -> dict[str, Any]:
    return {"role": role, "message": message, "tool_calls": [], "tool_results": [], "feedback": None,
            "time_in_call_secs": offset, "conversation_turn_metrics": None, "interrupted": False,
            "original_message": None, "source_medium": "audio" if role == "user" else None}


def transcription(*, conversation_id: str, caller: str | None, turns: Sequence[tuple[str, str]],
                  start_time: int, summary: str = "", data: dict[str, str] | None = None,
                  language: str = "en", agent_id: str = AGENT_ID, agent_name: str = "Front Desk (memory)",
                  user_id: str | None = None, evaluations: dict[str, tuple[str, str]] | None = None,
                  title: str = "") -> dict[str, Any]:
    """A `post_call_transcription` envelope. `caller=None` makes it a web call (`phone_call: null`)."""
    transcript = [_turn("agent" if role in ("agent", "assistant") else "user", text, 5 * i)
                  for i, (role, text) in enumerate(turns)]
    phone_call = None if caller is None else {
        "type": "twilio", "direction": "inbound", "phone_number_id": "phnum_01jxk7zz0000000000000000",
        "agent_number": AGENT_NUMBER, "external_number": caller,
        "call_sid": "CA" + conversation_id[-32:].rjust(32, "0"),
        "stream_sid": "MZ" + conversation_id[-32:].rjust(32, "0")}
    dynamic = {"system__conversation_id": conversation_id, "system__agent_id": agent_id}
    if caller:
        dynamic["system__caller_id"] = caller
    return {"type": "post_call_transcription", "event_timestamp": start_time + 5 * len(turns) + 10, "data": {
        "agent_id": agent_id, "agent_name": agent_name, "conversation_id": conversation_id, "status": "done",
        "user_id": user_id, "branch_id": None, "version_id": None, "environment": "production",
        "has_audio": True, "has_user_audio": True, "has_response_audio": True, "has_auxiliary_audio": False,
        "user_message_count": sum(1 for t in transcript if t["role"] == "user"),
        "agent_message_count": sum(1 for t in transcript if t["role"] == "agent"),
        "transcript": transcript,
        "metadata": {"start_time_unix_secs": start_time, "accepted_time_unix_secs": start_time,
                     "call_duration_secs": 5 * len(turns), "cost": 100, "phone_call": phone_call,
                     "batch_call": None, "termination_reason": "end_call tool was called.", "error": None,
                     "main_language": language, "text_only": False,
                     "conversation_initiation_source": "twilio" if caller else "widget"},
        "analysis": {
            "evaluation_criteria_results": {k: {"criteria_id": k, "result": r, "rationale": why}
                                            for k, (r, why) in (evaluations or {}).items()},
            "data_collection_results": {k: {"data_collection_id": k, "value": v, "rationale": ""}
                                        for k, v in (data or {}).items()},
            "call_successful": "success", "transcript_summary": summary, "call_summary_title": title},
        "conversation_initiation_client_data": {"conversation_config_override": {"agent": {"language": language}},
                                                "user_id": user_id, "dynamic_variables": dynamic},
    }}


def audio(*, conversation_id: str, mp3: bytes, agent_id: str = AGENT_ID, timestamp: int = 1767225760) -> dict[str, Any]:
    return {"type": "post_call_audio", "event_timestamp": timestamp, "data": {
        "agent_id": agent_id, "conversation_id": conversation_id,
        "full_audio": base64.b64encode(mp3).decode()}}


def seed(*, conversation_id: str, caller: str, turns: Sequence[tuple[str, str]], summary: str = "") -> dict[str, Any]:
    """The original AgenticMemory's flat format."""
    return {"conversation_id": conversation_id, "agent_id": AGENT_ID,
            "transcript": [{"role": "assistant" if r == "agent" else r, "content": t} for r, t in turns],
            "analysis": {"summary": summary}, "metadata": {"phone_call": {"external_number": caller}}}


# A few bytes that start like a real MP3 (ID3 header + a frame sync), for tests and the demo.
FAKE_MP3 = base64.b64decode("SUQzBAAAAAAAI1RTU0UAAAAPAAADTGF2ZjYwLjMuMTAwAAAAAAAAAAAAAAD/+0DAAAAAAAAAAAAAAAAAAAAAAAA=")
