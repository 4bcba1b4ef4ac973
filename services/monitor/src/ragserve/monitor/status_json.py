"""The status page's JSON (``/api/status``): the view and the firing alerts, plain types."""

from __future__ import annotations

from typing import Any

from ragserve.monitor.model import Alert, SuiteView


def alert_json(alert: Alert) -> dict[str, Any]:
    return {
        "id": alert.id,
        "name": alert.name,
        "severity": alert.severity,
        "firing": alert.firing,
        "summary": alert.summary,
        "value": alert.value,
        "threshold": alert.threshold,
        "runbook_url": alert.runbook_url,
        "started_at": alert.started_at,
        "resolved_at": alert.resolved_at,
        "labels": dict(alert.labels),
    }


def suite_json(view: SuiteView, firing: list[Alert]) -> dict[str, Any]:
    return {
        "overall": view.overall.value,
        "updated_at": view.updated_at,
        "version": view.version,
        "capabilities": [
            {"capability": c.capability, "state": c.state.value, "reasons": list(c.reasons)}
            for c in view.capabilities
        ],
        "services": [
            {
                "service": s.service,
                "state": s.state.value,
                "replicas": [
                    {
                        "address": r.address,
                        "state": r.state.value,
                        "since": r.since,
                        "detail": r.detail,
                    }
                    for r in s.replicas
                ],
                "figures": {
                    "p95_latency_seconds": s.figures.p95_latency_seconds,
                    "error_ratio": s.figures.error_ratio,
                    "requests_per_second": s.figures.requests_per_second,
                    "window_s": s.figures.window_s,
                },
            }
            for s in view.services
        ],
        "dependencies": [
            {"name": d.name, "state": d.state.value, "detail": d.detail, "since": d.since}
            for d in view.dependencies
        ],
        "slos": [
            {
                "name": v.slo.name,
                "service": v.slo.service,
                "kind": v.slo.kind,
                "objective": v.slo.objective,
                "met": v.met,
                "error_budget_remaining": v.error_budget_remaining,
                "windows": [
                    {
                        "long": w.window.long,
                        "short": w.window.short,
                        "long_burn_rate": w.long_burn_rate,
                        "short_burn_rate": w.short_burn_rate,
                        "burn_rate_threshold": w.window.burn_rate,
                        "firing": w.firing,
                    }
                    for w in v.windows
                ],
            }
            for v in view.slos
        ],
        "alerts": [alert_json(a) for a in firing],
    }
