"""MonitorService over gRPC: converts the core's views and alerts to protos."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp

from ragserve.api.monitor.v1 import monitor_pb2 as pb
from ragserve.api.monitor.v1 import monitor_pb2_grpc
from ragserve.monitor.core import MonitorCore
from ragserve.monitor.model import Alert, State, SuiteView
from ragserve.slo.evaluate import SloVerdict

_STATE = {
    State.SERVING: pb.SERVING_STATE_SERVING,
    State.NOT_SERVING: pb.SERVING_STATE_NOT_SERVING,
    State.UNREACHABLE: pb.SERVING_STATE_UNREACHABLE,
    State.DEGRADED: pb.SERVING_STATE_DEGRADED,
    State.UNKNOWN: pb.SERVING_STATE_UNKNOWN,
}
_SEVERITY = {
    "info": pb.SEVERITY_INFO,
    "warning": pb.SEVERITY_WARNING,
    "critical": pb.SEVERITY_CRITICAL,
}


def _timestamp(seconds: float) -> Timestamp:
    stamp = Timestamp()
    stamp.FromNanoseconds(int(seconds * 1e9))
    return stamp


def _duration(seconds: float) -> Duration:
    duration = Duration()
    duration.FromNanoseconds(int(seconds * 1e9))
    return duration


def slo_proto(verdict: SloVerdict, period_s: int) -> pb.SloStatus:
    slo = verdict.slo
    status = pb.SloStatus(
        name=slo.name,
        description=slo.description,
        service=slo.service,
        grpc_service=slo.grpc_service,
        methods=list(slo.methods),
        kind=slo.kind,
        unit=slo.unit,
        threshold=slo.threshold_seconds or 0.0,
        objective=slo.objective,
        period=_duration(period_s),
        met=verdict.met,
    )
    if verdict.error_budget_remaining is not None:
        status.error_budget_remaining = verdict.error_budget_remaining
    for window in verdict.windows:
        entry = status.windows.add(
            long_window=_duration(window.window.long_seconds),
            short_window=_duration(window.window.short_seconds),
            burn_rate_threshold=window.window.burn_rate,
            severity=window.window.severity,
            firing=window.firing,
        )
        if window.long_burn_rate is not None:
            entry.long_burn_rate = window.long_burn_rate
        if window.short_burn_rate is not None:
            entry.short_burn_rate = window.short_burn_rate
    return status


def suite_proto(view: SuiteView, period_s: int) -> pb.SuiteStatus:
    status = pb.SuiteStatus(overall=_STATE[view.overall], updated_at=_timestamp(view.updated_at))
    for capability in view.capabilities:
        status.capabilities.add(
            capability=capability.capability,
            state=_STATE[capability.state],
            reasons=list(capability.reasons),
        )
    for service in view.services:
        entry = status.services.add(service=service.service, state=_STATE[service.state])
        for replica in service.replicas:
            entry.replicas.add(
                address=replica.address,
                state=_STATE[replica.state],
                since=_timestamp(replica.since),
                detail=replica.detail,
            )
        figures = service.figures
        entry.figures.requests_per_second = figures.requests_per_second
        entry.figures.window.CopyFrom(_duration(figures.window_s))
        if figures.p95_latency_seconds is not None:
            entry.figures.p95_latency_seconds = figures.p95_latency_seconds
        if figures.error_ratio is not None:
            entry.figures.error_ratio = figures.error_ratio
    for dependency in view.dependencies:
        status.dependencies.add(
            name=dependency.name,
            state=_STATE[dependency.state],
            detail=dependency.detail,
            since=_timestamp(dependency.since),
        )
    status.slos.extend(slo_proto(v, period_s) for v in view.slos)
    return status


def alert_proto(alert: Alert) -> pb.Alert:
    message = pb.Alert(
        id=alert.id,
        name=alert.name,
        severity=_SEVERITY.get(alert.severity, pb.SEVERITY_UNSPECIFIED),
        state=pb.ALERT_STATE_FIRING if alert.firing else pb.ALERT_STATE_RESOLVED,
        summary=alert.summary,
        value=alert.value,
        threshold=alert.threshold,
        runbook_url=alert.runbook_url,
        started_at=_timestamp(alert.started_at),
        labels=dict(alert.labels),
    )
    if alert.resolved_at is not None:
        message.resolved_at.CopyFrom(_timestamp(alert.resolved_at))
    return message


class MonitorServicer(monitor_pb2_grpc.MonitorServiceServicer):
    def __init__(self, core: MonitorCore) -> None:
        self._core = core
        self._period = core.spec.period_seconds

    async def GetStatus(self, request: pb.GetStatusRequest, context: Any) -> pb.GetStatusResponse:
        return pb.GetStatusResponse(status=suite_proto(self._core.view(), self._period))

    async def WatchStatus(
        self, request: pb.WatchStatusRequest, context: Any
    ) -> AsyncIterator[pb.WatchStatusResponse]:
        view = self._core.view()
        while True:
            yield pb.WatchStatusResponse(status=suite_proto(view, self._period))
            view = await self._core.next_view(view.version)

    async def ListAlerts(
        self, request: pb.ListAlertsRequest, context: Any
    ) -> pb.ListAlertsResponse:
        alerts = self._core.alerts.listed(request.include_resolved)
        return pb.ListAlertsResponse(alerts=[alert_proto(a) for a in alerts])

    async def WatchAlerts(
        self, request: pb.WatchAlertsRequest, context: Any
    ) -> AsyncIterator[pb.WatchAlertsResponse]:
        firing, queue = self._core.alerts.subscribe()
        try:
            yield pb.WatchAlertsResponse(
                snapshot=pb.AlertSnapshot(firing=[alert_proto(a) for a in firing])
            )
            while True:
                yield pb.WatchAlertsResponse(alert=alert_proto(await queue.get()))
        finally:
            self._core.alerts.unsubscribe(queue)


def register(server: grpc.aio.Server, servicer: MonitorServicer) -> list[str]:
    monitor_pb2_grpc.add_MonitorServiceServicer_to_server(servicer, server)
    return [pb.DESCRIPTOR.services_by_name["MonitorService"].full_name]
