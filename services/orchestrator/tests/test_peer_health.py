"""The orchestrator's health over real gRPC servers: a peer counts as SERVING once its own
health says so *and* the channel the orchestrator's calls go over is connected (after a
peer comes back, that channel reconnects on its own schedule)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from ragserve.orchestrator.peer_channels import peer_channel
from ragserve.orchestrator.peer_health import PeerHealth
from ragserve.runtime.server import Health
from ragserve.testkit.ports import free_port


class Recorder:
    """Stands in for the orchestrator's own health servicer: what was published, and
    whether the calls' peer was listening at that moment."""

    def __init__(self) -> None:
        self.calls_peer_listening = False
        self.published: list[tuple[int, bool]] = []

    async def set(self, name: str, status: int) -> None:
        self.published.append((status, self.calls_peer_listening))


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


async def test_serving_waits_for_the_calls_channel_to_connect(watched: str) -> None:
    calls_port = free_port()
    calls = peer_channel(f"127.0.0.1:{calls_port}")
    recorder = Recorder()
    peers = PeerHealth({"peer": watched}, Health(recorder, []), {"peer": calls})
    peers.start()
    calls_server: grpc.aio.Server | None = None
    try:
        async with asyncio.timeout(30):
            # The watch said SERVING, so the calls' channel is asked to connect (it leaves
            # IDLE); nothing listens there yet, so nothing is published.
            await calls.wait_for_state_change(grpc.ChannelConnectivity.IDLE)
            assert recorder.published == []
            calls_server, _ = await serving_peer(calls_port)
            recorder.calls_peer_listening = True
            await peers.wait_serving()
        assert recorder.published == [(health_pb2.HealthCheckResponse.SERVING, True)]
    finally:
        await peers.close()
        await calls.close(None)
        if calls_server is not None:
            await calls_server.stop(None)
