"""The generated rules under promtool: they load, the hand-written cases pass, and on the
same samples Prometheus's verdicts equal the monitor's evaluator's (one source of truth).

promtool comes from Debian's ``prometheus`` package (``make test`` installs it).
"""

from __future__ import annotations

import random
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from ragserve.slo.evaluate import StoreRatios, evaluate
from ragserve.slo.rules import ALERT_NAME, alert_rules, render
from ragserve.slo.samples import SampleStore
from ragserve.slo.spec import Slo, SloSpec, parse_spec

ROOT = Path(__file__).resolve().parents[3]
RULES = ROOT / "deploy" / "prometheus" / "rules" / "slo.rules.yml"

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool missing: apt-get install prometheus (make test does)"
)

SHORT_SPEC = parse_spec(
    """
windows:
  - {long: 10m, short: 2m, burn_rate: 14.4, severity: page}
  - {long: 30m, short: 5m, burn_rate: 6, severity: page}
  - {long: 60m, short: 10m, burn_rate: 2, severity: ticket}
slos:
  - {name: search-errors, description: d, service: retrieval, kind: error_ratio,
     grpc_service: svc.Retrieval, methods: [Search], objective: 0.99}
  - {name: search-latency, description: d, service: retrieval, kind: latency,
     histogram: search_seconds, threshold_seconds: 0.1, objective: 0.95}
"""
)


def test_committed_rules_are_generated_from_the_spec() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_slo_rules.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


@needs_promtool
def test_promtool_checks_the_generated_rules() -> None:
    result = subprocess.run(
        [str(PROMTOOL), "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 80 rules found" in result.stdout


@needs_promtool
def test_hand_written_rule_cases_pass() -> None:
    tests = ROOT / "deploy" / "prometheus" / "tests" / "slo.test.yml"
    result = subprocess.run(
        [str(PROMTOOL), "test", "rules", str(tests)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


MINUTES = 90


def _profiles(seed: int) -> tuple[list[float], list[float], list[float]]:
    """Per minute: good calls, server errors, searches slower than 0.1 s (bursts)."""
    rng = random.Random(seed)
    calls, errors, slow = [], [], []
    for minute in range(MINUTES):
        burst = (20 <= minute < 32) or (55 <= minute < 58) or (70 <= minute < 90 and seed % 2 == 0)
        n = 100 + rng.randrange(50)
        calls.append(n)
        errors.append(float(rng.randrange(30, 60)) if burst else float(rng.randrange(0, 2)))
        slow.append(float(rng.randrange(20, 50)) if burst else float(rng.randrange(0, 6)))
    return calls, errors, slow


def _cumulative(per_minute: list[float]) -> list[float]:
    total, out = 0.0, [0.0]
    for value in per_minute:
        total += value
        out.append(total)
    return out


Series = list[tuple[str, dict[str, str], list[float]]]


def _series(calls: list[float], errors: list[float], slow: list[float]) -> Series:
    rpc = {"grpc_service": "svc.Retrieval", "grpc_method": "Search"}
    good = [c - e for c, e in zip(calls, errors, strict=True)]
    fast = [c - s for c, s in zip(calls, slow, strict=True)]
    return [
        ("grpc_server_handled_total", {**rpc, "grpc_code": "OK"}, _cumulative(good)),
        ("grpc_server_handled_total", {**rpc, "grpc_code": "UNAVAILABLE"}, _cumulative(errors)),
        ("search_seconds_bucket", {"le": "0.1"}, _cumulative(fast)),
        ("search_seconds_bucket", {"le": "+Inf"}, _cumulative(calls)),
        ("search_seconds_count", {}, _cumulative(calls)),
    ]


def _annotations(spec: SloSpec, slo: Slo) -> dict[str, dict[str, str]]:
    return {rule["labels"]["severity"]: rule["annotations"] for rule in alert_rules(spec, slo)}


def _expected(spec: SloSpec, store: SampleStore, at: float) -> list[dict[str, Any]]:
    alerts = []
    for slo in spec.slos:
        verdict = evaluate(spec, slo, StoreRatios(spec, store, now=at))
        annotations = _annotations(spec, slo)
        for alert in verdict.alerts:
            if alert.firing:
                alerts.append(
                    {
                        "exp_labels": {
                            "slo": slo.name,
                            "service": slo.service,
                            "severity": alert.severity,
                        },
                        "exp_annotations": annotations[alert.severity],
                    }
                )
    return alerts


@needs_promtool
@pytest.mark.parametrize("seed", [1, 2])
def test_prometheus_and_the_evaluator_agree_on_the_same_samples(tmp_path: Path, seed: int) -> None:
    spec = SHORT_SPEC
    series = _series(*_profiles(seed))
    store = SampleStore(retention_s=4 * 3600)
    for minute in range(MINUTES + 1):
        store.add(
            "replica",
            minute * 60.0,
            [(name, labels, values[minute]) for name, labels, values in series],
        )
    cases = []
    fired = resolved = 0
    previous: set[str] = set()
    for minute in range(5, MINUTES + 1, 5):
        expected = _expected(spec, store, minute * 60.0)
        now = {f"{a['exp_labels']['slo']}/{a['exp_labels']['severity']}" for a in expected}
        fired += len(now - previous)
        resolved += len(previous - now)
        previous = now
        cases.append({"eval_time": f"{minute}m", "alertname": ALERT_NAME, "exp_alerts": expected})
    # The scenario exercises both directions, or it proves little.
    assert fired >= 2 and resolved >= 1, (fired, resolved)
    rules = tmp_path / "rules.yml"
    rules.write_text(render(spec), encoding="utf-8")

    def labels_text(name: str, labels: dict[str, str]) -> str:
        return name + "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"

    test_file = {
        "rule_files": [str(rules)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {
                        "series": labels_text(name, labels),
                        "values": " ".join(repr(v) for v in values),
                    }
                    for name, labels, values in series
                ],
                "alert_rule_test": cases,
            }
        ],
    }
    test_path = tmp_path / "agreement.test.yml"
    test_path.write_text(yaml.safe_dump(test_file, width=10_000), encoding="utf-8")
    result = subprocess.run(
        [str(PROMTOOL), "test", "rules", str(test_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
