"""The gRPC edge: converts ``ragserve.api.embedding.v1`` messages to core calls and back.

Errors are domain errors raised by the core; the shared runtime's error interceptor maps them to
status codes. The caller's deadline comes from the runtime's deadline context (set from the
inbound call), so every provider call below inherits it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import grpc

from ragserve.api.common.v1 import common_pb2
from ragserve.api.embedding.v1 import embedding_pb2, embedding_pb2_grpc
from ragserve.embedding_router.breaker import BreakerState
from ragserve.embedding_router.router import EmbeddingRouter
from ragserve.embedding_router.types import EmbedCall, EmbedResult
from ragserve.errors import InvalidArgument, NotFound
from ragserve.runtime import deadlines

_PRIORITY: dict[int, int] = {
    common_pb2.PRIORITY_UNSPECIFIED: 1,
    common_pb2.PRIORITY_HIGH: 0,
    common_pb2.PRIORITY_NORMAL: 1,
    common_pb2.PRIORITY_LOW: 2,
}
_BREAKER = {
    BreakerState.CLOSED: embedding_pb2.BREAKER_STATE_CLOSED,
    BreakerState.OPEN: embedding_pb2.BREAKER_STATE_OPEN,
    BreakerState.HALF_OPEN: embedding_pb2.BREAKER_STATE_HALF_OPEN,
}
_MAX_TEXT_BYTES = 64 * 1024


def _call(
    tenant: str,
    model: str,
    texts: Sequence[str],
    priority: int,
    truncation: int,
    *,
    bypass_cache: bool = False,
) -> EmbedCall:
    for index, text in enumerate(texts):
        size = len(text.encode("utf-8"))
        if size > _MAX_TEXT_BYTES:
            raise InvalidArgument(
                f"texts[{index}]", f"is {size} bytes of UTF-8, the limit is {_MAX_TEXT_BYTES}"
            )
    if priority not in _PRIORITY:
        raise InvalidArgument("priority", f"unknown value {priority}")
    return EmbedCall(
        tenant=tenant,
        model=model,
        texts=list(texts),
        deadline=deadlines.current(),
        bypass_cache=bypass_cache,
        priority=_PRIORITY[priority],
        truncate=truncation != common_pb2.TRUNCATION_REFUSE,
    )


def _embeddings(result: EmbedResult) -> list[embedding_pb2.Embedding]:
    return [
        embedding_pb2.Embedding(
            vector=item.vector.tolist(),
            provider=item.provider_id,
            cached=item.cached,
            tokens=0 if item.cached else item.tokens,
            cost_usd=item.cost,
        )
        for item in result.items
    ]


class EmbeddingRouterServicer(embedding_pb2_grpc.EmbeddingRouterServiceServicer):
    def __init__(self, router: EmbeddingRouter, *, stream_parallelism: int = 4) -> None:
        self._router = router
        self._stream_parallelism = stream_parallelism

    async def Embed(
        self, request: embedding_pb2.EmbedRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> embedding_pb2.EmbedResponse:
        call = _call(
            request.tenant,
            request.model,
            request.texts,
            request.priority,
            request.truncation,
            bypass_cache=request.bypass_cache,
        )
        result = await self._router.embed(call)
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
        # Batches run concurrently, at most `stream_parallelism` at once, and are answered in the
        # order they arrived. The bounded queue is the back-pressure: the reader stops reading
        # the client's stream while the window is full.
        window: asyncio.Queue[tuple[str, asyncio.Task[EmbedResult]] | None] = asyncio.Queue(
            maxsize=self._stream_parallelism
        )

        async def read() -> None:
            async for request in request_iterator:
                call = _call(
                    request.tenant,
                    request.model,
                    request.texts,
                    request.priority,
                    request.truncation,
                )
                task = asyncio.create_task(self._router.embed(call))
                await window.put((request.batch_id, task))
            await window.put(None)

        reader = asyncio.create_task(read())
        pending: list[asyncio.Task[EmbedResult]] = []
        try:
            while True:
                get = asyncio.create_task(window.get())
                done, _ = await asyncio.wait({get, reader}, return_when=asyncio.FIRST_COMPLETED)
                if get not in done:
                    get.cancel()
                    reader.result()  # the reader failed: raise its error
                    continue
                entry = get.result()
                if entry is None:
                    break
                batch_id, task = entry
                pending.append(task)
                result = await task
                pending.remove(task)
                yield embedding_pb2.EmbedStreamResponse(
                    batch_id=batch_id,
                    model_version=result.model.version,
                    embeddings=_embeddings(result),
                    total_cost_usd=result.total_cost,
                )
        finally:
            # The client closed the stream or a batch failed: drop the work still in flight.
            reader.cancel()
            while not window.empty():
                left = window.get_nowait()
                if left is not None:
                    pending.append(left[1])
            for work in pending:
                work.cancel()
            await asyncio.gather(reader, *pending, return_exceptions=True)

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
                )
                for s in statuses
                if not request.model or s.model == request.model
            ],
            cache_available=self._router.cache.redis_healthy,
        )
