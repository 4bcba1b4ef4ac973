"""The shared server stack on a real gRPC server: error table, rich details,
RED metrics, health, reflection and deadline propagation."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from opentelemetry import trace
from prometheus_client import REGISTRY

from ragserve import errors
from ragserve.api.monitor.v1 import monitor_pb2, monitor_pb2_grpc
from ragserve.runtime import deadlines
from ragserve.runtime.channels import create_channel
from ragserve.runtime.errors import decode_details
from ragserve.runtime.logs import configure_logging, stop_logging
from ragserve.runtime.server import Health, RunningServer, create_server, run_until_stopped
from ragserve.runtime.settings import ServerSettings

SETTINGS = ServerSettings(port=0, metrics_port=0, host="127.0.0.1", grace_period_s=1)
SERVICE = "ragserve.api.monitor.v1.MonitorService"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


class ScriptedMonitor(monitor_pb2_grpc.MonitorServiceServicer):
    """Raises whatever the test put in ``raise_next``; records the deadline it saw."""

    def __init__(self) -> None:
        self.raise_next: BaseException | None = None
        self.raise_first: list[BaseException] = []
        self.calls = 0
        self.seen_remaining: float | None = None
        self.downstream: str | None = None
        self.seen_trace_id = ""

    async def GetStatus(self, request: Any, context: Any) -> Any:
        self.calls += 1
        self.seen_remaining = deadlines.remaining()
        span_context = trace.get_current_span().get_span_context()
        self.seen_trace_id = format(span_context.trace_id, "032x") if span_context.is_valid else ""
        if self.raise_first:
            raise self.raise_first.pop(0)
        if self.raise_next is not None:
            raise self.raise_next
        if self.downstream is not None:
            async with create_channel(self.downstream) as channel:
                await monitor_pb2_grpc.MonitorServiceStub(channel).GetStatus(
                    monitor_pb2.GetStatusRequest()
                )
        return monitor_pb2.GetStatusResponse()

    async def WatchStatus(self, request: Any, context: Any) -> AsyncIterator[Any]:
        yield monitor_pb2.WatchStatusResponse()
        raise errors.Unavailable("status source went away")

    async def WatchAlerts(self, request: Any, context: Any) -> AsyncIterator[Any]:
        # An endless stream: the client decides when it ends.
        while True:
            yield monitor_pb2.WatchAlertsResponse()
            await asyncio.sleep(0)


class MonitorApp:
    def __init__(self) -> None:
        self.servicer = ScriptedMonitor()

    def register(self, server: grpc.aio.Server) -> Sequence[str]:
        monitor_pb2_grpc.add_MonitorServiceServicer_to_server(self.servicer, server)
        return [SERVICE]

    async def start(self, health: Health) -> None:
        await health.set_serving(True)

    async def stop(self) -> None:
        return None


@pytest.fixture
async def running() -> AsyncIterator[tuple[RunningServer, MonitorApp]]:
    app = MonitorApp()
    server = await create_server(app, SETTINGS)
    await server.server.start()
    try:
        yield server, app
    finally:
        await server.server.stop(0)


def stub(server: RunningServer) -> tuple[grpc.aio.Channel, Any]:
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{server.port}")
    return channel, monitor_pb2_grpc.MonitorServiceStub(channel)


@pytest.mark.parametrize(
    ("error", "code", "message"),
    [
        (
            errors.InvalidArgument("texts[3]", "is empty"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "texts[3]: is empty",
        ),
        (errors.NotFound("model 'x' not found"), grpc.StatusCode.NOT_FOUND, "model 'x' not found"),
        (errors.AlreadyExists("exists"), grpc.StatusCode.ALREADY_EXISTS, "exists"),
        (errors.FailedPrecondition("not ready"), grpc.StatusCode.FAILED_PRECONDITION, "not ready"),
        (errors.Unavailable("redis down"), grpc.StatusCode.UNAVAILABLE, "redis down"),
        (errors.DeadlineExceeded("late"), grpc.StatusCode.DEADLINE_EXCEEDED, "late"),
        (errors.Cancelled("gone"), grpc.StatusCode.CANCELLED, "gone"),
        (errors.Unauthenticated("no key"), grpc.StatusCode.UNAUTHENTICATED, "no key"),
        (errors.PermissionDenied("not yours"), grpc.StatusCode.PERMISSION_DENIED, "not yours"),
    ],
)
async def test_domain_errors_map_to_their_status(
    running: tuple[RunningServer, MonitorApp], error: Exception, code: grpc.StatusCode, message: str
) -> None:
    server, app = running
    app.servicer.raise_next = error
    channel, client = stub(server)
    async with channel:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await client.GetStatus(monitor_pb2.GetStatusRequest())
    assert raised.value.code() == code
    assert raised.value.details() == message


async def test_rich_details_name_the_field_and_the_retry_delay(
    running: tuple[RunningServer, MonitorApp],
) -> None:
    server, app = running
    channel, client = stub(server)
    async with channel:
        app.servicer.raise_next = errors.InvalidArgument(
            "inputs[0].shape", "expected [-1], got [2, 2]"
        )
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await client.GetStatus(monitor_pb2.GetStatusRequest())
        status = decode_details(raised.value.trailing_metadata())
        assert status is not None
        bad_request = error_details_pb2.BadRequest()
        assert status.details[0].Unpack(bad_request)
        assert bad_request.field_violations[0].field == "inputs[0].shape"

        app.servicer.raise_next = errors.ResourceExhausted(
            "queue full (64 rows)", retry_after_s=0.25
        )
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await client.GetStatus(monitor_pb2.GetStatusRequest())
        assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        metadata = dict(raised.value.trailing_metadata() or ())
        assert metadata["retry-after-ms"] == "250"
        status = decode_details(raised.value.trailing_metadata())
        assert status is not None
        retry = error_details_pb2.RetryInfo()
        assert status.details[0].Unpack(retry)
        assert retry.retry_delay.ToMilliseconds() == 250


async def test_unexpected_exceptions_are_internal_with_a_trace_hint(
    running: tuple[RunningServer, MonitorApp],
) -> None:
    server, app = running
    app.servicer.raise_next = KeyError("boom")
    channel, client = stub(server)
    async with channel:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await client.GetStatus(monitor_pb2.GetStatusRequest())
    assert raised.value.code() == grpc.StatusCode.INTERNAL
    assert raised.value.details().startswith("internal error (KeyError); trace id ")


async def test_errors_after_stream_messages_keep_the_messages(
    running: tuple[RunningServer, MonitorApp],
) -> None:
    server, _ = running
    channel, client = stub(server)
    received = []
    async with channel:
        call = client.WatchStatus(monitor_pb2.WatchStatusRequest())
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            async for message in call:
                received.append(message)
    assert len(received) == 1
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    assert raised.value.details() == "status source went away"


def handled(code: str) -> float:
    value = REGISTRY.get_sample_value(
        "grpc_server_handled_total",
        {"grpc_service": SERVICE, "grpc_method": "GetStatus", "grpc_code": code},
    )
    return value or 0.0


async def test_red_metrics_count_calls_by_final_code(
    running: tuple[RunningServer, MonitorApp],
) -> None:
    server, app = running
    ok_before, not_found_before = handled("OK"), handled("NOT_FOUND")
    channel, client = stub(server)
    async with channel:
        await client.GetStatus(monitor_pb2.GetStatusRequest())
        app.servicer.raise_next = errors.NotFound("nope")
        with pytest.raises(grpc.aio.AioRpcError):
            await client.GetStatus(monitor_pb2.GetStatusRequest())
    assert handled("OK") == ok_before + 1
    assert handled("NOT_FOUND") == not_found_before + 1


async def test_health_starts_not_serving_and_follows_the_service(
    running: tuple[RunningServer, MonitorApp],
) -> None:
    server, app = running
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{server.port}")
    async with channel:
        health = health_pb2_grpc.HealthStub(channel)
        response = await health.Check(health_pb2.HealthCheckRequest(service=SERVICE))
        assert response.status == health_pb2.HealthCheckResponse.NOT_SERVING
        await app.start(server.health)
        response = await health.Check(health_pb2.HealthCheckRequest(service=""))
        assert response.status == health_pb2.HealthCheckResponse.SERVING
        await server.health.enter_graceful_shutdown()
        response = await health.Check(health_pb2.HealthCheckRequest(service=SERVICE))
        assert response.status == health_pb2.HealthCheckResponse.NOT_SERVING


async def test_reflection_lists_the_services(running: tuple[RunningServer, MonitorApp]) -> None:
    server, _ = running
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{server.port}")
    async with channel:
        reflection = reflection_pb2_grpc.ServerReflectionStub(channel)

        async def requests() -> AsyncIterator[Any]:
            yield reflection_pb2.ServerReflectionRequest(list_services="")

        names = [
            service.name
            async for response in reflection.ServerReflectionInfo(requests())
            for service in response.list_services_response.service
        ]
    assert SERVICE in names
    assert "grpc.health.v1.Health" in names


async def test_outbound_calls_carry_the_callers_deadline_and_trace() -> None:
    upstream_app, downstream_app = MonitorApp(), MonitorApp()
    upstream = await create_server(upstream_app, SETTINGS)
    downstream = await create_server(downstream_app, SETTINGS)
    await upstream.server.start()
    await downstream.server.start()
    upstream_app.servicer.downstream = f"127.0.0.1:{downstream.port}"
    try:
        channel, client = stub(upstream)
        async with channel:
            await client.GetStatus(
                monitor_pb2.GetStatusRequest(),
                timeout=5.0,
                metadata=(("traceparent", f"00-{TRACE_ID}-00f067aa0ba902b7-01"),),
            )
        # No exporter here: no spans, but the caller's trace reaches the callee's callee.
        assert upstream_app.servicer.seen_trace_id == TRACE_ID
        assert downstream_app.servicer.seen_trace_id == TRACE_ID
        seen_up = upstream_app.servicer.seen_remaining
        seen_down = downstream_app.servicer.seen_remaining
        # grpc-timeout travels in coarse units rounded up: allow 50 ms over the 5 s asked for.
        assert seen_up is not None and 4.0 < seen_up <= 5.05
        # Without propagation the downstream call would carry no deadline at all. gRPC
        # rounds up twice on the way (grpc-timeout to whole milliseconds, the callee's
        # deadline to its millisecond timer), so allow a few milliseconds of slack.
        assert seen_down is not None and 0 < seen_down <= seen_up + 0.005
    finally:
        await asyncio.gather(upstream.server.stop(0), downstream.server.stop(0))


async def test_client_channels_retry_unavailable_transparently(
    running: tuple[RunningServer, MonitorApp],
) -> None:
    """The channel factory's retry policy: two UNAVAILABLE answers, then success."""
    server, app = running
    app.servicer.raise_first = [errors.Unavailable("warming up"), errors.Unavailable("warming up")]
    async with create_channel(f"127.0.0.1:{server.port}") as channel:
        client = monitor_pb2_grpc.MonitorServiceStub(channel)
        await client.GetStatus(monitor_pb2.GetStatusRequest(), timeout=10)
    assert app.servicer.calls == 3


async def test_clients_cancelling_streams_mid_way_leave_the_server_serving(
    running: tuple[RunningServer, MonitorApp],
) -> None:
    """Regression: the access log once read the peer of a cancelled stream after gRPC
    core had released the call, which crashed the process (SIGSEGV) now and then."""
    server, _ = running

    def cancelled() -> float:
        value = REGISTRY.get_sample_value(
            "grpc_server_handled_total",
            {"grpc_service": SERVICE, "grpc_method": "WatchAlerts", "grpc_code": "CANCELLED"},
        )
        return value or 0.0

    before = cancelled()
    channel, client = stub(server)
    async with channel:
        for _ in range(50):
            call = client.WatchAlerts(monitor_pb2.WatchAlertsRequest())
            await call.read()
            call.cancel()
        # Still serving after every cancellation.
        await client.GetStatus(monitor_pb2.GetStatusRequest(), timeout=5)
    # Each cancelled stream's handler ends (and is counted) once its cancellation is
    # processed; stopping the server waits for every handler to finish.
    await server.server.stop(grace=5)
    assert cancelled() == before + 50


async def test_without_an_exporter_the_callers_trace_is_adopted_and_logged(
    running: tuple[RunningServer, MonitorApp], capfd: pytest.CaptureFixture[str]
) -> None:
    """No span is made when nothing exports them, but an incoming traceparent still
    becomes current: outbound calls carry it on and the access log names it."""
    server, app = running
    trace_id = TRACE_ID
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    configure_logging("test")
    capfd.readouterr()
    try:
        channel, client = stub(server)
        async with channel:
            await client.GetStatus(
                monitor_pb2.GetStatusRequest(),
                metadata=(("traceparent", f"00-{trace_id}-00f067aa0ba902b7-01"),),
                timeout=5,
            )
    finally:
        stop_logging()
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
    assert app.servicer.seen_trace_id == trace_id
    lines = [json.loads(line) for line in capfd.readouterr().err.splitlines() if line]
    [access] = [line for line in lines if line.get("message") == "rpc"]
    assert access["rpc.method"] == f"/{SERVICE}/GetStatus"
    assert access["rpc.code"] == "OK"
    assert access["trace_id"] == trace_id
    assert access["net.peer"].startswith("ipv4:127.0.0.1:")
    assert access["rpc.duration_ms"] > 0


class SlowStarter(MonitorApp):
    """Its start-up never finishes by itself, and its clean-up takes a while."""

    def __init__(self) -> None:
        super().__init__()
        self.starting = asyncio.Event()
        self.events: list[str] = []

    async def start(self, health: Health) -> None:
        self.starting.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            # A slow clean-up, as closing a remote client can be: the stop must wait for it.
            await asyncio.to_thread(time.sleep, 0.3)
            self.events.append("start-up cleaned up")
            raise

    async def stop(self) -> None:
        self.events.append("stopped")


async def test_a_stop_during_start_up_waits_for_the_start_up_to_end() -> None:
    app = SlowStarter()
    serving = asyncio.create_task(run_until_stopped(app, SETTINGS))
    await asyncio.wait_for(app.starting.wait(), 10)
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.wait_for(serving, 10)
    assert app.events == ["start-up cleaned up", "stopped"]
    # The process's own signal handling is back as it was.
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
