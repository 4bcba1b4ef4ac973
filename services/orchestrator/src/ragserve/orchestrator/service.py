"""The orchestrator as the shared runtime runs it: clients to its peers, the core, health."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import grpc

from ragserve.orchestrator.core import OrchestratorCore
from ragserve.orchestrator.ingest import IngestLimits
from ragserve.orchestrator.metrics import IngestMetrics
from ragserve.orchestrator.peer_health import PeerHealth
from ragserve.orchestrator.query.assembly import QueryBackend, QueryConfig
from ragserve.orchestrator.retrieval_client import RetrievalClient
from ragserve.orchestrator.router_client import RouterClient
from ragserve.orchestrator.servicer import OrchestratorServicer, register
from ragserve.orchestrator.settings import (
    EMBEDDING_ROUTER_PORT,
    RETRIEVAL_PORT,
    OrchestratorSettings,
)
from ragserve.runtime.server import Health
from ragserve.runtime.settings import service_address

log = logging.getLogger("ragserve.orchestrator.service")


class OrchestratorService:
    def __init__(self, settings: OrchestratorSettings) -> None:
        self.settings = settings
        self.router_address = service_address("embedding_router", EMBEDDING_ROUTER_PORT)
        self.retrieval_address = service_address("retrieval", RETRIEVAL_PORT)
        self.router = RouterClient(self.router_address, settings.peer_timeout_s)
        self.retrieval = RetrievalClient(
            self.retrieval_address, settings.peer_timeout_s, settings.upsert_batch_points
        )
        self.core = OrchestratorCore(
            self.retrieval,
            self.router,
            limits=IngestLimits(
                concurrency=settings.ingest_concurrency,
                embed_batch_texts=settings.embed_batch_texts,
                embed_window=settings.embed_window,
                document_timeout_s=settings.document_timeout_s,
            ),
            tokenizer_ttl_s=settings.tokenizer_ttl_s,
            metrics=IngestMetrics(),
        )
        self._peer_health: PeerHealth | None = None
        self.query = QueryBackend(
            QueryConfig(
                peer_timeout_s=settings.peer_timeout_s,
                binding_ttl_s=settings.collection_binding_ttl_s,
                chat=settings.chat_config(),
                chat_timeout_s=settings.chat_timeout_s,
                extractive_max_sentences=settings.extractive_max_sentences,
            ),
            self._collection_model,
        )

    async def _collection_model(self, tenant: str, collection: str) -> str:
        record = await self.core.collections.resolve(tenant, collection, "collections")
        return record.model

    def register(self, server: grpc.aio.Server) -> Sequence[str]:
        return register(server, OrchestratorServicer(self.core, self.query))

    async def start(self, health: Health) -> None:
        """SERVING once the router and retrieval both serve; from then on health follows
        them (NOT_SERVING while either is down)."""
        log.info(
            "peers",
            extra={
                "event": "peers",
                "embedding_router": self.router_address,
                "retrieval": self.retrieval_address,
            },
        )
        # Channels open here, not in __init__: a grpc.aio channel binds to the event loop that
        # creates it, and serve() builds the service before its loop runs ("attached to a
        # different loop" on the first call otherwise).
        self.router.open()
        self.retrieval.open()
        # Query calls the peers over these same channels (one per peer); the health
        # watchers below keep their own untraced, non-retrying ones.
        await self.query.start(self.router.stub, self.retrieval.stub)
        self._peer_health = PeerHealth(
            {"embedding_router": self.router_address, "retrieval": self.retrieval_address},
            health,
            {"embedding_router": self.router.channel, "retrieval": self.retrieval.channel},
        )
        self._peer_health.start()
        await self._peer_health.wait_serving()

    async def stop(self) -> None:
        if self._peer_health is not None:
            await self._peer_health.close()
        await self.query.close()
        await self.router.close()
        await self.retrieval.close()
