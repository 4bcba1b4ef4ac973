"""Settings of the retrieval service, from ``RAGSERVE_RETRIEVAL_*`` variables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ragserve.runtime.validation import EntryError

GRPC_PORT = 50054
METRICS_PORT = 9154


class RetrievalSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RAGSERVE_RETRIEVAL_", frozen=True, extra="ignore")

    # "edge": the embedded Qdrant Edge engine on local disk; "server": a Qdrant server.
    backend: Literal["edge", "server"] = "edge"
    # Embedded store directory (edge backend).
    data_dir: Path = Path("./var/retrieval")
    # Qdrant server URL and API key (server backend), e.g. http://qdrant:6333.
    qdrant_url: str = ""
    qdrant_api_key: str = ""
    # Seconds a server call may take.
    qdrant_timeout_s: Annotated[int, Field(gt=0)] = 10
    # Where the Qdrant server keeps snapshots, as the server sees its disk (server backend).
    server_snapshots_path: str = "/qdrant/snapshots"
    # Points at which an embedded collection gets an HNSW index built in the background;
    # below it every search is exact (0: never build). Per collection: hnsw.full_scan_threshold.
    index_threshold: Annotated[int, Field(ge=0)] = 100_000
    # Unindexed share of points that triggers a rebuild of an indexed collection.
    reindex_fraction: Annotated[float, Field(gt=0, le=1)] = 0.2
    # HNSW beam width at search time when a query does not set one (server backend; an
    # embedded index uses the ef its calibration chose).
    hnsw_ef: Annotated[int, Field(ge=4, le=4096)] = 512
    # Recall@10 a freshly built embedded index must reach, on a sample of its own vectors,
    # to be searched at all (otherwise exact search goes on).
    min_recall: Annotated[float, Field(gt=0, le=1)] = 0.95
    # Seconds a call waits for a restarting embedded worker before UNAVAILABLE.
    restart_wait_s: Annotated[float, Field(gt=0)] = 30.0

    @model_validator(mode="after")
    def _server_needs_a_url(self) -> Self:
        if self.backend == "server" and not self.qdrant_url:
            raise EntryError("qdrant_url", "must be set when RAGSERVE_RETRIEVAL_BACKEND=server")
        return self
