"""Settings from RAGSERVE_INFERENCE_* variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragserve.inference.settings import InferenceSettings, project_models
from ragserve.runtime.settings import SettingsError, load_settings


def test_defaults_to_the_project_models_and_reads_a_model_list(tmp_path: Path) -> None:
    settings = load_settings(InferenceSettings, "inference", {})
    assert (settings.model_repository, settings.models) == (project_models(), ())
    settings = load_settings(
        InferenceSettings,
        "inference",
        {"RAGSERVE_INFERENCE_MODEL_REPOSITORY": str(tmp_path), "RAGSERVE_INFERENCE_MODELS": "a, b"},
    )
    assert (settings.model_repository, settings.models) == (tmp_path, ("a", "b"))


def test_a_missing_repository_is_named(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(
            InferenceSettings,
            "inference",
            {"RAGSERVE_INFERENCE_MODEL_REPOSITORY": str(tmp_path / "none")},
        )
    assert str(caught.value) == (
        f"RAGSERVE_INFERENCE_MODEL_REPOSITORY: '{tmp_path / 'none'}' is not a directory"
        " (run `make models`)"
    )
