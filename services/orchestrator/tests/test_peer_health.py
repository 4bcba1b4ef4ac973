"""The orchestrator's health over real gRPC servers: a peer counts as SERVING once its own
health says so *and* the channel the orchestrator's calls go over is connected (after a
peer comes back, that channel reconnects on its own schedule)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from ragserve.orchestrator import peer_health
from ragserve.orchestrator.peer_channels import peer_channel
from ragserve.orchestrator.peer_health import PeerHealth
from ragserve.runtime.server import Health
from ragserve.testkit.health_faults import INJECTED, HealthStubFailingOnce
from ragserve.testkit.ports import free_port


class Recorder:
    """Stands in for the orchestrator's own health servicer: what was published, and
    whether the calls' peer was listening at that moment."""

    def __init__(self) -> None:
        self.calls_peer_listening = False
        self.published: list[tuple[int, bool]] = []
        self.first_published = asyncio.Event()

    async def set(self, name: str, status: int) -> None:
        self.published.append((status, self.calls_peer_listening))
        self.first_published.set()


async def serving_peer(port: int = 0) -> tuple[grpc.aio.Server, int]:
    """A gRPC server whose grpc.health.v1 says SERVING."""
    server = grpc.aio.server()
    servicer = health.aio.HealthServicer()  # type: ignore[attr-defined]
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    bound = server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    return server, bound


@pytest.fixture
async def watched() -> AsyncIterator[str]:
    server, port = await serving_peer()
    yield f"127.0.0.1:{port}"
    await server.stop(None)


class CallsPeer:
    """The peer the orchestrator's calls go to, on a port where nothing listens until
    :meth:`listen`; ``channel`` is the calls' channel to it."""

    def __init__(self) -> None:
        self.port = free_port()
        self.channel = peer_channel(f"127.0.0.1:{self.port}")
        self.server: grpc.aio.Server | None = None

    async def listen(self, recorder: Recorder) -> None:
        self.server, _ = await serving_peer(self.port)
        recorder.calls_peer_listening = True


@pytest.fixture
async def calls_peer() -> AsyncIterator[CallsPeer]:
    peer = CallsPeer()
    yield peer
    await peer.channel.close(None)
    if peer.server is not None:
        await peer.server.stop(None)


async def test_serving_waits_for_the_calls_channel_to_connect(
    watched: str, calls_peer: CallsPeer
) -> None:
    recorder = Recorder()
    peers = PeerHealth({"peer": watched}, Health(recorder, []), {"peer": calls_peer.channel})
    peers.start()
    try:
        async with asyncio.timeout(30):
            # The watch said SERVING, so the calls' channel is asked to connect (it leaves
            # IDLE); nothing listens there yet, so nothing is published.
            await calls_peer.channel.wait_for_state_change(grpc.ChannelConnectivity.IDLE)
            assert recorder.published == []
            await calls_peer.listen(recorder)
            await peers.wait_serving()
        assert recorder.published == [(health_pb2.HealthCheckResponse.SERVING, True)]
    finally:
        await peers.close()


async def test_a_watcher_outlives_an_error_that_is_not_an_rpc_error(
    watched: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(peer_health.health_pb2_grpc, "HealthStub", HealthStubFailingOnce)
    HealthStubFailingOnce.reset()
    recorder = Recorder()
    peers = PeerHealth({"peer": watched}, Health(recorder, []))
    peers.start()
    try:
        async with asyncio.timeout(30):
            await peers.wait_serving()
    finally:
        await peers.close()
    assert HealthStubFailingOnce.failures == 1
    assert recorder.published == [
        (health_pb2.HealthCheckResponse.NOT_SERVING, False),
        (health_pb2.HealthCheckResponse.SERVING, False),
    ]
    failed = [
        r for r in caplog.records if r.getMessage() == "health watch of peer failed; watching again"
    ]
    assert len(failed) == 1 and failed[0].levelname == "WARNING"
    assert failed[0].exc_info is not None and str(failed[0].exc_info[1]) == INJECTED


async def test_a_calls_channel_that_does_not_connect_is_waited_for_again(
    watched: str,
    calls_peer: CallsPeer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(peer_health, "_CALLS_READY_S", 0.2)
    recorder = Recorder()
    peers = PeerHealth({"peer": watched}, Health(recorder, []), {"peer": calls_peer.channel})
    peers.start()
    message = (
        "peer peer says SERVING but the calls' channel did not connect within 0.2 s; watching again"
    )
    try:
        async with asyncio.timeout(30):
            # The first verdict: not SERVING, once the wait for the calls' channel gave up.
            await recorder.first_published.wait()
            assert recorder.published == [(health_pb2.HealthCheckResponse.NOT_SERVING, False)]
            assert [r.levelname for r in caplog.records if r.getMessage() == message] == ["WARNING"]
            await calls_peer.listen(recorder)
            await peers.wait_serving()
        assert recorder.published[-1] == (health_pb2.HealthCheckResponse.SERVING, True)
    finally:
        await peers.close()
