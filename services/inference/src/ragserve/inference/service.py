"""The inference service as the shared runtime runs it."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import grpc

from ragserve.inference.engine import InferenceEngine
from ragserve.inference.repository import ModelRepository
from ragserve.inference.servicer import InferenceServicer, register
from ragserve.inference.settings import InferenceSettings
from ragserve.runtime.server import Health


class InferenceService:
    def __init__(self, settings: InferenceSettings) -> None:
        self.settings = settings
        self.engine = InferenceEngine(ModelRepository(settings.model_repository))
        self.started = asyncio.Event()

    def register(self, server: grpc.aio.Server) -> Sequence[str]:
        return register(server, InferenceServicer(self.engine, self.started))

    async def start(self, health: Health) -> None:
        """Load and warm up every start-up model; only then report SERVING."""
        await self.engine.load_all(self.settings.models)
        self.started.set()
        await health.set_serving(True)

    async def stop(self) -> None:
        await self.engine.close()
