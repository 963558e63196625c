"""Keyword terms namespaced by their owner, so each caller has a keyword index of their own.

Every term indexed for a caller is stored as `z<digits of their number>z<term>`, and every query term is
rewritten the same way. A caller's search then reads only that caller's postings: its cost does not grow
with other callers (an unscoped "order" matched ~200k rows at 100k callers), and another caller's text
cannot match at all. The terms are `domain/keyword_score.index_terms` (already stemmed), indexed by FTS5's
plain unicode61 tokenizer, so the index matches exactly the memories the domain's scorer counts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from agentic_memory.domain.keyword_score import Phrase, index_terms

_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)  # what FTS5's unicode61 tokenizer keeps as one token


@lru_cache(maxsize=4096)  # built for every row a keyword search reads (`unscoped`): the same few callers
def prefix(caller_id: str) -> str:
    return "z" + "".join(ch for ch in caller_id if ch.isascii() and ch.isdigit()) + "z"


def scoped_text(caller_id: str, text: str) -> str:
    """Migration 2's form (raw words; migration 5 replaces it with `scoped_terms`)."""
    head = prefix(caller_id)
    return " ".join(head + token for token in _TOKEN.findall(text))


def scoped_terms(caller_id: str, text: str) -> str:
    """The index terms of `text`, each namespaced: one FTS5 column's value."""
    head = prefix(caller_id)
    return " ".join(head + term for term in index_terms(text))


def unscoped(caller_id: str, value: str) -> list[str]:
    """An FTS5 column's value back as the index terms."""
    size = len(prefix(caller_id))
    return [term[size:] for term in value.split()]


def scoped_match(caller_id: str, phrases: Sequence[Phrase]) -> str:
    """An FTS5 MATCH expression: any of the phrases, each of its index terms namespaced."""
    head = prefix(caller_id)
    return " OR ".join('"' + " ".join(head + term for term in phrase) + '"' for phrase in phrases)
