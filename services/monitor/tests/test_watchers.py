"""A replica's health watcher against a real gRPC health server: it follows the replica's
state and outlives failures of its own watch."""

from __future__ import annotations

import asyncio
import contextlib

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from ragserve.monitor import watchers
from ragserve.monitor.core import MonitorCore
from ragserve.monitor.model import State
from ragserve.monitor.targets import parse_targets
from ragserve.slo.spec import parse_spec
from ragserve.testkit.health_faults import INJECTED, HealthStubFailingOnce

# No SLOs: only replica states matter here.
SPEC = parse_spec("windows: [{long: 10s, short: 2s, burn_rate: 10, severity: page}]\nslos: []")


async def replica_state(core: MonitorCore, address: str, state: State, detail: str) -> None:
    """Returns once the core's view shows the replica in ``state`` with ``detail``."""
    view = core.view()
    while not any(
        (r.address, r.state, r.detail) == (address, state, detail)
        for s in view.services
        for r in s.replicas
    ):
        view = await core.next_view(view.version)


async def test_a_watcher_outlives_an_error_that_is_not_an_rpc_error(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    server = grpc.aio.server()
    servicer = health.aio.HealthServicer()  # type: ignore[attr-defined]
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    await servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    monkeypatch.setattr(watchers.health_pb2_grpc, "HealthStub", HealthStubFailingOnce)
    HealthStubFailingOnce.reset()
    address = f"127.0.0.1:{port}"
    core = MonitorCore(parse_targets(f"retrieval={address}/1"), SPEC, figures_window_s=5)
    watcher = asyncio.create_task(watchers.watch_replica(core, core.targets[0], 0.05, 0.1))
    try:
        async with asyncio.timeout(30):
            await replica_state(core, address, State.UNKNOWN, "health watch failed: RuntimeError")
            await replica_state(core, address, State.SERVING, "")
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        await server.stop(None)
    assert HealthStubFailingOnce.failures == 1
    failed = [
        r
        for r in caplog.records
        if r.getMessage() == f"health watch of {address} failed; watching again"
    ]
    assert len(failed) == 1 and failed[0].levelname == "WARNING"
    assert failed[0].exc_info is not None and str(failed[0].exc_info[1]) == INJECTED
