"""The orchestrator is SERVING only while it can work: while both the embedding router and
retrieval report SERVING on their own ``grpc.health.v1``, and the channel the
orchestrator's calls to each go over is connected.

One watcher per peer follows the peer's health ``Watch`` stream (reconnecting when it
breaks, after a short backoff); every change is published in order by one task.

The watch runs on a channel of its own (untraced: a watch lasts as long as the process,
and is no request's work; and without retries, so a broken watch is seen at once). That
channel and the calls' channel reconnect on their own schedules after a peer comes back,
so a SERVING from the watch waits for the calls' channel to be READY as well: SERVING
then means a call made now reaches the peer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ragserve.orchestrator.peer_channels import peer_channel
from ragserve.runtime.server import Health

log = logging.getLogger("ragserve.orchestrator.health")

_RECONNECT_S = 0.5
# Longest wait for a calls channel to connect once its peer's health says SERVING: the
# channel's reconnect backoff is capped at 2 s (peer_channels), so this is several tries.
_CALLS_READY_S = 10.0


class PeerHealth:
    def __init__(
        self,
        peers: Mapping[str, str],
        health: Health,
        call_channels: Mapping[str, grpc.aio.Channel] | None = None,
    ) -> None:
        """``peers``: name → address; ``call_channels``: name → the channel the
        orchestrator's calls to that peer go over (a peer is SERVING only once it is READY)."""
        self._addresses = dict(peers)
        self._call_channels = dict(call_channels or {})
        self._health = health
        self._serving = dict.fromkeys(peers, False)
        self._published: bool | None = None
        self._changed = asyncio.Event()
        self._ready = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._channels: list[grpc.aio.Channel] = []

    def start(self) -> None:
        for name, address in self._addresses.items():
            channel = peer_channel(address, retry=False, trace=False)
            self._channels.append(channel)
            self._tasks.append(asyncio.create_task(self._watch(name, channel)))
        self._tasks.append(asyncio.create_task(self._publish()))

    async def wait_serving(self) -> None:
        """Returns once every peer has been SERVING (the first SERVING published)."""
        await self._ready.wait()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for channel in self._channels:
            await channel.close(grace=None)

    def _set(self, name: str, serving: bool) -> None:
        if self._serving[name] != serving:
            self._serving[name] = serving
            log.info(
                "peer %s %s",
                name,
                "SERVING" if serving else "not serving",
                extra={"event": "peer_health", "peer": name, "serving": serving},
            )
        self._changed.set()

    async def _watch(self, name: str, channel: grpc.aio.Channel) -> None:
        stub = health_pb2_grpc.HealthStub(channel)
        while True:
            call = stub.Watch(health_pb2.HealthCheckRequest(service=""), wait_for_ready=True)
            try:
                async for response in call:
                    serving = response.status == health_pb2.HealthCheckResponse.SERVING
                    if serving:
                        await self._calls_ready(name)
                    self._set(name, serving)
            except grpc.aio.AioRpcError:
                pass
            except TimeoutError:
                log.warning(
                    "peer %s says SERVING but the calls' channel did not connect within %g s;"
                    " watching again",
                    name,
                    _CALLS_READY_S,
                    extra={"event": "peer_health", "peer": name},
                )
            except Exception:
                # Whatever else grpc.aio raises when a peer dies mid-call, this watcher must
                # outlive it: a dead watcher would leave the orchestrator NOT_SERVING for good
                # while both peers serve.
                log.warning(
                    "health watch of %s failed; watching again",
                    name,
                    exc_info=True,
                    extra={"event": "peer_health", "peer": name},
                )
            finally:
                call.cancel()
            self._set(name, False)
            # The peer went away: its channel reconnects with backoff; waiting for it is
            # wait_for_ready's job, this pause only keeps a failing peer from spinning.
            await asyncio.sleep(_RECONNECT_S)

    async def _calls_ready(self, name: str) -> None:
        """Waits (bounded) for the channel the calls to ``name`` go over to be READY."""
        calls = self._call_channels.get(name)
        if calls is None:
            return
        # Bounded, so that a calls channel stuck short of READY is retried from a fresh
        # watch instead of holding this watcher (and the peer's state) forever.
        async with asyncio.timeout(_CALLS_READY_S):
            await calls.channel_ready()

    async def _publish(self) -> None:
        while True:
            await self._changed.wait()
            self._changed.clear()
            serving = all(self._serving.values())
            if serving != self._published:
                await self._health.set_serving(serving)
                self._published = serving
                if serving:
                    self._ready.set()
