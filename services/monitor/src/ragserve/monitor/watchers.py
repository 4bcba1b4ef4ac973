"""gRPC side of watching: each replica's grpc.health.v1 Watch stream, and the probes of
dependencies that only a service can see (Redis through the router, the model through
inference). Results go to the core; nothing here decides what they mean."""

from __future__ import annotations

import asyncio
import logging

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ragserve.api.embedding.v1 import embedding_pb2, embedding_pb2_grpc
from ragserve.api.inference.v1 import inference_pb2, inference_pb2_grpc
from ragserve.monitor.core import MonitorCore
from ragserve.monitor.model import State
from ragserve.monitor.targets import Target
from ragserve.runtime.channels import create_channel

log = logging.getLogger("ragserve.monitor.watchers")

_SERVING = health_pb2.HealthCheckResponse.SERVING


def watch_channel(address: str, reconnect_max_s: float) -> grpc.aio.Channel:
    # gRPC's own reconnect backoff (up to 120 s by default) would hide a replica that
    # came back; cap it at ours.
    max_ms = int(reconnect_max_s * 1000)
    return create_channel(
        address,
        retry=False,
        trace=False,
        extra_options=[
            ("grpc.initial_reconnect_backoff_ms", min(100, max_ms)),
            ("grpc.min_reconnect_backoff_ms", min(100, max_ms)),
            ("grpc.max_reconnect_backoff_ms", max_ms),
        ],
    )


async def watch_replica(core: MonitorCore, target: Target, initial_s: float, max_s: float) -> None:
    """Follows one replica's health until cancelled, reconnecting with backoff."""
    delay = initial_s
    async with watch_channel(target.address, max_s) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while True:
            call = stub.Watch(health_pb2.HealthCheckRequest(service=""))
            try:
                async for response in call:
                    delay = initial_s
                    if response.status == _SERVING:
                        core.set_replica(target.address, State.SERVING)
                    else:
                        name = health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
                        core.set_replica(target.address, State.NOT_SERVING, f"health {name}")
                core.set_replica(target.address, State.UNREACHABLE, "health stream ended")
            except grpc.aio.AioRpcError as error:
                state = (
                    State.UNREACHABLE
                    if error.code()
                    in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
                    else State.NOT_SERVING
                )
                core.set_replica(
                    target.address, state, f"{error.code().name}: {error.details()}"[:200]
                )
            except Exception as error:
                # Whatever else grpc.aio raises when a replica dies mid-call, this watcher
                # must outlive it: a dead watcher would freeze the replica's last state.
                log.warning(
                    "health watch of %s failed; watching again",
                    target.address,
                    exc_info=True,
                    extra={"event": "watch_failed", "replica": target.address},
                )
                core.set_replica(
                    target.address, State.UNKNOWN, f"health watch failed: {type(error).__name__}"
                )
            finally:
                call.cancel()
            await asyncio.sleep(delay)
            delay = min(max_s, delay * 2)


async def probe_cache(core: MonitorCore, address: str, timeout_s: float) -> None:
    """Redis as the embedding router sees it (GetProviderStatus.cache_available)."""
    async with create_channel(address, retry=False, trace=False) as channel:
        stub = embedding_pb2_grpc.EmbeddingRouterServiceStub(channel)
        try:
            response = await stub.GetProviderStatus(
                embedding_pb2.GetProviderStatusRequest(), timeout=timeout_s
            )
        except grpc.aio.AioRpcError as error:
            core.set_dependency(
                "redis", State.UNKNOWN, f"router not answering: {error.code().name}"
            )
            return
    if response.cache_available:
        core.set_dependency("redis", State.SERVING, "embedding_router: cache available")
    else:
        detail = response.cache_detail or "cache unavailable"
        core.set_dependency("redis", State.UNREACHABLE, f"embedding_router: {detail}"[:200])


async def probe_model(core: MonitorCore, address: str, timeout_s: float) -> None:
    """The model as inference reports it (ServerReady: every model loaded and warm)."""
    async with create_channel(address, retry=False, trace=False) as channel:
        stub = inference_pb2_grpc.GRPCInferenceServiceStub(channel)
        try:
            response = await stub.ServerReady(inference_pb2.ServerReadyRequest(), timeout=timeout_s)
        except grpc.aio.AioRpcError as error:
            core.set_dependency(
                "model", State.UNKNOWN, f"inference not answering: {error.code().name}"
            )
            return
    if response.ready:
        core.set_dependency("model", State.SERVING, "inference: ready")
    else:
        core.set_dependency("model", State.NOT_SERVING, "inference: not ready")
