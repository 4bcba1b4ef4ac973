"""The embedding router as the shared runtime runs it: the core built from its settings.

Without a providers file the router serves one model, ``all-minilm-l6-v2``, from the inference
service at ``RAGSERVE_INFERENCE_ADDR``, its tokens counted with the inference model repository's
``tokenizer.json`` when there is one. A bad file stops start-up with a message naming the file
and the entry.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import grpc
import prometheus_client

from ragserve.embedding_router.config import (
    CacheConfig,
    ModelConfig,
    ProviderConfig,
    ProviderKind,
    RouterConfig,
    load_config,
)
from ragserve.embedding_router.metrics import RouterMetrics
from ragserve.embedding_router.router import EmbeddingRouter
from ragserve.embedding_router.servicer import EmbeddingRouterServicer, register
from ragserve.embedding_router.settings import INFERENCE_PORT, RouterSettings
from ragserve.runtime.server import Health
from ragserve.runtime.settings import service_address

log = logging.getLogger(__name__)

DEFAULT_MODEL = "all-minilm-l6-v2"


def default_tokenizer() -> Path | None:
    """The default model's ``tokenizer.json`` in the inference model repository
    (``RAGSERVE_INFERENCE_MODEL_REPOSITORY``, else the project's ``models/``), if it is there.

    The router reads the file the inference service's model is set up with; it does not import
    the inference service.
    """
    configured = os.environ.get("RAGSERVE_INFERENCE_MODEL_REPOSITORY")
    if configured:
        repositories = [Path(configured)]
    else:
        repositories = [
            parent / "models"
            for parent in Path(__file__).resolve().parents
            if (parent / "uv.lock").is_file()
        ]
    for repository in repositories:
        candidate = repository / DEFAULT_MODEL / "tokenizer.json"
        if candidate.is_file():
            return candidate
    return None


def default_config(redis_url: str | None, tokenizer: Path | None = None) -> RouterConfig:
    """What ``python -m ragserve.embedding_router`` serves without a providers file."""
    return RouterConfig(
        models=(
            ModelConfig(
                DEFAULT_MODEL, "1", 384, normalized=True, max_tokens=256, tokenizer=tokenizer
            ),
        ),
        providers=(
            ProviderConfig(
                id="inference",
                model=DEFAULT_MODEL,
                kind=ProviderKind.INFERENCE,
                endpoints=(service_address("inference", INFERENCE_PORT),),
                remote_model=DEFAULT_MODEL,
                input_name="text",
                output_name="embedding",
            ),
        ),
        cache=CacheConfig(redis_url=redis_url),
    )


class EmbeddingRouterService:
    def __init__(self, settings: RouterSettings) -> None:
        self.settings = settings
        if settings.providers_file is not None:
            config = load_config(settings.providers_file, redis_url=settings.redis_url)
        else:
            config = default_config(
                settings.redis_url or "redis://localhost:6379/0", default_tokenizer()
            )
        self.router = EmbeddingRouter(config, metrics=RouterMetrics(prometheus_client.REGISTRY))
        self._servicer = EmbeddingRouterServicer(
            self.router, stream_parallelism=settings.stream_parallelism
        )

    def register(self, server: grpc.aio.Server) -> Sequence[str]:
        return register(server, self._servicer)

    async def start(self, health: Health) -> None:
        await self.router.start()
        # Serving does not wait for providers or Redis: both are tried per call and fail over or
        # fail open; their state is in GetProviderStatus and the metrics.
        log.info(
            "router ready",
            extra={"event": "router_ready", "details": self.router.health_details()},
        )
        await health.set_serving(True)

    async def stop(self) -> None:
        await self.router.close()
