"""A service's red figures over a window, from the scraped RPC metrics of its replicas."""

from __future__ import annotations

import math

from ragserve.monitor.model import Figures
from ragserve.slo.evaluate import histogram_quantile, ratio_of
from ragserve.slo.promql import Selector
from ragserve.slo.samples import SampleStore

HANDLED = "grpc_server_handled_total"
DURATION_BUCKET = "grpc_server_handling_seconds_bucket"
FIGURE_METRICS = frozenset({HANDLED, DURATION_BUCKET})


def figures(
    store: SampleStore,
    sources: set[str],
    error_codes: tuple[str, ...],
    window_s: float,
    now: float,
) -> Figures:
    total = store.increase(Selector(HANDLED), window_s, now, sources)
    errors = store.increase(
        Selector(HANDLED, (("grpc_code", error_codes),)), window_s, now, sources
    )
    by_bound = store.increases(Selector(DURATION_BUCKET), window_s, now, sources, by="le")
    buckets = {math.inf if le == "+Inf" else float(le): count for le, count in by_bound.items()}
    return Figures(
        p95_latency_seconds=histogram_quantile(0.95, buckets),
        error_ratio=ratio_of(errors, total),
        requests_per_second=(total or 0.0) / window_s,
        window_s=window_s,
    )
