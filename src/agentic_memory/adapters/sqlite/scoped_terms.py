"""Keyword terms namespaced by their owner, so each caller has a keyword index of their own.

Every word indexed for a caller is stored as `z<digits of their number>z<word>`, and every query term is
rewritten the same way. A caller's search then reads only that caller's postings: its cost does not grow
with other callers (an unscoped "order" matched ~200k rows at 100k callers), and another caller's text
cannot match at all. The prefix has no vowels, so FTS5's porter stemmer treats the word as it would alone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)  # what FTS5's unicode61 tokenizer keeps as one token


def prefix(caller_id: str) -> str:
    return "z" + "".join(ch for ch in caller_id if ch.isascii() and ch.isdigit()) + "z"


def scoped_text(caller_id: str, text: str) -> str:
    head = prefix(caller_id)
    return " ".join(head + token for token in _TOKEN.findall(text))


def scoped_match(caller_id: str, terms: Sequence[str]) -> str:
    """An FTS5 MATCH expression: any of `terms`; a term FTS5 splits in several tokens becomes a phrase."""
    head = prefix(caller_id)
    phrases = []
    for term in terms:
        tokens = _TOKEN.findall(term)
        if tokens:
            phrases.append('"' + " ".join(head + token for token in tokens) + '"')
    return " OR ".join(phrases)
