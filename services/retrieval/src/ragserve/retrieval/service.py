"""The retrieval service as the shared runtime runs it: a core over the configured backend."""

from __future__ import annotations

import asyncio
import contextlib
import logging
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

logger = logging.getLogger("ragserve.retrieval.service")


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
            min_recall=settings.min_recall,
        ),
        restart_wait_s=settings.restart_wait_s,
    )


class HealthFollower:
    """Publishes the store's availability to grpc.health.v1, one change at a time.

    ``update`` may be called any number of times from the event loop; only ``publish``
    (at start-up) and then the follower's one task write health, so changes reach it in
    order, and changes faster than a publish collapse to the latest (watchers only need
    the eventual state). Health starts NOT_SERVING (``create_server``).
    """

    def __init__(self, health: Health) -> None:
        self._health = health
        self._published = False
        self._wanted = False
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def update(self, available: bool) -> None:
        self._wanted = available
        self._changed.set()

    async def publish(self) -> None:
        """Writes the latest wanted state if health does not show it yet."""
        self._changed.clear()
        wanted = self._wanted
        if wanted == self._published:
            return
        await self._health.set_serving(wanted)
        self._published = wanted
        logger.info(
            "health %s",
            "SERVING" if wanted else "NOT_SERVING",
            extra={"event": "health", "serving": wanted},
        )

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await self._changed.wait()
            await self.publish()


class RetrievalService:
    def __init__(self, settings: RetrievalSettings) -> None:
        self.settings = settings
        self.core = RetrievalCore(build_store(settings), settings.backend)
        self._follower: HealthFollower | None = None

    def register(self, server: grpc.aio.Server) -> Sequence[str]:
        return register(server, RetrievalServicer(self.core))

    async def start(self, health: Health) -> None:
        """Open the store (the embedded worker reopens every collection); then SERVING.

        From then on health follows the store: NOT_SERVING while the embedded worker is
        down or restarting, SERVING once a new one serves."""
        follower = self._follower = HealthFollower(health)
        # Listening before the store starts: a loss right after start-up is not missed.
        self.core.watch_availability(follower.update)
        await self.core.start()
        follower.update(await self.core.ready())
        await follower.publish()
        follower.start()

    async def stop(self) -> None:
        if self._follower is not None:
            await self._follower.close()
        await self.core.close()
