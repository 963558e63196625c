"""Chunking: which turns a chunk returns, which it only carries as indexing context."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentic_memory.domain.chunking import chunk_turns
from agentic_memory.domain.models import Turn


def turns(n: int) -> list[Turn]:
    return [Turn(index=i, role="user" if i % 2 else "agent", text=f"turn {i}") for i in range(n)]


def test_default_chunks_are_pairs_with_a_neighbour_each_side_as_context():
    chunks = chunk_turns(turns(5))
    assert [(c.start, c.end) for c in chunks] == [(0, 1), (2, 3), (4, 4)]
    assert chunks[1].text == "Agent: turn 2\nCaller: turn 3"
    assert chunks[1].context == "Caller: turn 1\nAgent: turn 4"
    assert chunks[1].index_text == "Caller: turn 1\nAgent: turn 2\nCaller: turn 3\nAgent: turn 4"
    assert chunks[0].context == "Agent: turn 2"
    assert chunks[-1].context == "Caller: turn 3"


def test_the_returned_text_is_the_turns_verbatim_behind_role_labels():
    chunk = chunk_turns([Turn(3, "user", "I'd like  oat milk, please."), Turn(4, "agent", "Sure!")])[0]
    assert chunk.text == "Caller: I'd like  oat milk, please.\nAgent: Sure!"
    assert (chunk.start, chunk.end) == (3, 4)


def test_overlapping_windows_and_no_context():
    chunks = chunk_turns(turns(5), size=3, overlap=1, context=0)
    assert [(c.start, c.end) for c in chunks] == [(0, 2), (2, 4)]
    assert all(c.context == "" and c.index_text == c.text for c in chunks)


@pytest.mark.parametrize(("size", "overlap", "context"), [(0, 0, 0), (2, 2, 0), (2, -1, 0), (2, 0, -1)])
def test_bad_shapes_are_refused(size, overlap, context):
    with pytest.raises(ValueError, match="need size >= 1"):
        chunk_turns(turns(3), size=size, overlap=overlap, context=context)


@given(n=st.integers(0, 40), size=st.integers(1, 5), data=st.data())
def test_every_turn_is_returned_by_some_chunk_and_context_never_overlaps_it(n, size, data):
    overlap = data.draw(st.integers(0, size - 1))
    context = data.draw(st.integers(0, 3))
    chunks = chunk_turns(turns(n), size=size, overlap=overlap, context=context)
    assert {t.index for c in chunks for t in c.turns} == set(range(n))
    for c in chunks:
        own = {t.index for t in c.turns}
        assert len(c.turns) <= size
        assert not own & {t.index for t in c.before + c.after}
        assert all(t.index < c.start for t in c.before)
        assert all(t.index > c.end for t in c.after)


def test_a_known_caller_name_labels_their_turns_in_the_embedded_text_only():
    chunk = chunk_turns(turns(4), caller_name="Stefan")[0]
    assert chunk.text == "Agent: turn 0\nCaller: turn 1"
    assert chunk.index_text == "Agent: turn 0\nStefan: turn 1\nAgent: turn 2"
    assert chunk_turns(turns(4))[0].index_text.startswith("Agent: turn 0\nCaller: turn 1")
