"""Ingest through the orchestrator as a real process, over the real router (inference,
Redis) and retrieval (Qdrant Edge): acks, idempotence, replacement, exact statuses."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest
from orchestrator_suite import (
    MODEL,
    TENANT,
    Suite,
    count_points,
    create_collection,
    ingest,
    requests_of,
    text_document,
)

from ragserve.api.common.v1 import common_pb2
from ragserve.api.orchestrator.v1 import orchestrator_pb2 as pb
from ragserve.api.orchestrator.v1 import orchestrator_pb2_grpc
from ragserve.api.retrieval.v1 import retrieval_pb2 as rpb
from ragserve.api.retrieval.v1 import retrieval_pb2_grpc
from ragserve.orchestrator import payload

pytestmark = pytest.mark.slow

MARKDOWN = """# Tides

Tides are the rise and fall of sea levels caused by the gravity of the Moon and the Sun.

## Spring tides

When the Sun and the Moon line up, their pulls add and the tidal range is largest.

## Neap tides

At quarter moons the pulls partly cancel and the range is smallest.
"""
HTML = """<html><head><title>Bees</title></head><body>
<h1>Honey bees</h1><p>A colony has one queen, thousands of workers and some drones.</p>
<h2>Waggle dance</h2><p>Foragers tell others where flowers are by dancing on the comb.</p>
</body></html>"""


@pytest.fixture
async def stub(suite: Suite) -> AsyncIterator[orchestrator_pb2_grpc.OrchestratorServiceStub]:
    suite.orchestrator.check_alive()
    async with suite.channel() as channel:
        yield orchestrator_pb2_grpc.OrchestratorServiceStub(channel)
    suite.orchestrator.check_alive()


def _documents() -> list[pb.Document]:
    return [
        text_document("tides", MARKDOWN, "text/markdown", {"topic": "sea", "year": 2024}),
        text_document("bees", HTML, "text/html; charset=utf-8", {"topic": "insects"}),
        text_document(
            "plain",
            "Volcanoes form where magma reaches the surface. " * 40,
            metadata={"topic": "earth"},
        ),
    ]


async def test_ingest_acks_each_document_once_durable_then_unchanged_without_embedding(
    suite: Suite, stub: orchestrator_pb2_grpc.OrchestratorServiceStub
) -> None:
    summary = await create_collection(stub, "basics", [("topic", pb.METADATA_TYPE_KEYWORD)])
    assert (summary.name, summary.model, summary.dimension) == ("basics", MODEL, 384)

    ended_ok = suite.router_embed_streams_ended("OK")
    acks = await ingest(stub, "basics", _documents())
    assert sorted(acks) == [1, 2, 3]
    # The stream ended normally, so did its embedding stream at the router (not cancelled).
    assert suite.router_embed_streams_ended("OK") == ended_ok + 1
    for ack in acks.values():
        assert ack.status == pb.INGEST_STATUS_STORED, ack
        assert ack.collection == "basics"
        assert ack.chunks >= 1 and len(ack.content_hash) == 64
    assert acks[3].chunks >= 2  # the long plain text is cut under the model's limit
    async with suite.retrieval_channel() as channel:
        for ack in acks.values():
            assert await count_points(channel, "basics", document_id=ack.document_id) == ack.chunks
    collection = (
        await stub.GetCollection(pb.GetCollectionRequest(tenant=TENANT, name="basics"))
    ).collection
    assert collection.chunks_count == sum(a.chunks for a in acks.values())
    assert collection.documents_count == 3

    assert suite.orchestrator_ingested("stored") >= 3
    streams_before = suite.router_embed_streams()
    unchanged_before = suite.orchestrator_ingested("unchanged")
    again = await ingest(stub, "basics", _documents(), first_sequence=10)
    assert {a.status for a in again.values()} == {pb.INGEST_STATUS_UNCHANGED}
    assert [again[10 + i].content_hash for i in range(3)] == [
        acks[1 + i].content_hash for i in range(3)
    ]
    assert suite.router_embed_streams() == streams_before  # nothing was embedded
    assert suite.orchestrator_ingested("unchanged") == unchanged_before + 3

    listed = await stub.ListDocuments(
        pb.ListDocumentsRequest(tenant=TENANT, collection="basics", page_size=2)
    )
    rest = await stub.ListDocuments(
        pb.ListDocumentsRequest(
            tenant=TENANT, collection="basics", page_size=2, page_token=listed.next_page_token
        )
    )
    found = {d.id: d for d in [*listed.documents, *rest.documents]}
    assert set(found) == {"tides", "bees", "plain"}
    assert rest.next_page_token == ""
    # The token is opaque (no offset a client could compute), and the order is stable.
    assert not listed.next_page_token.isdigit() and len(listed.next_page_token) <= 64
    whole = await stub.ListDocuments(pb.ListDocumentsRequest(tenant=TENANT, collection="basics"))
    assert [d.id for d in whole.documents] == [d.id for d in [*listed.documents, *rest.documents]]
    assert whole.next_page_token == ""
    collection = (
        await stub.GetCollection(pb.GetCollectionRequest(tenant=TENANT, name="basics"))
    ).collection
    assert collection.documents_count == 3  # ingesting again added none
    assert found["tides"].chunks == acks[1].chunks
    assert found["tides"].media_type == "text/markdown"
    assert dict(found["tides"].metadata) == {"topic": "sea", "year": 2024}


async def test_changed_content_replaces_the_old_chunks(
    suite: Suite, stub: orchestrator_pb2_grpc.OrchestratorServiceStub
) -> None:
    await create_collection(stub, "changes")
    first = await ingest(stub, "changes", [text_document("doc", "The first version. " * 60)])
    # While the document is replaced, a reader looking for it always finds it.
    replaced = asyncio.Event()
    misses = 0
    looks = 0

    async def reader() -> None:
        nonlocal misses, looks
        async with suite.retrieval_channel() as channel:
            while not replaced.is_set():
                looks += 1
                if await count_points(channel, "changes", document_id="doc") == 0:
                    misses += 1

    looking = asyncio.create_task(reader())
    second = await ingest(stub, "changes", [text_document("doc", "A second, shorter version.")])
    replaced.set()
    await looking
    assert (misses, looks > 0) == (0, True)
    old, new = first[1], second[1]
    assert new.status == pb.INGEST_STATUS_STORED and new.content_hash != old.content_hash
    async with suite.retrieval_channel() as channel:
        assert await count_points(channel, "changes", content_hash=old.content_hash) == 0
        assert await count_points(channel, "changes", document_id="doc") == new.chunks == 1
    deleted = await stub.DeleteDocument(
        pb.DeleteDocumentRequest(tenant=TENANT, collection="changes", document_id="doc")
    )
    assert deleted.chunks_deleted == 1
    async with suite.retrieval_channel() as channel:
        assert await count_points(channel, "changes", document_id="doc") == 0


async def _listing(
    stub: orchestrator_pb2_grpc.OrchestratorServiceStub,
    collection: str,
    page_token: str = "",
    page_size: int = 1000,
) -> pb.ListDocumentsResponse:
    request = pb.ListDocumentsRequest(
        tenant=TENANT, collection=collection, page_size=page_size, page_token=page_token
    )
    response: pb.ListDocumentsResponse = await stub.ListDocuments(request, timeout=30)
    return response


async def test_paging_lists_each_document_once_across_concurrent_writes(
    suite: Suite, stub: orchestrator_pb2_grpc.OrchestratorServiceStub
) -> None:
    await create_collection(stub, "paging")
    names = [f"doc-{i:02d}" for i in range(12)]
    first = await ingest(stub, "paging", [text_document(n, f"Original text {n}.") for n in names])
    order = [d.id for d in (await _listing(stub, "paging")).documents]
    assert sorted(order) == names
    paged: list[pb.DocumentInfo] = []
    token = ""
    pages = 0
    while True:
        page = await _listing(stub, "paging", token, page_size=5)
        paged.extend(page.documents)
        pages += 1
        if pages == 1:
            # Between two pages every document is replaced and new ones arrive.
            replaced = await ingest(
                stub,
                "paging",
                [text_document(n, f"Replaced text of {n}, longer now.") for n in names]
                + [text_document(f"new-{i}", f"A new document {i}.") for i in range(5)],
            )
            assert {a.status for a in replaced.values()} == {pb.INGEST_STATUS_STORED}
        token = page.next_page_token
        if not token:
            break
    listed = [d.id for d in paged]
    # Each document that was there throughout is listed exactly once, where it was.
    assert [d for d in listed if d in names] == order
    new_hashes = {a.document_id: a.content_hash for a in replaced.values()}
    old_hashes = {a.document_id: a.content_hash for a in first.values()}
    for position, document in enumerate(paged):
        if position < 5:
            assert document.content_hash == old_hashes[document.id]
        else:
            assert document.content_hash == new_hashes[document.id]
    total = (
        await stub.GetCollection(pb.GetCollectionRequest(tenant=TENANT, name="paging"))
    ).collection
    assert total.documents_count == 17


async def test_a_document_being_replaced_is_listed_and_counted_once_complete(
    suite: Suite, stub: orchestrator_pb2_grpc.OrchestratorServiceStub
) -> None:
    await create_collection(stub, "replacing")
    long_text = " ".join(f"Sentence {i} is about rivers, lakes and the sea." for i in range(600))
    first = await ingest(
        stub,
        "replacing",
        [text_document("big", "A short first version."), text_document("other", "Unrelated.")],
    )
    versions = {(first[1].content_hash, first[1].chunks)}
    replaced = asyncio.Event()
    observed: list[tuple[list[tuple[str, str, int]], int]] = []

    async def reader() -> None:
        while not replaced.is_set():
            listing = await _listing(stub, "replacing")
            summary = await stub.GetCollection(
                pb.GetCollectionRequest(tenant=TENANT, name="replacing"), timeout=30
            )
            observed.append(
                (
                    [(d.id, d.content_hash, d.chunks) for d in listing.documents],
                    summary.collection.documents_count,
                )
            )

    looking = asyncio.create_task(reader())
    second = await ingest(stub, "replacing", [text_document("big", long_text)])
    replaced.set()
    await looking
    assert second[1].status == pb.INGEST_STATUS_STORED and second[1].chunks > 10
    versions.add((second[1].content_hash, second[1].chunks))
    assert observed
    for listing, count in observed:
        assert sorted(d for d, _, _ in listing) == ["big", "other"]
        assert count == 2
        big = next((h, c) for d, h, c in listing if d == "big")
        assert big in versions  # a complete version, never the one being written
    final = await _listing(stub, "replacing")
    assert [(d.content_hash, d.chunks) for d in final.documents if d.id == "big"] == [
        (second[1].content_hash, second[1].chunks)
    ]
    await stub.DeleteDocument(
        pb.DeleteDocumentRequest(tenant=TENANT, collection="replacing", document_id="big")
    )
    assert [d.id for d in (await _listing(stub, "replacing")).documents] == ["other"]
    summary = await stub.GetCollection(pb.GetCollectionRequest(tenant=TENANT, name="replacing"))
    assert summary.collection.documents_count == 1


async def test_an_unchanged_ingest_lists_a_document_whose_manifest_is_missing(
    suite: Suite, stub: orchestrator_pb2_grpc.OrchestratorServiceStub
) -> None:
    # As after a crash between a version's chunks and its manifest, or for documents
    # stored before manifests existed: chunks in retrieval, nothing listed.
    await create_collection(stub, "repair")
    stored = await ingest(
        stub, "repair", [text_document("kept", "Kept text."), text_document("lost", "Lost text.")]
    )
    async with suite.retrieval_channel() as channel:
        retrieval = retrieval_pb2_grpc.RetrievalServiceStub(channel)
        await retrieval.DeletePoints(
            rpb.DeletePointsRequest(
                tenant=TENANT,
                collection=payload.DOCUMENTS_COLLECTION,
                ids=rpb.PointIdList(
                    ids=[common_pb2.PointId(uuid=payload.manifest_id("repair", "lost"))]
                ),
            ),
            timeout=30,
        )
    assert [d.id for d in (await _listing(stub, "repair")).documents] == ["kept"]
    again = await ingest(stub, "repair", [text_document("lost", "Lost text.")])
    assert again[1].status == pb.INGEST_STATUS_UNCHANGED
    listed = {d.id: d for d in (await _listing(stub, "repair")).documents}
    assert set(listed) == {"kept", "lost"}
    assert (listed["lost"].content_hash, listed["lost"].chunks) == (
        stored[2].content_hash,
        stored[2].chunks,
    )
    assert listed["lost"].media_type == "text/plain"


async def test_collection_lifecycle_is_tenant_scoped(
    suite: Suite, stub: orchestrator_pb2_grpc.OrchestratorServiceStub
) -> None:
    created = await create_collection(
        stub, "life", [("year", pb.METADATA_TYPE_INTEGER), ("draft", pb.METADATA_TYPE_BOOL)]
    )
    assert [(f.key, f.type) for f in created.indexed_metadata] == [
        ("year", pb.METADATA_TYPE_INTEGER),
        ("draft", pb.METADATA_TYPE_BOOL),
    ]
    acks = await ingest(
        stub, "life", [text_document("d", "Some text.", metadata={"year": 2020, "draft": False})]
    )
    assert acks[1].status == pb.INGEST_STATUS_STORED
    listed = (await stub.ListCollections(pb.ListCollectionsRequest(tenant=TENANT))).collections
    life = next(c for c in listed if c.name == "life")
    assert (life.model, life.dimension, life.chunks_count, life.documents_count) == (
        MODEL,
        384,
        1,
        1,
    )
    assert not any(c.name.startswith("_") for c in listed)  # the registry stays hidden
    assert (
        await stub.ListCollections(pb.ListCollectionsRequest(tenant="nobody"))
    ).collections == []

    await stub.DeleteCollection(pb.DeleteCollectionRequest(tenant=TENANT, name="life"))
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.GetCollection(pb.GetCollectionRequest(tenant=TENANT, name="life"))
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    again = await create_collection(stub, "life")
    assert (again.chunks_count, list(again.indexed_metadata)) == (0, [])
    # The deleted collection's documents are not listed under the new one.
    relisted = await stub.ListDocuments(pb.ListDocumentsRequest(tenant=TENANT, collection="life"))
    assert (list(relisted.documents), again.documents_count) == ([], 0)


async def test_a_client_that_cancels_its_ingest_cancels_the_embedding_stream_below(
    suite: Suite, stub: orchestrator_pb2_grpc.OrchestratorServiceStub
) -> None:
    await create_collection(stub, "cancel")
    documents = [
        (i, text_document(f"c-{i}", f"Cancelled stream document {i}, sentence {j}. " * 30))
        for i in range(1, 200)
        for j in (i,)
    ]
    cancelled_before = suite.router_embed_streams_ended("CANCELLED")
    call = stub.Ingest(requests_of("cancel", documents), timeout=120)
    async for _ack in call:
        break  # the router's stream is open: at least one document was embedded
    call.cancel()
    deadline = asyncio.get_running_loop().time() + 30
    while suite.router_embed_streams_ended("CANCELLED") == cancelled_before:
        assert asyncio.get_running_loop().time() < deadline, "the router's stream was not cancelled"
        await asyncio.sleep(0.05)  # a bounded poll of the router's metrics
    suite.orchestrator.check_alive()
