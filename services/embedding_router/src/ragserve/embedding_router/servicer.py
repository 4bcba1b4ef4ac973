"""The gRPC edge: converts ``ragserve.api.embedding.v1`` messages to core calls and back.

Errors are domain errors raised by the core; the shared runtime's error interceptor maps them to
status codes. The caller's deadline comes from the runtime's deadline context (set from the
inbound call), so every provider call below inherits it.

A vector goes into its ``Embedding`` as the packed wire form of ``repeated float`` (the float32
little-endian bytes behind a tag and a length), parsed by protobuf in one step: building it from
a list of Python floats costs ~15 times more, and on a cache hit that was most of the router's own
time.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

import grpc

from ragserve.api.common.v1 import common_pb2
from ragserve.api.embedding.v1 import embedding_pb2, embedding_pb2_grpc
from ragserve.embedding_router.breaker import BreakerState
from ragserve.embedding_router.providers.base import Priority
from ragserve.embedding_router.router import EmbeddingRouter
from ragserve.embedding_router.types import EmbedCall, EmbeddedText, EmbedResult, Vector
from ragserve.errors import InvalidArgument, NotFound
from ragserve.runtime import deadlines
from ragserve.runtime.streams import serve_concurrently

_PRIORITY: dict[int, Priority] = {
    common_pb2.PRIORITY_UNSPECIFIED: Priority.NORMAL,
    common_pb2.PRIORITY_HIGH: Priority.HIGH,
    common_pb2.PRIORITY_NORMAL: Priority.NORMAL,
    common_pb2.PRIORITY_LOW: Priority.LOW,
}
_BREAKER = {
    BreakerState.CLOSED: embedding_pb2.BREAKER_STATE_CLOSED,
    BreakerState.OPEN: embedding_pb2.BREAKER_STATE_OPEN,
    BreakerState.HALF_OPEN: embedding_pb2.BREAKER_STATE_HALF_OPEN,
}
_MAX_TEXT_BYTES = 64 * 1024
# A str of n characters is at most 4n bytes of UTF-8: shorter texts need no encoding to check.
_SURELY_SHORT_CHARS = _MAX_TEXT_BYTES // 4
# Field 1 (`vector`), wire type 2 (length-delimited): the key byte of a packed repeated float.
_VECTOR_KEY = b"\x0a"


@functools.cache
def _vector_prefix(size: int) -> bytes:
    """Key and varint length of a packed field of ``size`` bytes (one per model dimension)."""
    out = bytearray(_VECTOR_KEY)
    while size >= 0x80:
        out.append((size & 0x7F) | 0x80)
        size >>= 7
    out.append(size)
    return bytes(out)


def vector_field(vector: Vector) -> bytes:
    """The wire bytes of ``Embedding.vector`` holding ``vector`` (packed float32, little-endian)."""
    data = vector.astype("<f4", copy=False).tobytes()
    return _vector_prefix(len(data)) + data


def embedding_message(item: EmbeddedText) -> embedding_pb2.Embedding:
    message = embedding_pb2.Embedding.FromString(vector_field(item.vector))
    message.provider = item.provider_id
    if item.cached:
        message.cached = True
    if item.tokens:
        message.tokens = item.tokens
        message.tokens_estimated = item.tokens_estimated
    if item.cost:
        message.cost_usd = item.cost
    return message


def _call(request: embedding_pb2.EmbedRequest | embedding_pb2.EmbedStreamRequest) -> EmbedCall:
    """The core's call for an ``Embed`` request or one message of an ``EmbedStream``."""
    for index, text in enumerate(request.texts):
        if len(text) <= _SURELY_SHORT_CHARS:
            continue
        size = len(text.encode("utf-8"))
        if size > _MAX_TEXT_BYTES:
            raise InvalidArgument(
                f"texts[{index}]", f"is {size} bytes of UTF-8, the limit is {_MAX_TEXT_BYTES}"
            )
    priority = _PRIORITY.get(request.priority)
    if priority is None:
        raise InvalidArgument("priority", f"unknown value {request.priority}")
    return EmbedCall(
        tenant=request.tenant,
        model=request.model,
        texts=list(request.texts),
        deadline=deadlines.current(),
        # A stream has no cache bypass.
        bypass_cache=isinstance(request, embedding_pb2.EmbedRequest) and request.bypass_cache,
        priority=priority,
        truncate=request.truncation != common_pb2.TRUNCATION_REFUSE,
    )


def _embeddings(result: EmbedResult) -> list[embedding_pb2.Embedding]:
    return [embedding_message(item) for item in result.items]


class EmbeddingRouterServicer(embedding_pb2_grpc.EmbeddingRouterServiceServicer):
    def __init__(self, router: EmbeddingRouter, *, stream_parallelism: int = 4) -> None:
        self._router = router
        self._stream_parallelism = stream_parallelism

    async def Embed(
        self, request: embedding_pb2.EmbedRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> embedding_pb2.EmbedResponse:
        result = await self._router.embed(_call(request))
        return embedding_pb2.EmbedResponse(
            model=result.model.id,
            model_version=result.model.version,
            dimension=result.model.dimension,
            embeddings=_embeddings(result),
            total_cost_usd=result.total_cost,
        )

    async def EmbedStream(
        self,
        request_iterator: AsyncIterator[embedding_pb2.EmbedStreamRequest],
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> AsyncIterator[embedding_pb2.EmbedStreamResponse]:
        # Batches run concurrently, at most `stream_parallelism` at once, and are answered in
        # the order they arrived; while that many are unanswered the client's stream is not
        # read (back-pressure). A failed batch ends the stream and cancels the rest.
        async def answer(
            request: embedding_pb2.EmbedStreamRequest,
        ) -> embedding_pb2.EmbedStreamResponse:
            result = await self._router.embed(_call(request))
            return embedding_pb2.EmbedStreamResponse(
                batch_id=request.batch_id,
                model_version=result.model.version,
                embeddings=_embeddings(result),
                total_cost_usd=result.total_cost,
            )

        responses = serve_concurrently(
            request_iterator, answer, limit=self._stream_parallelism, ordered=True
        )
        async with aclosing(responses):
            async for response in responses:
                yield response

    async def ListModels(
        self, request: embedding_pb2.ListModelsRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> embedding_pb2.ListModelsResponse:
        return embedding_pb2.ListModelsResponse(
            models=[
                embedding_pb2.ModelInfo(
                    id=info.model.id,
                    version=info.model.version,
                    dimension=info.model.dimension,
                    normalized=info.model.normalized,
                    max_tokens=info.model.max_tokens,
                    providers=list(info.provider_ids),
                )
                for info in self._router.list_models()
            ]
        )

    async def GetTokenizer(
        self,
        request: embedding_pb2.GetTokenizerRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> embedding_pb2.GetTokenizerResponse:
        definition = await self._router.tokenizer(request.model)
        return embedding_pb2.GetTokenizerResponse(
            model=definition.model.id,
            model_version=definition.model.version,
            dimension=definition.model.dimension,
            max_tokens=definition.model.max_tokens,
            tokenizer_json=definition.tokenizer_json,
        )

    async def GetProviderStatus(
        self,
        request: embedding_pb2.GetProviderStatusRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> embedding_pb2.GetProviderStatusResponse:
        statuses = self._router.provider_status()
        if request.model and not any(s.model == request.model for s in statuses):
            known = sorted({s.model for s in statuses})
            raise NotFound(
                f"model {request.model!r} is not served here (models: {', '.join(known)})"
            )
        return embedding_pb2.GetProviderStatusResponse(
            providers=[
                embedding_pb2.ProviderStatus(
                    id=s.provider_id,
                    model=s.model,
                    kind=s.kind.value,
                    breaker=_BREAKER[s.breaker_state],
                    latency_ms=(s.latency_s or 0.0) * 1000,
                    error_rate=s.error_rate,
                    in_flight=s.in_flight,
                    price_per_1k_tokens=s.price_per_1k_tokens,
                    retry_in_s=s.retry_in_s,
                    external=s.external,
                    throttled_for_s=s.throttled_for_s,
                    calls=s.calls,
                )
                for s in statuses
                if not request.model or s.model == request.model
            ],
            cache_available=self._router.cache.redis_healthy,
            cache_detail=self._router.cache.unavailable_reason(),
        )


def register(server: grpc.aio.Server, servicer: EmbeddingRouterServicer) -> list[str]:
    embedding_pb2_grpc.add_EmbeddingRouterServiceServicer_to_server(servicer, server)
    return [embedding_pb2.DESCRIPTOR.services_by_name["EmbeddingRouterService"].full_name]
