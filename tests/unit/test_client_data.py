"""brief_caller memoises its rendering on the profile's value: a changed profile must never get a stale card."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from agentic_memory.domain.models import CallerProfile
from agentic_memory.ports import CallUpdate
from agentic_memory.services.client_data import brief_caller
from agentic_memory.testing import InMemoryMemoryStore

CALLER = "+14155550123"
WHEN = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def _save(store: InMemoryMemoryStore, conversation_id: str, profile: CallerProfile) -> None:
    assert store.save_call(CallUpdate(conversation_id=conversation_id, caller_id=CALLER, agent_id="a",
                                      started_at=WHEN, profile=profile))


def test_briefing_follows_every_profile_change() -> None:
    store = InMemoryMemoryStore()
    assert brief_caller(CALLER, store=store).caller_context.count("New caller") == 1
    profile = CallerProfile(caller_id=CALLER, first_seen=WHEN, last_seen=WHEN, call_count=1, first_name="Ana",
                            language="es", top_facts=("Caller prefers oat milk.",))
    _save(store, "c1", profile)
    first = brief_caller(CALLER, store=store)
    assert "oat milk" in first.memory_summary
    assert "Ana" in first.first_message
    _save(store, "c2", replace(profile, call_count=2, first_name="Maria", top_facts=("Caller prefers soy milk.",)))
    second = brief_caller(CALLER, store=store)
    assert "soy milk" in second.memory_summary
    assert "oat milk" not in second.caller_context
    assert "Maria" in second.first_message
    assert "Previous calls: 2" in second.caller_context


def test_equal_profiles_of_different_callers_keep_their_own_ids() -> None:
    store = InMemoryMemoryStore()
    other = "+14155550124"
    for number in (CALLER, other):
        assert store.save_call(CallUpdate(conversation_id=f"c-{number}", caller_id=number, agent_id="a",
                                          started_at=WHEN, profile=CallerProfile(
                                              caller_id=number, first_seen=WHEN, last_seen=WHEN, call_count=1)))
    assert brief_caller(CALLER, store=store).caller_id == CALLER
    assert brief_caller(other, store=store).caller_id == other
