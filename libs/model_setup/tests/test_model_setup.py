"""Model set-up: files verified in place, repaired when wrong, nothing done twice."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ragserve.model_setup import (
    ONNX_MODEL,
    REPOSITORY_FILES,
    SetupError,
    default_cache,
    ensure_models,
    main,
    sha256_of,
)


@pytest.fixture
def model_repository_root(model_repository: Path) -> Path:
    """The project's repository, set up by the session fixture (the root conftest)."""
    return model_repository


@pytest.fixture
def model_cache(model_repository: Path) -> Path:
    """The unpacked model packages the session's set-up left behind."""
    return default_cache(model_repository)


@pytest.fixture
def fresh(tmp_path: Path, model_repository_root: Path) -> Path:
    """A repository as a fresh clone has it: the committed config.json files only."""
    for name in ("all-minilm-l6-v2", "minilm-l6-raw"):
        (tmp_path / "models" / name).mkdir(parents=True)
        shutil.copy(model_repository_root / name / "config.json", tmp_path / "models" / name)
    return tmp_path / "models"


def test_the_project_repository_is_complete(model_repository_root: Path) -> None:
    for relative, source in REPOSITORY_FILES:
        assert sha256_of(model_repository_root / relative) == source.sha256


def test_setup_writes_every_file_once(fresh: Path, model_cache: Path) -> None:
    lines: list[str] = []
    written = ensure_models(fresh, model_cache, report=lines.append)
    assert written == [relative for relative, _ in REPOSITORY_FILES]
    assert lines == [
        f"{fresh / relative}: written from {src.path}" for relative, src in REPOSITORY_FILES
    ]
    assert ensure_models(fresh, model_cache, report=lines.append) == []
    assert lines[-1] == f"models in {fresh}: all files present and verified"


def test_a_damaged_file_is_replaced(fresh: Path, model_cache: Path) -> None:
    ensure_models(fresh, model_cache, report=lambda _: None)
    damaged = fresh / "minilm-l6-raw" / "1" / "model.onnx"
    damaged.write_bytes(b"not a model")
    assert ensure_models(fresh, model_cache, report=lambda _: None) == [
        "minilm-l6-raw/1/model.onnx"
    ]
    assert sha256_of(damaged) == ONNX_MODEL.sha256


def test_a_missing_committed_config_is_named(
    fresh: Path, model_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (fresh / "minilm-l6-raw" / "config.json").unlink()
    with pytest.raises(SetupError) as caught:
        ensure_models(fresh, model_cache, report=lambda _: None)
    missing = fresh / "minilm-l6-raw" / "config.json"
    assert (
        str(caught.value) == f"{missing} is missing: it is committed with the project, restore it"
    )
    assert main(["--repository", str(fresh), "--cache", str(model_cache)]) == 1
    assert capsys.readouterr().err == (
        f"setup_models: {missing} is missing: it is committed with the project, restore it\n"
    )
