"""LocalMemoryEngine: memories in our own store, embedded by our model, found by hybrid ranking.

`remember` writes nothing itself: its memories and supersessions go into the store's one transaction
for the call (with the profile), so a crash leaves either all of the call or none of it.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import replace
from typing import TYPE_CHECKING

from agentic_memory.domain.models import CallContext, Memory, MemoryHit, MemoryType
from agentic_memory.domain.ranking import (
    FusionWeights,
    Parts,
    answer_shape,
    asks_now,
    call_recency,
    coverage,
    fusion_parts,
    lean,
    pinned,
    prior,
    query_terms,
    slot_terms,
)
from agentic_memory.ports import Embedder, ExplainedHit, MemoryStore, ProcessedCall, Remembered

if TYPE_CHECKING:  # annotations only; numpy is imported with the first vector (a greeting needs none)
    import numpy as np

CANDIDATES = 100


class LocalMemoryEngine:
    def __init__(self, store: MemoryStore, embedder: Embedder, *, weights: FusionWeights | None = None,
                 query_embedder: Embedder | None = None) -> None:
        self.store = store
        self.embedder = embedder
        # The memory proxy's query model (services/proxy.py runs it on its recall thread): bootstrap.py gives an
        # int8 copy of `embedder`'s model on one core, half the CPU per query. None: the proxy uses `embedder`.
        self.query_embedder = query_embedder
        self.weights = weights or FusionWeights()

    def remember(self, call: ProcessedCall, context: CallContext) -> Remembered:
        # Imported here, by the worker: a Lambda container that only greets callers never loads numpy.
        import numpy as np

        from agentic_memory.domain.call_update import new_memories

        texts = [f.text for f in call.facts] + [c.index_text for c in call.chunks]
        vectors = self.embedder.embed(texts) if texts else np.zeros((0, self.embedder.dim), np.float32)
        stored, superseded = new_memories(call.conversation, list(call.facts), list(call.chunks), vectors,
                                          context.active_facts)
        return Remembered(active=[m for m, _ in context.active_facts], new=[s.memory for s in stored],
                          superseded=superseded, stored=stored, stored_superseded=superseded)

    def prepare(self, query: str) -> Future[np.ndarray] | None:
        submit = getattr(self.embedder, "submit", None)  # BatchingEmbedder's; test embedders have none
        return None if submit is None else submit(query)

    def recall(self, caller_id: str, query: str, *, limit: int, type: MemoryType | None,
               checkpoint: Callable[[], None] | None = None, vector: np.ndarray | None = None) -> list[MemoryHit]:
        return [MemoryHit(hit.memory, hit.parts.score)
                for hit in self.explain(caller_id, query, limit=limit, type=type, checkpoint=checkpoint,
                                        vector=vector)]

    def recall_keywords(self, caller_id: str, query: str, *, limit: int, type: MemoryType | None = None,
                        checkpoint: Callable[[], None] | None = None) -> list[MemoryHit]:
        """`recall` without the query embedding: keyword match, recency and priors only. The memory proxy's
        answer while the embedder is saturated (a paraphrase with no word in common is missed)."""
        return [MemoryHit(hit.memory, hit.parts.score)
                for hit in self.explain(caller_id, query, limit=limit, type=type, checkpoint=checkpoint, dense=False)]

    def recall_staged(self, caller_id: str, query: str, *, limit: int, vector: Callable[[], np.ndarray],
                      on_keywords: Callable[[list[MemoryHit]], None],
                      checkpoint: Callable[[], None] | None = None) -> list[MemoryHit]:
        """`recall_keywords`, handed to `on_keywords` as soon as it is ranked, then `recall` with the vector
        `vector()` waits for (the query's embedding, started before): the memory proxy's turn. The keyword
        search and the memories it found serve both rankings (one search, one read, rather than two)."""
        check = checkpoint or _no_check
        pool = max(CANDIDATES, limit * 2)
        terms = query_terms(query)
        check()
        keyword = self.store.keyword_search(caller_id, terms, limit=pool, type=None)
        found = self.store.memories(list({memory_id for memory_id, _ in keyword})) if keyword else {}
        on_keywords(_hits(self._rank(query, terms, [], keyword, found, limit)) if keyword else [])
        query_vector = vector()
        check()
        similar = self.store.dense_search(caller_id, query_vector, limit=pool, type=None)
        if not similar:
            return []
        unread = list({memory_id for memory_id, _ in similar} - found.keys())
        if unread:
            found = {**found, **self.store.memories(unread)}
        return _hits(self._rank(query, terms, similar, keyword, found, limit))

    def explain(self, caller_id: str, query: str, *, limit: int, type: MemoryType | None,
                checkpoint: Callable[[], None] | None = None, vector: np.ndarray | None = None,
                dense: bool = True) -> list[ExplainedHit]:
        """The ranking, with what each signal added to every hit's score. `checkpoint` runs before each costly
        step and may raise to abandon the work (the proxy's budget). `dense=False`: keywords only."""
        check = checkpoint or _no_check
        pool = max(CANDIDATES, limit * 2)
        similar: list[tuple[str, float]] = []
        if dense:
            check()
            if vector is None:
                vector = self.embedder.embed([query])[0]
            check()
            similar = self.store.dense_search(caller_id, vector, limit=pool, type=type)
            if not similar:
                return []  # no memories of this type for this caller: skip the keyword query
        terms = query_terms(query)
        check()
        keyword = self.store.keyword_search(caller_id, terms, limit=pool, type=type)
        if not dense and not keyword:
            return []
        found = self.store.memories(list({memory_id for memory_id, _ in (*similar, *keyword)}))
        return self._rank(query, terms, similar, keyword, found, limit)

    def _rank(self, query: str, terms: list[str], similar: list[tuple[str, float]], keyword: list[tuple[str, float]],
              found: dict[str, Memory], limit: int) -> list[ExplainedHit]:
        weights = self.weights
        if weights.lean:
            weights = lean(weights, coverage(terms, (found[m].text for m, _ in keyword if m in found)))
        created = {memory_id: memory.created_at for memory_id, memory in found.items()}
        priors = {memory_id: prior(memory, weights) for memory_id, memory in found.items()}
        if weights.current and asks_now(query):
            # A question about the present: among the memories that name its words, the newest call's word
            # on the topic outranks older ones (a changed address, a new alert channel).
            topical = [found[memory_id] for memory_id, _ in keyword if memory_id in found]
            for memory_id, rank in call_recency(topical).items():
                priors[memory_id] *= 1 + weights.current * rank
        slots = slot_terms(query, terms)  # "when can she come in?" asks for the appointment-time slot
        parts = fusion_parts(similar, keyword, created, weights, priors=priors,
                             pins=[memory_id for memory_id, memory in found.items() if pinned(memory, slots)])
        ranked = sorted(parts.items(), key=lambda item: (-item[1].score, item[0]))  # the order fuse() gives
        if weights.answer and (shape := answer_shape(query)):
            ranked = _answer_boost(ranked, found, shape, 1 + weights.answer, limit)
        return [ExplainedHit(found[memory_id], p) for memory_id, p in ranked if memory_id in found][:limit]

    def forget(self, caller_id: str) -> None:
        """Nothing to do: these memories live in our store, whose erasure removes them with the profile."""

    def ping(self) -> None:
        self.store.ping()

    @property
    def probe_inline(self) -> bool:
        """Its ping is the store's, so it is as safe on the event loop as the store says (http/health.py)."""
        return getattr(self.store, "probe_inline", False) is True


def _answer_boost(ranked: list[tuple[str, Parts]], found: dict[str, Memory], holds: Callable[[str], bool],
                  factor: float, limit: int) -> list[tuple[str, Parts]]:
    """A memory holding the kind of value the question asks for (a date for "when...?", a weight for "how
    heavy...?") x `factor`, like a prior. Only the candidates the factor could lift into the first `limit` are
    tested (a text test per memory is not free); pinned facts are first already."""
    if len(ranked) <= 1:
        return ranked
    floor = ranked[min(limit, len(ranked)) - 1][1].score / factor
    out = []
    for memory_id, p in ranked:
        if not p.pinned and p.score >= floor and memory_id in found and holds(found[memory_id].text):
            p = replace(p, prior=p.prior * factor, score=p.score * factor)
        out.append((memory_id, p))
    return sorted(out, key=lambda item: (-item[1].score, item[0]))


def _hits(explained: list[ExplainedHit]) -> list[MemoryHit]:
    return [MemoryHit(hit.memory, hit.parts.score) for hit in explained]


def _no_check() -> None:
    return None
