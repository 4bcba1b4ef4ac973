"""The core in-process: scrapes in (as exposition text), figures, verdicts, alerts and
status versions out. No servers: the scrape function returns what a /metrics page would."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragserve.api.monitor.v1 import monitor_pb2 as pb
from ragserve.monitor.core import MonitorCore
from ragserve.monitor.model import State
from ragserve.monitor.service import MonitorService
from ragserve.monitor.servicer import suite_proto
from ragserve.monitor.settings import MonitorSettings
from ragserve.monitor.targets import Target, parse_targets
from ragserve.runtime.settings import SettingsError, load_settings
from ragserve.slo.spec import parse_spec

SPEC = parse_spec(
    """
windows:
  - {long: 10s, short: 2s, burn_rate: 10, severity: page}
slos:
  - {name: retrieval-errors, description: d, service: retrieval, kind: error_ratio,
     grpc_service: svc.Retrieval, objective: 0.99}
"""
)
TARGETS = parse_targets("retrieval=r:1/2,embedding_router=e:1/2")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def page(ok: float, failed: float) -> str:
    rpc = 'grpc_service="svc.Retrieval",grpc_method="Search"'
    return (
        "# TYPE grpc_server_handled_total counter\n"
        f'grpc_server_handled_total{{{rpc},grpc_code="OK"}} {ok}\n'
        f'grpc_server_handled_total{{{rpc},grpc_code="INTERNAL"}} {failed}\n'
        "# TYPE grpc_server_handling_seconds histogram\n"
        f'grpc_server_handling_seconds_bucket{{{rpc},le="0.01"}} {ok + failed}\n'
        f'grpc_server_handling_seconds_bucket{{{rpc},le="+Inf"}} {ok + failed}\n'
        f"grpc_server_handling_seconds_count{{{rpc}}} {ok + failed}\n"
        f"grpc_server_handling_seconds_sum{{{rpc}}} 0.1\n"
    )


async def test_rounds_compute_figures_fire_and_resolve() -> None:
    clock = Clock()
    core = MonitorCore(TARGETS, SPEC, figures_window_s=5, clock=clock)
    counters = {"ok": 0.0, "failed": 0.0}

    async def scrape(target: Target) -> str | None:
        return page(counters["ok"], counters["failed"]) if target.service == "retrieval" else None

    fired_at = None
    for second in range(30):
        clock.now = 1000.0 + second
        counters["ok"] += 10
        if 10 <= second < 15:
            counters["failed"] += 10
        await core.evaluate_round(scrape)
        firing = core.alerts.firing()
        if firing and fired_at is None:
            fired_at = second
    assert fired_at is not None and 10 <= fired_at <= 12
    assert core.alerts.firing() == []  # resolved once the short window was clean
    [resolved] = core.alerts.listed(include_resolved=True)
    assert resolved.name == "SLOErrorBudgetBurn" and resolved.labels["slo"] == "retrieval-errors"
    retrieval = next(s for s in core.view().services if s.service == "retrieval")
    assert retrieval.figures.requests_per_second == pytest.approx(10.0)
    assert retrieval.figures.error_ratio == 0.0
    assert retrieval.figures.p95_latency_seconds == pytest.approx(0.0095)


async def nothing(target: Target) -> str | None:
    return None


async def test_only_state_changes_bump_the_version() -> None:
    core = MonitorCore(TARGETS, SPEC, figures_window_s=5)
    await core.evaluate_round(nothing)  # the first verdicts are a change
    start = core.view().version
    core.set_replica("r:1", State.SERVING)
    assert core.view().version == start + 1
    core.set_replica("r:1", State.SERVING)
    assert core.view().version == start + 1
    await core.evaluate_round(nothing)  # same verdicts, new figures: no change
    assert core.view().version == start + 1
    waiter = core.next_view(start + 1)
    core.set_dependency("redis", State.UNREACHABLE, "down")
    view = await waiter
    assert view.version == start + 2


async def test_the_proto_carries_replicas_capabilities_and_unset_figures() -> None:
    core = MonitorCore(TARGETS, SPEC, figures_window_s=5)
    await core.evaluate_round(nothing)
    core.set_replica("r:1", State.SERVING)
    core.set_replica("e:1", State.UNREACHABLE, "UNAVAILABLE: connection refused")
    status = suite_proto(core.view(), SPEC.period_seconds)
    router = next(s for s in status.services if s.service == "embedding_router")
    assert router.state == pb.SERVING_STATE_UNREACHABLE
    assert router.replicas[0].detail == "UNAVAILABLE: connection refused"
    assert not router.figures.HasField("p95_latency_seconds")
    assert not router.figures.HasField("error_ratio")
    embed = next(c for c in status.capabilities if c.capability == "embed")
    assert list(embed.reasons) == ["embedding_router unreachable"]
    assert status.overall == pb.SERVING_STATE_NOT_SERVING
    assert [d.name for d in status.dependencies] == ["qdrant"]
    [slo] = status.slos
    assert (slo.period.seconds, slo.unit, slo.met) == (30 * 86400, "ratio", True)
    assert not slo.windows[0].HasField("long_burn_rate")
    assert not slo.HasField("error_budget_remaining")


def test_a_bad_slo_spec_stops_start_up_naming_the_variable(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    settings = load_settings(
        MonitorSettings, "monitor", {"RAGSERVE_MONITOR_SLO_SPEC": str(missing)}
    )
    with pytest.raises(SettingsError, match=f"RAGSERVE_MONITOR_SLO_SPEC: cannot read {missing}"):
        MonitorService(settings)
    bad = tmp_path / "bad.yaml"
    bad.write_text("windows: []\nslos: []\n")
    settings = load_settings(MonitorSettings, "monitor", {"RAGSERVE_MONITOR_SLO_SPEC": str(bad)})
    with pytest.raises(SettingsError, match="at least one burn-rate window is needed"):
        MonitorService(settings)


async def test_a_malformed_page_costs_only_its_replica() -> None:
    targets = parse_targets("retrieval=a:1/2,retrieval=b:1/2")
    core = MonitorCore(targets, SPEC, figures_window_s=5)
    clock_values = iter(range(10))

    async def scrape(target: Target) -> str | None:
        if target.address == "a:1":
            return "grpc_server_handled_total{ this is not exposition"
        return page(float(next(clock_values)) * 10, 0)

    for _ in range(3):
        await core.evaluate_round(scrape)
    retrieval = next(s for s in core.view().services if s.service == "retrieval")
    assert retrieval.figures.error_ratio == 0.0


def test_discovered_replicas_come_and_go() -> None:
    [template] = parse_targets("retrieval=dns+retrieval-headless:50054/9154")
    core = MonitorCore([template], SPEC, figures_window_s=5)
    view = core.view()
    [retrieval] = view.services
    assert retrieval.replicas == () and retrieval.state is State.UNREACHABLE
    added, removed = core.set_discovered(
        template, [template.replica("10.0.0.1"), template.replica("10.0.0.2")]
    )
    assert [t.address for t in added] == ["10.0.0.1:50054", "10.0.0.2:50054"] and removed == []
    core.set_replica("10.0.0.1:50054", State.SERVING)
    core.set_replica("10.0.0.2:50054", State.SERVING)
    assert core.view().services[0].state is State.SERVING
    added, removed = core.set_discovered(template, [template.replica("10.0.0.2")])
    assert added == [] and [t.address for t in removed] == ["10.0.0.1:50054"]
    core.set_replica("10.0.0.1:50054", State.UNREACHABLE)  # the dropped watcher's last word
    [retrieval] = core.view().services
    assert [r.address for r in retrieval.replicas] == ["10.0.0.2:50054"]
    assert retrieval.state is State.SERVING
    assert core.set_discovered(template, [template.replica("10.0.0.2")]) == ([], [])
