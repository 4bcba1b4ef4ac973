"""The gateway is the root span of every request.

Callers outside the suite do not choose trace ids: an incoming ``traceparent``
is ignored (a client could otherwise pin its calls to one trace, or force
sampling), while the trace the gateway starts is propagated to every service
below as usual.

Trace ids exist even when no exporter is configured, so ``x-trace-id`` and every
service's logs always carry one: :func:`start_trace` then makes a fresh, unsampled
trace context current (nothing would read its spans), which costs two random
numbers. No SDK tracer provider is installed for it: one would make this process
look like it exports (``ragserve.runtime.server_tracing.exporting``), and the runtime
would then record a SERVER span per call (70-100 µs a call on the busy development
machine, ``benchmarks/gateway/profile_gateway.py``) and put OpenTelemetry's client
interceptors on every channel, for spans no exporter reads.
"""

from __future__ import annotations

import random

from opentelemetry import propagate, trace
from opentelemetry.context import Context, attach
from opentelemetry.propagators.textmap import (
    CarrierT,
    Getter,
    Setter,
    TextMapPropagator,
    default_getter,
    default_setter,
)
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator


class OutboundOnlyPropagator(TextMapPropagator):
    """Injects W3C trace context into outbound calls; extracts nothing from inbound ones."""

    def __init__(self) -> None:
        self._w3c = TraceContextTextMapPropagator()

    def extract(
        self,
        carrier: CarrierT,
        context: Context | None = None,
        getter: Getter[CarrierT] = default_getter,
    ) -> Context:
        return context if context is not None else Context()

    def inject(
        self,
        carrier: CarrierT,
        context: Context | None = None,
        setter: Setter[CarrierT] = default_setter,
    ) -> None:
        self._w3c.inject(carrier, context, setter)

    @property
    def fields(self) -> set[str]:
        return set(self._w3c.fields)


def configure_edge_tracing() -> None:
    propagate.set_global_textmap(OutboundOnlyPropagator())


_UNSAMPLED = TraceFlags(TraceFlags.DEFAULT)


def start_trace() -> str:
    """Make a new trace current for the rest of the calling task (an RPC's own task:
    the context ends with it) and return its id, 32 hex digits.

    For calls the runtime did not start a span for (no exporter): the trace is not
    sampled, so services below adopt its id without recording spans for it. Ids as
    OpenTelemetry's default generator makes them (``random.getrandbits``), never 0."""
    trace_id = random.getrandbits(128) or 1
    span_id = random.getrandbits(64) or 1
    span = NonRecordingSpan(SpanContext(trace_id, span_id, False, _UNSAMPLED))
    attach(trace.set_span_in_context(span))
    return format(trace_id, "032x")


def outbound_trace() -> tuple[tuple[str, str], ...]:
    """The current trace as call metadata (``traceparent``).

    For the gateway's streaming calls: the runtime's channel interceptor adds it to
    unary calls only (grpc.aio files an interceptor object under the first call kind it
    implements), and without an exporter no other interceptor adds it. With one,
    OpenTelemetry's interceptor replaces it with its CLIENT span's."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return tuple(carrier.items())
