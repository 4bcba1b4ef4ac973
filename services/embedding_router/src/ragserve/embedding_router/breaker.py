"""A circuit breaker per provider (or per endpoint).

States: CLOSED → OPEN after ``failure_threshold`` consecutive failures, or when the failure ratio
over the last ``window_s`` seconds exceeds ``failure_rate_threshold`` (with at least
``min_calls_in_window`` calls seen). OPEN refuses every call for ``open_s`` seconds, then becomes
HALF_OPEN, which admits at most ``half_open_max_calls`` trial calls; ``success_threshold``
successes close it, any failure opens it again.

The clock is injected (monotonic seconds), so the breaker is tested without waiting. State
changes are reported to ``on_change(old, new)`` (for metrics and logs); the callback runs
synchronously and must not raise.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from enum import StrEnum

from ragserve.embedding_router.config import BreakerConfig

Clock = Callable[[], float]


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Tracks one target's recent outcomes and decides whether a call may go to it.

    Callers ask :meth:`try_acquire` before a call and report exactly one :meth:`record_success`
    or :meth:`record_failure` for each call it admitted (or :meth:`release` if the call was
    never made), so half-open trial slots are never leaked.
    """

    def __init__(
        self,
        config: BreakerConfig,
        clock: Clock = time.monotonic,
        on_change: Callable[[BreakerState, BreakerState], None] | None = None,
    ) -> None:
        self._config = config
        self._clock = clock
        self._on_change = on_change
        self._state = BreakerState.CLOSED
        self._consecutive_failures = 0
        self._opened_at = 0.0
        self._trials_in_flight = 0
        self._trial_successes = 0
        # (time, ok) of recent calls, for the failure-rate rule.
        self._window: deque[tuple[float, bool]] = deque()

    @property
    def state(self) -> BreakerState:
        """The current state; an OPEN breaker whose cool-down has passed reads as HALF_OPEN."""
        self._advance()
        return self._state

    def retry_in(self) -> float:
        """Seconds until an OPEN breaker lets a trial through (0 when not OPEN)."""
        self._advance()
        if self._state is not BreakerState.OPEN:
            return 0.0
        return max(0.0, self._opened_at + self._config.open_s - self._clock())

    def failure_rate(self) -> float:
        """Failed share of the calls in the current window while closed (0 when none)."""
        self._advance()
        horizon = self._clock() - self._config.window_s
        recent = [ok for at, ok in self._window if at >= horizon]
        return 0.0 if not recent else sum(1 for ok in recent if not ok) / len(recent)

    def admits(self) -> bool:
        """Whether :meth:`try_acquire` would succeed now; takes nothing."""
        self._advance()
        if self._state is BreakerState.CLOSED:
            return True
        if self._state is BreakerState.HALF_OPEN:
            return self._trials_in_flight < self._config.half_open_max_calls
        return False

    def try_acquire(self) -> bool:
        """Admit one call, taking a trial slot when half-open. False: do not call the target."""
        if not self.admits():
            return False
        if self._state is BreakerState.HALF_OPEN:
            self._trials_in_flight += 1
        return True

    def release(self) -> None:
        """Give back an admitted call that was never made."""
        if self._state is BreakerState.HALF_OPEN and self._trials_in_flight > 0:
            self._trials_in_flight -= 1

    def record_success(self) -> None:
        self._advance()
        now = self._clock()
        self._consecutive_failures = 0
        if self._state is BreakerState.HALF_OPEN:
            self._trials_in_flight = max(0, self._trials_in_flight - 1)
            self._trial_successes += 1
            if self._trial_successes >= self._config.success_threshold:
                self._transition(BreakerState.CLOSED)
            return
        if self._state is BreakerState.CLOSED:
            self._remember(now, True)

    def record_failure(self) -> None:
        self._advance()
        now = self._clock()
        if self._state is BreakerState.HALF_OPEN:
            self._trials_in_flight = max(0, self._trials_in_flight - 1)
            self._open(now)
            return
        if self._state is BreakerState.OPEN:
            # A call admitted before the breaker opened; it changes nothing.
            return
        self._consecutive_failures += 1
        self._remember(now, False)
        if self._consecutive_failures >= self._config.failure_threshold or self._rate_exceeded():
            self._open(now)

    # ------------------------------------------------------------------ internals

    def _remember(self, now: float, ok: bool) -> None:
        self._window.append((now, ok))
        horizon = now - self._config.window_s
        while self._window and self._window[0][0] < horizon:
            self._window.popleft()

    def _rate_exceeded(self) -> bool:
        calls = len(self._window)
        if calls < self._config.min_calls_in_window:
            return False
        failures = sum(1 for _, ok in self._window if not ok)
        return failures / calls > self._config.failure_rate_threshold

    def _open(self, now: float) -> None:
        self._opened_at = now
        self._transition(BreakerState.OPEN)

    def _advance(self) -> None:
        if (
            self._state is BreakerState.OPEN
            and self._clock() >= self._opened_at + self._config.open_s
        ):
            self._transition(BreakerState.HALF_OPEN)

    def _transition(self, new: BreakerState) -> None:
        old = self._state
        if old is new:
            return
        self._state = new
        self._consecutive_failures = 0
        self._trials_in_flight = 0
        self._trial_successes = 0
        self._window.clear()
        if self._on_change is not None:
            self._on_change(old, new)
