"""deploy/k8s rendered offline (`kubectl kustomize`) and validated against the Kubernetes
schemas in strict mode (unknown fields fail), then the properties the suite depends on:
gRPC probes, non-root read-only pods, headless Services, autoscaling on the real queue
metric, disruption budgets, and network policies that admit exactly each service's callers.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from functools import cache
from typing import Any

import kubernetes_validate
import pytest
import yaml
from deploy_suite import DEPLOY, SERVICES, Svc, tool

K8S = DEPLOY / "k8s"
VARIANTS = ["base", "overlays/dev", "overlays/prod"]
KUBERNETES_VERSION = "1.32"

# Who calls whom (DESIGN.md's table): the network policies must admit exactly these.
CALLERS = {
    "gateway": {"outside"},
    "orchestrator": {"gateway", "monitor"},
    "embedding-router": {"gateway", "orchestrator", "monitor"},
    "retrieval": {"orchestrator", "monitor"},
    "inference": {"orchestrator", "embedding-router", "monitor"},
    "monitor": set(),
    "redis": {"gateway", "embedding-router"},
    "qdrant": {"retrieval"},
}


@cache
def rendered(variant: str) -> tuple[dict[str, Any], ...]:
    result = subprocess.run(
        [tool("kubectl"), "kustomize", str(K8S / variant)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def of_kind(variant: str, kind: str) -> Iterator[dict[str, Any]]:
    return (doc for doc in rendered(variant) if doc["kind"] == kind)


def named(variant: str, kind: str, name: str) -> dict[str, Any]:
    [found] = [doc for doc in of_kind(variant, kind) if doc["metadata"]["name"] == name]
    return found


@pytest.mark.parametrize("variant", VARIANTS)
def test_renders_and_validates_strictly(variant: str) -> None:
    problems = []
    for doc in rendered(variant):
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            problems.append(f"{doc['kind']}/{doc['metadata']['name']}: {error.message}")
    assert problems == []


def test_strict_validation_catches_a_misspelt_field() -> None:
    deployment = json.loads(json.dumps(named("base", "Deployment", "gateway")))
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["securityContext"]["readOnlyRootFilesytem"] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("variant", VARIANTS)
def test_everything_lands_in_the_namespace(variant: str) -> None:
    spaces = {
        doc["metadata"].get("namespace") for doc in rendered(variant) if doc["kind"] != "Namespace"
    }
    assert spaces == {"ragserve"}


def test_deployment(svc: Svc) -> None:
    deployment = named("base", "Deployment", svc.dns)
    pod = deployment["spec"]["template"]["spec"]
    [container] = pod["containers"]
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports == {"grpc": svc.grpc_port, "metrics": svc.metrics_port}
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["grpc"] == {"port": svc.grpc_port}, probe
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]
    assert set(container["resources"]["requests"]) >= {"cpu", "memory"}
    assert set(container["resources"]["limits"]) >= {"cpu", "memory"}
    assert container["image"] == f"ragserve/{svc.dns}:0.1.0"
    assert {"configMapRef": {"name": next(iter(configmaps("ragserve-common")))}} in container[
        "envFrom"
    ]


def configmaps(prefix: str) -> set[str]:
    """Generated names carry a content hash."""
    return {
        doc["metadata"]["name"]
        for doc in of_kind("base", "ConfigMap")
        if doc["metadata"]["name"].startswith(prefix + "-")
    }


def test_services_headless_and_only_the_gateway_outside(svc: Svc) -> None:
    headless = named("base", "Service", f"{svc.dns}-headless")
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["selector"] == {"app.kubernetes.io/name": svc.dns}
    exposed = [
        doc["metadata"]["name"]
        for doc in of_kind("base", "Service")
        if doc["spec"].get("type") in {"LoadBalancer", "NodePort"}
    ]
    assert exposed == ["gateway"]


def test_autoscaling_and_disruption_budgets(svc: Svc) -> None:
    from ragserve.inference.metrics import PENDING_ROWS

    budget = named("base", "PodDisruptionBudget", svc.dns)
    assert budget["spec"]["selector"] == {"matchLabels": {"app.kubernetes.io/name": svc.dns}}
    if svc.module == "monitor":
        assert [
            h
            for h in of_kind("base", "HorizontalPodAutoscaler")
            if h["metadata"]["name"] == "monitor"
        ] == []
        return
    [metric] = named("base", "HorizontalPodAutoscaler", svc.dns)["spec"]["metrics"]
    if svc.module == "inference":
        # The gauge the service really exports (prometheus-adapter serves it as a pods metric).
        assert metric["pods"]["metric"]["name"] == PENDING_ROWS._name
    else:
        assert metric["resource"]["name"] == "cpu"


@pytest.mark.parametrize("variant", ["overlays/dev", "overlays/prod"])
def test_network_policies_admit_exactly_the_callers(variant: str) -> None:
    policies = list(of_kind(variant, "NetworkPolicy"))
    [deny] = [p for p in policies if p["metadata"]["name"] == "default-deny"]
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    admitted: dict[str, set[str]] = {name: set() for name in CALLERS}
    for policy in policies:
        target = policy["spec"]["podSelector"].get("matchLabels", {}).get("app.kubernetes.io/name")
        for rule in policy["spec"].get("ingress", []):
            if any(port["port"] == "metrics" for port in rule.get("ports", [])):
                continue  # scrapes: checked below
            sources = rule.get("from")
            if sources is None:
                admitted[target].add("outside")
                continue
            for source in sources:
                admitted[target].add(source["podSelector"]["matchLabels"]["app.kubernetes.io/name"])
    expected = dict(CALLERS)
    if variant == "overlays/prod":
        # External Redis and Qdrant: no pods here to admit anyone to.
        expected["redis"] = expected["qdrant"] = set()
    assert admitted == expected


def test_callees_match_the_callers() -> None:
    """Egress is the mirror image: a service may open connections only to what it calls."""
    calls: dict[str, set[str]] = {}
    for policy in of_kind("overlays/dev", "NetworkPolicy"):
        source = policy["spec"]["podSelector"].get("matchLabels", {}).get("app.kubernetes.io/name")
        for rule in policy["spec"].get("egress", []):
            for to in rule.get("to", []):
                if "podSelector" in to and "namespaceSelector" not in to:
                    callee = to["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
                    calls.setdefault(callee, set()).add(source)
    for callee, callers in CALLERS.items():
        # The gateway admits everyone; of the suite, only the monitor (its health) calls it.
        expected = {"monitor"} if callee == "gateway" else callers
        assert calls.get(callee, set()) == expected, callee


def test_metrics_ports_admit_prometheus(svc: Svc) -> None:
    policy = named("base", "NetworkPolicy", svc.dns)
    scrape = [
        rule
        for rule in policy["spec"]["ingress"]
        if rule["ports"] == [{"port": "metrics", "protocol": "TCP"}]
    ]
    assert len(scrape) == 1
    assert {
        "namespaceSelector": {},
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
    } in scrape[0]["from"]


@pytest.mark.parametrize("variant", ["overlays/dev", "overlays/prod"])
def test_stores(variant: str) -> None:
    kinds = {(doc["kind"], doc["metadata"]["name"]) for doc in rendered(variant)}
    assert {("Service", "redis"), ("Service", "qdrant")} <= kinds
    in_cluster = {("StatefulSet", "redis"), ("StatefulSet", "qdrant")} <= kinds
    assert in_cluster == (variant == "overlays/dev")


def test_config_maps_load_with_the_services_own_parsers() -> None:
    from ragserve.embedding_router.config import parse_config
    from ragserve.inference.config import parse_model_config

    for variant in ("base", "overlays/prod"):
        for doc in of_kind(variant, "ConfigMap"):
            name = doc["metadata"]["name"]
            if name.startswith("embedding-router-providers-"):
                config = parse_config(json.loads(doc["data"]["providers.json"]))
                assert [p.kind.value for p in config.providers] == ["inference"]
            if name.startswith("inference-model-config-"):
                model = parse_model_config(
                    json.loads(doc["data"]["all-minilm-l6-v2.json"]), "all-minilm-l6-v2"
                )
                assert model.name == "all-minilm-l6-v2"


def test_prod_runs_inference_on_gpus() -> None:
    pod = named("overlays/prod", "Deployment", "inference")["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert container["image"] == "ragserve/inference-cuda:0.1.0"
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"


def test_secrets_are_referenced_not_committed_for_prod() -> None:
    assert list(of_kind("overlays/prod", "Secret")) == []
    assert {s["metadata"]["name"].rsplit("-", 1)[0] for s in of_kind("overlays/dev", "Secret")} == {
        "ragserve-gateway",
        "ragserve-qdrant",
        "ragserve-provider-keys",
    }


def test_every_service_is_deployed() -> None:
    assert {d["metadata"]["name"] for d in of_kind("base", "Deployment")} == {
        s.dns for s in SERVICES
    }


def test_monitor_reaches_every_health_and_metrics_port() -> None:
    egress = named("base", "NetworkPolicy", "monitor")["spec"]["egress"]
    reached = {
        rule["to"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"]: {
            port["port"] for port in rule["ports"]
        }
        for rule in egress
    }
    assert reached == {s.dns: {"grpc", "metrics"} for s in SERVICES if s.module != "monitor"}
