"""PromQL for an SLO's events: the selectors the rules and the Prometheus-backed monitor use.

The in-process evaluator (:mod:`ragserve.slo.evaluate`) selects the same series with
:func:`event_selectors`, so a selector here and a selector there cannot differ.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client.utils import floatToGoString

from ragserve.slo.spec import Slo, SloSpec


@dataclass(frozen=True)
class Selector:
    """A metric name and label matchers: each label must take one of the values."""

    metric: str
    matchers: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def matches(self, name: str, labels: dict[str, str]) -> bool:
        if name != self.metric:
            return False
        return all(labels.get(label, "") in values for label, values in self.matchers)

    def promql(self) -> str:
        parts = []
        for label, values in self.matchers:
            if len(values) == 1:
                parts.append(f'{label}="{values[0]}"')
            else:
                parts.append(f'{label}=~"{"|".join(values)}"')
        return f"{self.metric}{{{','.join(parts)}}}" if parts else self.metric


@dataclass(frozen=True)
class EventSelectors:
    """Bad events are ``bad`` (if set) or ``total - good`` (latency SLOs)."""

    total: Selector
    bad: Selector | None = None
    good: Selector | None = None


def bucket_bound(seconds: float) -> str:
    """The ``le`` label prometheus-client writes for a bucket bound (2 → "2.0")."""
    bound: str = floatToGoString(seconds)  # type: ignore[no-untyped-call]
    return bound


def event_selectors(spec: SloSpec, slo: Slo) -> EventSelectors:
    rpc: list[tuple[str, tuple[str, ...]]] = []
    if slo.grpc_service:
        rpc.append(("grpc_service", (slo.grpc_service,)))
    if slo.methods:
        rpc.append(("grpc_method", tuple(slo.methods)))
    if slo.kind == "error_ratio":
        return EventSelectors(
            total=Selector("grpc_server_handled_total", tuple(rpc)),
            bad=Selector(
                "grpc_server_handled_total", (*rpc, ("grpc_code", tuple(spec.error_codes)))
            ),
        )
    assert slo.threshold_seconds is not None
    return EventSelectors(
        total=Selector(f"{slo.histogram}_count", tuple(rpc)),
        good=Selector(
            f"{slo.histogram}_bucket", (*rpc, ("le", (bucket_bound(slo.threshold_seconds),)))
        ),
    )


def _rate(selector: Selector, window: str) -> str:
    return f"sum(rate({selector.promql()}[{window}]))"


def error_ratio(spec: SloSpec, slo: Slo, window: str) -> str:
    """Bad events / all events over ``window``; empty (no value) without events."""
    events = event_selectors(spec, slo)
    total = _rate(events.total, window)
    if events.bad is not None:
        # No error series yet is zero errors, not "no data".
        return f"({_rate(events.bad, window)} or vector(0))\n/\n{total}"
    assert events.good is not None
    return f"1 - ({_rate(events.good, window)}\n/\n{total})"


def ratio_threshold(slo: Slo, burn_rate: float) -> float:
    """The error ratio at which ``burn_rate`` times the budget is being spent."""
    return round(burn_rate * slo.error_budget, 12)


def number(value: float) -> str:
    """A literal both PromQL and Python read back as the same float."""
    return repr(float(value))
