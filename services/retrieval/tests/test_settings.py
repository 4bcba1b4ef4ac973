"""Settings from RAGSERVE_RETRIEVAL_* variables: defaults, and bad values named at start-up."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragserve.retrieval.settings import RetrievalSettings
from ragserve.runtime.settings import SettingsError, load_settings


def test_defaults() -> None:
    settings = load_settings(RetrievalSettings, "retrieval", {})
    assert (settings.backend, settings.data_dir, settings.index_threshold) == (
        "edge",
        Path("./var/retrieval"),
        100_000,
    )
    assert (settings.hnsw_ef, settings.min_recall) == (512, 0.95)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "MIN_RECALL",
            "1.5",
            'RAGSERVE_RETRIEVAL_MIN_RECALL: input should be less than or equal to 1, got "1.5"',
        ),
        (
            "HNSW_EF",
            "2",
            'RAGSERVE_RETRIEVAL_HNSW_EF: input should be greater than or equal to 4, got "2"',
        ),
        (
            "BACKEND",
            "milvus",
            "RAGSERVE_RETRIEVAL_BACKEND: input should be 'edge' or 'server', got \"milvus\"",
        ),
        (
            "BACKEND",
            "server",
            "RAGSERVE_RETRIEVAL_QDRANT_URL: must be set when RAGSERVE_RETRIEVAL_BACKEND=server",
        ),
    ],
)
def test_bad_values_are_named(variable: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(RetrievalSettings, "retrieval", {f"RAGSERVE_RETRIEVAL_{variable}": value})
    assert str(caught.value) == message
