"""Settings of the retrieval service, from ``RAGSERVE_RETRIEVAL_*`` variables."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ragserve.runtime.settings import require

GRPC_PORT = 50054
METRICS_PORT = 9154


@dataclass(frozen=True)
class RetrievalSettings:
    # "edge": the embedded Qdrant Edge engine on local disk; "server": a Qdrant server.
    backend: str = "edge"
    # Embedded store directory (edge backend).
    data_dir: Path = Path("./var/retrieval")
    # Qdrant server URL and API key (server backend), e.g. http://qdrant:6333.
    qdrant_url: str = ""
    qdrant_api_key: str = ""
    # Seconds a server call may take.
    qdrant_timeout_s: int = 10
    # Where the Qdrant server keeps snapshots, as the server sees its disk (server backend).
    server_snapshots_path: str = "/qdrant/snapshots"
    # Points at which an embedded collection gets an HNSW index built in the background;
    # below it every search is exact (0: never build). Per collection: hnsw.full_scan_threshold.
    index_threshold: int = 100_000
    # Unindexed share of points that triggers a rebuild of an indexed collection.
    reindex_fraction: float = 0.2
    # HNSW beam width at search time when a query does not set one (server backend; an
    # embedded index uses the ef its calibration chose).
    hnsw_ef: int = 512
    # Recall@10 a freshly built embedded index must reach, on a sample of its own vectors,
    # to be searched at all (otherwise exact search goes on).
    min_recall: float = 0.95
    # Seconds a call waits for a restarting embedded worker before UNAVAILABLE.
    restart_wait_s: float = 30.0

    def __post_init__(self) -> None:
        prefix = "RAGSERVE_RETRIEVAL_"
        require(
            self.backend in ("edge", "server"),
            prefix + "BACKEND",
            f"must be 'edge' or 'server', got {self.backend!r}",
        )
        require(
            self.backend != "server" or bool(self.qdrant_url),
            prefix + "QDRANT_URL",
            "must be set when RAGSERVE_RETRIEVAL_BACKEND=server",
        )
        require(self.index_threshold >= 0, prefix + "INDEX_THRESHOLD", "must be >= 0")
        require(0 < self.reindex_fraction <= 1, prefix + "REINDEX_FRACTION", "must be in (0, 1]")
        require(4 <= self.hnsw_ef <= 4096, prefix + "HNSW_EF", "must be in [4, 4096]")
        require(0 < self.min_recall <= 1, prefix + "MIN_RECALL", "must be in (0, 1]")
        require(self.restart_wait_s > 0, prefix + "RESTART_WAIT_S", "must be > 0")
        require(self.qdrant_timeout_s > 0, prefix + "QDRANT_TIMEOUT_S", "must be > 0")
