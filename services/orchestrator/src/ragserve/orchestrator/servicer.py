"""The gRPC edge: ``ragserve.api.orchestrator.v1`` messages to core calls and back.

Domain errors raised below become status codes in the shared runtime's error table.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import grpc
from google.protobuf import duration_pb2, struct_pb2, timestamp_pb2

from ragserve.api.common.v1 import common_pb2
from ragserve.api.orchestrator.v1 import orchestrator_pb2 as pb
from ragserve.api.orchestrator.v1 import orchestrator_pb2_grpc
from ragserve.errors import InvalidArgument
from ragserve.orchestrator.core import OrchestratorCore
from ragserve.orchestrator.model import (
    Ack,
    AckStatus,
    ChunkingOptions,
    CollectionView,
    DocumentInfo,
    DocumentInput,
    FailureCode,
    IndexedField,
    IngestConfig,
    IngestItem,
    MetadataType,
)
from ragserve.orchestrator.query.rpc import QueryRunner, query_events

_PRIORITY: dict[int, int] = {
    common_pb2.PRIORITY_UNSPECIFIED: 1,
    common_pb2.PRIORITY_HIGH: 0,
    common_pb2.PRIORITY_NORMAL: 1,
    common_pb2.PRIORITY_LOW: 2,
}
_METADATA_TYPE = {
    pb.METADATA_TYPE_KEYWORD: MetadataType.KEYWORD,
    pb.METADATA_TYPE_INTEGER: MetadataType.INTEGER,
    pb.METADATA_TYPE_FLOAT: MetadataType.FLOAT,
    pb.METADATA_TYPE_BOOL: MetadataType.BOOL,
}
_METADATA_TYPE_OUT = {value: key for key, value in _METADATA_TYPE.items()}
_STATUS = {
    AckStatus.STORED: pb.INGEST_STATUS_STORED,
    AckStatus.UNCHANGED: pb.INGEST_STATUS_UNCHANGED,
    AckStatus.FAILED: pb.INGEST_STATUS_FAILED,
}
_FAILURE = {
    FailureCode.INVALID_ARGUMENT: pb.INGEST_ERROR_CODE_INVALID_ARGUMENT,
    FailureCode.UNPARSABLE: pb.INGEST_ERROR_CODE_UNPARSABLE,
    FailureCode.UNAVAILABLE: pb.INGEST_ERROR_CODE_UNAVAILABLE,
    FailureCode.RESOURCE_EXHAUSTED: pb.INGEST_ERROR_CODE_RESOURCE_EXHAUSTED,
    FailureCode.DEADLINE_EXCEEDED: pb.INGEST_ERROR_CODE_DEADLINE_EXCEEDED,
    FailureCode.FAILED_PRECONDITION: pb.INGEST_ERROR_CODE_FAILED_PRECONDITION,
    FailureCode.INTERNAL: pb.INGEST_ERROR_CODE_INTERNAL,
}


def priority_in(value: int, field: str = "priority") -> int:
    if value not in _PRIORITY:
        raise InvalidArgument(field, f"unknown value {value}")
    return _PRIORITY[value]


def value_in(value: struct_pb2.Value) -> Any:
    """A Struct value as Python, numbers as floats — NaN and infinities kept, for the
    core to refuse by name (protobuf's own JSON conversion raises on them)."""
    kind = value.WhichOneof("kind")
    if kind == "struct_value":
        return struct_in(value.struct_value)
    if kind == "list_value":
        return [value_in(item) for item in value.list_value.values]
    if kind == "number_value":
        return value.number_value
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    return None


def struct_in(struct: struct_pb2.Struct) -> dict[str, Any]:
    return {key: value_in(item) for key, item in struct.fields.items()}


def struct_out(values: Any) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    if values:
        struct.update(values)
    return struct


def timestamp_out(seconds: float) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromNanoseconds(int(seconds * 1e9))
    return stamp


def indexed_in(fields: Sequence[pb.IndexedMetadataField]) -> list[IndexedField]:
    result = []
    for index, item in enumerate(fields):
        if item.type not in _METADATA_TYPE:
            raise InvalidArgument(
                f"indexed_metadata[{index}].type",
                "must be KEYWORD, INTEGER, FLOAT or BOOL",
            )
        result.append(IndexedField(item.key, _METADATA_TYPE[item.type]))
    return result


def collection_out(view: CollectionView) -> pb.CollectionSummary:
    record = view.record
    return pb.CollectionSummary(
        name=record.name,
        model=record.model,
        dimension=record.dimension,
        chunks_count=view.chunks_count,
        documents_count=view.documents_count,
        indexed_metadata=[
            pb.IndexedMetadataField(key=f.key, type=_METADATA_TYPE_OUT[f.type])
            for f in record.indexed
        ],
        created_at=timestamp_out(record.created_at),
    )


def document_in(message: pb.Document) -> DocumentInput:
    kind = message.WhichOneof("content")
    if kind == "text":
        content = message.text.encode("utf-8")
    elif kind == "data":
        content = message.data
    else:
        content = b""
    return DocumentInput(
        id=message.id,
        content=content,
        media_type=message.media_type,
        metadata=struct_in(message.metadata),
        has_content=kind is not None,
    )


def config_in(message: pb.IngestConfig) -> IngestConfig:
    chunking = message.chunking
    return IngestConfig(
        tenant=message.tenant,
        collection=message.collection,
        chunking=ChunkingOptions(
            max_tokens=chunking.max_tokens,
            overlap_tokens=(
                chunking.overlap_tokens if chunking.HasField("overlap_tokens") else None
            ),
        ),
        priority=priority_in(message.priority, "config.priority"),
    )


async def items_in(requests: AsyncIterator[pb.IngestRequest]) -> AsyncIterator[IngestItem]:
    async for request in requests:
        kind = request.WhichOneof("request")
        if kind == "config":
            raise InvalidArgument("config", "only the first message of a stream carries a config")
        if kind != "item":
            raise InvalidArgument("request", "must carry a config (first) or an item")
        item = request.item
        yield IngestItem(
            item.sequence, document_in(item.document) if item.HasField("document") else None
        )


def ack_out(ack: Ack) -> pb.IngestResponse:
    response = pb.IngestResponse(
        sequence=ack.sequence,
        collection=ack.collection,
        document_id=ack.document_id,
        status=_STATUS[ack.status],
        chunks=ack.chunks,
        content_hash=ack.content_hash,
    )
    if ack.failure is not None:
        response.error.code = _FAILURE[ack.failure.code]
        response.error.message = ack.failure.message
        response.error.retryable = ack.failure.retryable
        if ack.failure.retry_delay_s is not None:
            delay = duration_pb2.Duration()
            delay.FromNanoseconds(int(ack.failure.retry_delay_s * 1e9))
            response.error.retry_delay.CopyFrom(delay)
    return response


def document_info_out(info: DocumentInfo) -> pb.DocumentInfo:
    return pb.DocumentInfo(
        id=info.id,
        chunks=info.chunks,
        content_hash=info.content_hash,
        ingested_at=timestamp_out(info.ingested_at),
        media_type=info.media_type,
        metadata=struct_out(info.metadata),
    )


Context = grpc.aio.ServicerContext[Any, Any]


class OrchestratorServicer(orchestrator_pb2_grpc.OrchestratorServiceServicer):
    def __init__(self, core: OrchestratorCore, query: QueryRunner) -> None:
        self._core = core
        self._query = query

    async def CreateCollection(
        self, request: pb.CreateCollectionRequest, context: Context
    ) -> pb.CreateCollectionResponse:
        view = await self._core.create_collection(
            request.tenant, request.name, request.model, indexed_in(request.indexed_metadata)
        )
        return pb.CreateCollectionResponse(collection=collection_out(view))

    async def GetCollection(
        self, request: pb.GetCollectionRequest, context: Context
    ) -> pb.GetCollectionResponse:
        view = await self._core.get_collection(request.tenant, request.name)
        return pb.GetCollectionResponse(collection=collection_out(view))

    async def ListCollections(
        self, request: pb.ListCollectionsRequest, context: Context
    ) -> pb.ListCollectionsResponse:
        views = await self._core.list_collections(request.tenant)
        return pb.ListCollectionsResponse(collections=[collection_out(v) for v in views])

    async def DeleteCollection(
        self, request: pb.DeleteCollectionRequest, context: Context
    ) -> pb.DeleteCollectionResponse:
        await self._core.delete_collection(request.tenant, request.name)
        return pb.DeleteCollectionResponse()

    async def Ingest(
        self, request_iterator: AsyncIterator[pb.IngestRequest], context: Context
    ) -> AsyncIterator[pb.IngestResponse]:
        requests = aiter(request_iterator)
        try:
            first = await anext(requests)
        except StopAsyncIteration:
            return
        if first.WhichOneof("request") != "config":
            raise InvalidArgument("config", "the first message of a stream must carry the config")

        async def accepted() -> None:
            # Initial metadata says "config accepted" before any ack: a client that waits
            # for it before writing documents never has a write in flight when a bad config
            # ends the stream (grpcio's aio client then reports INTERNAL instead of the
            # status, grpc/grpc#36066). The gateway waits for it.
            await context.send_initial_metadata(())

        async for ack in self._core.ingest(config_in(first.config), items_in(requests), accepted):
            yield ack_out(ack)

    async def DeleteDocument(
        self, request: pb.DeleteDocumentRequest, context: Context
    ) -> pb.DeleteDocumentResponse:
        deleted = await self._core.delete_document(
            request.tenant, request.collection, request.document_id
        )
        return pb.DeleteDocumentResponse(chunks_deleted=deleted)

    async def ListDocuments(
        self, request: pb.ListDocumentsRequest, context: Context
    ) -> pb.ListDocumentsResponse:
        page = await self._core.list_documents(
            request.tenant, request.collection, request.page_size, request.page_token
        )
        return pb.ListDocumentsResponse(
            documents=[document_info_out(d) for d in page.documents],
            next_page_token=page.next_page_token,
        )

    async def Query(
        self, request: pb.QueryRequest, context: Context
    ) -> AsyncIterator[pb.QueryResponse]:
        async for response in query_events(self._query, request, context):
            yield response


def register(server: grpc.aio.Server, servicer: OrchestratorServicer) -> list[str]:
    orchestrator_pb2_grpc.add_OrchestratorServiceServicer_to_server(servicer, server)
    return [pb.DESCRIPTOR.services_by_name["OrchestratorService"].full_name]
