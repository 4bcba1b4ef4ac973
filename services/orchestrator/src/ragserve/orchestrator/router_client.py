"""The embedding router over gRPC, as the core's :class:`~ragserve.orchestrator.peers.EmbeddingPeer`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grpc

from ragserve.api.common.v1 import common_pb2
from ragserve.api.embedding.v1 import embedding_pb2, embedding_pb2_grpc
from ragserve.errors import Unavailable
from ragserve.orchestrator.peer_channels import PeerConnection
from ragserve.orchestrator.peer_errors import translate
from ragserve.orchestrator.peers import EmbeddedBatch, ModelDescription, ModelTokenizer

PEER = "embedding router"
_PRIORITY = {0: common_pb2.PRIORITY_HIGH, 1: common_pb2.PRIORITY_NORMAL, 2: common_pb2.PRIORITY_LOW}


class RouterEmbedStream:
    """One ``EmbedStream`` call; truncation is 'refuse', since chunks are cut to the model's
    limit by its own tokenizer and a longer one would be a bug, not something to hide."""

    def __init__(self, call: Any, tenant: str, model: str, priority: int) -> None:
        self._call = call
        self._tenant = tenant
        self._model = model
        self._priority = _PRIORITY.get(priority, common_pb2.PRIORITY_NORMAL)

    async def send(self, batch_id: str, texts: Sequence[str]) -> None:
        try:
            await self._call.write(
                embedding_pb2.EmbedStreamRequest(
                    tenant=self._tenant,
                    model=self._model,
                    batch_id=batch_id,
                    texts=texts,
                    priority=self._priority,
                    truncation=common_pb2.TRUNCATION_REFUSE,
                )
            )
        except grpc.aio.AioRpcError as error:
            raise translate(error, PEER) from None
        except grpc.aio.UsageError:
            # The call already ended; its status comes with the next receive().
            await self._raise_status()

    async def receive(self) -> EmbeddedBatch | None:
        try:
            response = await self._call.read()
        except grpc.aio.AioRpcError as error:
            raise translate(error, PEER) from None
        if response is grpc.aio.EOF:  # type: ignore[attr-defined]
            if await self._call.code() == grpc.StatusCode.OK:
                return None
            await self._raise_status()
        return EmbeddedBatch(
            batch_id=response.batch_id,
            model_version=response.model_version,
            vectors=[embedding.vector for embedding in response.embeddings],
        )

    async def _raise_status(self) -> None:
        code = await self._call.code()
        details = await self._call.details()
        raise Unavailable(f"{PEER}: embedding stream ended early ({code.name}: {details})")

    async def finish(self) -> None:
        try:
            await self._call.done_writing()
        except (grpc.aio.AioRpcError, grpc.aio.UsageError):
            self._call.cancel()

    async def close(self) -> None:
        self._call.cancel()


class RouterClient(PeerConnection):
    def __init__(self, address: str, timeout_s: float) -> None:
        super().__init__(PEER, address, embedding_pb2_grpc.EmbeddingRouterServiceStub)
        self._timeout_s = timeout_s

    async def list_models(self) -> list[ModelDescription]:
        try:
            response = await self._stub.ListModels(
                embedding_pb2.ListModelsRequest(), timeout=self._timeout_s
            )
        except grpc.aio.AioRpcError as error:
            raise translate(error, PEER) from None
        return [
            ModelDescription(m.id, m.version, m.dimension, m.max_tokens) for m in response.models
        ]

    async def get_tokenizer(self, model: str) -> ModelTokenizer:
        try:
            response = await self._stub.GetTokenizer(
                embedding_pb2.GetTokenizerRequest(model=model), timeout=self._timeout_s
            )
        except grpc.aio.AioRpcError as error:
            raise translate(error, PEER) from None
        return ModelTokenizer(
            ModelDescription(
                response.model, response.model_version, response.dimension, response.max_tokens
            ),
            response.tokenizer_json,
        )

    def open_stream(self, tenant: str, model: str, priority: int) -> RouterEmbedStream:
        # No timeout of its own: the stream lives as long as the ingest stream it serves,
        # whose deadline (if any) the channel's interceptor applies.
        return RouterEmbedStream(self._stub.EmbedStream(), tenant, model, priority)
