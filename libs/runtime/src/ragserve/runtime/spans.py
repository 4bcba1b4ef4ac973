"""A service's own spans (a search, a batch write), made only when this process exports spans.

Without an exporting tracer provider, OpenTelemetry's API still builds a non-recording
span for ``start_as_current_span``, attaches it to the context and detaches it again:
~10-30 µs a span here, most of what a small search cost retrieval outside its engine.
That span only repeats its parent's ids, so leaving it out changes nothing a log line
or an outbound call carries. Whether the process exports is looked up per span (an
``isinstance``), so a provider installed later is honoured.

A span whose context must reach work done elsewhere (a batch's span over its callers'
traces) is not one of these: it has to be current even when nothing is exported.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Tracer
from opentelemetry.util.types import AttributeValue

_NOTHING = contextlib.nullcontext()


def internal_span(
    tracer: Tracer,
    name: str,
    attributes: Callable[[], Mapping[str, AttributeValue]],
    links: Callable[[], Sequence[trace.Link]] | None = None,
) -> AbstractContextManager[Any]:
    """``tracer.start_as_current_span(name, attributes=attributes(), links=links())`` when
    this process exports spans; otherwise a context manager that does nothing
    (``attributes`` and ``links`` are not called)."""
    # As server_tracing.exporting(), without its gRPC import: cores import this module.
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        return _NOTHING
    return tracer.start_as_current_span(
        name, attributes=attributes(), links=links() if links is not None else None
    )
