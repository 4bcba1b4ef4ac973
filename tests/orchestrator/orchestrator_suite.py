"""Starting the suite for the orchestrator's tests, and talking to it."""

from __future__ import annotations

import urllib.request
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import struct_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from ragserve.api.common.v1 import common_pb2
from ragserve.api.orchestrator.v1 import orchestrator_pb2 as pb
from ragserve.api.orchestrator.v1 import orchestrator_pb2_grpc
from ragserve.api.retrieval.v1 import retrieval_pb2 as rpb
from ragserve.api.retrieval.v1 import retrieval_pb2_grpc
from ragserve.testkit import suite as testkit_suite
from ragserve.testkit.ports import free_port
from ragserve.testkit.processes import ServiceProcess
from ragserve.testkit.redis_server import RedisServer

MODEL = "all-minilm-l6-v2"
TENANT = "acme"


@dataclass
class Suite:
    data_dir: Path
    redis: RedisServer
    inference: ServiceProcess
    router: ServiceProcess
    retrieval: ServiceProcess
    orchestrator: ServiceProcess
    started: list[Any] = field(default_factory=list)

    def close(self) -> None:
        for part in reversed(self.started):
            part.kill()

    def channel(self) -> grpc.aio.Channel:
        return grpc.aio.insecure_channel(self.orchestrator.address)

    def retrieval_channel(self) -> grpc.aio.Channel:
        return grpc.aio.insecure_channel(self.retrieval.address)

    def router_embed_streams(self) -> float:
        """EmbedStream calls the router has started (its RED metrics)."""
        return _metric(
            self.router.metrics_port,
            "grpc_server_started",
            {"grpc_method": "EmbedStream"},
        )

    def router_embed_streams_ended(self, code: str) -> float:
        """EmbedStream calls the router finished with status ``code``."""
        return _metric(
            self.router.metrics_port,
            "grpc_server_handled",
            {"grpc_method": "EmbedStream", "grpc_code": code},
        )

    def orchestrator_ingested(self, status: str) -> float:
        """Documents the orchestrator acked with ``status`` (its own metrics)."""
        return _metric(
            self.orchestrator.metrics_port,
            "ragserve_orchestrator_ingest_documents",
            {"status": status},
        )


async def wait_health(address: str, serving: bool, timeout_s: float = 60.0) -> None:
    """Watches ``address``'s overall health until it is (not) SERVING."""
    wanted = (
        health_pb2.HealthCheckResponse.SERVING
        if serving
        else health_pb2.HealthCheckResponse.NOT_SERVING
    )
    async with grpc.aio.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        async for response in stub.Watch(health_pb2.HealthCheckRequest(), timeout=timeout_s):
            if response.status == wanted:
                return
    raise AssertionError(f"{address} health never became {wanted}")


def _metric(port: int, name: str, labels: dict[str, str]) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    total = 0.0
    for family in text_string_to_metric_families(text):
        if family.name != name:
            continue
        for sample in family.samples:
            if sample.name.endswith("_total") and all(
                sample.labels.get(k) == v for k, v in labels.items()
            ):
                total += sample.value
    return total


def retrieval_process(data_dir: Path, port: int) -> ServiceProcess:
    return ServiceProcess(
        "retrieval", {"RAGSERVE_RETRIEVAL_DATA_DIR": str(data_dir)}, grpc_port=port
    )


def orchestrator_process(router: str, retrieval: str, **env: str) -> ServiceProcess:
    return ServiceProcess(
        "orchestrator",
        {
            "RAGSERVE_EMBEDDING_ROUTER_ADDR": router,
            "RAGSERVE_RETRIEVAL_ADDR": retrieval,
            **env,
        },
    )


def start_suite(data_dir: Path) -> Suite:
    """The testkit's suite, with retrieval on a port of its own so a test can restart it."""
    parts = testkit_suite.start_suite(data_dir / "retrieval", retrieval_port=free_port())
    return Suite(
        data_dir,
        parts.redis,
        parts.inference,
        parts.router,
        parts.retrieval,
        parts.orchestrator,
        parts.started,
    )


def text_document(
    document_id: str,
    text: str,
    media_type: str = "text/plain",
    metadata: dict[str, Any] | None = None,
) -> pb.Document:
    document = pb.Document(id=document_id, text=text, media_type=media_type)
    if metadata:
        document.metadata.update(metadata)
    return document


def config_message(collection: str, tenant: str = TENANT, **chunking: Any) -> pb.IngestRequest:
    return pb.IngestRequest(
        config=pb.IngestConfig(
            tenant=tenant, collection=collection, chunking=pb.ChunkingOptions(**chunking)
        )
    )


def item_message(sequence: int, document: pb.Document) -> pb.IngestRequest:
    return pb.IngestRequest(item=pb.IngestItem(sequence=sequence, document=document))


async def requests_of(
    collection: str, documents: Sequence[tuple[int, pb.Document]], **chunking: Any
) -> AsyncIterator[pb.IngestRequest]:
    yield config_message(collection, **chunking)
    for sequence, document in documents:
        yield item_message(sequence, document)


async def ingest(
    stub: orchestrator_pb2_grpc.OrchestratorServiceStub,
    collection: str,
    documents: Iterable[pb.Document],
    *,
    first_sequence: int = 1,
    deadline_s: float = 120,
) -> dict[int, pb.IngestResponse]:
    """Acks by sequence number for ``documents`` numbered from ``first_sequence``."""
    numbered = list(enumerate(documents, start=first_sequence))
    acks: dict[int, pb.IngestResponse] = {}
    async for ack in stub.Ingest(requests_of(collection, numbered), timeout=deadline_s):
        assert ack.sequence not in acks, f"second ack for {ack.sequence}"
        acks[ack.sequence] = ack
    return acks


async def create_collection(
    stub: orchestrator_pb2_grpc.OrchestratorServiceStub,
    name: str,
    indexed: Sequence[tuple[str, int]] = (),
) -> pb.CollectionSummary:
    response = await stub.CreateCollection(
        pb.CreateCollectionRequest(
            tenant=TENANT,
            name=name,
            model=MODEL,
            indexed_metadata=[pb.IndexedMetadataField(key=k, type=t) for k, t in indexed],
        ),
        timeout=30,
    )
    return response.collection


async def count_points(channel: grpc.aio.Channel, collection: str, **matches: str | int) -> int:
    """Points in ``collection`` whose payload has every ``key == value`` (retrieval direct)."""
    stub = retrieval_pb2_grpc.RetrievalServiceStub(channel)
    conditions = [
        common_pb2.Condition(
            key=key,
            match=(
                common_pb2.MatchValue(integer=value)
                if isinstance(value, int)
                else common_pb2.MatchValue(keyword=value)
            ),
        )
        for key, value in matches.items()
    ]
    response = await stub.CountPoints(
        rpb.CountPointsRequest(
            tenant=TENANT, collection=collection, filter=common_pb2.Filter(must=conditions)
        ),
        timeout=30,
    )
    return int(response.count)


def struct(values: dict[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(values)
    return message
