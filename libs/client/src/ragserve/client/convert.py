"""Gateway protos <-> the SDK's dataclasses (the only module that reads the messages)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from google.protobuf import duration_pb2, json_format, struct_pb2, timestamp_pb2

from ragserve.api.gateway.v1 import gateway_pb2 as pb
from ragserve.client import types
from ragserve.client.documents import DocumentSource

PERMISSION_TO_PB = {
    types.Permission.READ: pb.PERMISSION_READ,
    types.Permission.WRITE: pb.PERMISSION_WRITE,
    types.Permission.ADMIN: pb.PERMISSION_ADMIN,
}
PERMISSION_FROM_PB = {value: key for key, value in PERMISSION_TO_PB.items()}
STATUS_FROM_PB = {
    pb.INGEST_STATUS_STORED: types.IngestStatus.STORED,
    pb.INGEST_STATUS_UNCHANGED: types.IngestStatus.UNCHANGED,
    pb.INGEST_STATUS_FAILED: types.IngestStatus.FAILED,
}
GENERATOR_TO_PB = {"extractive": pb.GENERATOR_EXTRACTIVE, "chat": pb.GENERATOR_CHAT}


def _enum_name(prefix: str, name: str) -> str:
    """``STAGE_EMBED`` -> ``embed``; UNSPECIFIED -> ''."""
    short = name.removeprefix(prefix).lower()
    return "" if short == "unspecified" else short


def timestamp(value: timestamp_pb2.Timestamp, present: bool = True) -> datetime | None:
    if not present or (value.seconds == 0 and value.nanos == 0):
        return None
    return value.ToDatetime(tzinfo=UTC)


def struct(value: struct_pb2.Struct) -> dict[str, Any]:
    return json_format.MessageToDict(value)


def collection(message: pb.Collection) -> types.Collection:
    return types.Collection(
        name=message.name,
        model=message.model,
        dimension=message.dimension,
        documents=message.documents_count,
        chunks=message.chunks_count,
        created_at=timestamp(message.created_at, message.HasField("created_at")),
    )


def document_info(message: pb.DocumentInfo) -> types.DocumentInfo:
    return types.DocumentInfo(
        id=message.id,
        chunks=message.chunks,
        content_hash=message.content_hash,
        media_type=message.media_type,
        ingested_at=timestamp(message.ingested_at, message.HasField("ingested_at")),
        metadata=struct(message.metadata),
    )


def api_key(message: pb.ApiKey) -> types.ApiKey:
    return types.ApiKey(
        id=message.id,
        tenant=message.tenant,
        permissions=tuple(
            PERMISSION_FROM_PB[p] for p in message.permissions if p in PERMISSION_FROM_PB
        ),
        description=message.description,
        created_at=timestamp(message.created_at, message.HasField("created_at")),
        expires_at=timestamp(message.expires_at, message.HasField("expires_at")),
        revoked_at=timestamp(message.revoked_at, message.HasField("revoked_at")),
    )


def create_key_request(
    tenant: str,
    permissions: Iterable[types.Permission | str],
    description: str,
    ttl_s: float | None,
) -> pb.CreateApiKeyRequest:
    request = pb.CreateApiKeyRequest(
        tenant=tenant,
        permissions=[PERMISSION_TO_PB[types.Permission(p)] for p in permissions],
        description=description,
    )
    if ttl_s is not None:
        request.ttl.CopyFrom(duration_pb2.Duration(seconds=int(ttl_s)))
    return request


def hit(message: pb.Hit) -> types.Hit:
    return types.Hit(
        collection=message.collection,
        document_id=message.document_id,
        chunk_index=message.chunk_index,
        text=message.text,
        score=message.score,
        media_type=message.media_type,
        source=types.ChunkSource(
            char_start=message.source.char_start,
            char_end=message.source.char_end,
            page=message.source.page,
            heading_path=tuple(message.source.heading_path),
        ),
        metadata=struct(message.metadata),
    )


def query_request(
    collections: list[str],
    query: str,
    *,
    top_k: int,
    answer: str | None,
    score_threshold: float | None,
    max_answer_tokens: int = 0,
) -> pb.QueryRequest:
    request = pb.QueryRequest(collections=collections, query=query, top_k=top_k)
    if score_threshold is not None:
        request.score_threshold = score_threshold
    if answer is not None:
        request.answer.CopyFrom(
            pb.AnswerOptions(
                generator=GENERATOR_TO_PB.get(answer, pb.GENERATOR_UNSPECIFIED),
                max_answer_tokens=max_answer_tokens,
            )
        )
    return request


def query_event(message: pb.QueryResponse) -> types.QueryEvent | None:
    """The event of one stream message; None for an event this SDK does not know (newer server)."""
    kind = message.WhichOneof("event")
    if kind == "started":
        return types.QueryStarted(message.started.trace_id)
    if kind == "hits":
        return types.QueryHits(tuple(hit(h) for h in message.hits.hits))
    if kind == "answer":
        return types.AnswerDelta(message.answer.text)
    if kind == "citation":
        c = message.citation
        return types.Citation(
            c.hit_index, c.answer_start, c.answer_end, c.source_start, c.source_end
        )
    if kind == "warning":
        w = message.warning
        return types.QueryWarning(
            _enum_name("WARNING_CODE_", pb.WarningCode.Name(w.code)), w.subject, w.message
        )
    if kind == "done":
        d = message.done
        return types.QueryDone(
            timings=tuple(
                types.StageTiming(
                    _enum_name("STAGE_", pb.Stage.Name(t.stage)), t.collection, t.duration_ms
                )
                for t in d.timings
            ),
            total_ms=d.total_ms,
            generator=_enum_name("GENERATOR_", pb.Generator.Name(d.generator)),
            embedding_tokens=d.usage.embedding_tokens,
            prompt_tokens=d.usage.prompt_tokens,
            completion_tokens=d.usage.completion_tokens,
        )
    return None


def ingest_config(collection: str, max_tokens: int, overlap_tokens: int | None) -> pb.IngestRequest:
    chunking = pb.ChunkingOptions(max_tokens=max_tokens)
    if overlap_tokens is not None:
        chunking.overlap_tokens = overlap_tokens
    return pb.IngestRequest(config=pb.IngestConfig(collection=collection, chunking=chunking))


def ingest_document(sequence: int, source: DocumentSource, data: bytes) -> pb.IngestRequest:
    # Bytes for every type: the server decodes text itself, so no file is refused
    # here for an encoding the parser would accept.
    return pb.IngestRequest(
        document=pb.Document(
            sequence=sequence, id=source.id, data=data, media_type=source.media_type
        )
    )


def ack_fields(message: pb.IngestResponse) -> dict[str, Any]:
    """The keyword arguments of IngestTracker.record for one ack."""
    status = STATUS_FROM_PB.get(message.status, types.IngestStatus.FAILED)
    fields: dict[str, Any] = {
        "sequence": message.sequence,
        "status": status,
        "chunks": message.chunks,
        "acked_through": message.acked_through,
    }
    if status is types.IngestStatus.FAILED:
        error = message.error
        fields["error_code"] = _enum_name("INGEST_ERROR_CODE_", pb.IngestErrorCode.Name(error.code))
        fields["error"] = error.message or "failed without a reason"
        fields["retryable"] = error.retryable
        if error.HasField("retry_delay"):
            fields["retry_delay_s"] = error.retry_delay.ToNanoseconds() / 1e9
    return fields
