"""Trace ids without an exporter: a gateway process in front of a stand-in orchestrator
(a gRPC server in this test that records what it receives), and a real Redis.

Each call starts a trace of its own at the gateway: its id is the call's ``x-trace-id``,
it reaches the orchestrator in ``traceparent`` (sampled, so a service below that exports
records its part),
and a caller's own ``traceparent`` is ignored.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from ragserve.api.gateway.v1 import gateway_pb2 as pb
from ragserve.api.orchestrator.v1 import orchestrator_pb2 as orch
from ragserve.api.orchestrator.v1 import orchestrator_pb2_grpc as orch_grpc
from ragserve.testkit.gateway import bearer, gateway_before

pytestmark = pytest.mark.slow

FOREIGN = "0af7651916cd43dd8448eb211c80319c"


def _traceparent(context: grpc.ServicerContext) -> str:
    """The call's one ``traceparent`` ("" without; every one of them, joined, if several)."""
    return ",".join(v for k, v in context.invocation_metadata() if k == "traceparent")


class RecordingOrchestrator(orch_grpc.OrchestratorServiceServicer):
    def __init__(self) -> None:
        self.traceparents: list[str] = []
        self.query_deadlines: list[float | None] = []

    def GetCollection(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.traceparents.append(_traceparent(context))
        return orch.GetCollectionResponse(
            collection=orch.CollectionSummary(name=request.name, model="m", dimension=3)
        )

    def Query(self, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        self.traceparents.append(_traceparent(context))
        self.query_deadlines.append(context.time_remaining())
        yield orch.QueryResponse(start=orch.StartEvent(trace_id="from-orchestrator"))
        yield orch.QueryResponse(done=orch.DoneEvent())


def test_each_call_starts_a_trace_of_its_own_that_reaches_the_orchestrator(
    tmp_path: Path,
) -> None:
    recorded = RecordingOrchestrator()
    with gateway_before(recorded, tmp_path, [pb.PERMISSION_READ]) as gateway:
        stub, key = gateway.stub, gateway.key
        trace_ids = []
        for _ in range(3):
            response, call = stub.GetCollection.with_call(
                pb.GetCollectionRequest(name="docs"),
                metadata=(*bearer(key), ("traceparent", f"00-{FOREIGN}-{1:016x}-01")),
                timeout=10,
            )
            assert response.collection.name == "docs"
            trace_ids += [v for k, v in call.initial_metadata() if k == "x-trace-id"]
        stream = stub.Query(
            pb.QueryRequest(collections=["docs"], query="q"),
            metadata=bearer(key),
            timeout=10,
        )
        events = list(stream)
        assert events[0].started.trace_id == "from-orchestrator"
        trace_ids += [v for k, v in stream.initial_metadata() if k == "x-trace-id"]
        process = gateway.process
    assert len(trace_ids) == 4 and len(set(trace_ids)) == 4
    assert all(re.fullmatch(r"[0-9a-f]{32}", t) and t != FOREIGN for t in trace_ids)
    assert [p.split("-")[1] for p in recorded.traceparents] == trace_ids
    assert all(re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-01", p) for p in recorded.traceparents)
    # A stream below inherits the caller's deadline (10 s) too; gRPC rounds a deadline
    # up on the wire (a few significant digits), so a little over 10 s may arrive.
    (remaining,) = recorded.query_deadlines
    assert remaining is not None and 5 < remaining < 10.5
    # The access log line of each call carries its trace id.
    logged = {r.get("trace_id") for r in process.records() if r.get("message") == "rpc"}
    assert set(trace_ids) <= logged
