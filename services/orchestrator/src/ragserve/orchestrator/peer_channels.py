"""The orchestrator's channels to its peers: the runtime's channels, reconnecting within
seconds once a peer is back.

gRPC's reconnect backoff grows to 120 s by default, so a peer restarted after an outage of
a minute or two could go unused for as long again after it serves; the orchestrator's
health (which also waits for these channels, see ``peer_health``) would say NOT_SERVING
all that time. Inside the mesh, a connection attempt every two seconds to a peer that is
down costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc

from ragserve.errors import Unavailable
from ragserve.runtime.channels import create_channel

# Longest wait between two connection attempts to a peer that is down, in milliseconds.
MAX_RECONNECT_BACKOFF_MS = 2000


def peer_channel(address: str, *, retry: bool = True, trace: bool = True) -> grpc.aio.Channel:
    """A channel to ``address`` (see ``create_channel`` for ``retry`` and ``trace``)."""
    return create_channel(
        address,
        retry=retry,
        trace=trace,
        extra_options=(("grpc.max_reconnect_backoff_ms", MAX_RECONNECT_BACKOFF_MS),),
    )


class PeerConnection:
    """One channel to a peer and the stub over it, shared by ingest and Query (one channel
    per peer); opened on the event loop that uses it (aio channels bind to it)."""

    def __init__(
        self, peer: str, address: str, stub_class: Callable[[grpc.aio.Channel], Any]
    ) -> None:
        self._peer = peer
        self._address = address
        self._stub_class = stub_class
        self._channel: grpc.aio.Channel | None = None
        self._stub: Any = None

    def open(self) -> None:
        if self._channel is None:
            self._channel = peer_channel(self._address)
            self._stub = self._stub_class(self._channel)

    @property
    def channel(self) -> grpc.aio.Channel:
        """The channel the calls go over (after :meth:`open`)."""
        if self._channel is None:
            raise Unavailable(f"{self._peer}: the channel is not open yet")
        return self._channel

    @property
    def stub(self) -> Any:
        """The peer's stub over :attr:`channel` (after :meth:`open`)."""
        if self._stub is None:
            raise Unavailable(f"{self._peer}: the channel is not open yet")
        return self._stub

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close(grace=None)
            self._channel = None
            self._stub = None
