"""Counter samples scraped from /metrics, kept per series for the SLO windows.

Increases follow Prometheus's ``rate`` over a range: the samples with
``end - window <= t <= end`` (Prometheus 2's closed range), at least two per series,
counter resets counted as a restart from zero, summed over the matching series. Without
Prometheus's extrapolation to the range's edges: every SLO is a ratio of two increases
over the same samples, where that factor cancels.

Long windows (days) at a scrape every few seconds would hold too many points, so points
older than ``fine_horizon_s`` are thinned to one per ``coarse_step_s``.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

from ragserve.slo.promql import Selector

Labels = tuple[tuple[str, str], ...]


@dataclass
class _Series:
    name: str
    labels: dict[str, str]
    times: list[float] = field(default_factory=list)
    values: list[float] = field(default_factory=list)


def counter_increase(values: list[float]) -> float:
    """Sum of rises, a drop being a reset to zero (as Prometheus treats counters)."""
    total = 0.0
    for previous, current in itertools.pairwise(values):
        total += current - previous if current >= previous else current
    return total


class SampleStore:
    def __init__(
        self,
        retention_s: float,
        fine_horizon_s: float = 900.0,
        coarse_step_s: float = 30.0,
    ) -> None:
        self._retention = retention_s
        self._fine_horizon = fine_horizon_s
        self._coarse_step = coarse_step_s
        self._series: dict[tuple[str, str, Labels], _Series] = {}
        self._thinned_until: dict[tuple[str, str, Labels], float] = {}

    def add(
        self, source: str, at: float, samples: Iterable[tuple[str, dict[str, str], float]]
    ) -> None:
        """One scrape of ``source`` (a replica address) at time ``at`` (seconds)."""
        for name, labels, value in samples:
            key = (source, name, tuple(sorted(labels.items())))
            series = self._series.get(key)
            if series is None:
                series = self._series[key] = _Series(name, dict(labels))
            if series.times and at <= series.times[-1]:
                continue
            series.times.append(at)
            series.values.append(value)
        self._trim(at)

    def add_exposition(
        self, source: str, at: float, text: str, keep: Callable[[str], bool] | None = None
    ) -> None:
        """A /metrics page in the Prometheus text format, parsed by prometheus-client."""
        samples = []
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if keep is None or keep(sample.name):
                    samples.append((sample.name, dict(sample.labels), float(sample.value)))
        self.add(source, at, samples)

    def _trim(self, now: float) -> None:
        oldest = now - self._retention
        thin_before = now - self._fine_horizon
        for key, series in list(self._series.items()):
            cut = bisect.bisect_left(series.times, oldest)
            if cut:
                del series.times[:cut]
                del series.values[:cut]
            if not series.times:
                del self._series[key]
                self._thinned_until.pop(key, None)
                continue
            self._thin(key, series, thin_before)

    def _thin(self, key: tuple[str, str, Labels], series: _Series, before: float) -> None:
        done = self._thinned_until.get(key, float("-inf"))
        if before - done < self._coarse_step:
            return
        times, values = series.times, series.values
        kept_t: list[float] = []
        kept_v: list[float] = []
        index = 0
        while index < len(times) and times[index] < before:
            t = times[index]
            if t <= done or not kept_t or t - kept_t[-1] >= self._coarse_step:
                kept_t.append(t)
                kept_v.append(values[index])
            elif values[index] < kept_v[-1]:
                # Keep resets visible: the counter's value just before it fell.
                kept_t.append(t)
                kept_v.append(values[index])
            index += 1
        series.times = kept_t + times[index:]
        series.values = kept_v + values[index:]
        self._thinned_until[key] = before

    def increases(
        self,
        selector: Selector,
        window_s: float,
        end: float,
        sources: set[str] | None = None,
        by: str | None = None,
    ) -> dict[str, float]:
        """Increase over ``(end - window_s .. end)`` summed per value of label ``by``
        (one key "" without ``by``); series with fewer than two samples are left out."""
        start = end - window_s
        result: dict[str, float] = {}
        for (source, _, _), series in self._series.items():
            if sources is not None and source not in sources:
                continue
            if not selector.matches(series.name, series.labels):
                continue
            low = bisect.bisect_left(series.times, start)
            high = bisect.bisect_right(series.times, end)
            if high - low < 2:
                continue
            key = series.labels.get(by, "") if by else ""
            result[key] = result.get(key, 0.0) + counter_increase(series.values[low:high])
        return result

    def increase(
        self, selector: Selector, window_s: float, end: float, sources: set[str] | None = None
    ) -> float | None:
        """Summed increase, or None when no series had two samples in the window."""
        found = self.increases(selector, window_s, end, sources)
        return found.get("")

    def series_count(self) -> int:
        return len(self._series)
