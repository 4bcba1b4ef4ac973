"""Settings of the embedding router (``RAGSERVE_EMBEDDING_ROUTER_*``).

What the router routes (models, providers, tenants, routing, breaker, cache) is in the
providers file (:mod:`ragserve.embedding_router.config`); these are the process's settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

GRPC_PORT = 50053
METRICS_PORT = 9153
# The inference service's default port (DESIGN.md's table), for RAGSERVE_INFERENCE_ADDR's
# default: the router reads its peer's address, it does not import its peer.
INFERENCE_PORT = 8001


class RouterSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="RAGSERVE_EMBEDDING_ROUTER_", frozen=True, extra="ignore"
    )

    # The providers file (JSON or TOML). Unset: one model, all-minilm-l6-v2, served by the
    # inference service at RAGSERVE_INFERENCE_ADDR (see service.default_config).
    providers_file: Path | None = None
    # Replaces the file's cache.redis_url. Unset: the file's, or redis://localhost:6379/0
    # without a file.
    redis_url: str | None = None
    # Batches of one EmbedStream embedded at once.
    stream_parallelism: Annotated[int, Field(ge=1)] = 4
