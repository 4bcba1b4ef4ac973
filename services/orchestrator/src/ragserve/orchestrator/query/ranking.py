"""Merging hits of several collections, the score threshold, MMR and paging."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from ragserve.orchestrator.query.model import Hit


def merge_by_score(results: Iterable[Sequence[Hit]]) -> list[Hit]:
    """All hits, best score first; ties keep collection order, then rank (stable sort).

    A point seen twice (the same collection named twice) is kept once."""
    seen: set[tuple[str, str]] = set()
    merged: list[Hit] = []
    for hits in results:
        for hit in hits:
            key = (hit.collection, hit.point_id)
            if key not in seen:
                seen.add(key)
                merged.append(hit)
    merged.sort(key=lambda hit: -hit.score)
    return merged


def above_threshold(hits: Sequence[Hit], threshold: float | None) -> list[Hit]:
    if threshold is None:
        return list(hits)
    return [hit for hit in hits if hit.score >= threshold]


def mmr_select(hits: Sequence[Hit], count: int, diversity: float) -> list[Hit]:
    """Maximal marginal relevance: greedily pick the hit maximising
    ``(1 - diversity) * relevance - diversity * max similarity to those picked``.

    Relevance is the search score (cosine); similarity is the cosine of the hits'
    vectors. Hits without vectors cannot be compared and keep their score order."""
    if count <= 0 or not hits:
        return []
    if diversity <= 0 or any(hit.vector is None for hit in hits):
        return list(hits[:count])
    vectors = np.stack([np.asarray(hit.vector, dtype=np.float32) for hit in hits])
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = vectors / np.where(norms == 0, 1.0, norms)
    similarity = unit @ unit.T
    relevance = np.array([hit.score for hit in hits], dtype=np.float32)
    weight = 1.0 - diversity
    chosen: list[int] = []
    # Highest similarity of each candidate to anything chosen so far.
    closest = np.full(len(hits), -np.inf, dtype=np.float32)
    available = np.ones(len(hits), dtype=bool)
    for _ in range(min(count, len(hits))):
        penalty = closest if chosen else np.zeros(len(hits), dtype=np.float32)
        value = weight * relevance - diversity * penalty
        value[~available] = -np.inf
        pick = int(np.argmax(value))
        chosen.append(pick)
        available[pick] = False
        closest = np.maximum(closest, similarity[pick])
    return [hits[i] for i in chosen]


def page(hits: Sequence[Hit], offset: int, top_k: int) -> list[Hit]:
    return list(hits[offset : offset + top_k])
