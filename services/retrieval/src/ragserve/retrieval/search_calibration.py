"""Choosing how a freshly indexed collection is searched, from measurements on its own data.

An HNSW index is not automatically better than scoring every vector: on data without
structure (random 384-d vectors, 100k points, m 16) recall@10 was 0.50 at ef 512 and 0.93
at ef 2048, where HNSW was already slower than exact search (docs/bench/retrieval.md).
So once a build finishes, the builder measures, on a sample of the collection's own
vectors used as queries: exact top-k (the truth), then HNSW at growing ``ef``; the
collection is searched with the smallest ``ef`` whose recall reaches the target while
being faster than exact search, or exactly if none is.

Invariant: ``Calibration.search_ef == 0`` means "search exactly"; otherwise recall at
``search_ef`` was at least the target on the sample.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from ragserve.retrieval.model import PointId, ScoredPoint, SearchQuery

#: Search-time beam widths tried, in order; growing ef only costs time.
CANDIDATE_EFS = (32, 64, 128, 256, 512, 1024, 2048, 4096)
K = 10


class Searcher(Protocol):
    def search(
        self, queries: Sequence[SearchQuery], *, indexed: bool, default_ef: int
    ) -> list[list[ScoredPoint]]: ...


@dataclass(frozen=True)
class Calibration:
    """``search_ef``: the beam width searches use (0: exact search). ``recall``: recall@10
    on the sample at ``search_ef`` (the best seen when 0). ``exact_ms`` / ``hnsw_ms``: mean
    per-query latencies measured in the builder (``hnsw_ms`` at the last ef tried when 0).
    """

    search_ef: int
    recall: float
    exact_ms: float
    hnsw_ms: float
    samples: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Calibration:
        return cls(
            search_ef=int(data["search_ef"]),
            recall=float(data["recall"]),
            exact_ms=float(data["exact_ms"]),
            hnsw_ms=float(data["hnsw_ms"]),
            samples=int(data["samples"]),
        )


def calibrate(
    searcher: Searcher,
    samples: Sequence[tuple[PointId, tuple[float, ...]]],
    *,
    min_recall: float,
    require_faster: bool = True,
    candidates: Sequence[int] = CANDIDATE_EFS,
    clock: Callable[[], float] = time.perf_counter,
) -> Calibration:
    """Each sample is a stored point used as a query; it is left out of its own results, so
    finding itself does not flatter the recall."""
    if not samples:
        return Calibration(0, 0.0, 0.0, 0.0, 0)
    truth, exact_ms = _run(searcher, samples, 0, clock)
    best_recall, hnsw_ms = 0.0, 0.0
    for ef in candidates:
        found, hnsw_ms = _run(searcher, samples, ef, clock)
        recall = statistics.fmean(
            len(set(expected) & set(got)) / max(1, len(expected))
            for expected, got in zip(truth, found, strict=True)
        )
        best_recall = max(best_recall, recall)
        faster = hnsw_ms < exact_ms or not require_faster
        if recall >= min_recall and faster:
            return Calibration(ef, recall, exact_ms, hnsw_ms, len(samples))
        if not faster:
            break  # a wider beam is slower still
    return Calibration(0, best_recall, exact_ms, hnsw_ms, len(samples))


def _run(
    searcher: Searcher,
    samples: Sequence[tuple[PointId, tuple[float, ...]]],
    ef: int,
    clock: Callable[[], float],
) -> tuple[list[list[PointId]], float]:
    """Top-k ids per sample (itself left out) and the mean ms per query, one at a time;
    ``ef`` 0 is exact search."""
    results: list[list[PointId]] = []
    started = clock()
    for point_id, vector in samples:
        query = SearchQuery(vector=vector, limit=K + 1, with_payload=False, exact=ef == 0)
        [hits] = searcher.search([query], indexed=True, default_ef=ef)
        results.append([hit.id for hit in hits if hit.id != point_id][:K])
    return results, (clock() - started) * 1000 / len(samples)
