"""The SLO verdicts: burn rates per window pair and the alerts they raise.

The same arithmetic as the generated rules (:mod:`ragserve.slo.rules`): the bad-event
ratio over each window, its threshold ``burn_rate * (1 - objective)``, an alert per
severity that fires when one of its window pairs exceeds the threshold on both windows.
Where the ratios come from is a :class:`RatioSource`: the monitor's own scrapes
(:class:`StoreRatios`) or a Prometheus server.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

from ragserve.slo import promql
from ragserve.slo.promql import EventSelectors
from ragserve.slo.rules import SEVERITY_LABEL
from ragserve.slo.samples import SampleStore
from ragserve.slo.spec import BurnWindow, Slo, SloSpec, duration_seconds


class RatioSource(Protocol):
    def error_ratio(self, slo: Slo, window: str) -> float | None:
        """Bad events / all events over ``window``; None without events."""
        ...


def ratio_of(bad: float | None, total: float | None) -> float | None:
    if total is None or total <= 0:
        return None
    return (bad or 0.0) / total


class StoreRatios:
    """Ratios from a :class:`SampleStore` at time ``now`` (the monitor without Prometheus)."""

    def __init__(self, spec: SloSpec, store: SampleStore, now: float) -> None:
        self._spec = spec
        self._store = store
        self._now = now

    def error_ratio(self, slo: Slo, window: str) -> float | None:
        events: EventSelectors = promql.event_selectors(self._spec, slo)
        seconds = duration_seconds(window)
        total = self._store.increase(events.total, seconds, self._now)
        if events.bad is not None:
            return ratio_of(self._store.increase(events.bad, seconds, self._now), total)
        assert events.good is not None
        good = self._store.increase(events.good, seconds, self._now)
        if total is None or good is None:
            return None
        return ratio_of(total - good, total)


@dataclass(frozen=True)
class WindowVerdict:
    window: BurnWindow
    threshold_ratio: float
    long_ratio: float | None
    short_ratio: float | None
    long_burn_rate: float | None
    short_burn_rate: float | None
    firing: bool


@dataclass(frozen=True)
class AlertVerdict:
    """One severity's alert of one SLO, as the rules' ``SLOErrorBudgetBurn``."""

    severity: str  # "critical" or "warning" (the rules' severity label)
    firing: bool
    # As Prometheus's `or` yields it: the first firing pair's long-window ratio.
    value: float | None
    threshold: float


@dataclass(frozen=True)
class SloVerdict:
    slo: Slo
    windows: tuple[WindowVerdict, ...]
    alerts: tuple[AlertVerdict, ...]
    error_budget_remaining: float | None

    @property
    def met(self) -> bool:
        return not any(w.firing for w in self.windows)


def _burn(ratio: float | None, slo: Slo) -> float | None:
    return None if ratio is None else ratio / slo.error_budget


def _exceeds(ratio: float | None, threshold: float) -> bool:
    return ratio is not None and not math.isnan(ratio) and ratio > threshold


def evaluate(spec: SloSpec, slo: Slo, source: RatioSource) -> SloVerdict:
    ratios: dict[str, float | None] = {w: source.error_ratio(slo, w) for w in spec.all_windows()}
    windows = []
    for window in spec.windows:
        threshold = promql.ratio_threshold(slo, window.burn_rate)
        long_ratio, short_ratio = ratios[window.long], ratios[window.short]
        windows.append(
            WindowVerdict(
                window=window,
                threshold_ratio=threshold,
                long_ratio=long_ratio,
                short_ratio=short_ratio,
                long_burn_rate=_burn(long_ratio, slo),
                short_burn_rate=_burn(short_ratio, slo),
                firing=_exceeds(long_ratio, threshold) and _exceeds(short_ratio, threshold),
            )
        )
    alerts = []
    for severity, label in SEVERITY_LABEL.items():
        mine = [w for w in windows if w.window.severity == severity]
        if not mine:
            continue
        firing = [w for w in mine if w.firing]
        alerts.append(
            AlertVerdict(
                severity=label,
                firing=bool(firing),
                value=firing[0].long_ratio if firing else None,
                threshold=firing[0].threshold_ratio if firing else mine[0].threshold_ratio,
            )
        )
    slowest = max(windows, key=lambda w: w.window.long_seconds)
    remaining = None if slowest.long_burn_rate is None else 1.0 - slowest.long_burn_rate
    return SloVerdict(slo, tuple(windows), tuple(alerts), remaining)


def histogram_quantile(q: float, buckets: dict[float, float]) -> float | None:
    """Prometheus's ``histogram_quantile`` over cumulative bucket counts by upper bound."""
    if not buckets or math.inf not in buckets:
        return None
    bounds = sorted(buckets)
    total = buckets[math.inf]
    if total <= 0:
        return None
    rank = q * total
    previous_bound, previous_count = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if bound == math.inf:
                return previous_bound
            if count == previous_count:
                return bound
            return previous_bound + (bound - previous_bound) * (rank - previous_count) / (
                count - previous_count
            )
        previous_bound, previous_count = bound, count
    return previous_bound
