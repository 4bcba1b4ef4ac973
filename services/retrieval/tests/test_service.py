"""The retrieval service as a real process (``python -m ragserve.retrieval`` on port 0) with
the embedded backend: exact status codes for bad input, and acknowledged points that
survive a restart and a SIGKILL of the whole service."""

from __future__ import annotations

import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf import struct_pb2

from ragserve.api.common.v1 import common_pb2
from ragserve.api.retrieval.v1 import retrieval_pb2 as pb
from ragserve.api.retrieval.v1 import retrieval_pb2_grpc as pb_grpc
from ragserve.testkit.processes import ServiceProcess

TENANT = "acme"
VECTORS = [
    [1.0, 0.0, 0.0, 0.0],
    [0.0, 1.0, 0.0, 0.0],
    [0.0, 0.0, 1.0, 0.0],
    [0.6, 0.8, 0.0, 0.0],
]


def service(data_dir: Path) -> ServiceProcess:
    return ServiceProcess("retrieval", {"RAGSERVE_RETRIEVAL_DATA_DIR": str(data_dir)})


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    with service(tmp_path_factory.mktemp("retrieval")) as process:
        yield process


@pytest.fixture
async def stub(running: ServiceProcess) -> AsyncIterator[pb_grpc.RetrievalServiceStub]:
    async with grpc.aio.insecure_channel(running.address) as channel:
        yield pb_grpc.RetrievalServiceStub(channel)


def point(index: int, vector: list[float] | None = None) -> pb.Point:
    payload = struct_pb2.Struct()
    payload.update({"doc": f"doc-{index % 2}", "rank": index})
    return pb.Point(
        id=common_pb2.PointId(num=index), vector=vector or VECTORS[index], payload=payload
    )


async def create_and_fill(stub: pb_grpc.RetrievalServiceStub, name: str) -> pb.UpsertResponse:
    await stub.CreateCollection(
        pb.CreateCollectionRequest(
            tenant=TENANT,
            name=name,
            config=pb.CollectionConfig(
                dimension=4,
                distance=pb.DISTANCE_COSINE,
                payload_indexes=[pb.PayloadIndex(field="doc", type=pb.PAYLOAD_SCHEMA_TYPE_KEYWORD)],
            ),
        )
    )

    async def batches() -> AsyncIterator[pb.UpsertRequest]:
        yield pb.UpsertRequest(tenant=TENANT, collection=name, points=[point(0), point(1)])
        yield pb.UpsertRequest(points=[point(2), point(3)])

    response: pb.UpsertResponse = await stub.Upsert(batches())
    return response


async def status_of(call: object) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call  # type: ignore[misc]
    return caught.value.code(), caught.value.details() or ""


async def test_upsert_search_and_filters(stub: pb_grpc.RetrievalServiceStub) -> None:
    response = await create_and_fill(stub, "search")
    assert (response.points_upserted, response.batches) == (4, 2)
    found = await stub.Search(
        pb.SearchRequest(
            tenant=TENANT,
            collection="search",
            query=pb.SearchQuery(vector=[1.0, 0.0, 0.0, 0.0], limit=2),
        )
    )
    assert [hit.id.num for hit in found.hits] == [0, 3]
    assert found.hits[0].score == pytest.approx(1.0)
    assert dict(found.hits[0].payload) == {"doc": "doc-0", "rank": 0}
    assert list(found.hits[0].vector) == []
    doc1 = common_pb2.Filter(
        must=[common_pb2.Condition(key="doc", match=common_pb2.MatchValue(keyword="doc-1"))]
    )
    rank3 = common_pb2.Filter(
        must=[common_pb2.Condition(key="rank", match=common_pb2.MatchValue(integer=3))]
    )
    batch = await stub.SearchBatch(
        pb.SearchBatchRequest(
            tenant=TENANT,
            collection="search",
            queries=[
                pb.SearchQuery(vector=[1.0, 0.0, 0.0, 0.0], limit=5, filter=doc1),
                pb.SearchQuery(vector=[0.0, 1.0, 0.0, 0.0], limit=5, filter=rank3),
            ],
        )
    )
    assert [[hit.id.num for hit in result.hits] for result in batch.results] == [[3, 1], [3]]
    await stub.DeletePoints(pb.DeletePointsRequest(tenant=TENANT, collection="search", filter=doc1))
    counted = await stub.CountPoints(pb.CountPointsRequest(tenant=TENANT, collection="search"))
    assert counted.count == 2


async def test_bad_inputs_get_exact_statuses(stub: pb_grpc.RetrievalServiceStub) -> None:
    await create_and_fill(stub, "errors")
    assert await status_of(
        stub.DescribeCollection(pb.DescribeCollectionRequest(tenant=TENANT, name="nope"))
    ) == (grpc.StatusCode.NOT_FOUND, "collection 'nope' does not exist")
    assert await status_of(
        stub.DescribeCollection(pb.DescribeCollectionRequest(tenant="other", name="errors"))
    ) == (grpc.StatusCode.NOT_FOUND, "collection 'errors' does not exist")
    assert await status_of(
        stub.CreateCollection(
            pb.CreateCollectionRequest(
                tenant=TENANT, name="errors", config=pb.CollectionConfig(dimension=4)
            )
        )
    ) == (grpc.StatusCode.ALREADY_EXISTS, "collection 'errors' already exists")

    async def wrong_dimension() -> AsyncIterator[pb.UpsertRequest]:
        yield pb.UpsertRequest(tenant=TENANT, collection="errors", points=[point(0)])
        yield pb.UpsertRequest(points=[point(1), point(2, [1.0, 2.0, 3.0])])

    assert await status_of(stub.Upsert(wrong_dimension())) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "requests[1].points[1].vector: has 3 dimensions, collection 'errors' expects 4",
    )
    code, details = await status_of(
        stub.Search(
            pb.SearchRequest(
                tenant=TENANT,
                collection="errors",
                query=pb.SearchQuery(
                    vector=[1.0, 0.0, 0.0, 0.0],
                    filter=common_pb2.Filter(
                        should=[common_pb2.Condition(key="rank", range=common_pb2.Range())]
                    ),
                ),
            )
        )
    )
    assert (code, details) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "query.filter.should[0].range: range on 'rank' has no bound",
    )
    code, details = await status_of(
        stub.GetPoints(
            pb.GetPointsRequest(
                tenant=TENANT, collection="errors", ids=[common_pb2.PointId(uuid="chunk-7")]
            )
        )
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert details.startswith("ids[0]: string id 'chunk-7' is not a UUID")
    assert await status_of(
        stub.DeletePoints(pb.DeletePointsRequest(tenant=TENANT, collection="errors"))
    ) == (grpc.StatusCode.INVALID_ARGUMENT, "selector: set ids or filter")


async def test_search_metrics_are_exported(
    running: ServiceProcess, stub: pb_grpc.RetrievalServiceStub
) -> None:
    await create_and_fill(stub, "metered")
    await stub.Search(
        pb.SearchRequest(
            tenant=TENANT, collection="metered", query=pb.SearchQuery(vector=[1.0, 0, 0, 0])
        )
    )
    url = f"http://127.0.0.1:{running.metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: ASYNC210
        text = response.read().decode()
    assert 'ragserve_retrieval_search_duration_seconds_count{collection="metered"} 1.0' in text
    assert 'ragserve_retrieval_upserted_points_total{collection="metered"} 4.0' in text


async def test_acknowledged_points_survive_restart_and_sigkill(tmp_path: Path) -> None:
    process = service(tmp_path).start()
    try:
        async with grpc.aio.insecure_channel(process.address) as channel:
            await create_and_fill(pb_grpc.RetrievalServiceStub(channel), "durable")
        process.stop()  # graceful
        process.start()
        async with grpc.aio.insecure_channel(process.address) as channel:
            stub = pb_grpc.RetrievalServiceStub(channel)
            described = await stub.DescribeCollection(
                pb.DescribeCollectionRequest(tenant=TENANT, name="durable")
            )
            assert described.collection.points_count == 4

            async def more() -> AsyncIterator[pb.UpsertRequest]:
                yield pb.UpsertRequest(
                    tenant=TENANT, collection="durable", points=[point(9, [0.0, 0.0, 0.0, 1.0])]
                )

            await stub.Upsert(more())
        process.kill()  # the crash case: the service and its worker die without a flush
        # A fresh ServiceProcess: the killed one's output reader may still be finishing and
        # would wake a restarted start() with the old port (reported to the testkit's owner).
        process = service(tmp_path).start()
        async with grpc.aio.insecure_channel(process.address) as channel:
            stub = pb_grpc.RetrievalServiceStub(channel)
            found = await stub.Search(
                pb.SearchRequest(
                    tenant=TENANT,
                    collection="durable",
                    query=pb.SearchQuery(vector=[0.0, 0.0, 0.0, 1.0], limit=1),
                )
            )
            assert (found.hits[0].id.num, found.hits[0].score) == (9, pytest.approx(1.0))
            counted = await stub.CountPoints(
                pb.CountPointsRequest(tenant=TENANT, collection="durable")
            )
            assert counted.count == 5
    finally:
        process.stop()
        process.kill()
