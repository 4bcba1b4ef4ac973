"""Prometheus rules from the SLO spec: recording rules per window, burn-rate alerts.

As Sloth and Pyrra do: one recording rule per SLO and window
(``ragserve_slo:error_ratio:rate<window>``), and per SLO one alert per severity that
fires when any of that severity's window pairs burns faster than its threshold on both
its long and its short window (Google SRE workbook, multiwindow multi-burn-rate).
"""

from __future__ import annotations

from typing import Any

import yaml

from ragserve.slo import promql
from ragserve.slo.spec import Slo, SloSpec

RECORD_PREFIX = "ragserve_slo:error_ratio:rate"
ALERT_NAME = "SLOErrorBudgetBurn"
SEVERITY_LABEL = {"page": "critical", "ticket": "warning"}

HEADER = (
    "# Generated from deploy/slo/slos.yaml by scripts/gen_slo_rules.py; do not edit.\n"
    "# Recording rules per SLO and window, multiwindow multi-burn-rate alerts per severity.\n"
)


def summary(slo: Slo, severity: str) -> str:
    """The alert's summary; ``severity`` is the spec's word (page, ticket) or its label."""
    word = {label: name for name, label in SEVERITY_LABEL.items()}.get(severity, severity)
    return f"{slo.name}: error budget burning too fast ({word})"


def record_name(window: str) -> str:
    return f"{RECORD_PREFIX}{window}"


def slo_labels(slo: Slo) -> dict[str, str]:
    return {"slo": slo.name, "service": slo.service}


def _selector(slo: Slo) -> str:
    return f'{{slo="{slo.name}"}}'


def recording_rules(spec: SloSpec, slo: Slo) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = [
        {
            "record": record_name(window),
            "expr": promql.error_ratio(spec, slo, window),
            "labels": slo_labels(slo),
        }
        for window in spec.all_windows()
    ]
    rules.append(
        {
            "record": "ragserve_slo:objective:ratio",
            "expr": f"vector({promql.number(slo.objective)})",
            "labels": slo_labels(slo),
        }
    )
    return rules


def alert_rules(spec: SloSpec, slo: Slo) -> list[dict[str, Any]]:
    rules = []
    for severity in ("page", "ticket"):
        windows = [w for w in spec.windows if w.severity == severity]
        if not windows:
            continue
        clauses = []
        for window in windows:
            threshold = promql.number(promql.ratio_threshold(slo, window.burn_rate))
            clauses.append(
                f"(\n  {record_name(window.long)}{_selector(slo)} > {threshold}\n"
                f"  and\n  {record_name(window.short)}{_selector(slo)} > {threshold}\n)"
            )
        longest = max(windows, key=lambda w: w.long_seconds)
        rules.append(
            {
                "alert": ALERT_NAME,
                # `or` keeps the left side's labels: the value is the long window's ratio.
                "expr": "\nor\n".join(clauses),
                "labels": {**slo_labels(slo), "severity": SEVERITY_LABEL[severity]},
                "annotations": {
                    "summary": summary(slo, severity),
                    "description": (
                        f"{slo.description} Objective {slo.objective:g}; the bad-event "
                        f"ratio (the alert's value) exceeds the burn-rate threshold on a "
                        f"long and a short window (windows up to {longest.long})."
                    ),
                    "runbook_url": spec.runbook_for(slo),
                },
            }
        )
    return rules


def rules_document(spec: SloSpec) -> dict[str, Any]:
    # One group per SLO, records first: rules in a group run in order, so the alerts
    # read this evaluation's ratios, not the previous one's.
    groups = [
        {"name": f"slo-{slo.name}", "rules": [*recording_rules(spec, slo), *alert_rules(spec, slo)]}
        for slo in spec.slos
    ]
    return {"groups": groups}


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def render(spec: SloSpec) -> str:
    """The rules file's text (stable for one spec, so a staleness test can compare it)."""
    body = yaml.dump(rules_document(spec), Dumper=_Dumper, sort_keys=False, width=1000)
    return HEADER + body
