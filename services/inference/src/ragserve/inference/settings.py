"""Settings of the inference service (``RAGSERVE_INFERENCE_*``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ragserve.inference.model_setup import default_repository
from ragserve.runtime.settings import require

GRPC_PORT = 8001  # Triton's
METRICS_PORT = 8002  # Triton's


@dataclass(frozen=True)
class InferenceSettings:
    # Triton-layout model repository; default: the project's models/ (set up by make).
    model_repository: Path = field(default_factory=default_repository)
    # Models to load at start-up (comma-separated); empty: every model in the repository.
    models: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        require(
            self.model_repository.is_dir(),
            "RAGSERVE_INFERENCE_MODEL_REPOSITORY",
            f"'{self.model_repository}' is not a directory (run `make models`)",
        )
