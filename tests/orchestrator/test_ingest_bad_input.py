"""Every limit the orchestrator's proto states, broken on purpose: the exact status and a
message naming the field. Per-document problems are FAILED acks and the stream goes on;
a broken stream protocol ends the stream."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
from orchestrator_suite import (
    MODEL,
    TENANT,
    Suite,
    config_message,
    create_collection,
    item_message,
    text_document,
)

from ragserve.api.orchestrator.v1 import orchestrator_pb2 as pb
from ragserve.api.orchestrator.v1 import orchestrator_pb2_grpc

pytestmark = pytest.mark.slow

Stub = orchestrator_pb2_grpc.OrchestratorServiceStub


@pytest.fixture
async def stub(suite: Suite) -> AsyncIterator[Stub]:
    async with suite.channel() as channel:
        yield orchestrator_pb2_grpc.OrchestratorServiceStub(channel)
    suite.orchestrator.check_alive()


async def _status(call: object) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call  # type: ignore[misc]
    return raised.value.code(), raised.value.details() or ""


async def _stream_status(
    stub: Stub, requests: list[pb.IngestRequest]
) -> tuple[list[pb.IngestResponse], grpc.StatusCode, str]:
    acks: list[pb.IngestResponse] = []

    async def feed() -> AsyncIterator[pb.IngestRequest]:
        for request in requests:
            yield request

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        async for ack in stub.Ingest(feed(), timeout=60):
            acks.append(ack)
    return acks, raised.value.code(), raised.value.details() or ""


INVALID = grpc.StatusCode.INVALID_ARGUMENT


async def test_collection_calls_name_the_bad_field(stub: Stub) -> None:
    def create(**fields: object) -> object:
        request = pb.CreateCollectionRequest(tenant=TENANT, name="ok", model=MODEL)
        for key, value in fields.items():
            if key == "indexed_metadata":
                request.ClearField("indexed_metadata")
                request.indexed_metadata.extend(value)  # type: ignore[arg-type]
            else:
                setattr(request, key, value)
        return stub.CreateCollection(request, timeout=30)

    assert await _status(create(name="bad name")) == (
        INVALID,
        "name: 'bad name' is not a valid collection name: use 1 to 64 letters, digits, '-' "
        "or '_', starting with a letter or a digit",
    )
    assert await _status(create(name="_hidden")) == (
        INVALID,
        "name: '_hidden' is not a valid collection name: use 1 to 64 letters, digits, '-' "
        "or '_', starting with a letter or a digit",
    )
    code, message = await _status(create(name="x" * 10_000))
    assert (code, message.split(":")[0]) == (INVALID, "name")
    assert len(message) < 300  # the echoed value is capped
    assert await _status(create(tenant="")) == (
        INVALID,
        "tenant: '' is not a valid tenant: use 1 to 64 letters, digits, '-' or '_'",
    )
    assert await _status(create(model="")) == (INVALID, "model: must name an embedding model")
    assert await _status(create(model="nope")) == (
        grpc.StatusCode.NOT_FOUND,
        f"model 'nope' is not served by the embedding router (models: {MODEL})",
    )
    too_many = [
        pb.IndexedMetadataField(key=f"k{i}", type=pb.METADATA_TYPE_KEYWORD) for i in range(17)
    ]
    assert await _status(create(indexed_metadata=too_many)) == (
        INVALID,
        "indexed_metadata: 17 keys, the limit is 16",
    )
    assert await _status(create(indexed_metadata=[pb.IndexedMetadataField(key="k")])) == (
        INVALID,
        "indexed_metadata[0].type: must be KEYWORD, INTEGER, FLOAT or BOOL",
    )
    twice = [pb.IndexedMetadataField(key="k", type=pb.METADATA_TYPE_BOOL)] * 2
    assert await _status(create(indexed_metadata=twice)) == (
        INVALID,
        "indexed_metadata[1].key: 'k' is named twice",
    )
    bad_key = [pb.IndexedMetadataField(key="a.b", type=pb.METADATA_TYPE_BOOL)]
    assert await _status(create(indexed_metadata=bad_key)) == (
        INVALID,
        "indexed_metadata[0].key: 'a.b' is not a valid metadata key: use 1 to 64 letters, "
        "digits, '-' or '_'",
    )
    await create_collection(stub, "taken")
    assert await _status(create(name="taken")) == (
        grpc.StatusCode.ALREADY_EXISTS,
        "collection 'taken' already exists",
    )
    missing = pb.GetCollectionRequest(tenant=TENANT, name="missing")
    assert await _status(stub.GetCollection(missing, timeout=30)) == (
        grpc.StatusCode.NOT_FOUND,
        "collection 'missing' does not exist",
    )
    delete = pb.DeleteCollectionRequest(tenant=TENANT, name="missing")
    assert await _status(stub.DeleteCollection(delete, timeout=30)) == (
        grpc.StatusCode.NOT_FOUND,
        "collection 'missing' does not exist",
    )
    # Another tenant does not see the collection.
    other = pb.GetCollectionRequest(tenant="other", name="taken")
    assert await _status(stub.GetCollection(other, timeout=30)) == (
        grpc.StatusCode.NOT_FOUND,
        "collection 'taken' does not exist",
    )


async def test_document_calls_name_the_bad_field(stub: Stub) -> None:
    await create_collection(stub, "docs-bad")
    delete = pb.DeleteDocumentRequest(tenant=TENANT, collection="docs-bad", document_id="")
    assert await _status(stub.DeleteDocument(delete, timeout=30)) == (
        INVALID,
        "document_id: must not be empty",
    )
    delete = pb.DeleteDocumentRequest(tenant=TENANT, collection="nowhere", document_id="d")
    assert await _status(stub.DeleteDocument(delete, timeout=30)) == (
        grpc.StatusCode.NOT_FOUND,
        "collection 'nowhere' does not exist",
    )
    for size, token, expected in (
        (1001, "", "page_size: must be 0 to 1000, got 1001"),
        (0, "abc", "page_token: 'abc' is not a token this service gave"),
        # Page offsets of the old listing are no tokens; nor is a token cut short.
        (0, "20000", "page_token: '20000' is not a token this service gave"),
        (0, "d1AAAA", "page_token: 'd1AAAA' is not a token this service gave"),
    ):
        listing = pb.ListDocumentsRequest(
            tenant=TENANT, collection="docs-bad", page_size=size, page_token=token
        )
        assert await _status(stub.ListDocuments(listing, timeout=30)) == (INVALID, expected)


async def test_a_broken_stream_protocol_ends_the_stream_with_the_field(stub: Stub) -> None:
    await create_collection(stub, "protocol")
    good = text_document("good", "A short and valid document.")
    cases = [
        (
            [item_message(1, good)],
            INVALID,
            "config: the first message of a stream must carry the config",
        ),
        (
            [config_message("nowhere"), item_message(1, good)],
            grpc.StatusCode.NOT_FOUND,
            "collection 'nowhere' does not exist",
        ),
        ([config_message("")], INVALID, "config.collection: must name a collection"),
        (
            [config_message("protocol", max_tokens=1000)],
            INVALID,
            "config.chunking.max_tokens: must be 16 to 256 (the model's token limit), got 1000",
        ),
        (
            [config_message("protocol", max_tokens=100, overlap_tokens=50)],
            INVALID,
            "config.chunking.overlap_tokens: must be less than half of max_tokens (100), got 50",
        ),
    ]
    for requests, code, message in cases:
        acks, got_code, got_message = await _stream_status(stub, requests)
        assert (acks, got_code, got_message) == ([], code, message)

    # A second config, or a sequence that does not increase: the acks already due come
    # first, then the error.
    acks, code, message = await _stream_status(
        stub, [config_message("protocol"), item_message(5, good), item_message(5, good)]
    )
    assert [a.sequence for a in acks] == [5]
    assert (code, message) == (
        INVALID,
        "item.sequence: must be at least 1 and increase within a stream: got 5 after 5",
    )
    acks, code, message = await _stream_status(
        stub, [config_message("protocol"), item_message(0, good)]
    )
    assert (acks, code) == ([], INVALID)
    assert message.startswith("item.sequence: must be at least 1")
    acks, code, message = await _stream_status(
        stub, [config_message("protocol"), config_message("protocol")]
    )
    assert (acks, code, message) == (
        [],
        INVALID,
        "config: only the first message of a stream carries a config",
    )


async def test_a_bad_document_gets_a_failed_ack_naming_why_and_the_stream_goes_on(
    stub: Stub,
) -> None:
    await create_collection(stub, "per-doc", [("topic", pb.METADATA_TYPE_KEYWORD)])
    no_content = pb.Document(id="empty")
    nan = text_document("nan", "text")
    nan.metadata["score"] = float("nan")
    cases: list[tuple[pb.Document | None, int, str]] = [
        (
            text_document("", "x"),
            pb.INGEST_ERROR_CODE_INVALID_ARGUMENT,
            "document.id: must not be empty",
        ),
        (
            text_document("x" * 300, "x"),
            pb.INGEST_ERROR_CODE_INVALID_ARGUMENT,
            "document.id: is 300 characters, the limit is 256",
        ),
        (
            pb.Document(id="a\nb", text="x"),
            pb.INGEST_ERROR_CODE_INVALID_ARGUMENT,
            "document.id: 'a\\nb' contains control characters",
        ),
        (
            no_content,
            pb.INGEST_ERROR_CODE_INVALID_ARGUMENT,
            "document.content: is required (text or data)",
        ),
        (None, pb.INGEST_ERROR_CODE_INVALID_ARGUMENT, "document: is required"),
        (
            text_document("png", "x", "image/png"),
            pb.INGEST_ERROR_CODE_INVALID_ARGUMENT,
            "document.media_type: unsupported media type 'image/png'; supported: text/plain, "
            "text/markdown, text/html, application/pdf",
        ),
        (
            text_document("charset", "x", "text/plain; charset=base64"),
            pb.INGEST_ERROR_CODE_INVALID_ARGUMENT,
            "document.media_type: unknown charset 'base64'",
        ),
        (
            pb.Document(id="pdf", data=b"not a pdf at all", media_type="application/pdf"),
            pb.INGEST_ERROR_CODE_UNPARSABLE,
            "",
        ),
        (
            text_document("blank", "   \n\n  "),
            pb.INGEST_ERROR_CODE_UNPARSABLE,
            "content: document has no text",
        ),
        (
            nan,
            pb.INGEST_ERROR_CODE_INVALID_ARGUMENT,
            "document.metadata.score: nan is not a finite number",
        ),
        (
            text_document("typed", "x", metadata={"topic": 5}),
            pb.INGEST_ERROR_CODE_INVALID_ARGUMENT,
            "document.metadata.topic: is indexed as keyword, got float '5.0'",
        ),
        (
            text_document("badkey", "x", metadata={"a.b": 1}),
            pb.INGEST_ERROR_CODE_INVALID_ARGUMENT,
            "document.metadata.a.b: is not a valid metadata key: use 1 to 64 letters, digits, "
            "'-' or '_'",
        ),
        (
            pb.Document(id="huge", data=b"a" * (8 * 1024 * 1024 + 1)),
            pb.INGEST_ERROR_CODE_INVALID_ARGUMENT,
            "document.content: is 8388609 bytes, the limit is 8388608",
        ),
    ]
    requests = [config_message("per-doc")]
    for sequence, (document, _, _) in enumerate(cases, start=1):
        if document is None:
            requests.append(pb.IngestRequest(item=pb.IngestItem(sequence=sequence)))
        else:
            requests.append(item_message(sequence, document))
    last = len(cases) + 1
    requests.append(item_message(last, text_document("fine", "After the bad ones, a good one.")))

    async def feed() -> AsyncIterator[pb.IngestRequest]:
        for request in requests:
            yield request

    acks = {ack.sequence: ack async for ack in stub.Ingest(feed(), timeout=120)}
    assert sorted(acks) == list(range(1, last + 1))
    for sequence, (_, code, message) in enumerate(cases, start=1):
        ack = acks[sequence]
        assert ack.status == pb.INGEST_STATUS_FAILED, (sequence, ack)
        assert ack.collection == "per-doc"
        assert (ack.error.code, ack.error.retryable) == (code, False), (sequence, ack)
        assert not ack.error.HasField("retry_delay")
        if message:
            assert ack.error.message == message, sequence
        else:
            assert ack.error.message.startswith("content: "), ack.error.message
    assert len(acks[2].document_id) == 256  # the echoed id is capped
    assert acks[last].status == pb.INGEST_STATUS_STORED
