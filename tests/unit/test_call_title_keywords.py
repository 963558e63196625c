"""A transcript chunk is keyword-indexed with its call's title: a turn that books "Tuesday the 12th" is found
by a question naming the job the call was about, though the turn itself never names it (the title is
indexed, never returned). Local engine on real SQLite with the hash embedder."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agentic_memory.bootstrap import Deps, build
from agentic_memory.domain.facts import RuleFactExtractor
from agentic_memory.domain.models import Conversation, Turn
from agentic_memory.services.process_call import WorkerDeps, process_transcription
from agentic_memory.testing import FixedClock, HashEmbedder
from tests.conftest import make_settings

CALLER = "+14155550112"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BOOKING = "Agent: Booked: Tuesday the 12th between 8 and 10."


@pytest.fixture
def deps(tmp_path: Path) -> Iterator[Deps]:
    built = build(make_settings(tmp_path / "data"), embedder=HashEmbedder(), with_worker=False)
    yield built
    built.close()


def remember(deps: Deps, cid: str, lines: list[str], title: str, day: int) -> None:
    turns = tuple(Turn(i, "agent" if i % 2 == 0 else "user", line, 5.0 * i) for i, line in enumerate(lines))
    conversation = Conversation(conversation_id=cid, agent_id="agent_1", caller_id=CALLER,
                                started_at=T0 + timedelta(days=day), turns=turns, title=title)
    process_transcription(conversation, b"{}", WorkerDeps(store=deps.store, blobs=deps.blobs, engine=deps.engine,
                                                          extractor=RuleFactExtractor(), clock=FixedClock()))


def texts(deps: Deps, query: str) -> list[str]:
    return [hit.memory.text for hit in deps.engine.recall(CALLER, query, limit=3, type=None)]


def test_a_turn_is_found_by_the_words_of_its_calls_title(deps: Deps) -> None:
    for day, line in enumerate(["The boiler in the basement is leaking.", "Which day can you send someone?",
                                "The boiler pump is loud.", "Any day this week is fine."]):
        remember(deps, f"c_other_{day}", ["Dispatch, how can I help?", line, "We can help with that.",
                                          "Thanks."], "Other visit", day)
    remember(deps, "c_service", ["Dispatch, how can I help?", "I need the yearly check before winter.",
                                "Booked: Tuesday the 12th between 8 and 10.", "Great, thanks."],
             "Annual boiler service", 30)
    found = texts(deps, "What day is the boiler service?")
    assert any("Tuesday the 12th" in text for text in found)
    assert not any("Annual" in text for text in found)  # indexed, never returned


def test_a_call_without_a_title_indexes_as_before(deps: Deps) -> None:
    remember(deps, "c_plain", ["Dispatch, how can I help?", "The drain is slow.",
                               "A tech can come Tuesday.", "Tuesday works."], "", 0)
    assert any("Tuesday" in text for text in texts(deps, "When does the tech come Tuesday?"))
