"""Every RAGSERVE_* variable that compose or Kubernetes sets is a setting the service reads:
a field of its settings class or of the runtime's ServerSettings, or a peer's address.
(A misspelt variable is silently ignored by pydantic-settings: this is the only check.)"""

from __future__ import annotations

import importlib
import inspect
import subprocess
from functools import cache

import pytest
import yaml
from deploy_suite import DEPLOY, SERVICES, Svc, tool
from pydantic_settings import BaseSettings

from ragserve.runtime.settings import ServerSettings, env_prefix

PREFIXES = {env_prefix(s.module): s for s in SERVICES}


@cache
def settings_fields(module: str) -> frozenset[str]:
    loaded = importlib.import_module(f"ragserve.{module}.settings")
    classes = [
        cls
        for _, cls in inspect.getmembers(loaded, inspect.isclass)
        if issubclass(cls, BaseSettings)
        and cls is not BaseSettings
        and cls.model_config.get("env_prefix") == env_prefix(module)
    ]
    assert len(classes) == 1, f"{module}: {classes}"
    return frozenset(classes[0].model_fields) | frozenset(ServerSettings.model_fields)


def problems(owner: Svc, variables: set[str]) -> list[str]:
    found = []
    for variable in sorted(v for v in variables if v.startswith("RAGSERVE_")):
        target = next((s for p, s in PREFIXES.items() if variable.startswith(p)), None)
        if target is None:
            found.append(f"{variable}: no service has this prefix")
            continue
        field = variable.removeprefix(env_prefix(target.module)).lower()
        if field == "addr":
            continue  # a peer's address (runtime.settings.service_address)
        if target is not owner:
            found.append(f"{variable}: another service's setting given to {owner.module}")
        elif field not in settings_fields(owner.module):
            found.append(f"{variable}: {owner.module} has no setting {field!r}")
    return found


def compose_environment(svc: Svc) -> set[str]:
    compose = yaml.safe_load((DEPLOY / "compose" / "compose.yaml").read_text())
    return set(compose["services"][svc.dns]["environment"])


@cache
def kubernetes_environment() -> dict[str, set[str]]:
    rendered = subprocess.run(
        [tool("kubectl"), "kustomize", str(DEPLOY / "k8s" / "overlays" / "prod")],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    docs = [d for d in yaml.safe_load_all(rendered) if d]
    common = {
        name
        for d in docs
        if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("ragserve-common-")
        for name in d["data"]
    }
    return {
        d["metadata"]["name"]: common
        | {e["name"] for e in d["spec"]["template"]["spec"]["containers"][0].get("env", [])}
        for d in docs
        if d["kind"] == "Deployment"
    }


def test_compose_variables_are_settings(svc: Svc) -> None:
    if not svc.built:
        pytest.skip(f"ragserve.{svc.module} is not in this checkout yet")
    assert problems(svc, compose_environment(svc)) == []


def test_kubernetes_variables_are_settings(svc: Svc) -> None:
    if not svc.built:
        pytest.skip(f"ragserve.{svc.module} is not in this checkout yet")
    assert problems(svc, kubernetes_environment()[svc.dns]) == []


def test_the_check_catches_a_misspelt_setting() -> None:
    [retrieval] = [s for s in SERVICES if s.module == "retrieval"]
    assert problems(retrieval, {"RAGSERVE_RETRIEVAL_QDRANT_ULR", "RAGSERVE_INFERENCE_ADDR"}) == [
        "RAGSERVE_RETRIEVAL_QDRANT_ULR: retrieval has no setting 'qdrant_ulr'"
    ]
