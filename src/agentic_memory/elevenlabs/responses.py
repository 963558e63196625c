"""`conversation_initiation_client_data` and the retrieve tool's response body."""

from __future__ import annotations

import re
from typing import Any

from agentic_memory.domain.card import clean_text
from agentic_memory.domain.greeting import GreetingPolicy
from agentic_memory.domain.models import CallerBriefing, MemoryHit
from agentic_memory.domain.scope import split_key

DEFAULT_GREETING = GreetingPolicy()
_LANGUAGE = re.compile(r"[a-z]{2}")  # ElevenLabs takes ISO 639-1 codes; anything else is left out


def render_prompt(template: str, *, base_prompt: str, caller_context: str) -> str:
    """The opt-in system prompt: the operator's template with their base prompt and our context block."""
    return template.replace("{base_prompt}", base_prompt).replace("{caller_context}", caller_context)


def client_data_response(briefing: CallerBriefing, *, prompt_template: str = "", base_prompt: str = "",
                         greeting: GreetingPolicy = DEFAULT_GREETING, caller_token: str = "") -> dict[str, Any]:
    profile = briefing.profile
    agent: dict[str, Any] = {}
    message = greeting.choose(first_name=profile.first_name if profile else "",
                              language=profile.language if profile else None, returning=briefing.returning,
                              built_in=briefing.first_message)
    if message is not None:
        agent["first_message"] = message
    if profile is not None and _LANGUAGE.fullmatch(profile.language):
        agent["language"] = profile.language
    if prompt_template:
        agent["prompt"] = {"prompt": render_prompt(prompt_template, base_prompt=base_prompt,
                                                   caller_context=briefing.caller_context)}
    answer: dict[str, Any] = {
        "type": "conversation_initiation_client_data",
        "dynamic_variables": {
            "caller_id": briefing.caller_id,
            "memory_count": str(profile.memory_count if profile else 0),
            "memory_summary": briefing.memory_summary,
            "returning_caller": "yes" if briefing.returning else "no",
            "caller_name": clean_text(profile.first_name, 40) if profile else "",
            "caller_context": briefing.caller_context,
            "last_call_summary": clean_text(profile.last_call_summary, 300) if profile else "",
        },
        "conversation_config_override": {"agent": agent},
    }
    if briefing.caller_id:  # a withheld number has no user id: ElevenLabs would group strangers under ""
        answer["user_id"] = briefing.caller_id
    if caller_token:  # the memory proxy is on: tell it who calls, in a form no chat text can forge
        answer["dynamic_variables"]["caller_token"] = caller_token
        answer["custom_llm_extra_body"] = {"caller_id": briefing.caller_id, "caller_token": caller_token}
    return answer


def memory_json(hit: MemoryHit) -> dict[str, Any]:
    m = hit.memory
    created = m.created_at.isoformat()  # twice in the answer, formatted once
    # Every field of schemas.MemoryMetadata, nulls included: the route sends these bytes without the model.
    metadata: dict[str, Any] = {"type": m.type, "conversation_id": m.conversation_id, "agent_id": m.agent_id,
                                "timestamp": created, "category": m.category,
                                "turn_start": m.turn_start, "turn_end": m.turn_end}
    return {"id": m.id, "memory": m.text, "user_id": split_key(m.caller_id)[0], "score": round(hit.score, 6),
            "metadata": metadata, "created_at": created}
