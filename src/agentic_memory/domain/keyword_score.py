"""One keyword scorer for every store: Okapi BM25 over one caller's own memories.

Every store indexes the same terms (`index_terms`: diacritics folded, lower case, split on anything but
letters and digits, Porter-stemmed) and only finds a caller's candidate rows (FTS5 MATCH on SQLite, an
array overlap on PostgreSQL, a scan in the fake); the score is computed here, so SQLite and PostgreSQL rank
a query alike. The statistics (how many memories, their average length, how many hold a term) are the
caller's own memories': another caller's words never shift a score.

BM25 as SQLite's FTS5 computed it (k1 1.2, b 0.75, idf log((N - n + 0.5) / (n + 0.5)) floored at 1e-6, a
term's frequency summed over the two fields with weights 1.0 for the text and 0.3 for the index-only
keywords, the length unweighted), with N, n and the average length taken from the caller's memories.
"""

from __future__ import annotations

import math
import re
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

K1 = 1.2
B = 0.75
TEXT_WEIGHT = 1.0
KEYWORD_WEIGHT = 0.3
MIN_IDF = 1e-6  # FTS5's floor: a word in most of the caller's memories still counts a little

_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
_local = threading.local()  # PyStemmer's stemmers (and their caches) are not safe to share between threads

Phrase = tuple[str, ...]


def _stemmer() -> Any:
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        import Stemmer  # imported on first use: a greeting never needs it

        stemmer = _local.stemmer = Stemmer.Stemmer("porter")
    return stemmer


def index_terms(text: str) -> list[str]:
    """The terms a text is indexed and searched by, in order. Words of 1-2 letters and over 64 are kept as
    they are, as FTS5's porter tokenizer did ("s" would stem to nothing, "is" to "i")."""
    folded = unicodedata.normalize("NFKD", text.lower())
    tokens = _TOKEN.findall("".join(ch for ch in folded if not unicodedata.combining(ch)))
    stem = _stemmer().stemWord
    return [stem(token) if 3 <= len(token) <= 64 else token for token in tokens]


def query_phrases(terms: Iterable[str]) -> list[Phrase]:
    """Each query term as the phrase of index terms it must match ("a-48213" -> ("a", "48213")), once."""
    phrases = (tuple(index_terms(term)) for term in terms)
    return list(dict.fromkeys(phrase for phrase in phrases if phrase))


def phrase_tokens(phrases: Iterable[Phrase]) -> list[str]:
    """Every index term of the phrases, once: what a store's prefilter looks for (any of them)."""
    return list(dict.fromkeys(token for phrase in phrases for token in phrase))


@dataclass(frozen=True, slots=True)
class Candidate:
    """A memory that may match: its id and the index terms of its text and of its keywords."""

    id: str
    text: Sequence[str]
    keywords: Sequence[str]


@dataclass(frozen=True, slots=True)
class Corpus:
    """The caller's searched memories: how many, and their index terms (text and keywords) all told."""

    documents: int
    terms: int


def _count(tokens: Sequence[str], phrase: Phrase) -> int:
    first, rest = phrase[0], phrase[1:]
    if not rest:
        return tokens.count(first)
    size = len(phrase)
    return sum(1 for i, token in enumerate(tokens) if token == first and tuple(tokens[i:i + size]) == phrase)


def bm25(phrases: Sequence[Phrase], candidates: Iterable[Candidate], corpus: Corpus, *,
         limit: int) -> list[tuple[str, float]]:
    """The candidates that hold any of the phrases, best first (equal scores by id), at most `limit`."""
    found: list[tuple[Candidate, list[float]]] = []
    holding = [0] * len(phrases)
    for candidate in candidates:
        freqs = [TEXT_WEIGHT * _count(candidate.text, p) + KEYWORD_WEIGHT * _count(candidate.keywords, p)
                 for p in phrases]
        if any(freqs):
            found.append((candidate, freqs))
            for i, freq in enumerate(freqs):
                holding[i] += freq > 0
    if not found:
        return []
    # The prefilter and the corpus count come from one snapshot; max() only guards a store that breaks that.
    documents = max(corpus.documents, len(found))
    average = max(corpus.terms / documents, 1.0)
    idf = [max(math.log((documents - n + 0.5) / (n + 0.5)), MIN_IDF) for n in holding]
    scored = []
    for candidate, freqs in found:
        norm = K1 * (1 - B + B * (len(candidate.text) + len(candidate.keywords)) / average)
        score = sum(w * f * (K1 + 1) / (f + norm) for w, f in zip(idf, freqs, strict=True) if f)
        scored.append((candidate.id, score))
    scored.sort(key=lambda item: (-item[1], item[0]))
    return scored[:limit]
