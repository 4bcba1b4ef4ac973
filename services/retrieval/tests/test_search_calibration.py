"""How a built index is to be searched, decided from recall and speed on a sample (pure
logic: a scripted searcher and clock of our own, no engine)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from ragserve.retrieval.model import ScoredPoint, SearchQuery
from ragserve.retrieval.search_calibration import Calibration, calibrate

SAMPLES = [(index, (float(index), 1.0)) for index in range(4)]
TRUTH = list(range(100, 111))  # 11 ids: top-10 after leaving the query itself out


class ScriptedSearcher:
    """Exact search returns the query point itself first, then TRUTH. HNSW at ef finds the
    first ``found[ef]`` of TRUTH (then misses), taking ``cost_ms[ef]`` per query."""

    def __init__(
        self, found: dict[int, int], cost_ms: dict[int, float], exact_cost_ms: float
    ) -> None:
        self.found, self.cost_ms, self.exact_cost_ms = found, cost_ms, exact_cost_ms
        self.now = 0.0
        self.efs: list[int] = []

    def clock(self) -> float:
        return self.now

    def search(
        self, queries: Sequence[SearchQuery], *, indexed: bool, default_ef: int
    ) -> list[list[ScoredPoint]]:
        [query] = queries
        assert indexed and query.limit == 11 and query.with_payload is False
        own_id = int(query.vector[0])
        if query.exact:
            self.now += self.exact_cost_ms / 1000
            ids = [own_id, *TRUTH[:10]]
        else:
            self.efs.append(default_ef)
            self.now += self.cost_ms[default_ef] / 1000
            hits = self.found[default_ef]
            ids = [own_id, *TRUTH[:hits], *range(900, 900 + 10 - hits)]
        return [[ScoredPoint(point_id, 1.0, None) for point_id in ids]]


def test_smallest_ef_reaching_the_recall_target_wins() -> None:
    searcher = ScriptedSearcher({32: 8, 64: 9, 128: 10}, {32: 1.0, 64: 2.0, 128: 3.0}, 10.0)
    calibration = calibrate(searcher, SAMPLES, min_recall=0.9, clock=searcher.clock)
    assert (calibration.search_ef, calibration.recall, calibration.samples) == (64, 0.9, 4)
    assert (calibration.exact_ms, calibration.hnsw_ms) == (pytest.approx(10.0), pytest.approx(2.0))
    assert set(searcher.efs) == {32, 64}


def test_exact_search_stays_when_hnsw_is_slower_before_it_is_accurate() -> None:
    # The random-vector case at 100k: recall climbs with ef, but exact is faster by then.
    searcher = ScriptedSearcher(
        {32: 2, 64: 3, 128: 5, 256: 7}, {32: 2.0, 64: 4.0, 128: 8.0, 256: 16.0}, 13.0
    )
    calibration = calibrate(searcher, SAMPLES, min_recall=0.95, clock=searcher.clock)
    assert (calibration.search_ef, calibration.recall) == (0, 0.7)
    assert searcher.efs.count(512) == 0  # a wider beam is not tried once slower
    assert (calibration.exact_ms, calibration.hnsw_ms) == (pytest.approx(13.0), pytest.approx(16.0))


def test_speed_is_ignored_when_not_required() -> None:
    searcher = ScriptedSearcher({32: 10}, {32: 50.0}, 1.0)
    calibration = calibrate(
        searcher, SAMPLES, min_recall=0.95, require_faster=False, clock=searcher.clock
    )
    assert (calibration.search_ef, calibration.recall) == (32, 1.0)


def test_never_accurate_enough_means_exact_with_the_best_recall_seen() -> None:
    searcher = ScriptedSearcher({32: 4, 64: 6}, {32: 1.0, 64: 1.0}, 5.0)
    calibration = calibrate(
        searcher, SAMPLES, min_recall=0.95, candidates=(32, 64), clock=searcher.clock
    )
    assert (calibration.search_ef, calibration.recall) == (0, 0.6)
    assert calibrate(searcher, [], min_recall=0.95) == Calibration(0, 0.0, 0.0, 0.0, 0)
    assert Calibration.from_json(calibration.to_json()) == calibration
