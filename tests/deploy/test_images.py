"""The service images (deploy/docker): hadolint clean, one per service, each installing only
its own package's locked dependencies, running its own module as a non-root user.

No Docker engine here, so nothing is built: the dependency claim is checked on what the
builder stage installs, ``uv export --package`` of the same lock.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from deploy_suite import DEPLOY, ROOT, Svc, tool

DOCKER = DEPLOY / "docker"


def dockerfile(name: str) -> str:
    return (DOCKER / f"{name}.Dockerfile").read_text()


def test_hadolint_passes_every_dockerfile() -> None:
    files = sorted(DOCKER.glob("*.Dockerfile"))
    assert len(files) == 7  # six services and inference's CUDA variant
    result = subprocess.run(
        [tool("hadolint"), "--failure-threshold", "info", *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_image_shape(svc: Svc) -> None:
    variants = [svc.module] + (["inference-cuda"] if svc.module == "inference" else [])
    for variant in variants:
        check_image_shape(svc, dockerfile(variant))


def check_image_shape(svc: Svc, text: str) -> None:
    assert len(re.findall(r"^FROM ", text, re.M)) >= 2, "multi-stage: a builder and a runtime"
    assert f"uv sync --frozen --no-dev --no-editable --package {svc.package}" in text
    assert re.search(r"^COPY --from=builder /app/.venv /app/.venv$", text, re.M)
    assert f'ENTRYPOINT ["python", "-m", "ragserve.{svc.module}"]' in text
    assert f"EXPOSE {svc.grpc_port} {svc.metrics_port}" in text
    users = re.findall(r"^USER (\S+)$", text, re.M)
    assert users and users[-1].split(":")[0] not in {"0", "root"}


def test_monitor_image_carries_the_slo_spec() -> None:
    from ragserve.monitor.settings import MonitorSettings

    default = MonitorSettings.model_fields["slo_spec"].default
    assert f"COPY deploy/slo/slos.yaml {default}" in dockerfile("monitor")
    assert (ROOT / default).is_file()


def test_cuda_variant_runs_on_the_cuda_runtime() -> None:
    text = dockerfile("inference-cuda")
    assert re.search(r"^ARG CUDA_IMAGE=nvidia/cuda:\S+-cudnn-runtime-", text, re.M)
    assert "onnxruntime-gpu" in locked_requirements("ragserve-inference")


def test_ports_are_the_services_own(svc: Svc) -> None:
    if not svc.built:
        pytest.skip(f"ragserve.{svc.module} is not in this checkout yet")
    settings = __import__(f"ragserve.{svc.module}.settings", fromlist=["GRPC_PORT"])
    assert (svc.grpc_port, svc.metrics_port) == (settings.GRPC_PORT, settings.METRICS_PORT)


def locked_requirements(package: str) -> str:
    result = subprocess.run(
        [str(uv()), "export", "--frozen", "--no-dev", "--no-hashes", "--package", package],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def uv() -> Path | str:
    local = ROOT / ".tools" / "bin" / "uv"
    return local if local.is_file() else tool("uv")


def test_only_inference_carries_onnxruntime(svc: Svc) -> None:
    if not (ROOT / "services" / svc.module / "pyproject.toml").is_file():
        pytest.skip(f"{svc.package} is not in this checkout's workspace yet")
    onnx = re.findall(r"^onnxruntime\S*", locked_requirements(svc.package), re.M)
    if svc.module == "inference":
        assert onnx
    else:
        assert onnx == [], f"{svc.package} would carry {onnx}"


def test_build_context_leaves_out_local_state() -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()
    for entry in ("**/.venv", ".git", "models/*/1", "models/*/tokenizer.json", "**/tests"):
        assert entry in ignored
