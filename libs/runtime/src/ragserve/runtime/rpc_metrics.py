"""RED metrics of every RPC a server handles: rate, errors (by code), duration.

The families are process-wide (one Prometheus registry per process); each
method's label children are looked up once (:class:`MethodMetrics`), so a call
pays for the increments only, not for the label lookups.
"""

from __future__ import annotations

import grpc
from prometheus_client import Counter, Gauge, Histogram

RPC_STARTED = Counter(
    "grpc_server_started_total",
    "RPCs started on the server.",
    ["grpc_service", "grpc_method"],
)
RPC_HANDLED = Counter(
    "grpc_server_handled_total",
    "RPCs completed on the server, by status code.",
    ["grpc_service", "grpc_method", "grpc_code"],
)
RPC_DURATION = Histogram(
    "grpc_server_handling_seconds",
    "Time from the start of an RPC to its status, in seconds.",
    ["grpc_service", "grpc_method"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
RPC_IN_FLIGHT = Gauge(
    "grpc_server_in_flight",
    "RPCs being served now.",
    ["grpc_service", "grpc_method"],
)


class MethodMetrics:
    """The label children of one method, resolved once."""

    __slots__ = ("_handled", "_method", "_service", "duration", "in_flight", "started")

    def __init__(self, service: str, method: str) -> None:
        self._service = service
        self._method = method
        self.started = RPC_STARTED.labels(service, method)
        self.in_flight = RPC_IN_FLIGHT.labels(service, method)
        self.duration = RPC_DURATION.labels(service, method)
        self._handled: dict[grpc.StatusCode, Counter] = {}

    def begin(self) -> None:
        self.started.inc()
        self.in_flight.inc()

    def end(self, code: grpc.StatusCode, duration_s: float) -> None:
        self.in_flight.dec()
        self.duration.observe(duration_s)
        handled = self._handled.get(code)
        if handled is None:
            handled = self._handled[code] = RPC_HANDLED.labels(
                self._service, self._method, code.name
            )
        handled.inc()
