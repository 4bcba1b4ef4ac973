from __future__ import annotations

from ragserve.embedding_router.config import RoutingConfig, RoutingWeights
from ragserve.embedding_router.selection import Candidate, ProviderStats, order_candidates, score


def _c(
    pid: str,
    price: float = 0.0,
    quality: float = 1.0,
    latency: float | None = None,
    success: float = 1.0,
    in_flight: int = 0,
) -> Candidate:
    return Candidate(pid, price, quality, latency, success, in_flight)


def test_score_uses_the_weights() -> None:
    routing = RoutingConfig()
    cheap_slow = _c("a", price=0.0, quality=0.5, latency=0.2)
    dear_fast = _c("b", price=0.1, quality=1.0, latency=0.1)
    both = [cheap_slow, dear_fast]
    # a: 0.4*1 + 0.3*0 + 0.3*0.5 ; b: 0.4*0 + 0.3*0.5 + 0.3*1
    assert round(score(cheap_slow, both, routing), 6) == 0.55
    assert round(score(dear_fast, both, routing), 6) == 0.45
    assert order_candidates(both, routing) == ["a", "b"]
    latency_first = RoutingConfig(weights=RoutingWeights(cost=0, latency=1, quality=0))
    assert order_candidates(both, latency_first) == ["b", "a"]


def test_reliability_floor_puts_unreliable_last() -> None:
    routing = RoutingConfig(reliability_floor=0.6)
    best_but_flaky = _c("a", success=0.5)
    worse = _c("b", price=1.0, quality=0.1)
    assert order_candidates([best_but_flaky, worse], routing) == ["b", "a"]


def test_ties_go_to_fewest_in_flight() -> None:
    routing = RoutingConfig(tie_epsilon=0.05)
    busy = _c("a", latency=0.010, in_flight=5)
    idle = _c("b", latency=0.0105, in_flight=1)
    assert order_candidates([busy, idle], routing) == ["b", "a"]


def test_stats_moving_averages() -> None:
    stats = ProviderStats(alpha=0.5)
    stats.record(0.1, ok=True)
    stats.record(0.3, ok=True)
    stats.record(5.0, ok=False)  # a failure's latency is not the provider's speed
    assert round(stats.latency_s or 0, 6) == 0.2
    assert stats.success_ratio == 0.5
    assert (stats.calls, stats.failures) == (3, 1)
