"""The model repository: discovery, versions, and the load/unload state machine."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from ragserve.errors import FailedPrecondition, InvalidArgument, NotFound
from ragserve.inference.config import ModelConfigError
from ragserve.inference.raw_model import RawOnnxModel
from ragserve.inference.repository import (
    LoadedModel,
    ModelRepository,
    ModelState,
    RepositoryEntry,
)
from ragserve.inference.text_embedding import TextEmbeddingModel

UNAVAILABLE, LOADING, READY, UNLOADING = (
    ModelState.UNAVAILABLE,
    ModelState.LOADING,
    ModelState.READY,
    ModelState.UNLOADING,
)


@pytest.fixture
def root(tmp_path: Path, model_repository_root: Path) -> Path:
    """A repository of links to the real model: a text model, a raw one with three
    versions, a broken config and a model without versions."""
    text_source = model_repository_root / "all-minilm-l6-v2"
    raw_source = model_repository_root / "minilm-l6-raw"
    text = tmp_path / "text"
    (text / "1").mkdir(parents=True)
    (text / "1" / "model.onnx").symlink_to(text_source / "1" / "model.onnx")
    (text / "tokenizer.json").symlink_to(text_source / "tokenizer.json")
    config = json.loads((text_source / "config.json").read_text())
    config["name"] = "text"
    (text / "config.json").write_text(json.dumps(config))

    raw = tmp_path / "raw"
    for version in ("1", "3", "10"):
        (raw / version).mkdir(parents=True)
        (raw / version / "model.onnx").symlink_to(raw_source / "1" / "model.onnx")
    (raw / "notes").mkdir()
    config = json.loads((raw_source / "config.json").read_text())
    del config["name"]
    (raw / "config.json").write_text(json.dumps(config))

    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text('{"kind": "onnx", "inputs": []}')
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "config.json").write_text((raw / "config.json").read_text())
    (tmp_path / "not-a-model").mkdir()  # no config.json: ignored
    return tmp_path


def test_index_lists_models_on_disk_with_their_highest_version(root: Path) -> None:
    assert ModelRepository(root).index() == [
        RepositoryEntry("broken", "", UNAVAILABLE, "not loaded"),
        RepositoryEntry("empty", "", UNAVAILABLE, "not loaded"),
        RepositoryEntry("raw", "10", UNAVAILABLE, "not loaded"),
        RepositoryEntry("text", "1", UNAVAILABLE, "not loaded"),
    ]


def test_load_then_unload_walks_the_states(root: Path) -> None:
    seen: list[RepositoryEntry] = []
    repository = ModelRepository(root, on_change=seen.append)
    model = repository.load("raw")
    assert isinstance(model, RawOnnxModel)
    assert model.version == "10"
    assert model.providers[-1] == "CPUExecutionProvider"
    assert repository.get("raw") is model
    assert repository.get("raw", "10") is model
    assert repository.index(ready_only=True) == [RepositoryEntry("raw", "10", READY)]

    assert repository.unload("raw") is model
    assert [(entry.state, entry.reason) for entry in seen] == [
        (LOADING, ""),
        (READY, ""),
        (UNLOADING, ""),
        (UNAVAILABLE, "unloaded"),
    ]
    assert repository.status("raw") == RepositoryEntry("raw", "10", UNAVAILABLE, "unloaded")
    with pytest.raises(FailedPrecondition) as caught:
        repository.get("raw")
    assert str(caught.value) == "model 'raw' is not ready (state UNAVAILABLE: unloaded)"
    assert repository.unload("raw") is None  # unloading twice is harmless


def test_a_text_model_loads_as_a_text_embedding_model(root: Path) -> None:
    repository = ModelRepository(root)
    model = repository.load("text")
    assert isinstance(model, TextEmbeddingModel)
    assert model.embed_texts(["hi"]).shape == (1, 384)


def test_get_names_what_is_missing(root: Path) -> None:
    repository = ModelRepository(root, warm_up=False)
    with pytest.raises(NotFound) as not_found:
        repository.get("ghost")
    assert str(not_found.value) == f"model 'ghost' is not in the repository {root}"
    with pytest.raises(FailedPrecondition) as not_loaded:
        repository.get("raw")
    assert str(not_loaded.value) == "model 'raw' is not ready (state UNAVAILABLE: not loaded)"
    repository.load("raw")
    with pytest.raises(NotFound) as old_version:
        repository.get("raw", "3")
    assert (
        str(old_version.value) == "model 'raw' version '3' is not available (serving version '10')"
    )
    with pytest.raises(InvalidArgument) as bad_name:
        repository.load("../raw")
    assert str(bad_name.value) == "model_name: '../raw' is not a valid model name"


def test_a_failed_load_leaves_the_model_unavailable_with_the_reason(root: Path) -> None:
    repository = ModelRepository(root, warm_up=False)
    with pytest.raises(ModelConfigError) as caught:
        repository.load("broken")
    message = "model 'broken': config field 'inputs': must not be empty, got []"
    assert str(caught.value) == message
    assert repository.status("broken") == RepositoryEntry("broken", "", UNAVAILABLE, message)

    with pytest.raises(FailedPrecondition) as no_version:
        repository.load("empty")
    assert str(no_version.value) == (
        "model 'empty': no version directory (a directory named by an integer, e.g. 1/) "
        f"in {root / 'empty'}"
    )
    with pytest.raises(NotFound):
        repository.load("not-a-model")


def test_a_reload_swaps_in_the_new_model_and_a_failed_one_keeps_the_old(root: Path) -> None:
    repository = ModelRepository(root, warm_up=False)
    first = repository.load("raw")
    second = repository.load("raw")
    assert second is not first
    assert repository.get("raw") is second

    config_file = root / "raw" / "config.json"
    config_file.write_text(config_file.read_text().replace('"kind": "onnx"', '"kind": "nope"'))
    with pytest.raises(ModelConfigError):
        repository.load("raw")
    assert repository.status("raw") == RepositoryEntry("raw", "10", READY)
    assert repository.get("raw") is second


def test_concurrent_loads_of_one_model_run_one_at_a_time(root: Path) -> None:
    seen: list[ModelState] = []
    repository = ModelRepository(root, warm_up=False, on_change=lambda e: seen.append(e.state))
    results: list[LoadedModel] = []
    threads = [
        threading.Thread(target=lambda: results.append(repository.load("raw"))) for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    # The second load waited for the first and then reloaded: never two LOADINGs.
    assert seen == [LOADING, READY, READY]
    assert repository.get("raw") is results[1]


def test_load_all_loads_what_it_can_and_reports_the_rest(root: Path) -> None:
    repository = ModelRepository(root, warm_up=False)
    states = {entry.name: entry.state for entry in repository.load_all()}
    assert states == {"broken": UNAVAILABLE, "empty": UNAVAILABLE, "raw": READY, "text": READY}
    repository.close()
    assert [entry.state for entry in repository.index()] == [UNAVAILABLE] * 4
