from __future__ import annotations

from ragserve.embedding_router.breaker import BreakerState, CircuitBreaker
from ragserve.embedding_router.config import BreakerConfig


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _breaker(**overrides: float) -> tuple[CircuitBreaker, FakeClock, list[tuple[str, str]]]:
    clock = FakeClock()
    changes: list[tuple[str, str]] = []
    config = BreakerConfig(**overrides)  # type: ignore[arg-type]
    breaker = CircuitBreaker(config, clock, lambda old, new: changes.append((old, new)))
    return breaker, clock, changes


def test_opens_after_consecutive_failures_and_a_success_resets_the_count() -> None:
    breaker, _, changes = _breaker(failure_threshold=3)
    for _ in range(2):
        assert breaker.try_acquire()
        breaker.record_failure()
    breaker.record_success()
    for _ in range(2):
        breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    assert not breaker.admits() and not breaker.try_acquire()
    assert changes == [("closed", "open")]


def test_opens_on_failure_rate_over_the_window() -> None:
    breaker, _, _ = _breaker(
        failure_threshold=100, failure_rate_threshold=0.5, window_s=10, min_calls_in_window=6
    )
    for ok in [True, False, True, False, False]:
        breaker.record_success() if ok else breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED  # 5 calls: below the minimum
    breaker.record_failure()  # 4 of 6 failed
    assert breaker.state is BreakerState.OPEN


def test_old_calls_leave_the_window() -> None:
    breaker, clock, _ = _breaker(
        failure_threshold=100, failure_rate_threshold=0.5, window_s=10, min_calls_in_window=4
    )
    for _ in range(3):
        breaker.record_failure()
    clock.now += 11
    for _ in range(3):
        breaker.record_success()
    breaker.record_failure()  # 1 of 4 in the window
    assert breaker.state is BreakerState.CLOSED


def test_half_open_admits_k_trials_and_closes_after_m_successes() -> None:
    breaker, clock, changes = _breaker(
        failure_threshold=1, open_s=30, half_open_max_calls=3, success_threshold=2
    )
    breaker.record_failure()
    clock.now += 29.9
    assert breaker.state is BreakerState.OPEN
    assert round(breaker.retry_in(), 3) == 0.1
    clock.now += 0.1
    assert breaker.state is BreakerState.HALF_OPEN
    assert [breaker.try_acquire() for _ in range(4)] == [True, True, True, False]
    breaker.record_success()
    assert breaker.state is BreakerState.HALF_OPEN
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
    assert changes == [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]


def test_a_failed_trial_opens_again_for_a_full_cool_down() -> None:
    breaker, clock, _ = _breaker(failure_threshold=1, open_s=30)
    breaker.record_failure()
    clock.now += 30
    assert breaker.try_acquire()
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    assert breaker.retry_in() == 30.0


def test_released_trial_slots_are_reusable() -> None:
    breaker, clock, _ = _breaker(
        failure_threshold=1, open_s=1, half_open_max_calls=1, success_threshold=1
    )
    breaker.record_failure()
    clock.now += 1
    assert breaker.try_acquire()
    assert not breaker.try_acquire()
    breaker.release()
    assert breaker.try_acquire()
