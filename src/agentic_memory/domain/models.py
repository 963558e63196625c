"""The nouns of AgenticMemory. Plain frozen dataclasses; timestamps are timezone-aware UTC."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # annotations only: a greeting never loads numpy
    import numpy as np

Role = Literal["user", "agent"]
MemoryType = Literal["factual", "semantic"]


@dataclass(frozen=True, slots=True)
class Turn:
    """One spoken turn. `index` is its position in the original transcript (tool-only turns included)."""

    index: int
    role: Role
    text: str
    time_in_call_secs: float = 0.0


@dataclass(frozen=True, slots=True)
class Evaluation:
    criteria_id: str
    result: str
    rationale: str


@dataclass(frozen=True, slots=True)
class DataPoint:
    """One data-collection result; `value` is rendered as text."""

    key: str
    value: str
    rationale: str = ""


@dataclass(frozen=True, slots=True)
class Conversation:
    """A finished call as we understand it, whatever wire format it came in."""

    conversation_id: str
    agent_id: str
    caller_id: str | None
    started_at: datetime
    turns: tuple[Turn, ...]
    summary: str = ""
    title: str = ""
    duration_secs: int = 0
    evaluations: tuple[Evaluation, ...] = ()
    data: tuple[DataPoint, ...] = ()
    language: str | None = None
    dated: bool = True  # False: the payload has no time of its own (the seed's flat format); see undated_start

    def caller_turns(self) -> tuple[Turn, ...]:
        return tuple(t for t in self.turns if t.role == "user")


@dataclass(frozen=True, slots=True)
class Fact:
    """A factual memory proposed by an extractor.

    `slot` names what the fact is about ("preference:milk", "identifier:order", "contact:channel"):
    a newer fact in the same slot supersedes the older one. None means the fact stands alone.
    """

    text: str
    category: str
    slot: str | None = None
    turn_index: int | None = None


@dataclass(frozen=True, slots=True)
class NameClaim:
    """A caller's name as stated by the caller or a data-collection field."""

    first_name: str
    full_name: str
    source: str
    turn_index: int | None = None


@dataclass(frozen=True, slots=True)
class Memory:
    id: str
    caller_id: str
    type: MemoryType
    text: str
    conversation_id: str
    agent_id: str
    created_at: datetime
    category: str = ""
    slot: str | None = None
    turn_start: int | None = None
    turn_end: int | None = None


@dataclass(frozen=True, slots=True)
class MemoryHit:
    memory: Memory
    score: float


@dataclass(frozen=True, slots=True)
class CallerProfile:
    caller_id: str
    first_seen: datetime
    last_seen: datetime
    call_count: int = 0
    first_name: str = ""
    name_source: str = ""
    language: str = ""
    last_call_summary: str = ""
    memory_count: int = 0
    top_facts: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class CallerBriefing:
    """What we tell the agent before a call: built from the caller's stored profile."""

    caller_id: str
    profile: CallerProfile | None
    memory_summary: str
    caller_context: str
    first_message: str

    @property
    def returning(self) -> bool:
        return self.profile is not None and self.profile.call_count > 0


@dataclass(frozen=True, slots=True)
class StoredMemory:
    """A memory about to be written, with its embedding."""

    memory: Memory
    vector: np.ndarray
    keywords: str = ""  # indexed for keyword search but never returned (speaker names, dates)


@dataclass(frozen=True, slots=True)
class CallContext:
    """Everything processing one call needs from the store, read at once."""

    processed: bool  # this conversation was saved before: nothing to do
    profile: CallerProfile | None
    active_facts: tuple[tuple[Memory, np.ndarray], ...] = ()


@dataclass(frozen=True, slots=True)
class CallUpdate:
    """Everything one processed call changes, applied atomically and at most once per conversation."""

    conversation_id: str
    caller_id: str | None
    agent_id: str
    started_at: datetime
    profile: CallerProfile | None
    new_memories: Sequence[StoredMemory] = ()
    superseded: Sequence[tuple[str, str]] = ()  # (old memory id, id of the memory replacing it)
    files: dict[str, str] = field(default_factory=dict)
