"""The Query side's parts, built from settings and closed with the service: the HTTP
client of the chat generator and the pipeline, over the router and retrieval stubs the
service's ingest clients already hold: one channel (one connection) per peer, shared by
ingest and query."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from ragserve.errors import Unavailable
from ragserve.orchestrator.query.bindings import CollectionModelCache, Resolve
from ragserve.orchestrator.query.chat import ChatConfig, ChatGenerator
from ragserve.orchestrator.query.clients import RetrievalSearcher, RouterQueryEmbedder
from ragserve.orchestrator.query.extractive import ExtractiveGenerator
from ragserve.orchestrator.query.model import GeneratorKind, QueryEvent, QueryRequest
from ragserve.orchestrator.query.pipeline import QueryPipeline
from ragserve.orchestrator.query.ports import AnswerGenerator

# Seconds to open a connection to the chat endpoint (the whole call is bounded by the
# query's deadline and chat_timeout_s).
_CHAT_CONNECT_S = 5.0


@dataclass(frozen=True)
class QueryConfig:
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
    """Built with the service, started with it: the HTTP client is opened in :meth:`start`,
    inside the server's event loop, over the peers' stubs the service opened there (an aio
    channel made before the loop runs is bound to another loop)."""

    def __init__(self, config: QueryConfig, resolve_model: Resolve) -> None:
        self._config = config
        self._resolve_model = resolve_model
        self._pipeline: QueryPipeline | None = None
        self._closers: list[Callable[[], Awaitable[None]]] = []

    async def start(self, router_stub: Any, retrieval_stub: Any) -> None:
        """``router_stub``: an ``EmbeddingRouterServiceStub``, ``retrieval_stub``: a
        ``RetrievalServiceStub``, on channels the caller owns (and closes)."""
        config = self._config
        http = httpx.AsyncClient(
            timeout=httpx.Timeout(config.chat_timeout_s, connect=_CHAT_CONNECT_S)
        )
        self._closers = [http.aclose]
        generators: dict[GeneratorKind, AnswerGenerator] = {
            GeneratorKind.EXTRACTIVE: ExtractiveGenerator(config.extractive_max_sentences)
        }
        if config.chat is not None:
            generators[GeneratorKind.CHAT] = ChatGenerator(config.chat, http)
        self._pipeline = QueryPipeline(
            RouterQueryEmbedder(router_stub, config.peer_timeout_s),
            RetrievalSearcher(retrieval_stub, config.peer_timeout_s),
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
