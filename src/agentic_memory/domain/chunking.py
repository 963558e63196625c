"""Transcript -> chunks of consecutive spoken turns (semantic memories).

A chunk's text is its turns verbatim behind role labels: that is what a search returns. A chunk may also
carry neighbouring turns as context: they are embedded and keyword-indexed with it (a short reply such as
"Yes, last Friday" means little alone) but never returned as part of it. When the caller's name is known,
the embedded text labels their turns with it, so "what did Stefan order?" meets Stefan's own words.
Tool-only turns never reach here (they have no text).
"""

from __future__ import annotations

from dataclasses import dataclass

from agentic_memory.domain.models import Turn

ROLE_LABELS = {"user": "Caller", "agent": "Agent"}


@dataclass(frozen=True, slots=True)
class Chunk:
    turns: tuple[Turn, ...]
    before: tuple[Turn, ...] = ()
    after: tuple[Turn, ...] = ()
    caller_name: str = ""

    @property
    def start(self) -> int:
        return self.turns[0].index

    @property
    def end(self) -> int:
        return self.turns[-1].index

    @property
    def text(self) -> str:
        """What the memory says: its own turns, verbatim."""
        return render(self.turns)

    @property
    def context(self) -> str:
        """The neighbouring turns, for indexing only."""
        return render(self.before + self.after)

    @property
    def index_text(self) -> str:
        """What gets embedded: the turns in their context, in order, the caller's by name when known."""
        return render(self.before + self.turns + self.after, caller=self.caller_name)


def render_turn(turn: Turn, *, caller: str = "") -> str:
    label = caller if caller and turn.role == "user" else ROLE_LABELS[turn.role]
    return f"{label}: {turn.text}"


def render(turns: tuple[Turn, ...], *, caller: str = "") -> str:
    return "\n".join(render_turn(turn, caller=caller) for turn in turns)


def chunk_turns(turns: tuple[Turn, ...] | list[Turn], *, size: int = 2, overlap: int = 0,
                context: int = 1, caller_name: str = "") -> list[Chunk]:
    """Windows of `size` turns, each sharing `overlap` turns with the previous one, with up to `context`
    turns either side as indexing context."""
    if size < 1 or not 0 <= overlap < size or context < 0:
        raise ValueError("need size >= 1, 0 <= overlap < size and context >= 0")
    turns = list(turns)
    if not turns:
        return []
    step = size - overlap
    chunks = []
    for start in range(0, len(turns), step):
        stop = start + size
        chunks.append(Chunk(tuple(turns[start:stop]), before=tuple(turns[max(0, start - context):start]),
                            after=tuple(turns[stop:stop + context]), caller_name=caller_name))
        if stop >= len(turns):
            break
    return chunks
