"""Settings of the orchestrator, from ``RAGSERVE_ORCHESTRATOR_*`` variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

GRPC_PORT = 50052
METRICS_PORT = 9152

# Peers' default ports (DESIGN.md's table); their addresses come from
# RAGSERVE_EMBEDDING_ROUTER_ADDR and RAGSERVE_RETRIEVAL_ADDR.
EMBEDDING_ROUTER_PORT = 50053
RETRIEVAL_PORT = 50054


class OrchestratorSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="RAGSERVE_ORCHESTRATOR_", frozen=True, extra="ignore"
    )

    # Documents of one Ingest stream processed at once (parse, embed, upsert); the stream
    # reads no further document while this many await their acks, so a slow router or
    # retrieval slows the client instead of growing memory.
    ingest_concurrency: int = Field(default=8, ge=1, le=256)
    # Chunk texts per EmbedStream message to the router (one batch).
    embed_batch_texts: int = Field(default=64, ge=1, le=2048)
    # Embedding batches of one Ingest stream in flight at the router at once.
    embed_window: int = Field(default=4, ge=1, le=64)
    # Points per Upsert message to retrieval (retrieval accepts at most 1024).
    upsert_batch_points: int = Field(default=256, ge=1, le=1024)
    # Seconds a model's tokenizer (from the router's GetTokenizer) is reused before it is
    # asked for again, so a new model version is picked up.
    tokenizer_ttl_s: float = Field(default=300.0, gt=0, le=86_400)
    # Seconds a call to the router or retrieval may take when the caller set no deadline.
    peer_timeout_s: float = Field(default=60.0, gt=0, le=3600)
    # Largest Ingest stream lifetime is the caller's deadline; this is the most time one
    # document's own work (parse to durable upsert) may take, in seconds.
    document_timeout_s: float = Field(default=300.0, gt=0, le=3600)
