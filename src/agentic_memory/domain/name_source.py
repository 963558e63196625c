"""Which name source may replace which: an operator's correction outranks what a call only implies.

A name fixed by an operator ("she is Elizabeth, not Liz") stays until the caller themselves says who
they are in a later call; data collection (an LLM filling a form field) or a summary never replaces it.
"""

from __future__ import annotations

OPERATOR = "operator"
SPOKEN = frozenset({"self_introduction", "correction"})  # the caller's own words (domain/names.py)


def may_replace(current_source: str, new_source: str) -> bool:
    """True when a name from `new_source` may replace the stored name from `current_source`."""
    return current_source != OPERATOR or new_source in SPOKEN
