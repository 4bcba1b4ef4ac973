"""OpenTelemetry set-up from the standard ``OTEL_*`` variables.

One tracer provider per process with ``service.name = ragserve-<service>``,
exporting over OTLP/gRPC, installed only when ``OTEL_EXPORTER_OTLP_ENDPOINT``
(or the traces-specific variable) is set; the exporter reads the other
``OTEL_EXPORTER_OTLP_*`` variables and the SDK reads ``OTEL_TRACES_SAMPLER``.
Without an endpoint the API's no-op provider stays: spans that go nowhere are
not recorded at all, while incoming trace
context is still propagated to outbound calls.
"""

from __future__ import annotations

import os

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

_ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")


def tracing_enabled() -> bool:
    return any(os.environ.get(variable) for variable in _ENDPOINT_VARIABLES)


def configure_tracing(service: str) -> TracerProvider | None:
    """Install the process's exporting tracer provider when an endpoint is set
    (idempotent: returns the installed one); None when tracing is off."""
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current
    if not tracing_enabled():
        return None
    resource = Resource.create(
        {SERVICE_NAME: os.environ.get("OTEL_SERVICE_NAME", f"ragserve-{service}")}
    )
    provider = TracerProvider(resource=resource)
    # Imported here: the exporter pulls in its own gRPC stack only when used.
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return provider


def shutdown_tracing() -> None:
    """Flush and stop exporting (called last at shutdown)."""
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.force_flush()
        provider.shutdown()
