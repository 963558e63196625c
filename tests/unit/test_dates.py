"""Relative dates resolved against the call's date (a Wednesday here)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentic_memory.domain.dates import mentioned, resolve

WEDNESDAY = datetime(2026, 1, 14, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(("said", "resolved"), [
    ("See you tomorrow at 10:20.", "See you tomorrow (Thu 15 Jan 2026) at 10:20."),
    ("Booked for next Tuesday, the 20th.", "Booked for next Tuesday, the 20th (Tue 20 Jan 2026)."),
    ("this Friday, the 16th", "this Friday, the 16th (Fri 16 Jan 2026)"),
    ("in two weeks", "in two weeks (Wed 28 Jan 2026)"),
    ("a week ago", "a week ago (Wed 7 Jan 2026)"),
    ("last Monday", "last Monday (Mon 12 Jan 2026)"),
    ("el próximo jueves", "el próximo jueves (Thu 15 Jan 2026)"),
    ("wir kommen morgen", "wir kommen morgen (Thu 15 Jan 2026)"),
    ("the day after tomorrow", "the day after tomorrow (Fri 16 Jan 2026)"),
])
def test_relative_dates_get_their_calendar_date(said: str, resolved: str) -> None:
    assert resolve(said, WEDNESDAY) == resolved


@pytest.mark.parametrize("said", ["on Tuesdays", "por la mañana", "Guten Morgen", "next Tuesday, the 25th",
                                  "no date here"])
def test_habits_mornings_and_contradictions_are_left_as_said(said: str) -> None:
    assert resolve(said, WEDNESDAY) == said


def test_mentioned_dates_are_index_words() -> None:
    assert mentioned("Okay, this Friday, the 16th then.", WEDNESDAY) == "January 16 2026 Friday 16th"
    assert mentioned("nothing", WEDNESDAY) == ""


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=120))
def test_never_raises_and_only_adds(text: str) -> None:
    out = resolve(text, WEDNESDAY)
    assert len(out) >= len(text)
