"""A caller that is cancelled cancels its outbound unary call, through every interceptor
of a service channel (OpenTelemetry's aio interceptor awaits the call's status in a task
of its own: cancelling the caller alone left the RPC running in the callee)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ragserve.runtime import channels, deadlines
from ragserve.runtime.channels import create_channel


@contextlib.asynccontextmanager
async def health_stub(servicer: health_pb2_grpc.HealthServicer) -> AsyncIterator[Any]:
    """A stub over a service channel (``create_channel``) to ``servicer`` on a local server."""
    server = grpc.aio.server()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with create_channel(f"127.0.0.1:{port}") as channel:
            yield health_pb2_grpc.HealthStub(channel)
    finally:
        await server.stop(0)


class SlowHealth(health_pb2_grpc.HealthServicer):
    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.cancelled = asyncio.Event()

    async def Check(self, request: object, context: object) -> health_pb2.HealthCheckResponse:
        self.entered.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        return health_pb2.HealthCheckResponse()


@pytest.mark.parametrize("exporting", [True, False])
async def test_cancelling_the_caller_cancels_the_rpc_in_the_callee(
    monkeypatch: pytest.MonkeyPatch, exporting: bool
) -> None:
    # Exporting spans puts OpenTelemetry's client interceptors on the channel.
    monkeypatch.setattr(channels, "exporting", lambda: exporting)
    servicer = SlowHealth()
    async with health_stub(servicer) as stub:

        async def call() -> None:
            await stub.Check(health_pb2.HealthCheckRequest(), timeout=60)

        caller = asyncio.create_task(call())
        await asyncio.wait_for(servicer.entered.wait(), 30)
        caller.cancel()
        # While the channel is still open: the cancel itself reached the server.
        await asyncio.wait_for(servicer.cancelled.wait(), 30)


class DeadlineRecordingHealth(health_pb2_grpc.HealthServicer):
    """Watch (a server stream) records the time its caller left it, then ends."""

    def __init__(self) -> None:
        self.remaining: list[float | None] = []

    async def Watch(self, request: object, context: grpc.aio.ServicerContext) -> object:  # type: ignore[type-arg]
        self.remaining.append(context.time_remaining())
        yield health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)


@pytest.mark.parametrize("exporting", [True, False])
async def test_streaming_calls_carry_the_inbound_deadline(
    monkeypatch: pytest.MonkeyPatch, exporting: bool
) -> None:
    # grpc.aio files an interceptor object under the first call kind it implements: one
    # object serving every kind used to leave streaming calls without the deadline.
    monkeypatch.setattr(channels, "exporting", lambda: exporting)
    servicer = DeadlineRecordingHealth()
    async with health_stub(servicer) as stub:
        deadlines.publish(5.0)  # as the runtime does for an inbound call with 5 s left
        async for _ in stub.Watch(health_pb2.HealthCheckRequest()):
            pass
    (remaining,) = servicer.remaining
    # gRPC rounds a deadline up a little on the wire.
    assert remaining is not None and 3.0 < remaining < 5.1
