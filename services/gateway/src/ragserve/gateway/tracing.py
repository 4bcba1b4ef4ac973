"""The gateway is the root span of every request.

Callers outside the suite do not choose trace ids: an incoming ``traceparent``
is ignored (a client could otherwise pin its calls to one trace, or force
sampling), while the trace the gateway starts is propagated to every service
below as usual.

Trace ids exist even when no exporter is configured, so ``x-trace-id`` and every
service's logs always carry one: :func:`start_trace` then makes a fresh trace context
current, which costs two random numbers. It is marked sampled, as the SDK's default
sampler would: a service below that does export (a partly configured deployment) then
still records its part of the request under the id the client was given. No SDK tracer provider is installed for it: one would make this process
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


_SAMPLED = TraceFlags(TraceFlags.SAMPLED)


def start_trace() -> str:
    """Make a new trace current for the rest of the calling task (an RPC's own task:
    the context ends with it) and return its id, 32 hex digits.

    For calls the runtime did not start a span for (no exporter): services below adopt
    its id (and record spans under it if they export). Ids as
    OpenTelemetry's default generator makes them (``random.getrandbits``), never 0."""
    trace_id = random.getrandbits(128) or 1
    span_id = random.getrandbits(64) or 1
    span = NonRecordingSpan(SpanContext(trace_id, span_id, False, _SAMPLED))
    attach(trace.set_span_in_context(span))
    return format(trace_id, "032x")
