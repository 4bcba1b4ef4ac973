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


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_stats_moving_averages() -> None:
    stats = ProviderStats(alpha=0.5, half_life_s=60.0, clock=FakeClock())
    stats.record(0.1, ok=True)
    stats.record(0.3, ok=True)
    stats.record(5.0, ok=False)  # a failure's latency is not the provider's speed
    assert round(stats.latency_s or 0, 6) == 0.2
    assert stats.success_ratio() == 0.5
    assert (stats.recorded, stats.failures) == (3, 1)


def test_failures_fade_with_time_without_any_call() -> None:
    clock = FakeClock()
    stats = ProviderStats(alpha=0.5, half_life_s=60.0, clock=clock)
    stats.record(0.1, ok=False)
    stats.record(0.1, ok=False)
    assert stats.success_ratio() == 0.25
    clock.now += 60  # one half-life: the shortfall of 0.75 halves
    assert stats.success_ratio() == 0.625
    clock.now += 120
    assert round(stats.success_ratio(), 6) == round(1 - 0.75 / 8, 6)
    # A call after the pause averages into the faded ratio, not the old one.
    stats.record(0.1, ok=True)
    assert round(stats.success_ratio(), 6) == round(1 - 0.75 / 16, 6)


def test_a_provider_under_the_floor_is_ranked_first_again_once_its_failures_fade() -> None:
    clock = FakeClock()
    routing = RoutingConfig(reliability_floor=0.5, reliability_half_life_s=30.0)
    stats = ProviderStats(alpha=0.2, half_life_s=routing.reliability_half_life_s, clock=clock)
    for _ in range(5):
        stats.record(0.01, ok=False)
    flaky_ratio = stats.success_ratio()
    assert round(flaky_ratio, 6) == round(0.8**5, 6)  # 0.32768: under the floor

    def ranking() -> list[str]:
        best_but_flaky = _c("a", success=stats.success_ratio())
        worse = _c("b", price=1.0, quality=0.1)
        return order_candidates([best_but_flaky, worse], routing)

    assert ranking() == ["b", "a"]
    # Shortfall 0.67232 must fall to 0.5: log2(0.67232 / 0.5) half-lives = 12.8 s.
    clock.now += 12.5
    assert ranking() == ["b", "a"]
    clock.now += 0.5
    assert stats.success_ratio() > 0.5
    assert ranking() == ["a", "b"]


def test_reset_forgets_failures() -> None:
    clock = FakeClock()
    stats = ProviderStats(alpha=0.5, clock=clock)
    stats.record(0.1, ok=False)
    stats.reset_success()
    assert stats.success_ratio() == 1.0
