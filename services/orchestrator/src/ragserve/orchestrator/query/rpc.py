"""The Query RPC's body, for the orchestrator's servicer: the trace id first (initial
metadata ``x-trace-id`` and the start event, so even a failed stream shows it), then
the request's limits, then the pipeline's events as protos."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol

from opentelemetry import trace

from ragserve.api.orchestrator.v1 import orchestrator_pb2 as pb
from ragserve.orchestrator.query import convert
from ragserve.orchestrator.query.model import QueryEvent, QueryRequest
from ragserve.runtime import deadlines

TRACE_ID_METADATA = "x-trace-id"


class QueryRunner(Protocol):
    def run(self, request: QueryRequest) -> AsyncIterator[QueryEvent]: ...


def current_trace_id() -> str:
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else ""


async def query_events(
    pipeline: QueryRunner, request: Any, context: Any
) -> AsyncIterator[pb.QueryResponse]:
    trace_id = current_trace_id()
    await context.send_initial_metadata(((TRACE_ID_METADATA, trace_id),))
    yield convert.start_out(trace_id)
    query = convert.request_in(request, deadlines.current())
    async for event in pipeline.run(query):
        yield convert.event_out(event)
