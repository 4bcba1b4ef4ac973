"""deploy/prometheus under promtool (Debian's prometheus package; `make test` installs it
when missing): both scrape configs load with their rule files, every rule file checks, and
every rule unit test passes — each alert firing and staying silent on its own samples."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from deploy_suite import DEPLOY, SERVICES, tool

PROMETHEUS = DEPLOY / "prometheus"


def promtool(*args: str) -> None:
    result = subprocess.run(
        [tool("promtool"), *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=PROMETHEUS,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("config", ["prometheus.yml", "prometheus-k8s.yml"])
def test_config_loads_with_its_rules(config: str) -> None:
    promtool("check", "config", config)


def test_rules_check() -> None:
    files = sorted(
        str(p.relative_to(PROMETHEUS)) for p in (PROMETHEUS / "rules").glob("*.rules.yml")
    )
    assert "rules/alerts.rules.yml" in files
    promtool("check", "rules", *files)


def test_alert_rule_unit_tests_pass() -> None:
    # slo.test.yml (the generated SLO rules) is run by libs/slo's tests, not again here.
    promtool("test", "rules", "tests/alerts.test.yml")


def test_every_alert_has_a_firing_test() -> None:
    rules = yaml.safe_load((PROMETHEUS / "rules" / "alerts.rules.yml").read_text())
    alerts = {r["alert"] for group in rules["groups"] for r in group["rules"] if "alert" in r}
    tests = yaml.safe_load((PROMETHEUS / "tests" / "alerts.test.yml").read_text())
    fired = {
        case["alertname"]
        for test in tests["tests"]
        for case in test.get("alert_rule_test", [])
        if case["exp_alerts"]
    }
    silent = {
        case["alertname"]
        for test in tests["tests"]
        for case in test.get("alert_rule_test", [])
        if not case["exp_alerts"]
    }
    assert fired == alerts
    assert silent == alerts


def test_every_alert_has_a_runbook_entry() -> None:
    readme = (DEPLOY / "README.md").read_text().lower()
    rules = yaml.safe_load((PROMETHEUS / "rules" / "alerts.rules.yml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            anchor = rule["annotations"]["runbook_url"].split("#", 1)[1]
            assert f"### {anchor}" in readme, anchor


def test_kubernetes_config_scrapes_every_headless_service() -> None:
    config = yaml.safe_load(Path(PROMETHEUS / "prometheus-k8s.yml").read_text())
    names = {
        (sd["names"][0], sd["port"])
        for job in config["scrape_configs"]
        for sd in job["dns_sd_configs"]
    }
    assert names == {
        (f"{s.dns}-headless.ragserve.svc.cluster.local", s.metrics_port) for s in SERVICES
    }
