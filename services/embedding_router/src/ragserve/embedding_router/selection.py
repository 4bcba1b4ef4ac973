"""Choosing among a model's providers: observed statistics, a weighted score, an ordering.

The score of a provider (higher is better) is

    w_cost * (1 - price / max_price) + w_latency * (1 - latency / max_latency) + w_quality * quality

over the candidates of one call, where latency is the moving average of the provider's call
latency (a provider not yet measured counts as the fastest, so it gets tried). Providers whose
moving success ratio is below the reliability floor go after all others. Scores within
``tie_epsilon`` of the best are a tie; ties go to the fewest requests in flight, which spreads load
over equal replicas.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ragserve.embedding_router.config import RoutingConfig


class ProviderStats:
    """Moving averages of one provider's call latency and success; updated after each call.

    The success ratio is an exponentially weighted average over calls (weight ``alpha`` for the
    newest) whose shortfall from 1 also decays with time, halving every ``half_life_s`` seconds
    whether calls are made or not. So a provider pushed under the reliability floor by a bad
    spell, and therefore given no calls, is trusted again once the spell is old enough, instead
    of staying last for ever. Invariant: ``0 <= success_ratio() <= 1``.
    """

    def __init__(
        self, alpha: float, half_life_s: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._alpha = alpha
        self._half_life_s = half_life_s
        self._clock = clock
        self.latency_s: float | None = None
        # 1 - success ratio, as of `_shortfall_at`.
        self._shortfall = 0.0
        self._shortfall_at = clock()
        # Calls recorded here (those that say something about the provider's health) and failed.
        self.recorded = 0
        self.failures = 0
        # Texts submitted to the provider and not yet answered or abandoned.
        self.in_flight = 0

    def success_ratio(self) -> float:
        return 1.0 - self._decayed_shortfall(self._clock())

    def record(self, latency_s: float, ok: bool) -> None:
        self.recorded += 1
        if not ok:
            self.failures += 1
        if ok:
            # A failed call's latency is a timeout or a refusal, not the provider's speed.
            self.latency_s = (
                latency_s
                if self.latency_s is None
                else self._alpha * latency_s + (1 - self._alpha) * self.latency_s
            )
        now = self._clock()
        shortfall = self._decayed_shortfall(now)
        self._shortfall = self._alpha * (0.0 if ok else 1.0) + (1 - self._alpha) * shortfall
        self._shortfall_at = now

    def reset_success(self) -> None:
        """Forget past failures (a provider whose breaker closed again has proved itself)."""
        self._shortfall = 0.0
        self._shortfall_at = self._clock()

    def _decayed_shortfall(self, now: float) -> float:
        if self._shortfall == 0.0:
            return 0.0
        elapsed = max(0.0, now - self._shortfall_at)
        return float(self._shortfall * 0.5 ** (elapsed / self._half_life_s))


@dataclass(frozen=True, slots=True)
class Candidate:
    """What the selector needs to know about one admissible provider."""

    provider_id: str
    price_per_1k_tokens: float
    quality: float
    latency_s: float | None
    success_ratio: float
    in_flight: int


def score(candidate: Candidate, candidates: Sequence[Candidate], routing: RoutingConfig) -> float:
    weights = routing.weights
    max_price = max(c.price_per_1k_tokens for c in candidates)
    latencies = [c.latency_s for c in candidates if c.latency_s is not None]
    max_latency = max(latencies) if latencies else 0.0
    cost_term = 1.0 - candidate.price_per_1k_tokens / max_price if max_price > 0 else 1.0
    if candidate.latency_s is None or max_latency <= 0:
        latency_term = 1.0
    else:
        latency_term = 1.0 - candidate.latency_s / max_latency
    total = weights.cost + weights.latency + weights.quality
    return (
        weights.cost * cost_term
        + weights.latency * latency_term
        + weights.quality * candidate.quality
    ) / total


def order_candidates(candidates: Sequence[Candidate], routing: RoutingConfig) -> list[str]:
    """Provider ids, best first: reliable before unreliable, then by score, ties by load."""
    if not candidates:
        return []
    reliable = [c for c in candidates if c.success_ratio >= routing.reliability_floor]
    unreliable = [c for c in candidates if c.success_ratio < routing.reliability_floor]
    return _rank(reliable, routing) + _rank(unreliable, routing)


def _rank(group: Sequence[Candidate], routing: RoutingConfig) -> list[str]:
    remaining = list(group)
    ordered: list[str] = []
    while remaining:
        scored = [(score(c, remaining, routing), c) for c in remaining]
        best = max(s for s, _ in scored)
        tied = [c for s, c in scored if best - s <= routing.tie_epsilon]
        # Fewest in flight wins a tie; then the provider id, so the order is deterministic.
        pick = min(tied, key=lambda c: (c.in_flight, c.provider_id))
        ordered.append(pick.provider_id)
        remaining.remove(pick)
    return ordered
