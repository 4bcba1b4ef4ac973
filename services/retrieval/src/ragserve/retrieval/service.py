"""The retrieval service as the shared runtime runs it: a core over the configured backend."""

from __future__ import annotations

from collections.abc import Sequence

import grpc

from ragserve.retrieval.core import RetrievalCore
from ragserve.retrieval.edge_store import EdgeStore
from ragserve.retrieval.edge_worker import WorkerSettings
from ragserve.retrieval.server_store import ServerStore
from ragserve.retrieval.servicer import RetrievalServicer, register
from ragserve.retrieval.settings import RetrievalSettings
from ragserve.retrieval.store import VectorStore
from ragserve.runtime.server import Health


def build_store(settings: RetrievalSettings) -> VectorStore:
    if settings.backend == "server":
        return ServerStore.connect(
            settings.qdrant_url,
            settings.qdrant_api_key or None,
            timeout_s=settings.qdrant_timeout_s,
            server_snapshots_path=settings.server_snapshots_path,
            hnsw_ef=settings.hnsw_ef,
        )
    return EdgeStore(
        settings.data_dir.resolve(),
        WorkerSettings(
            index_threshold=settings.index_threshold,
            reindex_fraction=settings.reindex_fraction,
            hnsw_ef=settings.hnsw_ef,
        ),
        restart_wait_s=settings.restart_wait_s,
    )


class RetrievalService:
    def __init__(self, settings: RetrievalSettings) -> None:
        self.settings = settings
        self.core = RetrievalCore(build_store(settings), settings.backend)

    def register(self, server: grpc.aio.Server) -> Sequence[str]:
        return register(server, RetrievalServicer(self.core))

    async def start(self, health: Health) -> None:
        """Open the store (the embedded worker reopens every collection); then SERVING."""
        await self.core.start()
        await health.set_serving(True)

    async def stop(self) -> None:
        await self.core.close()
