"""The pipeline's ports over gRPC: the router embeds the query, retrieval searches.

Proto and status codes stop here; the pipeline sees domain objects and
``ragserve.errors`` exceptions. Calls go through channels from
``ragserve.runtime.channels.create_channel``, so each carries the caller's remaining
deadline and trace context, and cancelling the awaiting task cancels the call.
"""

from __future__ import annotations

from typing import Any

import grpc
import numpy as np
from google.protobuf import json_format

from ragserve import errors
from ragserve.api.embedding.v1 import embedding_pb2
from ragserve.api.retrieval.v1 import retrieval_pb2
from ragserve.orchestrator.query.model import ChunkLocation, Hit, QueryEmbedding, SearchSpec

# Payload keys a hit needs (the ingest side's layout); the rest stays in retrieval.
HIT_PAYLOAD_KEYS = (
    "document_id",
    "chunk_index",
    "text",
    "start",
    "end",
    "page",
    "heading_path",
    "media_type",
    "metadata",
)


def _details(error: grpc.aio.AioRpcError) -> str:
    return (error.details() or error.code().name).strip()[:500]


def embed_error(error: grpc.aio.AioRpcError, model: str) -> errors.RagserveError:
    """A failed Embed call, named by the model the query needed."""
    code = error.code()
    details = _details(error)
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return errors.DeadlineExceeded(f"embedding the query with model {model!r}: {details}")
    if code == grpc.StatusCode.CANCELLED:
        return errors.Cancelled(f"embedding the query with model {model!r}: {details}")
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        return errors.ResourceExhausted(f"embedding router: {details}")
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return errors.InvalidArgument("query", f"the embedding router refused it: {details}")
    # UNAVAILABLE (router or every provider down), NOT_FOUND (the router no longer serves
    # the collection's model) and anything else: the query cannot be embedded now.
    return errors.Unavailable(
        f"cannot embed the query with model {model!r}: embedding router: {details}"
    )


def search_error(error: grpc.aio.AioRpcError, collection: str) -> errors.RagserveError:
    code = error.code()
    details = _details(error)
    if code == grpc.StatusCode.NOT_FOUND:
        return errors.NotFound(f"collection {collection!r} does not exist")
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return errors.DeadlineExceeded(f"searching collection {collection!r}: {details}")
    if code == grpc.StatusCode.CANCELLED:
        return errors.Cancelled(f"searching collection {collection!r}: {details}")
    if code == grpc.StatusCode.INVALID_ARGUMENT and details.startswith("query.filter"):
        return errors.InvalidArgument("filter", f"retrieval refused it: {details}")
    if code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION):
        # Not the caller's mistake: the stored collection does not fit its binding
        # (e.g. another dimension than the model's).
        return errors.FailedPrecondition(
            f"collection {collection!r} cannot be searched: retrieval: {details}"
        )
    return errors.Unavailable(f"searching collection {collection!r}: retrieval: {details}")


class RouterQueryEmbedder:
    """Embeds one query through the router's Embed (its Redis cache answers repeats)."""

    def __init__(self, stub: Any, timeout_s: float) -> None:
        self._stub = stub
        self._timeout_s = timeout_s

    async def embed_query(
        self, tenant: str, model: str, text: str, priority: int
    ) -> QueryEmbedding:
        request = embedding_pb2.EmbedRequest(
            tenant=tenant,
            model=model,
            texts=[text],
            priority=priority,  # type: ignore[arg-type]
        )
        try:
            response = await self._stub.Embed(request, timeout=self._timeout_s)
        except grpc.aio.AioRpcError as error:
            raise embed_error(error, model) from None
        if len(response.embeddings) != 1:
            raise errors.Unavailable(
                f"cannot embed the query with model {model!r}: the router returned "
                f"{len(response.embeddings)} vectors for one text"
            )
        embedding = response.embeddings[0]
        return QueryEmbedding(
            vector=np.asarray(embedding.vector, dtype=np.float32),
            model_version=response.model_version,
            cached=embedding.cached,
            tokens=embedding.tokens,
        )


def hit_in(collection: str, point: Any) -> Hit:
    # Read straight from the payload Struct (json_format.MessageToDict of the whole payload
    # cost ~27 us a hit); the orchestrator wrote these payloads, so each field's kind is known.
    fields = point.payload.fields
    page = fields["page"].number_value if "page" in fields else 0
    heading_path = fields["heading_path"].list_value.values if "heading_path" in fields else ()
    metadata = fields["metadata"].struct_value if "metadata" in fields else None
    return Hit(
        collection=collection,
        point_id=point.id.uuid or str(point.id.num),
        document_id=_text(fields, "document_id"),
        chunk_index=_integer(fields, "chunk_index"),
        text=_text(fields, "text"),
        score=float(point.score),
        location=ChunkLocation(
            start=_integer(fields, "start"),
            end=_integer(fields, "end"),
            page=int(page) if page else None,
            heading_path=tuple(value.string_value for value in heading_path),
        ),
        metadata=json_format.MessageToDict(metadata)
        if metadata is not None and metadata.fields
        else {},
        media_type=_text(fields, "media_type"),
        vector=np.asarray(point.vector, dtype=np.float32) if len(point.vector) else None,
    )


def _text(fields: Any, name: str) -> str:
    return str(fields[name].string_value) if name in fields else ""


def _integer(fields: Any, name: str) -> int:
    return int(fields[name].number_value) if name in fields else 0


class RetrievalSearcher:
    """One retrieval Search per collection (SearchBatch batches queries of one collection;
    a query has one vector, so a call per collection is already the batch)."""

    def __init__(self, stub: Any, timeout_s: float) -> None:
        self._stub = stub
        self._timeout_s = timeout_s

    async def search(self, tenant: str, collection: str, spec: SearchSpec) -> list[Hit]:
        query = retrieval_pb2.SearchQuery(
            vector=spec.vector.tolist(),
            limit=spec.limit,
            with_payload=retrieval_pb2.PayloadSelector(include=HIT_PAYLOAD_KEYS),
            with_vectors=spec.with_vectors,
        )
        if spec.filter is not None:
            query.filter.CopyFrom(spec.filter)
        if spec.score_threshold is not None:
            query.score_threshold = spec.score_threshold
        request = retrieval_pb2.SearchRequest(tenant=tenant, collection=collection, query=query)
        try:
            response = await self._stub.Search(request, timeout=self._timeout_s)
        except grpc.aio.AioRpcError as error:
            raise search_error(error, collection) from None
        return [hit_in(collection, point) for point in response.hits]
