"""Fusion of dense and keyword evidence into one ranking (weights chosen by measurement, bench/)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

_WORD = re.compile(r"[\w'-]+", re.UNICODE)
STOPWORDS = frozenset("""
a an the and or but if then so of to in on at by for with from about as into over after before is are was
were be been being am do does did doing have has had having i me my mine we our you your he him his she her
it its they them their what which who whom whose when where why how this that these those there here
can could would should will shall may might must not no yes just also too very any some all each more most
other such only own same than up down out off again further once last time ever please tell know like
""".split())


@dataclass(frozen=True, slots=True)
class FusionWeights:
    dense: float = 0.6
    keyword: float = 0.4
    recency: float = 0.02


def query_terms(query: str, *, limit: int = 32) -> list[str]:
    """Keyword-search terms: words minus stopwords, deduplicated, order kept."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(query.lower()):
        word = word.strip("'-")
        if word and word not in STOPWORDS and word not in seen:
            seen[word] = None
    return list(seen)[:limit]


def fuse(dense: Sequence[tuple[str, float]], keyword: Sequence[tuple[str, float]],
         created: dict[str, datetime], weights: FusionWeights = FusionWeights()) -> list[tuple[str, float]]:
    """Weighted sum of cosine and max-normalised BM25, plus a small recency bonus that breaks near-ties."""
    scores: dict[str, float] = {}
    for memory_id, score in dense:  # cosine is already on an absolute scale
        scores[memory_id] = weights.dense * max(score, 0.0)
    top_keyword = max((s for _, s in keyword), default=0.0)
    if top_keyword > 0:
        for memory_id, score in keyword:
            scores[memory_id] = scores.get(memory_id, 0.0) + weights.keyword * max(score, 0.0) / top_keyword
    if created:
        order = sorted(created, key=lambda m: created[m])
        span = max(len(order) - 1, 1)
        for rank, memory_id in enumerate(order):
            if memory_id in scores:
                scores[memory_id] += weights.recency * rank / span
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))
