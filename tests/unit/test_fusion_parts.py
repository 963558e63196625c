"""The search playground's score parts add up to exactly the score `fuse` ranks by."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from agentic_memory.domain.ranking import PINNED, FusionWeights, fuse, fusion_parts

IDS = [f"m{i}" for i in range(8)]
T0 = datetime(2026, 1, 1, tzinfo=UTC)
scores = st.lists(st.tuples(st.sampled_from(IDS), st.floats(-1, 20, allow_nan=False)), max_size=8,
                  unique_by=lambda item: item[0])


@given(dense=scores, keyword=scores, pins=st.sets(st.sampled_from(IDS)),
       priors=st.dictionaries(st.sampled_from(IDS), st.sampled_from([0.3, 1.0])))
def test_parts_recompose_the_fused_score(dense, keyword, pins, priors):
    created = {m: T0 + timedelta(hours=i) for i, m in enumerate(IDS)}
    weights = FusionWeights()
    ranked = fuse(dense, keyword, created, weights, priors=priors, pins=pins)
    parts = fusion_parts(dense, keyword, created, weights, priors=priors, pins=pins)
    assert [(m, parts[m].score) for m, _ in ranked] == ranked
    for memory_id, part in parts.items():
        expected = (part.dense + part.keyword + part.recency) * part.prior + (PINNED if part.pinned else 0.0)
        assert abs(part.score - expected) < 1e-9, memory_id
