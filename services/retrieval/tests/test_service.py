"""The retrieval service as a real process (``python -m ragserve.retrieval`` on port 0) with
the embedded backend: exact status codes for bad input, metrics on /metrics, spans at a real
OTLP receiver, health that follows the embedded worker, and acknowledged points that survive
a SIGKILL of the worker, a restart and a SIGKILL of the whole service."""

from __future__ import annotations

import asyncio
import os
import signal
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import struct_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from ragserve.api.common.v1 import common_pb2
from ragserve.api.retrieval.v1 import retrieval_pb2 as pb
from ragserve.api.retrieval.v1 import retrieval_pb2_grpc as pb_grpc
from ragserve.testkit.otlp import OtlpReceiver, ReceivedSpan
from ragserve.testkit.processes import ServiceProcess

TENANT = "acme"
VECTORS = [
    [1.0, 0.0, 0.0, 0.0],
    [0.0, 1.0, 0.0, 0.0],
    [0.0, 0.0, 1.0, 0.0],
    [0.6, 0.8, 0.0, 0.0],
]


def service(data_dir: Path, **env: str) -> ServiceProcess:
    return ServiceProcess("retrieval", {"RAGSERVE_RETRIEVAL_DATA_DIR": str(data_dir), **env})


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as running:
        yield running


@pytest.fixture(scope="module")
def running(
    tmp_path_factory: pytest.TempPathFactory, receiver: OtlpReceiver
) -> Iterator[ServiceProcess]:
    exporting = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    with service(tmp_path_factory.mktemp("retrieval"), **exporting) as process:
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
    deleted = await stub.DeletePoints(
        pb.DeletePointsRequest(tenant=TENANT, collection="search", filter=doc1)
    )
    assert deleted.matched == 2
    by_ids = await stub.DeletePoints(
        pb.DeletePointsRequest(
            tenant=TENANT,
            collection="search",
            ids=pb.PointIdList(ids=[common_pb2.PointId(num=0), common_pb2.PointId(num=77)]),
        )
    )
    assert by_ids.matched == 0  # a delete by ids does not count
    counted = await stub.CountPoints(pb.CountPointsRequest(tenant=TENANT, collection="search"))
    assert counted.count == 1
    described = await stub.DescribeCollection(
        pb.DescribeCollectionRequest(tenant=TENANT, name="search")
    )
    assert (described.collection.points_count, described.collection.indexed_vectors_count) == (
        1,
        0,
    )
    assert described.collection.index_state == pb.INDEX_STATE_EXACT


async def test_scroll_pages_by_id_over_grpc(stub: pb_grpc.RetrievalServiceStub) -> None:
    await create_and_fill(stub, "scroll")
    doc1 = common_pb2.Filter(
        must=[common_pb2.Condition(key="doc", match=common_pb2.MatchValue(keyword="doc-1"))]
    )
    first = await stub.Scroll(pb.ScrollRequest(tenant=TENANT, collection="scroll", limit=3))
    assert [p.id.num for p in first.points] == [0, 1, 2]
    assert dict(first.points[1].payload) == {"doc": "doc-1", "rank": 1}
    assert first.next_offset.num == 3
    last = await stub.Scroll(
        pb.ScrollRequest(
            tenant=TENANT,
            collection="scroll",
            offset=first.next_offset,
            with_payload=pb.PayloadSelector(include=["rank"]),
            with_vectors=True,
        )
    )
    assert [(p.id.num, dict(p.payload)) for p in last.points] == [(3, {"rank": 3})]
    assert list(last.points[0].vector) == pytest.approx(VECTORS[3])
    assert not last.HasField("next_offset")
    filtered = await stub.Scroll(
        pb.ScrollRequest(tenant=TENANT, collection="scroll", filter=doc1, limit=1000)
    )
    assert [p.id.num for p in filtered.points] == [1, 3]
    cases = [
        (pb.ScrollRequest(limit=1001), "limit: 1001 is outside [1, 1000]"),
        (
            pb.ScrollRequest(offset=common_pb2.PointId(uuid="chunk-7")),
            "offset: string id 'chunk-7' is not a UUID",
        ),
        (pb.ScrollRequest(offset=common_pb2.PointId()), "offset: is empty: set num or uuid"),
        (
            pb.ScrollRequest(
                filter=common_pb2.Filter(
                    must=[common_pb2.Condition(key="a..b", match=common_pb2.MatchValue(integer=1))]
                )
            ),
            "filter.must[0].key: 'a..b' is not a payload path",
        ),
    ]
    for request, expected in cases:
        request.tenant, request.collection = TENANT, "scroll"
        code, details = await status_of(stub.Scroll(request))
        assert code == grpc.StatusCode.INVALID_ARGUMENT
        assert details.startswith(expected), details
    assert await status_of(stub.Scroll(pb.ScrollRequest(tenant=TENANT, collection="nope"))) == (
        grpc.StatusCode.NOT_FOUND,
        "collection 'nope' does not exist",
    )


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


async def test_hostile_input_found_by_a_fuzz(stub: pb_grpc.RetrievalServiceStub) -> None:
    """Each of these once came back INTERNAL or UNAVAILABLE (a retryable outage)."""
    await create_and_fill(stub, "hostile")

    async def nan_in_second_batch() -> AsyncIterator[pb.UpsertRequest]:
        yield pb.UpsertRequest(tenant=TENANT, collection="hostile", points=[point(0)])
        bad = point(1)
        bad.payload.update({"price": float("nan")})
        yield pb.UpsertRequest(points=[bad])

    assert await status_of(stub.Upsert(nan_in_second_batch())) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "requests[1].points[0].payload.price: point 1: payload key 'price' is NaN; "
        "payload numbers must be finite",
    )
    bad_key = common_pb2.Filter(
        must=[common_pb2.Condition(key="a..b", match=common_pb2.MatchValue(integer=1))]
    )
    assert await status_of(
        stub.Search(
            pb.SearchRequest(
                tenant=TENANT,
                collection="hostile",
                query=pb.SearchQuery(vector=[1.0, 0.0, 0.0, 0.0], filter=bad_key),
            )
        )
    ) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "query.filter.must[0].key: 'a..b' is not a payload path: expected a key at "
        "character 3, found '.' (a key is letters, digits, '_' and '-', or any text in "
        "double quotes)",
    )
    assert await status_of(
        stub.GetPoints(
            pb.GetPointsRequest(
                tenant=TENANT,
                collection="hostile",
                ids=[common_pb2.PointId(num=0)],
                with_payload=pb.PayloadSelector(include=["doc", "a[-1]"]),
            )
        )
    ) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "with_payload.include[1]: 'a[-1]' is not a payload path: "
        "index [-1] is not '[]' or a non-negative integer",
    )
    assert await status_of(
        stub.CreateCollection(
            pb.CreateCollectionRequest(
                tenant=TENANT,
                name="badindex",
                config=pb.CollectionConfig(
                    dimension=4,
                    payload_indexes=[
                        pb.PayloadIndex(field="a[", type=pb.PAYLOAD_SCHEMA_TYPE_KEYWORD)
                    ],
                ),
            )
        )
    ) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "config.payload_indexes[0].field: 'a[' is not a payload path: "
        "the '[' at character 2 is never closed",
    )
    listed = await stub.ListCollections(pb.ListCollectionsRequest(tenant=TENANT))
    assert "badindex" not in [collection.name for collection in listed.collections]

    async def duplicates() -> AsyncIterator[pb.UpsertRequest]:
        yield pb.UpsertRequest(
            tenant=TENANT, collection="hostile", points=[point(0), point(2), point(0)]
        )
        yield pb.UpsertRequest(points=[point(2)])

    response = await stub.Upsert(duplicates())
    assert (response.points_upserted, response.batches) == (3, 2)


async def test_delete_snapshot(stub: pb_grpc.RetrievalServiceStub) -> None:
    await create_and_fill(stub, "snaps")
    first = await stub.CreateSnapshot(pb.CreateSnapshotRequest(tenant=TENANT, collection="snaps"))
    second = await stub.CreateSnapshot(pb.CreateSnapshotRequest(tenant=TENANT, collection="snaps"))
    name = first.snapshot.name
    await stub.DeleteSnapshot(
        pb.DeleteSnapshotRequest(tenant=TENANT, collection="snaps", snapshot=name)
    )
    listed = await stub.ListSnapshots(pb.ListSnapshotsRequest(tenant=TENANT, collection="snaps"))
    assert [s.name for s in listed.snapshots] == [second.snapshot.name]
    assert await status_of(
        stub.DeleteSnapshot(
            pb.DeleteSnapshotRequest(tenant=TENANT, collection="snaps", snapshot=name)
        )
    ) == (grpc.StatusCode.NOT_FOUND, f"snapshot {name!r} of collection 'snaps' does not exist")
    assert await status_of(
        stub.DeleteSnapshot(pb.DeleteSnapshotRequest(tenant=TENANT, collection="snaps"))
    ) == (grpc.StatusCode.INVALID_ARGUMENT, "snapshot: is empty")
    # Another tenant cannot reach it, and the collection's deletion does not take it.
    assert await status_of(
        stub.DeleteSnapshot(
            pb.DeleteSnapshotRequest(
                tenant="other", collection="snaps", snapshot=second.snapshot.name
            )
        )
    ) == (
        grpc.StatusCode.NOT_FOUND,
        f"snapshot {second.snapshot.name!r} of collection 'snaps' does not exist",
    )
    await stub.DeleteCollection(pb.DeleteCollectionRequest(tenant=TENANT, name="snaps"))
    await stub.DeleteSnapshot(
        pb.DeleteSnapshotRequest(tenant=TENANT, collection="snaps", snapshot=second.snapshot.name)
    )
    listed = await stub.ListSnapshots(pb.ListSnapshotsRequest(tenant=TENANT, collection="snaps"))
    assert list(listed.snapshots) == []


def scrape(process: ServiceProcess) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample on the service's /metrics, keyed by (name, sorted labels)."""
    url = f"http://127.0.0.1:{process.metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_search_histogram_and_points_gauge_per_collection(
    running: ServiceProcess, stub: pb_grpc.RetrievalServiceStub
) -> None:
    await create_and_fill(stub, "metered")
    metered = (("collection", "metered"),)
    # The gauge follows the upsert itself (no describe since creation, at 0 points).
    samples = await asyncio.to_thread(scrape, running)
    assert samples[("ragserve_retrieval_collection_points", metered)] == 4.0
    assert samples[("ragserve_retrieval_upserted_points_total", metered)] == 4.0
    doc1 = common_pb2.Filter(
        must=[common_pb2.Condition(key="doc", match=common_pb2.MatchValue(keyword="doc-1"))]
    )
    await stub.DeletePoints(
        pb.DeletePointsRequest(tenant=TENANT, collection="metered", filter=doc1)
    )
    for vector in ([1.0, 0, 0, 0], [0, 1.0, 0, 0], [0, 0, 1.0, 0]):
        await stub.Search(
            pb.SearchRequest(
                tenant=TENANT, collection="metered", query=pb.SearchQuery(vector=vector)
            )
        )
    samples = await asyncio.to_thread(scrape, running)
    assert samples[("ragserve_retrieval_collection_points", metered)] == 2.0
    histogram = "ragserve_retrieval_search_duration_seconds"
    assert samples[(histogram + "_count", metered)] == 3.0
    # Each search of 2 points in a 4-dimensional collection takes well under a second.
    assert 0.0 < samples[(histogram + "_sum", metered)] < 3.0
    buckets = {
        dict(labels)["le"]: value
        for (name, labels), value in samples.items()
        if name == histogram + "_bucket" and dict(labels)["collection"] == "metered"
    }
    assert buckets["1.0"] == buckets["+Inf"] == 3.0
    # Label values never carry the tenant.
    assert not [key for key in samples if any(TENANT + "." in value for _, value in key[1])]


def own_spans(spans: list[ReceivedSpan], trace_ids: set[str]) -> list[ReceivedSpan]:
    return [span for span in spans if span.trace_id in trace_ids]


async def test_spans_per_search_and_per_upsert_batch_reach_the_receiver(
    stub: pb_grpc.RetrievalServiceStub, receiver: OtlpReceiver
) -> None:
    # Each call continues a trace of our own (W3C traceparent), so the test can pick its
    # spans out of everything else the service exported.
    upsert_trace, search_trace = f"{0xFEED1:032x}", f"{0xFEED2:032x}"
    await stub.CreateCollection(
        pb.CreateCollectionRequest(
            tenant=TENANT, name="traced", config=pb.CollectionConfig(dimension=4)
        )
    )

    async def batches() -> AsyncIterator[pb.UpsertRequest]:
        yield pb.UpsertRequest(tenant=TENANT, collection="traced", points=[point(0), point(1)])
        yield pb.UpsertRequest(points=[point(2), point(3)])
        yield pb.UpsertRequest(points=[point(4, [0.0, 0.0, 0.0, 1.0])])

    await stub.Upsert(batches(), metadata=(("traceparent", f"00-{upsert_trace}-{1:016x}-01"),))
    await stub.SearchBatch(
        pb.SearchBatchRequest(
            tenant=TENANT,
            collection="traced",
            queries=[
                pb.SearchQuery(vector=[1.0, 0, 0, 0], limit=3),
                pb.SearchQuery(vector=[0, 1.0, 0, 0], limit=3),
            ],
        ),
        metadata=(("traceparent", f"00-{search_trace}-{2:016x}-01"),),
    )
    trace_ids = {upsert_trace, search_trace}
    service_prefix = "/ragserve.api.retrieval.v1.RetrievalService/"

    def complete(spans: list[ReceivedSpan]) -> bool:
        names = [span.name for span in own_spans(spans, trace_ids)]
        # A call's own span ends after the spans inside it and may come in the next export
        # (every 100 ms here): wait for the parents asserted below too.
        return (
            names.count("retrieval.upsert_batch") == 3
            and "retrieval.search" in names
            and service_prefix + "Upsert" in names
            and service_prefix + "SearchBatch" in names
        )

    mine = own_spans(await asyncio.to_thread(receiver.wait_for, complete), trace_ids)
    assert {span.service for span in mine} == {"ragserve-retrieval"}
    by_id = {span.span_id: span for span in mine}

    batch_spans = [span for span in mine if span.name == "retrieval.upsert_batch"]
    assert sorted(span.attributes["retrieval.points"] for span in batch_spans) == [1, 2, 2]
    for span in batch_spans:
        assert span.trace_id == upsert_trace
        assert by_id[span.parent_span_id].name == service_prefix + "Upsert"
        assert (span.attributes["retrieval.collection"], span.attributes["retrieval.backend"]) == (
            "traced",
            "edge",
        )
    [search] = [span for span in mine if span.name == "retrieval.search"]
    assert search.trace_id == search_trace
    assert by_id[search.parent_span_id].name == service_prefix + "SearchBatch"
    assert {key: search.attributes[key] for key in ("retrieval.queries", "retrieval.limit")} == {
        "retrieval.queries": 2,
        "retrieval.limit": 3,
    }
    assert search.attributes["retrieval.filtered"] is False


def worker_pid(process: ServiceProcess) -> int:
    """The live embedded worker: the service's child started by multiprocessing's spawn
    (a killed one, not yet reaped, has no command line any more)."""
    assert process.process is not None
    children = [
        int(child)
        for task in Path(f"/proc/{process.process.pid}/task").iterdir()
        for child in (task / "children").read_text().split()
    ]
    workers = [pid for pid in children if b"spawn_main" in _cmdline(pid)]
    assert len(workers) == 1, (children, workers)
    return workers[0]


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:  # reaped meanwhile
        return b""


async def test_health_follows_the_worker_through_a_sigkill(
    running: ServiceProcess, stub: pb_grpc.RetrievalServiceStub
) -> None:
    await create_and_fill(stub, "survivor")

    async def more() -> AsyncIterator[pb.UpsertRequest]:
        for start in range(10, 210, 50):
            yield pb.UpsertRequest(
                tenant=TENANT,
                collection="survivor",
                points=[point(i, [1.0, i / 100, 0.0, 0.0]) for i in range(start, start + 50)],
            )

    assert (await stub.Upsert(more())).points_upserted == 200
    before = worker_pid(running)
    # The service also names its worker in its log.
    logged = [r["worker_pid"] for r in running.records() if r.get("event") == "edge_worker_serving"]
    assert logged[-1] == before
    statuses: list[Any] = []
    async with grpc.aio.insecure_channel(running.address) as channel:
        watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest())
        async with asyncio.timeout(60):
            iterator = watch.__aiter__()
            statuses.append((await iterator.__anext__()).status)
            assert statuses == [health_pb2.HealthCheckResponse.SERVING]
            os.kill(before, signal.SIGKILL)  # no flush: only the engine's WAL saves us
            while statuses[-1] != health_pb2.HealthCheckResponse.SERVING or len(statuses) < 3:
                statuses.append((await iterator.__anext__()).status)
        watch.cancel()
    assert statuses == [
        health_pb2.HealthCheckResponse.SERVING,
        health_pb2.HealthCheckResponse.NOT_SERVING,
        health_pb2.HealthCheckResponse.SERVING,
    ]
    assert worker_pid(running) != before
    counted = await stub.CountPoints(pb.CountPointsRequest(tenant=TENANT, collection="survivor"))
    assert counted.count == 204
    found = await stub.Search(
        pb.SearchRequest(
            tenant=TENANT,
            collection="survivor",
            query=pb.SearchQuery(vector=[0.0, 0.0, 1.0, 0.0], limit=1),
        )
    )
    assert (found.hits[0].id.num, found.hits[0].score) == (2, pytest.approx(1.0))


async def test_acknowledged_points_survive_restart_and_sigkill(tmp_path: Path) -> None:
    process = service(tmp_path).start()
    try:
        async with grpc.aio.insecure_channel(process.address) as channel:
            await create_and_fill(pb_grpc.RetrievalServiceStub(channel), "durable")
        process.stop()  # graceful
        process.start()
        # The points gauge is right from start-up, before any write or describe.
        samples = await asyncio.to_thread(scrape, process)
        assert samples[("ragserve_retrieval_collection_points", (("collection", "durable"),))] == 4
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
