"""The health follower on a real grpc.health.v1 servicer, in process (no server, no store)."""

from __future__ import annotations

from grpc_health.v1 import health, health_pb2

from ragserve.retrieval.service import HealthFollower
from ragserve.runtime.server import Health

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
SERVICE = "ragserve.api.retrieval.v1.RetrievalService"


async def statuses(servicer: health.aio.HealthServicer) -> list[int]:
    return [
        (await servicer.Check(health_pb2.HealthCheckRequest(service=name), None)).status
        for name in ("", SERVICE)
    ]


async def test_publish_writes_the_latest_state_to_every_name() -> None:
    servicer = health.aio.HealthServicer()
    target = Health(servicer, [SERVICE])
    await target.set_serving(False)
    follower = HealthFollower(target)
    follower.update(True)
    await follower.publish()
    assert await statuses(servicer) == [SERVING, SERVING]
    # A loss and a recovery before the next publish collapse: health never flickers.
    follower.update(False)
    follower.update(True)
    await follower.publish()
    assert await statuses(servicer) == [SERVING, SERVING]
    follower.update(False)
    await follower.publish()
    assert await statuses(servicer) == [NOT_SERVING, NOT_SERVING]


async def test_nothing_is_published_after_graceful_shutdown_began() -> None:
    servicer = health.aio.HealthServicer()
    target = Health(servicer, [SERVICE])
    await target.set_serving(True)
    follower = HealthFollower(target)
    await target.enter_graceful_shutdown()
    follower.update(True)  # a worker restarted during shutdown must not revive health
    await follower.publish()
    assert await statuses(servicer) == [NOT_SERVING, NOT_SERVING]
