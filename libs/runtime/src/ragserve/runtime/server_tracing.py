"""The server side of tracing: one SERVER span per RPC when spans are exported.

Without an exporting tracer provider (see :mod:`ragserve.runtime.telemetry`)
no span is made at all; an incoming ``traceparent`` is still made current, so
outbound calls carry the caller's trace on and log lines carry its ids.

The context is attached and never detached: each RPC runs in a task of its own
(grpc.aio creates one per call), so what is set there ends with the call, and a
response stream closed late cannot fail detaching from another task's context.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grpc
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

_TRACEPARENT = "traceparent"
# As OpenTelemetry's gRPC instrumentation: the codes that mark a server span as failed
# (the others are the caller's doing).
_SERVER_FAULTS = frozenset(
    {
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
    }
)


def exporting() -> bool:
    """Whether this process exports spans (an SDK tracer provider is installed)."""
    return isinstance(trace.get_tracer_provider(), TracerProvider)


class ServerTracing:
    """Starts each call's span (exporting) or adopts the caller's trace (not exporting)."""

    def __init__(self, export: bool) -> None:
        self._tracer = trace.get_tracer("ragserve.runtime") if export else None

    @property
    def exports(self) -> bool:
        return self._tracer is not None

    def begin(
        self, full_method: str, service: str, method: str, metadata: Sequence[Any] | None
    ) -> Span | None:
        """Make the call's trace context current; the span to end, if one was started."""
        if self._tracer is None:
            for key, _ in metadata or ():
                if key == _TRACEPARENT:
                    otel_context.attach(propagate.extract(dict(metadata or ())))
                    break
            return None
        parent = propagate.extract(dict(metadata or ()))
        span = self._tracer.start_span(
            full_method,
            context=parent,
            kind=SpanKind.SERVER,
            attributes={"rpc.system": "grpc", "rpc.service": service, "rpc.method": method},
        )
        otel_context.attach(trace.set_span_in_context(span, parent))
        return span

    @staticmethod
    def end(span: Span, code: grpc.StatusCode, details: str, error: BaseException | None) -> None:
        span.set_attribute("rpc.grpc.status_code", code.value[0])
        if code in _SERVER_FAULTS:
            span.set_status(Status(StatusCode.ERROR, f"{code}:{details}"))
        if error is not None and code is grpc.StatusCode.INTERNAL:
            span.record_exception(error)
        span.end()
