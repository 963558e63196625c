"""Optional fact extraction by an LLM behind any OpenAI-compatible chat-completions endpoint.

Off unless AGENTIC_MEMORY_LLM_URL and AGENTIC_MEMORY_LLM_MODEL are set (bootstrap.py). The model answers
one JSON object that a JSON schema constrains (`response_format: json_schema`): the caller's name, and
facts with a kind and an optional slot. Whatever goes wrong (timeout, connection, HTTP error, an answer
that is not that object) the call's facts come from the rules instead, and one warning says why; the
warning never carries transcript or answer text, which may be the caller's words.

The deterministic parts stay the rules' in every case: the summary, evaluations and data-collection
results come from the call analysis, and identifiers from patterns that an LLM can only mistype.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import replace
from typing import Any

import httpx

from agentic_memory.domain.dates import resolve
from agentic_memory.domain.fact_text import MAX_FACT_CHARS, cap, clean
from agentic_memory.domain.facts import FactExtractor, unique_facts
from agentic_memory.domain.models import Conversation, Fact

log = logging.getLogger(__name__)

MAX_FACTS = 40  # one call rarely holds more; a runaway answer must not flood the memory
MAX_TRANSCRIPT_CHARS = 24_000  # long calls are cut from the start: the end holds corrections and decisions
KEPT_FROM_RULES = frozenset({"summary", "evaluation", "data", "identifier"})
KINDS = ("fact", "preference", "contact", "identifier", "plan")
_SLOT = re.compile(r"^(?:preference|contact|identifier|plan|fact):[a-z0-9][a-z0-9 _:\-]{0,59}$")

SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["caller_name", "facts"],
    "properties": {
        "caller_name": {
            "type": "object",
            "additionalProperties": False,
            "required": ["first_name", "full_name"],
            "properties": {"first_name": {"type": ["string", "null"]}, "full_name": {"type": ["string", "null"]}},
        },
        "facts": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["kind", "text", "slot", "turn"],
                "properties": {
                    "kind": {"type": "string", "enum": list(KINDS)},
                    "text": {"type": "string"},
                    "slot": {"type": ["string", "null"]},
                    "turn": {"type": ["integer", "null"]},
                },
            },
        },
    },
}

INSTRUCTIONS = """You extract durable memories about the CALLER from one finished phone call.
Answer only with the JSON object the schema describes.
- caller_name: the name the caller gives for themselves (spelled-out letters win over an earlier spelling).
  Never the agent's, a relative's or another person's name; null when the caller gave none.
- facts: short third-person English sentences starting with "Caller" ("Caller prefers text messages."),
  whatever language the call was in. Only what the caller said or confirmed; nothing the agent guessed.
  kind: preference (likes, dislikes, wants, allergies), contact (channel or time to reach them, their
  street address), identifier (order, ticket, claim, booking numbers), plan (appointments, reschedules),
  fact (anything else).
  slot: what the fact is about, so a newer fact in the same slot replaces an older one:
  "preference:<topic>", "contact:channel", "contact:time", "contact:address", "identifier:<kind>",
  "plan:<event>", "fact:<topic>" (pharmacy, employer...); lowercase; null when the fact stands alone.
  Write dates as calendar dates using the call date; turn: the index of the turn that says it, or null."""


class LlmError(Exception):
    """Why the LLM's answer was not used: a short reason, never transcript or answer text."""


class LlmFactExtractor:
    """Facts from an LLM, with the rules as the fallback and for the analysis and identifiers."""

    def __init__(self, url: str, model: str, api_key: str = "", *, fallback: FactExtractor,
                 timeout_secs: float = 20.0, client: httpx.Client | None = None) -> None:
        self.endpoint = url.rstrip("/") + "/chat/completions"
        self.model = model
        self.fallback = fallback
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = client or httpx.Client(timeout=timeout_secs, headers=headers)
        self.failures = 0  # answers not used since start (for tests and metrics)

    def close(self) -> None:
        self._client.close()

    def extract(self, conversation: Conversation) -> list[Fact]:
        rules = self.fallback.extract(conversation)
        if not conversation.caller_turns():
            return rules
        try:
            answer = self._ask(conversation)
            facts = parse_answer(answer, conversation)
        except LlmError as exc:
            self.failures += 1
            log.warning("LLM extractor: %s for conversation %s; facts from the rules",
                        exc, conversation.conversation_id)
            return rules
        kept = [f for f in rules if f.category in KEPT_FROM_RULES]
        return unique_facts(kept + facts)

    def _ask(self, conversation: Conversation) -> Any:
        body = {
            "model": self.model,
            "temperature": 0,
            "messages": [{"role": "system", "content": INSTRUCTIONS},
                         {"role": "user", "content": prompt(conversation)}],
            "response_format": {"type": "json_schema",
                                "json_schema": {"name": "call_memories", "strict": True, "schema": SCHEMA}},
        }
        try:
            response = self._client.post(self.endpoint, json=body)
        except httpx.TimeoutException as exc:
            raise LlmError("timeout") from exc
        except httpx.HTTPError as exc:
            raise LlmError(f"request failed ({type(exc).__name__})") from exc
        if response.status_code != 200:
            raise LlmError(f"HTTP {response.status_code}")
        try:
            content = response.json()["choices"][0]["message"]["content"]
            return json.loads(content)
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise LlmError(f"malformed answer ({type(exc).__name__})") from exc


def prompt(conversation: Conversation) -> str:
    lines = [f"{t.index} {'caller' if t.role == 'user' else 'agent'}: {clean(t.text)}"
             for t in conversation.turns if clean(t.text)]
    transcript = "\n".join(lines)
    if len(transcript) > MAX_TRANSCRIPT_CHARS:
        transcript = transcript[-MAX_TRANSCRIPT_CHARS:]
    return f"Call date: {conversation.started_at.date().isoformat()}\nTranscript:\n{transcript}"


def parse_answer(answer: Any, conversation: Conversation) -> list[Fact]:
    """The schema's object as facts; anything else raises LlmError (a whole answer is used or none)."""
    if not isinstance(answer, dict) or not isinstance(answer.get("facts"), list):
        raise LlmError("malformed answer (not the schema's object)")
    turns = {t.index for t in conversation.turns}
    facts: list[Fact] = []
    if name := _name_fact(answer.get("caller_name")):
        facts.append(name)
    for item in answer["facts"][:MAX_FACTS]:
        if not isinstance(item, dict) or item.get("kind") not in KINDS or not isinstance(item.get("text"), str):
            raise LlmError("malformed answer (a fact without kind or text)")
        text = clean(item["text"])
        if not text:
            continue
        slot = item.get("slot")
        slot = slot.strip().lower() if isinstance(slot, str) else ""
        turn = item.get("turn")
        facts.append(Fact(text=cap(text, MAX_FACT_CHARS), category=str(item["kind"]),
                          slot=slot if _SLOT.match(slot) else None,
                          turn_index=turn if isinstance(turn, int) and turn in turns else None))
    # Relative dates the model left as said are pinned to the call's date, as the rules do.
    return [replace(f, text=cap(resolve(f.text, conversation.started_at), MAX_FACT_CHARS)) for f in facts]


def _name_fact(value: Any) -> Fact | None:
    if not isinstance(value, dict):
        return None
    full, first = value.get("full_name"), value.get("first_name")
    name = clean(full if isinstance(full, str) and full.strip() else first if isinstance(first, str) else "")
    if not name or len(name) > 80:
        return None
    # A data-style memory: kept out of the caller card (the greeting names the caller) but retrievable.
    return Fact(text=f"Caller name: {name}", category="data", slot="data:caller_name")

