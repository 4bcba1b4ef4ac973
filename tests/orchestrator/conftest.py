"""The suite as real processes for the orchestrator's tests: Redis, inference, the embedding
router, retrieval (embedded Qdrant Edge) and the orchestrator. Helpers live in
``orchestrator_suite.py`` next to this file (put on ``sys.path`` here: importlib mode)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from orchestrator_suite import Suite, start_suite  # noqa: E402


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory, model_repository: Path) -> Iterator[Suite]:
    running = start_suite(tmp_path_factory.mktemp("suite"))
    try:
        yield running
    finally:
        running.close()
