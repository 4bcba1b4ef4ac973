"""Settings of the inference service (``RAGSERVE_INFERENCE_*``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

GRPC_PORT = 8001  # Triton's
METRICS_PORT = 8002  # Triton's


def project_models() -> Path:
    """The project's ``models/`` when run from its checkout (``make models`` fills it), else
    ``./models``."""
    for parent in Path(__file__).resolve().parents:
        if (parent / "uv.lock").is_file() and (parent / "models").is_dir():
            return parent / "models"
    return Path.cwd() / "models"


def _comma_separated(value: object) -> object:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


def _existing_directory(path: Path) -> Path:
    if not path.is_dir():
        raise ValueError(f"'{path}' is not a directory (run `make models`)")
    return path


class InferenceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RAGSERVE_INFERENCE_", frozen=True, extra="ignore")

    # Triton-layout model repository; default: the project's models/ (set up by make).
    model_repository: Annotated[
        Path,
        Field(default_factory=project_models, validate_default=True),
        AfterValidator(_existing_directory),
    ]
    # Models to load at start-up (comma-separated); empty: every model in the repository.
    models: Annotated[tuple[str, ...], NoDecode, BeforeValidator(_comma_separated)] = ()
