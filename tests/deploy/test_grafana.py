"""deploy/grafana: provisioning that points at the dashboards, and dashboards Grafana can
load — valid JSON, unique uids and panel ids, every query on the provisioned data source.
(Their metric names are checked against live services in test_metric_names.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from deploy_suite import DEPLOY

GRAFANA = DEPLOY / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
EXPECTED = {"suite-overview", "service-red", "inference", "router", "retrieval", "slo-burn"}


def datasource_uid() -> str:
    provisioned = yaml.safe_load(
        (GRAFANA / "provisioning" / "datasources" / "prometheus.yaml").read_text()
    )
    [source] = provisioned["datasources"]
    assert source["type"] == "prometheus"
    uid: str = source["uid"]
    return uid


def test_the_six_dashboards() -> None:
    assert {p.stem for p in DASHBOARDS} == EXPECTED
    uids = [json.loads(p.read_text())["uid"] for p in DASHBOARDS]
    assert len(set(uids)) == len(uids)


@pytest.mark.parametrize("path", DASHBOARDS, ids=[p.stem for p in DASHBOARDS])
def test_dashboard_loads(path: Path) -> None:
    board = json.loads(path.read_text())
    assert board["title"].startswith("ragserve / ")
    ids = [panel["id"] for panel in board["panels"]]
    assert len(set(ids)) == len(ids)
    uid = datasource_uid()
    queries = [panel for panel in board["panels"] if panel["type"] != "row"]
    assert queries
    for panel in queries:
        assert panel["datasource"] == {"type": "prometheus", "uid": uid}, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["expr"].strip(), panel["title"]
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]
    for variable in board["templating"]["list"]:
        assert variable["datasource"]["uid"] == uid


def test_dashboards_provider_reads_the_mounted_folder() -> None:
    provider = yaml.safe_load(
        (GRAFANA / "provisioning" / "dashboards" / "ragserve.yaml").read_text()
    )
    [entry] = provider["providers"]
    compose = yaml.safe_load((DEPLOY / "compose" / "compose.yaml").read_text())
    mounts = compose["services"]["grafana"]["volumes"]
    assert f"../grafana/dashboards:{entry['options']['path']}:ro" in mounts
