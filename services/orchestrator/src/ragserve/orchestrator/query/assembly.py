"""The Query side's parts, built from settings and closed with the service: channels to
the router and retrieval, the HTTP client of the chat generator, and the pipeline."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import httpx

from ragserve.api.embedding.v1 import embedding_pb2_grpc
from ragserve.api.retrieval.v1 import retrieval_pb2_grpc
from ragserve.errors import Unavailable
from ragserve.orchestrator.query.bindings import CollectionModelCache, Resolve
from ragserve.orchestrator.query.chat import ChatConfig, ChatGenerator
from ragserve.orchestrator.query.clients import RetrievalSearcher, RouterQueryEmbedder
from ragserve.orchestrator.query.extractive import ExtractiveGenerator
from ragserve.orchestrator.query.model import GeneratorKind, QueryEvent, QueryRequest
from ragserve.orchestrator.query.pipeline import QueryPipeline
from ragserve.orchestrator.query.ports import AnswerGenerator
from ragserve.runtime.channels import create_channel

# Seconds to open a connection to the chat endpoint (the whole call is bounded by the
# query's deadline and chat_timeout_s).
_CHAT_CONNECT_S = 5.0


@dataclass(frozen=True)
class QueryConfig:
    router_address: str
    retrieval_address: str
    # Seconds a router or retrieval call may take when the caller set no deadline.
    peer_timeout_s: float
    # Seconds a collection → model binding is reused.
    binding_ttl_s: float
    # None: no chat endpoint configured (chat requests answer extractively, with a warning).
    chat: ChatConfig | None
    # Seconds a chat completion may stream when the caller set no deadline.
    chat_timeout_s: float
    extractive_max_sentences: int


class QueryBackend:
    """Built with the service, started with it: gRPC channels and the HTTP client are
    opened in :meth:`start`, inside the server's event loop (an aio channel made before
    the loop runs is bound to another loop)."""

    def __init__(self, config: QueryConfig, resolve_model: Resolve) -> None:
        self._config = config
        self._resolve_model = resolve_model
        self._pipeline: QueryPipeline | None = None
        self._closers: list[Callable[[], Awaitable[None]]] = []

    async def start(self) -> None:
        config = self._config
        router_channel = create_channel(config.router_address)
        retrieval_channel = create_channel(config.retrieval_address)
        http = httpx.AsyncClient(
            timeout=httpx.Timeout(config.chat_timeout_s, connect=_CHAT_CONNECT_S)
        )
        self._closers = [
            http.aclose,
            lambda: router_channel.close(None),
            lambda: retrieval_channel.close(None),
        ]
        generators: dict[GeneratorKind, AnswerGenerator] = {
            GeneratorKind.EXTRACTIVE: ExtractiveGenerator(config.extractive_max_sentences)
        }
        if config.chat is not None:
            generators[GeneratorKind.CHAT] = ChatGenerator(config.chat, http)
        self._pipeline = QueryPipeline(
            RouterQueryEmbedder(
                embedding_pb2_grpc.EmbeddingRouterServiceStub(router_channel),
                config.peer_timeout_s,
            ),
            RetrievalSearcher(
                retrieval_pb2_grpc.RetrievalServiceStub(retrieval_channel),
                config.peer_timeout_s,
            ),
            CollectionModelCache(self._resolve_model, config.binding_ttl_s),
            generators,
        )

    def run(self, request: QueryRequest) -> AsyncIterator[QueryEvent]:
        if self._pipeline is None:
            raise Unavailable("the query pipeline is not started yet")
        return self._pipeline.run(request)

    async def close(self) -> None:
        for close in self._closers:
            await close()
        self._closers = []
