"""RED metrics of every RPC a server handles: rate, errors (by code), duration.

Exported as ``grpc_server_started_total``, ``grpc_server_handled_total`` (by
``grpc_code``), ``grpc_server_handling_seconds`` (a histogram) and
``grpc_server_in_flight``, labelled by ``grpc_service`` and ``grpc_method``.

Counted in plain integers per method and turned into Prometheus samples when
scraped (a custom collector), instead of prometheus_client metric children:
those take a lock per increment, six per call, which was most of what metrics
cost a no-op RPC. The counts are changed only on the event loop that serves
the calls; a scrape (another thread) copies them, and may see a call counted
as started but not yet handled, as it would with locked children.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator

import grpc
from prometheus_client.core import (
    REGISTRY,
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

LABELS = ["grpc_service", "grpc_method"]
# 2: the bound of the API latency SLO (deploy/slo/slos.yaml) needs a bucket of its own.
BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 2.5, 5, 10, 30)
_OK = grpc.StatusCode.OK
# As prometheus_client writes "le" (1 -> "1.0"), so queries and rules see no change.
_BUCKET_LABELS = [*map(floatToGoString, BUCKETS_S), "+Inf"]


class MethodMetrics:
    """The counts of one method."""

    __slots__ = ("buckets", "handled", "in_flight", "method", "ok", "service", "started", "sum_s")

    def __init__(self, service: str, method: str) -> None:
        self.service = service
        self.method = method
        self.started = 0
        self.in_flight = 0
        self.ok = 0  # the common code, counted without a dict lookup
        self.handled: dict[grpc.StatusCode, int] = {}
        self.buckets = [0] * (len(BUCKETS_S) + 1)  # per bucket, not cumulative; last: +Inf
        self.sum_s = 0.0

    def begin(self) -> None:
        self.started += 1
        self.in_flight += 1

    def end(self, code: grpc.StatusCode, duration_s: float) -> None:
        self.in_flight -= 1
        if code is _OK:
            self.ok += 1
        else:
            self.handled[code] = self.handled.get(code, 0) + 1
        # bisect_left: the first bound >= the duration, i.e. Prometheus's "le".
        self.buckets[bisect.bisect_left(BUCKETS_S, duration_s)] += 1
        self.sum_s += duration_s


class RpcMetrics(Collector):
    """Every method's counts, as Prometheus metric families."""

    def __init__(self) -> None:
        self._methods: dict[tuple[str, str], MethodMetrics] = {}

    def method(self, service: str, method: str) -> MethodMetrics:
        """The counts of ``service/method``, created on first use (once per server method)."""
        key = (service, method)
        found = self._methods.get(key)
        if found is None:
            found = self._methods[key] = MethodMetrics(service, method)
        return found

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily | HistogramMetricFamily]:
        started = CounterMetricFamily(
            "grpc_server_started", "RPCs started on the server.", labels=LABELS
        )
        handled = CounterMetricFamily(
            "grpc_server_handled",
            "RPCs completed on the server, by status code.",
            labels=[*LABELS, "grpc_code"],
        )
        duration = HistogramMetricFamily(
            "grpc_server_handling_seconds",
            "Time from the start of an RPC to its status, in seconds.",
            labels=LABELS,
        )
        in_flight = GaugeMetricFamily(
            "grpc_server_in_flight", "RPCs being served now.", labels=LABELS
        )
        for (service, method), counts in list(self._methods.items()):
            labels = [service, method]
            started.add_metric(labels, counts.started)
            in_flight.add_metric(labels, counts.in_flight)
            by_code = list(counts.handled.items())
            if counts.ok:
                by_code.append((_OK, counts.ok))
            for code, count in by_code:
                handled.add_metric([*labels, code.name], count)
            cumulative = 0
            buckets: list[tuple[str, float]] = []
            for bound, count in zip(_BUCKET_LABELS, list(counts.buckets), strict=True):
                cumulative += count
                buckets.append((bound, cumulative))
            duration.add_metric(labels, buckets, counts.sum_s)
        yield started
        yield handled
        yield duration
        yield in_flight


RPC_METRICS = RpcMetrics()
REGISTRY.register(RPC_METRICS)
