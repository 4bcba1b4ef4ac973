"""The gateway is the root span of every request.

Callers outside the suite do not choose trace ids: an incoming ``traceparent``
is ignored (a client could otherwise pin its calls to one trace, or force
sampling), while the trace the gateway starts is propagated to every service
below as usual. Trace ids exist even when no exporter is configured, so
``x-trace-id`` and every service's logs always carry one; spans are then not sampled
(nothing would read them), so they cost an id and no recording, here and below.
"""

from __future__ import annotations

from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.propagators.textmap import (
    CarrierT,
    Getter,
    Setter,
    TextMapPropagator,
    default_getter,
    default_setter,
)
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
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
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        provider: Any = TracerProvider(resource=Resource.create({SERVICE_NAME: "ragserve-gateway"}))
        trace.set_tracer_provider(provider)
