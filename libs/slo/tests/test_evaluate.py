"""The evaluator's arithmetic on hand-made samples (no servers)."""

from __future__ import annotations

import math

from ragserve.slo.evaluate import StoreRatios, evaluate, histogram_quantile
from ragserve.slo.promql import Selector
from ragserve.slo.samples import SampleStore, counter_increase
from ragserve.slo.spec import parse_spec

SPEC = parse_spec(
    """
windows:
  - {long: 60s, short: 10s, burn_rate: 10, severity: page}
  - {long: 120s, short: 30s, burn_rate: 2, severity: ticket}
slos:
  - {name: r-errors, description: d, service: retrieval, kind: error_ratio,
     grpc_service: svc.Retrieval, objective: 0.99}
  - {name: r-latency, description: d, service: retrieval, kind: latency,
     histogram: search_seconds, threshold_seconds: 0.1, objective: 0.9}
"""
)


def handled(code: str, value: float) -> tuple[str, dict[str, str], float]:
    labels = {"grpc_service": "svc.Retrieval", "grpc_method": "Search", "grpc_code": code}
    return ("grpc_server_handled_total", labels, value)


def test_counter_resets_count_from_zero() -> None:
    assert counter_increase([5, 7, 2, 4]) == 2 + 2 + 2


def test_no_events_is_no_ratio_and_no_alert() -> None:
    verdict = evaluate(SPEC, SPEC.slos[0], StoreRatios(SPEC, SampleStore(300), now=100))
    assert verdict.met
    assert all(not a.firing for a in verdict.alerts)
    assert verdict.windows[0].long_burn_rate is None


def test_error_burst_fires_the_page_then_resolves() -> None:
    store = SampleStore(300)
    ok = errors = 0.0
    for second in range(0, 121):
        ok += 10
        if 100 <= second < 110:
            errors += 10  # half the calls fail for ten seconds
        samples = [handled("OK", ok)]
        if errors:
            samples.append(handled("UNAVAILABLE", errors))
        store.add("a:1", float(second), samples)
        if second == 109:
            verdict = evaluate(SPEC, SPEC.slos[0], StoreRatios(SPEC, store, now=109))
            page = verdict.alerts[0]
            assert page.severity == "critical" and page.firing
            assert page.threshold == 0.1
            assert page.value is not None and 0.1 < page.value < 0.5
    # Twenty seconds of clean calls later the short window is clean: resolved.
    verdict = evaluate(SPEC, SPEC.slos[0], StoreRatios(SPEC, store, now=120))
    assert not verdict.alerts[0].firing
    assert verdict.windows[0].long_burn_rate is not None and verdict.windows[0].long_burn_rate > 1


def test_latency_ratio_counts_events_over_the_bound() -> None:
    store = SampleStore(300)
    for second in range(0, 31):
        store.add(
            "a:1",
            float(second),
            [
                ("search_seconds_bucket", {"le": "0.1"}, 8.0 * second),
                ("search_seconds_bucket", {"le": "+Inf"}, 10.0 * second),
                ("search_seconds_count", {}, 10.0 * second),
            ],
        )
    ratio = StoreRatios(SPEC, store, now=30).error_ratio(SPEC.slos[1], "10s")
    assert ratio is not None and math.isclose(ratio, 0.2)


def test_increases_by_label_and_by_source() -> None:
    store = SampleStore(300)
    store.add("a:1", 0, [handled("OK", 0)])
    store.add("a:1", 10, [handled("OK", 10)])
    store.add("b:1", 0, [handled("OK", 0)])
    store.add("b:1", 10, [handled("OK", 30)])
    selector = Selector("grpc_server_handled_total")
    assert store.increase(selector, 60, 10) == 40
    assert store.increase(selector, 60, 10, sources={"b:1"}) == 30
    assert store.increases(selector, 60, 10, by="grpc_code") == {"OK": 40}


def test_old_points_are_thinned_and_dropped() -> None:
    store = SampleStore(retention_s=100, fine_horizon_s=20, coarse_step_s=10)
    for second in range(0, 201):
        store.add("a:1", float(second), [handled("OK", float(second))])
    # The whole retained range still yields the right increase after thinning.
    assert store.increase(Selector("grpc_server_handled_total"), 100, 200) == 100


def test_histogram_quantile_interpolates_like_prometheus() -> None:
    buckets = {0.1: 50.0, 0.5: 90.0, 1.0: 100.0, math.inf: 100.0}
    assert histogram_quantile(0.5, buckets) == 0.1
    p95 = histogram_quantile(0.95, buckets)
    assert p95 is not None and math.isclose(p95, 0.75)
    assert histogram_quantile(0.95, {math.inf: 0.0}) is None
    assert histogram_quantile(0.99, {0.1: 1.0, math.inf: 10.0}) == 0.1
