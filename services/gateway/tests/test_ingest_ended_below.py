"""An ingest stream the orchestrator ends while the gateway is still writing documents to
it: the client hears the orchestrator's status, never gRPC's INTERNAL.

grpc.aio (grpc/grpc#36066): when a call's status arrives while a write is in flight, the
failed write replaces the received status with ``INTERNAL: Internal error from Core``.
A stand-in orchestrator (a gRPC server in this test) accepts the config, reads two
documents and ends the stream with NOT_FOUND while the client keeps sending large ones;
a real gateway process and a real Redis sit between.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from ragserve.api.gateway.v1 import gateway_pb2 as pb
from ragserve.api.orchestrator.v1 import orchestrator_pb2_grpc as orch_grpc
from ragserve.testkit.gateway import bearer, gateway_before

pytestmark = pytest.mark.slow

GONE = "collection 'docs' was deleted while documents were arriving"


class EndingOrchestrator(orch_grpc.OrchestratorServiceServicer):
    def Ingest(self, request_iterator: Iterator[Any], context: grpc.ServicerContext) -> Any:
        next(request_iterator)  # the config
        context.send_initial_metadata(())  # "config accepted": documents may come
        next(request_iterator)
        next(request_iterator)
        context.abort(grpc.StatusCode.NOT_FOUND, GONE)


def requests(count: int) -> Iterator[pb.IngestRequest]:
    yield pb.IngestRequest(config=pb.IngestConfig(collection="docs"))
    for sequence in range(1, count + 1):
        yield pb.IngestRequest(
            document=pb.Document(sequence=sequence, id=f"d{sequence}", data=b"x" * 256 * 1024)
        )


def test_the_orchestrator_s_status_reaches_the_client_not_internal(tmp_path: Path) -> None:
    outcomes: Counter[tuple[str, str]] = Counter()
    with gateway_before(
        EndingOrchestrator(), tmp_path, [pb.PERMISSION_WRITE], ingest_bytes_per_s=str(1e12)
    ) as gateway:
        for _ in range(40):
            with pytest.raises(grpc.RpcError) as raised:
                for _ack in gateway.stub.Ingest(
                    requests(12), metadata=bearer(gateway.key), timeout=30
                ):
                    pass
            error: Any = raised.value
            outcomes[(error.code().name, error.details())] += 1
    assert outcomes == Counter({("NOT_FOUND", GONE): 40})
