"""The whole suite as real processes for the fuzz: Redis, inference, retrieval, the
embedding router, the orchestrator, a gateway and a monitor watching them. Helpers live in
``hostile.py`` next to this file (put on ``sys.path`` here: importlib mode)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from hostile import World, start_world  # noqa: E402


@pytest.fixture(scope="package")
def world(tmp_path_factory: pytest.TempPathFactory, model_repository: Path) -> Iterator[World]:
    running = start_world(tmp_path_factory.mktemp("fuzz"))
    try:
        yield running
    finally:
        running.stop()
