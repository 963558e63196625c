"""Transcript -> overlapping chunks of consecutive spoken turns (semantic memories).

Turn text is kept verbatim behind a role label; tool-only turns never reach here (they have no text).
"""

from __future__ import annotations

from dataclasses import dataclass

from agentic_memory.domain.models import Turn

ROLE_LABELS = {"user": "Caller", "agent": "Agent"}


@dataclass(frozen=True, slots=True)
class Chunk:
    turns: tuple[Turn, ...]

    @property
    def start(self) -> int:
        return self.turns[0].index

    @property
    def end(self) -> int:
        return self.turns[-1].index

    @property
    def text(self) -> str:
        return "\n".join(render_turn(turn) for turn in self.turns)


def render_turn(turn: Turn) -> str:
    return f"{ROLE_LABELS[turn.role]}: {turn.text}"


def chunk_turns(turns: tuple[Turn, ...] | list[Turn], *, size: int = 3, overlap: int = 1) -> list[Chunk]:
    """Windows of `size` turns, each sharing `overlap` turns with the previous one."""
    if size < 1 or not 0 <= overlap < size:
        raise ValueError("need size >= 1 and 0 <= overlap < size")
    turns = list(turns)
    if not turns:
        return []
    step = size - overlap
    chunks = []
    for start in range(0, len(turns), step):
        window = turns[start:start + size]
        chunks.append(Chunk(tuple(window)))
        if start + size >= len(turns):
            break
    return chunks
