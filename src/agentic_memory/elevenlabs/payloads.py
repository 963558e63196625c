"""ElevenLabs request and webhook bodies -> domain objects.

Parsing is lenient about extra and oddly-typed optional fields (ElevenLabs adds fields often) and strict
about what we need: anything unusable raises InvalidInput, never another exception.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from agentic_memory.domain.models import Conversation, DataPoint, Evaluation, Role, Turn
from agentic_memory.domain.phone import normalise_phone
from agentic_memory.errors import InvalidInput

TRANSCRIPTION = "post_call_transcription"
AUDIO = "post_call_audio"
FAILURE = "call_initiation_failure"
EVENT_TYPES = (TRANSCRIPTION, AUDIO, FAILURE)
MAX_DEPTH = 64
MAX_ID_LENGTH = 256


@dataclass(frozen=True, slots=True)
class Event:
    """What the ack path needs to know about a post-call webhook."""

    type: str
    conversation_id: str
    payload: dict[str, Any]


def _check_depth(value: Any, budget: int = MAX_DEPTH) -> None:
    """Raise if containers nest deeper than MAX_DEPTH. Runs on every webhook ack, so it is recursive (at
    most MAX_DEPTH frames) and visits containers only, cheaper than an explicit stack of every value."""
    kind = type(value)
    if kind is not dict and kind is not list:
        return
    if budget == 0:
        raise InvalidInput(f"JSON nested deeper than {MAX_DEPTH} levels")
    for child in value.values() if kind is dict else value:
        kind = type(child)
        if kind is dict or kind is list:
            _check_depth(child, budget - 1)


def load_json(body: bytes) -> Any:
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput("body is not valid JSON") from exc
    _check_depth(value)
    return value


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _id(value: Any, name: str) -> str:
    text = _str(value)
    if not text:
        raise InvalidInput(f"{name} is required")
    if len(text) > MAX_ID_LENGTH:
        raise InvalidInput(f"{name} is longer than {MAX_ID_LENGTH} characters")
    return text


def parse_event(body: bytes) -> Event:
    """Classify a post-call webhook body: the real envelope or the seed's flat format."""
    payload = load_json(body)
    if not isinstance(payload, dict):
        raise InvalidInput("body must be a JSON object")
    kind = payload.get("type")
    if isinstance(kind, str) and isinstance(payload.get("data"), dict):
        data = payload["data"]
        if kind == AUDIO:
            _full_audio(data)  # refused at the ack: a retry could never fix it
        return Event(kind[:64], _id(data.get("conversation_id"), "data.conversation_id"), payload)
    if "transcript" in payload or "analysis" in payload:
        return Event(TRANSCRIPTION, _id(payload.get("conversation_id"), "conversation_id"), payload)
    raise InvalidInput("unrecognised webhook: expected {type, data} or a transcript")


def _timestamp(*candidates: Any) -> datetime | None:
    for value in candidates:
        if isinstance(value, bool):
            continue
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if isinstance(value, (int, float)) and 0 < value < 1e11:
            return datetime.fromtimestamp(value, tz=UTC)
    return None


def _caller(data: dict[str, Any], default_region: str) -> str | None:
    metadata = _dict(data.get("metadata"))
    phone_call = _dict(metadata.get("phone_call"))
    init_vars = _dict(_dict(data.get("conversation_initiation_client_data")).get("dynamic_variables"))
    # Inbound or outbound, external_number is the person on the other end: the one we remember.
    for raw in (phone_call.get("external_number"), data.get("caller_id"), data.get("user_id"),
                init_vars.get("system__caller_id"), init_vars.get("caller_id")):
        try:
            return normalise_phone(raw, default_region)
        except InvalidInput:
            continue
    return None


def _turns(transcript: Any) -> tuple[Turn, ...]:
    turns = []
    for index, entry in enumerate(transcript if isinstance(transcript, list) else []):
        entry = _dict(entry)
        raw_role = entry.get("role")
        text = entry.get("message") if "message" in entry else entry.get("content")
        if not isinstance(text, str) or not text.strip():
            continue  # tool-only turns carry message=null
        role: Role
        if raw_role in ("agent", "assistant"):
            role = "agent"
        elif raw_role == "user":
            role = "user"
        else:
            continue
        seconds = entry.get("time_in_call_secs")
        offset = float(seconds) if isinstance(seconds, (int, float)) and not isinstance(seconds, bool) else 0.0
        turns.append(Turn(index=index, role=role, text=text.strip(), time_in_call_secs=offset))
    return tuple(turns)


def _render(value: Any) -> str:
    if isinstance(value, str):
        return value.strip()
    if value is None:
        return ""
    return orjson.dumps(value).decode()


def _analysis(analysis: dict[str, Any]) -> tuple[tuple[Evaluation, ...], tuple[DataPoint, ...]]:
    evaluations = []
    for key, item in _dict(analysis.get("evaluation_criteria_results")).items():
        item = _dict(item)
        rationale = _str(item.get("rationale"))
        if rationale:
            evaluations.append(Evaluation(str(key), _str(item.get("result")), rationale))
    seed_eval = _dict(analysis.get("evaluation"))
    if _str(seed_eval.get("rationale")):
        evaluations.append(Evaluation("evaluation", _str(seed_eval.get("result")), _str(seed_eval["rationale"])))
    data = []
    for key, item in _dict(analysis.get("data_collection_results")).items():
        item = _dict(item)
        value = _render(item.get("value"))
        if value:
            data.append(DataPoint(str(key), value, _str(item.get("rationale"))))
    return tuple(evaluations), tuple(data)


def parse_conversation(event: Event, *, default_region: str, received_at: datetime) -> Conversation:
    """A transcription event (either shape) -> Conversation."""
    payload = event.payload
    data = _dict(payload.get("data")) if "data" in payload else payload
    metadata = _dict(data.get("metadata"))
    analysis = _dict(data.get("analysis"))
    evaluations, points = _analysis(analysis)
    override = _dict(_dict(_dict(data.get("conversation_initiation_client_data")).get(
        "conversation_config_override")).get("agent"))
    duration = metadata.get("call_duration_secs")
    own_time = _timestamp(metadata.get("start_time_unix_secs"), payload.get("event_timestamp"))
    return Conversation(
        conversation_id=event.conversation_id,
        agent_id=_str(data.get("agent_id"))[:MAX_ID_LENGTH],
        caller_id=_caller(data, default_region),
        started_at=own_time or received_at,
        turns=_turns(data.get("transcript")),
        summary=_str(analysis.get("transcript_summary")) or _str(analysis.get("summary")),
        title=_str(analysis.get("call_summary_title")),
        duration_secs=int(duration) if isinstance(duration, (int, float)) and not isinstance(duration, bool) else 0,
        evaluations=evaluations,
        data=points,
        language=_str(metadata.get("main_language")) or _str(override.get("language")) or None,
        dated=own_time is not None,
    )


def _full_audio(data: dict[str, Any]) -> str:
    encoded = data.get("full_audio")
    if not isinstance(encoded, str) or not encoded:
        raise InvalidInput("data.full_audio must be a base64 string")
    return encoded


def parse_audio(event: Event) -> bytes:
    """The MP3 bytes of a post_call_audio event."""
    encoded = _full_audio(_dict(event.payload.get("data")))
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput("data.full_audio is not valid base64") from exc
