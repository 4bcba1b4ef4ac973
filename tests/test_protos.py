"""The API contract: committed stubs match a fresh regeneration, and the protos
pass buf's STANDARD lint and format check."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )


def test_committed_stubs_match_a_regeneration() -> None:
    result = run(sys.executable, "scripts/gen_protos.py", "--check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "generated code is up to date" in result.stdout


def buf() -> str:
    found = shutil.which("buf") or str(Path(sys.executable).parent / "buf")
    if not Path(found).exists():
        pytest.fail("buf is not installed (it comes with the dev dependencies: buf-bin)")
    return found


def test_protos_pass_buf_lint() -> None:
    result = run(buf(), "lint")
    assert result.returncode == 0, result.stdout + result.stderr


def test_protos_are_buf_formatted() -> None:
    result = run(buf(), "format", "-d", "--exit-code")
    assert result.returncode == 0, result.stdout + result.stderr


def test_inference_package_is_the_protocols_own() -> None:
    from ragserve.api.inference.v1 import inference_pb2

    service = inference_pb2.DESCRIPTOR.services_by_name["GRPCInferenceService"]
    assert service.full_name == "inference.GRPCInferenceService"
    assert [m.name for m in service.methods] == [
        "ServerLive",
        "ServerReady",
        "ModelReady",
        "ServerMetadata",
        "ModelMetadata",
        "ModelInfer",
        "ModelStreamInfer",
        "ModelConfig",
        "ModelStatistics",
        "RepositoryIndex",
        "RepositoryModelLoad",
        "RepositoryModelUnload",
    ]
