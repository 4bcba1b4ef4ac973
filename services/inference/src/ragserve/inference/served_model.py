"""What every loaded model offers the repository and the service, whatever its kind."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ragserve.inference.config import ModelConfig


@dataclass(frozen=True, slots=True)
class ModelFiles:
    """Where one version of a model lives on disk."""

    directory: Path  # models/<name>
    version: str  # the version directory's name, an integer in decimal

    @property
    def version_directory(self) -> Path:
        return self.directory / self.version

    def model_file(self, config: ModelConfig) -> Path:
        return self.version_directory / config.model_filename

    def engine_cache_dir(self, config: ModelConfig) -> Path:
        """TensorRT engines: the configured directory (relative to the model directory),
        else beside the version's model file, so engines never outlive their model."""
        configured = config.tensorrt.engine_cache_dir
        if configured:
            return self.directory / configured
        return self.version_directory / "trt-engines"


class ServedModel(Protocol):
    """A model ready to run. ``providers`` are what its session really runs on."""

    @property
    def config(self) -> ModelConfig: ...

    @property
    def version(self) -> str: ...

    @property
    def providers(self) -> tuple[str, ...]: ...

    def warm_up(self) -> None:
        """Run the model once so the first request pays no first-run costs (blocking)."""

    def close(self) -> None:
        """Release the session; the model must not be called afterwards."""
