"""Before the call: what we know about the caller, for ElevenLabs' conversation-initiation webhook."""

from __future__ import annotations

from functools import lru_cache

from agentic_memory.domain import card
from agentic_memory.domain.greeting import first_message
from agentic_memory.domain.models import CallerBriefing, CallerProfile
from agentic_memory.domain.phone import identify_caller
from agentic_memory.domain.scope import Scope, owner_key
from agentic_memory.ports import MemoryStore


def brief_caller(raw_caller_id: object, *, store: MemoryStore, default_region: str = "US",
                 agent_id: str | None = None, scope: Scope = "caller") -> CallerBriefing:
    """A withheld or unusable caller id gets the neutral briefing of a first-time caller (caller_id "")."""
    caller = identify_caller(raw_caller_id, default_region)
    if caller is None:
        return CallerBriefing("", None, *_render(None))
    profile = store.caller(owner_key(caller, agent_id, scope))  # read fresh: only the rendering is memoised
    return CallerBriefing(caller, profile, *_render(profile))


@lru_cache(maxsize=4096)
def _render(profile: CallerProfile | None) -> tuple[str, str, str]:
    """(memory summary, context block, first message): a pure function of the profile, so it is memoised
    on the profile's value (any change to the stored profile is a new key; profiling showed the text
    cleaning here was the largest share of /client-data's own CPU)."""
    returning = profile is not None and profile.call_count > 0
    name = card.clean_text(profile.first_name, 40) if profile else ""
    return (card.memory_summary(profile.top_facts) if profile else "",
            card.caller_context(profile),
            first_message(first_name=name, language=profile.language if profile else None, returning=returning))
