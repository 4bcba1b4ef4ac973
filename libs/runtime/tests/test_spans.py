"""Internal spans: recorded with their attributes when the process exports, nothing otherwise."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from ragserve.runtime import spans
from ragserve.runtime.spans import internal_span


def test_without_an_exporting_provider_nothing_is_made_or_computed() -> None:
    def attributes() -> dict[str, str]:
        raise AssertionError("attributes computed for a span that is not made")

    before = trace.get_current_span()
    with internal_span(trace.get_tracer("test"), "work", attributes):
        assert trace.get_current_span() is before


def test_an_exporting_process_records_the_span_with_its_attributes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(spans.trace, "get_tracer_provider", lambda: provider)
    with internal_span(provider.get_tracer("test"), "work", lambda: {"items": 3}):
        assert trace.get_current_span().is_recording()
    [span] = exporter.get_finished_spans()
    assert (span.name, dict(span.attributes or {})) == ("work", {"items": 3})
