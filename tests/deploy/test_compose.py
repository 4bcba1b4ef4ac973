"""deploy/compose/compose.yaml against the Compose specification's JSON schema (the copy
check-jsonschema ships, vendor.compose-spec; no Docker Compose client here), then what the
suite needs from it: every service built from its own Dockerfile, health-checked over
grpc.health.v1 on its own port, traced to Jaeger, started after what it calls is healthy.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from deploy_suite import DEPLOY, ROOT, SERVICES, Svc, tool

COMPOSE = DEPLOY / "compose" / "compose.yaml"
CALLS = {
    "gateway": {"orchestrator", "embedding-router", "redis"},
    "orchestrator": {"embedding-router", "retrieval", "inference"},
    "embedding-router": {"inference", "redis"},
    "retrieval": {"qdrant"},
    "inference": set(),
    "monitor": set(),  # watches everyone, reconnecting: it waits for nobody
    "grafana": {"prometheus"},
}


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def check_schema(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


@pytest.mark.parametrize("name", ["compose.yaml", "compose.gpu.yaml"])
def test_valid_against_the_compose_schema(name: str) -> None:
    result = check_schema(COMPOSE.parent / name)
    assert result.returncode == 0, result.stdout + result.stderr


def test_gpu_override_runs_the_cuda_image_on_a_gpu() -> None:
    override = yaml.safe_load((COMPOSE.parent / "compose.gpu.yaml").read_text())
    inference = override["services"]["inference"]
    assert inference["build"]["dockerfile"] == "deploy/docker/inference-cuda.Dockerfile"
    [device] = inference["deploy"]["resources"]["reservations"]["devices"]
    assert device["capabilities"] == ["gpu"]
    for volume in inference["volumes"]:
        assert (COMPOSE.parent / volume.split(":")[0]).is_file()


def test_the_schema_check_catches_a_wrong_field(tmp_path: Path) -> None:
    broken = tmp_path / "compose.yaml"
    broken.write_text(
        COMPOSE.read_text().replace("condition: service_healthy", "condition: healthy", 1)
    )
    assert check_schema(broken).returncode != 0


def test_the_whole_suite_and_its_parts() -> None:
    assert set(compose()["services"]) == {s.dns for s in SERVICES} | {
        "qdrant",
        "redis",
        "jaeger",
        "prometheus",
        "grafana",
    }


def test_service(svc: Svc) -> None:
    service = compose()["services"][svc.dns]
    assert service["build"] == {
        "context": "../..",
        "dockerfile": f"deploy/docker/{svc.module}.Dockerfile",
    }
    assert (ROOT / service["build"]["dockerfile"]).is_file()
    probe = " ".join(service["healthcheck"]["test"])
    assert f"grpc.insecure_channel('localhost:{svc.grpc_port}')" in probe
    assert "status!=1" in probe  # SERVING
    env = service["environment"]
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://jaeger:4317"
    for peer in SERVICES:
        assert env[f"RAGSERVE_{peer.module.upper()}_ADDR"] == f"{peer.dns}:{peer.grpc_port}"
    assert service["read_only"] is True


def test_dependencies_wait_for_health() -> None:
    services = compose()["services"]
    for name, callees in CALLS.items():
        depends = services[name].get("depends_on", {})
        assert set(depends) == callees, name
        for callee in callees:
            assert depends[callee] == {"condition": "service_healthy"}
            assert "healthcheck" in services[callee], callee


def test_retrieval_uses_the_qdrant_server() -> None:
    env = compose()["services"]["retrieval"]["environment"]
    assert env["RAGSERVE_RETRIEVAL_BACKEND"] == "server"
    assert env["RAGSERVE_RETRIEVAL_QDRANT_URL"] == "http://qdrant:6333"


@pytest.mark.parametrize("name", ["prometheus", "grafana"])
def test_mounted_configuration_exists(name: str) -> None:
    for volume in compose()["services"][name]["volumes"]:
        source = volume.split(":")[0]
        if source.startswith("."):
            assert (COMPOSE.parent / source).exists(), source


def test_prometheus_scrapes_the_compose_names() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    targets = {
        target
        for job in config["scrape_configs"]
        for static in job["static_configs"]
        for target in static["targets"]
    }
    assert targets == {f"{s.dns}:{s.metrics_port}" for s in SERVICES}
    assert all(
        re.fullmatch(r"ragserve-[a-z-]+", job["job_name"]) for job in config["scrape_configs"]
    )
