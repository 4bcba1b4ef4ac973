"""Merge by score, threshold, MMR and paging over hits of several collections."""

from __future__ import annotations

import numpy as np

from ragserve.orchestrator.query.model import Hit
from ragserve.orchestrator.query.ranking import above_threshold, merge_by_score, mmr_select, page


def hit(collection: str, point: str, score: float, vector: list[float] | None = None) -> Hit:
    return Hit(
        collection=collection,
        point_id=point,
        document_id=point,
        chunk_index=0,
        text=point,
        score=score,
        vector=None if vector is None else np.asarray(vector, dtype=np.float32),
    )


def ids(hits: list[Hit]) -> list[str]:
    return [h.point_id for h in hits]


def test_merge_orders_by_score_across_collections() -> None:
    a = [hit("a", "a1", 0.9), hit("a", "a2", 0.5)]
    b = [hit("b", "b1", 0.7), hit("b", "b2", 0.6)]
    assert ids(merge_by_score([a, b])) == ["a1", "b1", "b2", "a2"]


def test_merge_ties_keep_collection_order_and_drop_duplicates() -> None:
    a = [hit("a", "x", 0.5)]
    b = [hit("b", "x", 0.5)]
    merged = merge_by_score([a, b, a])
    assert [(h.collection, h.point_id) for h in merged] == [("a", "x"), ("b", "x")]


def test_threshold_keeps_hits_at_or_above() -> None:
    hits = [hit("a", "1", 0.8), hit("a", "2", 0.5), hit("a", "3", 0.49)]
    assert ids(above_threshold(hits, 0.5)) == ["1", "2"]
    assert ids(above_threshold(hits, None)) == ["1", "2", "3"]


def test_page_slices_after_offset() -> None:
    hits = [hit("a", str(i), 1 - i / 10) for i in range(6)]
    assert ids(page(hits, 2, 3)) == ["2", "3", "4"]
    assert ids(page(hits, 5, 3)) == ["5"]
    assert page(hits, 9, 3) == []


def test_mmr_zero_diversity_is_relevance_order() -> None:
    hits = [hit("a", "1", 0.9, [1, 0]), hit("a", "2", 0.8, [1, 0]), hit("a", "3", 0.5, [0, 1])]
    assert ids(mmr_select(hits, 2, 0.0)) == ["1", "2"]


def test_mmr_prefers_a_novel_hit_over_a_near_duplicate() -> None:
    # "2" repeats "1"; "3" is less relevant but says something else.
    hits = [
        hit("a", "1", 0.90, [1.0, 0.0]),
        hit("a", "2", 0.89, [0.999, 0.01]),
        hit("a", "3", 0.70, [0.0, 1.0]),
    ]
    assert ids(mmr_select(hits, 2, 0.5)) == ["1", "3"]
    assert ids(mmr_select(hits, 3, 0.5)) == ["1", "3", "2"]


def test_mmr_full_diversity_still_starts_with_the_best() -> None:
    hits = [hit("a", "1", 0.9, [1, 0]), hit("a", "2", 0.1, [0, 1])]
    # With diversity 1 relevance has no weight: the first pick is a tie at 0, taken in order.
    assert ids(mmr_select(hits, 1, 1.0))[0] == "1"


def test_mmr_without_vectors_keeps_score_order() -> None:
    hits = [hit("a", "1", 0.9), hit("a", "2", 0.8)]
    assert ids(mmr_select(hits, 5, 0.7)) == ["1", "2"]
    assert mmr_select(hits, 0, 0.7) == []
