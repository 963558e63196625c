"""Whose memories are whose: one per caller, or one per (agent, caller) pair.

`AGENTIC_MEMORY_SCOPE=caller` (default): a caller's memories follow them to every agent of the workspace.
`agent_and_caller`: a dental and a café agent keep separate memories of the same person; the owner key is
then the number plus the agent id (`+14155550123|agent_...`). The key is internal: what ElevenLabs sees as
`caller_id` / `user_id` stays the plain number.
"""

from __future__ import annotations

from typing import Literal

from agentic_memory.errors import InvalidInput

Scope = Literal["caller", "agent_and_caller"]
SCOPES: tuple[Scope, ...] = ("caller", "agent_and_caller")
SEPARATOR = "|"  # never part of an E.164 number


def owner_key(caller: str, agent_id: str | None, scope: Scope) -> str:
    """The key memories are stored and searched under."""
    if scope == "caller":
        return caller
    agent = (agent_id or "").strip()
    if not agent:
        raise InvalidInput("agent_id is required when AGENTIC_MEMORY_SCOPE=agent_and_caller")
    return f"{caller}{SEPARATOR}{agent}"


def split_key(key: str) -> tuple[str, str]:
    """(number, agent id or "") of an owner key."""
    number, _, agent = key.partition(SEPARATOR)
    return number, agent
