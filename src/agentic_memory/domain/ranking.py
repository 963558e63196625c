"""Fusion of dense and keyword evidence into one ranking (weights chosen by measurement, bench/locomo.py).

score = dense * cosine + keyword * BM25 / best BM25 + recency * (age rank of the memory among candidates),
then times a prior by kind of memory (call summaries are long and broad: they fill a caller's context
with little that answers the question). A current fact whose slot the query names (a "milk" preference
for "what milk do I take?") is pinned above everything: it is the newest word on that topic, and older
transcript turns about the same topic may be stale. A question about the present ("where should her
deliveries go now?") ranks the keyword hits of newer calls higher (`asks_now`, `call_recency`): transcripts
keep the old value, and the newest call's word on the topic is the one that holds.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from agentic_memory.domain.models import Memory

_WORD = re.compile(r"[\w'-]+", re.UNICODE)
_SLOT_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_STOPWORD_TEXT = """
a an the and or but if then so of to in on at by for with from about as into over after before is are was
were be been being am do does did doing have has had having i me my mine we our you your he him his she her
it its they them their what which who whom whose when where why how this that these those there here
can could would should will shall may might must not no yes just also too very any some all each more most
other such only own same than up down out off again further once last time ever please tell know like
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
PINNED = 1.0  # added to a pinned fact's score: fused scores stay below 1.1


@dataclass(frozen=True, slots=True)
class FusionWeights:
    dense: float = 0.4
    keyword: float = 0.6
    recency: float = 0.02
    summary: float = 0.3  # prior of call summaries
    evaluation: float = 0.3  # prior of evaluation rationales (they judge the agent, not the caller)
    lean: float = 2.0  # exponent of the query's word coverage on the keyword weight (0: fixed weights)
    current: float = 0.5  # present-tense questions: keyword hits of the newest call x (1 + current), oldest x 1


def query_terms(query: str, *, limit: int = 32) -> list[str]:
    """Keyword-search terms: words minus stopwords, deduplicated, order kept."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(query.lower()):
        word = word.strip("'-")
        if word and word not in STOPWORDS and word not in seen:
            seen[word] = None
    return list(seen)[:limit]


def stem(word: str) -> str:
    """Plural-level stemming, enough to match a slot topic or a keyword to its plural."""
    word = word.lower().removesuffix("'s")
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def pinned(memory: Memory, terms: Iterable[str]) -> bool:
    """A current fact whose slot topic ("preference:milk" -> milk) the query names, every word of it:
    "tenant_name" is neither "what's the dog's name?" nor "when is the tenant moving out?"."""
    if memory.type != "factual" or not memory.slot:
        return False
    _, _, topic = memory.slot.partition(":")
    topic_words = {stem(w) for w in _SLOT_WORD.findall(topic)} - STOPWORDS
    return bool(topic_words) and topic_words <= {stem(t) for t in terms}


def prior(memory: Memory, weights: FusionWeights = FusionWeights()) -> float:
    if memory.type != "factual":
        return 1.0
    return {"summary": weights.summary, "evaluation": weights.evaluation}.get(memory.category, 1.0)


_PAST_TEXT = "did didn't was wasn't were weren't had hadn't ago used originally previously formerly"
# Words that ask for the state of things now, or for a standing arrangement ("where should deliveries go?",
# "when can she bring him in?"), in en/es/fr/de.
_NOW_TEXT = """now current currently new newest latest still anymore nowadays should can
ahora actual actualmente nuevo nueva maintenant actuel actuelle actuellement nouveau nouvelle jetzt aktuell
derzeit neu neue neuen"""
_PAST, _NOW = frozenset(_PAST_TEXT.split()), frozenset(_NOW_TEXT.split())


def asks_now(query: str) -> bool:
    """A question about the present state or a standing arrangement, not about what happened ("what did the
    vet say?", "how heavy was he in January?")."""
    words = {word.strip("'-") for word in _WORD.findall(query.lower())}
    return bool(words & _NOW) and not words & _PAST


def call_recency(memories: Iterable[Memory]) -> dict[str, float]:
    """Each memory's call ranked among the calls in `memories`, 0 for the oldest to 1 for the newest."""
    memories = list(memories)
    started: dict[str, datetime] = {}
    for m in memories:
        started[m.conversation_id] = min(started.get(m.conversation_id, m.created_at), m.created_at)
    order = sorted(started, key=lambda c: (started[c], c))
    span = max(len(order) - 1, 1)
    rank = {c: i / span for i, c in enumerate(order)}
    return {m.id: rank[m.conversation_id] for m in memories}


def coverage(terms: Sequence[str], texts: Iterable[str]) -> float:
    """Share of the query's terms that occur (as a word prefix, to survive plurals and tenses) in `texts`."""
    if not terms:
        return 0.0
    words = {w for text in texts for w in _WORD.findall(text.lower())}
    stems = {t: stem(t)[:max(4, len(stem(t)) - 2)] for t in terms}
    found = sum(1 for t in terms if any(w.startswith(stems[t]) for w in words))
    return found / len(terms)


def lean(weights: FusionWeights, covered: float) -> FusionWeights:
    """Query-dependent fusion: the keyword side keeps its weight only as far as the query's words occur in
    the caller's memories; the rest goes to the dense side (a paraphrase shares no words with its answer)."""
    keyword = weights.keyword * covered ** weights.lean
    return replace(weights, dense=weights.dense + weights.keyword - keyword, keyword=keyword)


@dataclass(frozen=True, slots=True)
class Parts:
    """What each signal added to one memory's fused score (the search playground shows these)."""

    dense: float = 0.0  # dense weight * cosine
    keyword: float = 0.0  # keyword weight * BM25 / best BM25
    recency: float = 0.0  # recency weight * age rank
    prior: float = 1.0  # factor by kind of memory
    pinned: bool = False  # a current fact whose slot the query names (+PINNED)
    score: float = 0.0


def fusion_parts(dense: Sequence[tuple[str, float]], keyword: Sequence[tuple[str, float]],
                 created: dict[str, datetime], weights: FusionWeights = FusionWeights(), *,
                 priors: dict[str, float] | None = None, pins: Iterable[str] = ()) -> dict[str, Parts]:
    """The fused score of every candidate and its parts, summed in one fixed order (so `fuse` ranks
    exactly by these scores)."""
    parts: dict[str, dict[str, float]] = {}
    for memory_id, score in dense:  # cosine is already on an absolute scale
        parts[memory_id] = {"dense": weights.dense * max(score, 0.0), "score": weights.dense * max(score, 0.0)}
    top_keyword = max((s for _, s in keyword), default=0.0)
    if top_keyword > 0:
        for memory_id, score in keyword:
            item = parts.setdefault(memory_id, {"score": 0.0})
            item["keyword"] = weights.keyword * max(score, 0.0) / top_keyword
            item["score"] += item["keyword"]
    if created:
        order = sorted(created, key=lambda m: (created[m], m))  # ties by id: the same on every store
        span = max(len(order) - 1, 1)
        for rank, memory_id in enumerate(order):
            if memory_id in parts:
                parts[memory_id]["recency"] = weights.recency * rank / span
                parts[memory_id]["score"] += parts[memory_id]["recency"]
    for memory_id, factor in (priors or {}).items():
        if memory_id in parts:
            parts[memory_id]["prior"] = factor
            parts[memory_id]["score"] *= factor
    for memory_id in pins:
        if memory_id in parts:
            parts[memory_id]["pinned"] = 1.0
            parts[memory_id]["score"] += PINNED
    return {memory_id: Parts(dense=p.get("dense", 0.0), keyword=p.get("keyword", 0.0),
                             recency=p.get("recency", 0.0), prior=p.get("prior", 1.0),
                             pinned=bool(p.get("pinned")), score=p["score"]) for memory_id, p in parts.items()}


def fuse(dense: Sequence[tuple[str, float]], keyword: Sequence[tuple[str, float]],
         created: dict[str, datetime], weights: FusionWeights = FusionWeights(), *,
         priors: dict[str, float] | None = None, pins: Iterable[str] = ()) -> list[tuple[str, float]]:
    """Weighted sum of cosine and max-normalised BM25, a small recency bonus that breaks near-ties,
    times each memory's prior (default 1); pinned ids first."""
    parts = fusion_parts(dense, keyword, created, weights, priors=priors, pins=pins)
    return sorted(((memory_id, p.score) for memory_id, p in parts.items()), key=lambda item: (-item[1], item[0]))
