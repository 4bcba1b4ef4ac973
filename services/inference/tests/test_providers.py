"""Execution providers: ask for TensorRT → CUDA → CPU, get what can really run, print nothing."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from ragserve.errors import FailedPrecondition
from ragserve.inference.config import load_model_config
from ragserve.inference.onnx_session import create_session
from ragserve.inference.providers import probe_provider, resolve_providers

GPU = probe_provider("cuda").usable
cpu_only = pytest.mark.skipif(GPU, reason="this machine has a usable GPU")


def test_cpu_is_always_usable() -> None:
    assert probe_provider("cpu").usable


@cpu_only
def test_without_a_gpu_only_the_cpu_provider_is_requested() -> None:
    usable, skipped = resolve_providers(["tensorrt", "cuda", "cpu"])
    assert usable == ["CPUExecutionProvider"]
    assert [probe.name for probe in skipped] == ["tensorrt", "cuda"]
    assert all(probe.reason for probe in skipped)


@cpu_only
def test_a_session_asked_for_gpus_runs_on_cpu_and_prints_nothing(
    model_repository_root: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    directory = model_repository_root / "minilm-l6-raw"
    config = load_model_config(directory / "config.json")
    assert config.execution_providers == ("tensorrt", "cuda", "cpu")
    capfd.readouterr()
    opened = create_session(directory / "1" / "model.onnx", config, engine_cache_dir=tmp_path)
    assert opened.providers == ("CPUExecutionProvider",)
    assert opened.session.get_providers() == ["CPUExecutionProvider"]
    captured = capfd.readouterr()
    assert captured.out == ""
    assert "EP Error" not in captured.err


@cpu_only
def test_a_model_that_allows_only_gpus_fails_to_load_with_the_reasons(
    model_repository_root: Path, tmp_path: Path
) -> None:
    directory = model_repository_root / "minilm-l6-raw"
    config = load_model_config(directory / "config.json")
    gpu_only = dataclasses.replace(config, execution_providers=("cuda",))
    with pytest.raises(FailedPrecondition) as caught:
        create_session(directory / "1" / "model.onnx", gpu_only, engine_cache_dir=tmp_path)
    reason = probe_provider("cuda").reason
    assert str(caught.value) == (
        "model 'minilm-l6-raw': none of the execution providers ['cuda'] can run here "
        f"(cuda: {reason})"
    )


@pytest.mark.skipif(not GPU, reason="needs a GPU")
def test_with_a_gpu_the_session_runs_on_it(model_repository_root: Path, tmp_path: Path) -> None:
    directory = model_repository_root / "minilm-l6-raw"
    config = load_model_config(directory / "config.json")
    opened = create_session(directory / "1" / "model.onnx", config, engine_cache_dir=tmp_path)
    assert opened.providers[0] in ("TensorrtExecutionProvider", "CUDAExecutionProvider")
