"""A grpc.health.v1 stub that fails once, for tests of the watchers that must outlive it.

grpc.aio can raise errors of its own (cygrpc's) that are not ``AioRpcError`` when a peer
dies mid-call; no real server can make a client raise one on demand, so this stub does.
"""

from __future__ import annotations

from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

INJECTED = "injected: not an AioRpcError"


class HealthStubFailingOnce:
    """The real health stub, except that the first ``Watch`` made through any instance
    raises ``RuntimeError(INJECTED)`` once its first answer has been read. Install it in
    place of ``health_pb2_grpc.HealthStub`` (monkeypatch) and call :meth:`reset` first."""

    failures = 0
    _real = health_pb2_grpc.HealthStub

    @classmethod
    def reset(cls) -> None:
        cls.failures = 0

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self._stub = HealthStubFailingOnce._real(channel)

    def Watch(self, request: health_pb2.HealthCheckRequest, **kwargs: Any) -> Any:
        call = self._stub.Watch(request, **kwargs)
        if HealthStubFailingOnce.failures:
            return call
        HealthStubFailingOnce.failures += 1
        return _BrokenWatch(call)


class _BrokenWatch:
    def __init__(self, call: Any) -> None:
        self._call = call

    def __aiter__(self) -> _BrokenWatch:
        return self

    async def __anext__(self) -> health_pb2.HealthCheckResponse:
        await self._call.read()
        raise RuntimeError(INJECTED)

    def cancel(self) -> bool:
        return bool(self._call.cancel())
