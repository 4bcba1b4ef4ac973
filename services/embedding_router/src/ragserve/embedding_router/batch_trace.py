"""The span of one provider call, which serves the micro-batched texts of one or more requests.

As in the inference service, the call gets a span of its own carrying a link to the span of every
request it serves. Serving one request, it is that request's child, so the request's trace reads
as one story; serving several, it starts a trace of its own: parenting it to whichever request
woke the batcher would hang it in that request's trace alone and leave the others ending at the
router. The provider's own spans (the outbound gRPC call, the inference service's request) sit
under it. Without an exporter the API's no-op tracer records nothing, and a call serving one
request still carries that request's trace context on to the provider.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, NonRecordingSpan, Span

tracer = trace.get_tracer("ragserve.embedding_router")

SPAN_NAME = "embedding_router.provider_call"


def provider_call_span(
    provider_id: str, model_id: str, texts: int, links: Sequence[Link]
) -> AbstractContextManager[Span]:
    """Start (as current) the span of a provider call; ``links`` are the batch's, one per text
    whose caller had a span (a request with several texts in the call appears once)."""
    requests: dict[tuple[int, int], Link] = {}
    for link in links:
        requests.setdefault((link.context.trace_id, link.context.span_id), link)
    distinct = list(requests.values())
    if len(distinct) == 1:
        parent = trace.set_span_in_context(NonRecordingSpan(distinct[0].context))
    else:
        parent = Context()
    return tracer.start_as_current_span(
        SPAN_NAME,
        context=parent,
        links=distinct,
        attributes={
            "provider": provider_id,
            "model": model_id,
            "batch.texts": texts,
            "batch.requests": len(distinct),
        },
    )
