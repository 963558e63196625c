"""Facts about the caller from a finished call, by rules: no LLM, no network.

Facts come from the call analysis (summary, evaluations, data collection) and from what the caller
said; agent turns are never mined, because agents restate, guess and upsell. Caller facts are short
third-person sentences that keep the caller's words ("Caller prefers oat milk in their latte.").

Slots name what a fact is about, so a newer fact in the same slot supersedes the older one:
  preference:<topic>   topic from a small lexicon ("milk", "seat", "appointment time") or the object's
                       head noun; allergies are preference:allergy:<allergen> so they never replace each other
  contact:channel, contact:time, contact:address (the newest street address the caller gave)
  identifier:<kind>    order, claim, booking, room, tracking ...
  plan:<event>         only reschedules ("move my appointment to Friday"); other plans have no slot
  data:<key>           data-collection results
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Protocol

from agentic_memory.domain.dates import resolve
from agentic_memory.domain.fact_patterns import (
    NO_LONGER_LEAD,
    address,
    contact,
    identifiers,
    plan,
    preference,
    reschedule,
)
from agentic_memory.domain.fact_text import MAX_FACT_CHARS, as_caller, cap, clean
from agentic_memory.domain.models import Conversation, Fact

__all__ = ["MAX_FACT_CHARS", "MAX_SUMMARY_CHARS", "FactExtractor", "RuleFactExtractor"]

MAX_SUMMARY_CHARS = 1000  # the summary is one memory; the caller card trims it for display
_CI = re.IGNORECASE


class FactExtractor(Protocol):
    """Turns a finished call into proposed facts; an LLM-backed extractor can implement this later."""

    def extract(self, conversation: Conversation) -> list[Fact]: ...


class RuleFactExtractor:
    """Regex and lexicon rules over the analysis and the caller's own turns (en, es, fr, de)."""

    def extract(self, conversation: Conversation) -> list[Fact]:
        facts = _analysis_facts(conversation)
        for turn in conversation.caller_turns():
            previous = ""
            for clause in _clauses(turn.text):
                facts.extend(_with_context(f, previous) for f in _clause_facts(clause, turn.index))
                previous = clause
        # "next Tuesday" is only true on the day it was said: keep the calendar date beside it.
        when = conversation.started_at
        dated = [replace(f, text=cap(resolve(f.text, when), MAX_SUMMARY_CHARS if f.category == "summary"
                                     else MAX_FACT_CHARS)) for f in facts]
        return unique_facts(dated)


# --- the call analysis and the shape of a transcript -------------------------------------------

_EMPTY_VALUES = frozenset({"", "none", "null", "n/a", "na", "unknown", "not provided", "-"})
_SENTENCE = re.compile(  # sentence ends, but not after "order no." or "Dr."
    r"(?<=[.!?;])(?<!\bno\.)(?<!\bnr\.)(?<!\bdr\.)(?<!\bmr\.)(?<!\bms\.)(?<!\bst\.)\s+", _CI)
_CLAUSE = re.compile(
    r",?\s+(?:and|but|so|also|plus|y|pero|et|mais|und|aber)\s+(?=(?:i|my|yo|je|j'|ich|mein\w*)\b)"
    r"|,\s+(?:and\s+|but\s+)?(?=(?:switch|change|make|move|please|text|email|call|from now on)\b)", _CI)


def _analysis_facts(conversation: Conversation) -> list[Fact]:
    facts: list[Fact] = []
    if summary := clean(conversation.summary):
        facts.append(Fact(text=cap(summary, MAX_SUMMARY_CHARS), category="summary"))
    for ev in conversation.evaluations:
        verdict = ": ".join(p for p in (clean(ev.criteria_id), clean(ev.result)) if p)
        if verdict and (rationale := clean(ev.rationale)):
            facts.append(Fact(text=cap(f"{verdict} — {rationale}"), category="evaluation"))
    for point in conversation.data:
        key, value = clean(point.key), clean(point.value)
        if key and value.lower() not in _EMPTY_VALUES:
            facts.append(Fact(text=cap(f"{_key_words(key)}: {value}"), category="data", slot=f"data:{key}"))
    return facts


def _clause_facts(clause: str, index: int) -> list[Fact]:
    """Identifiers and a street address always; then at most one of contact, reschedule, preference or plan
    per clause."""
    found = [Fact(text, "identifier", slot, index) for text, slot in identifiers(clause)]
    if hit := address(clause):
        found.append(Fact(hit[0], "contact", hit[1], index))
    for finder, category in ((contact, "contact"), (reschedule, "plan"),
                             (preference, "preference"), (plan, "plan")):
        if hit := finder(clause):
            text, slot = hit
            if slot.startswith("contact:"):
                category = "contact"  # "I prefer email" is a contact preference
            found.append(Fact(cap(text), category, slot or None, index))
            break
    return found


def _with_context(fact: Fact, previous: str) -> Fact:
    """"My new address is 41 Elm Court. Not Oak Street anymore.": a dropped value whose replacement was said
    just before carries it, or the fact would name only the stale value."""
    if not fact.text.startswith(NO_LONGER_LEAD) or ";" in fact.text or len(previous.split()) < 3:
        return fact
    return replace(fact, text=cap(f"{as_caller(previous).rstrip('.')}; {fact.text[:1].lower()}{fact.text[1:]}"))


def _clauses(text: str) -> list[str]:
    out: list[str] = []
    for sentence in _SENTENCE.split(clean(text).replace("’", "'")):
        out.extend(part.strip() for part in _CLAUSE.split(sentence) if part.strip())
    return out


def unique_facts(facts: list[Fact]) -> list[Fact]:
    """First of each text, case-insensitively, in order (the rules' and the LLM extractor's shared rule)."""
    seen: set[str] = set()
    out: list[Fact] = []
    for fact in facts:
        if fact.text.casefold() not in seen:
            seen.add(fact.text.casefold())
            out.append(fact)
    return out


def _key_words(key: str) -> str:
    words = re.sub(r"(?<=[a-z])(?=[A-Z])|[_\-.]+", " ", key).split()
    return " ".join(words).capitalize() if words else key
