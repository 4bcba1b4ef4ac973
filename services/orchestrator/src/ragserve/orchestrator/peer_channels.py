"""The orchestrator's channels to its peers: the runtime's channels, reconnecting within
seconds once a peer is back.

gRPC's reconnect backoff grows to 120 s by default, so a peer restarted after an outage of
a minute or two could go unused for as long again after it serves; the orchestrator's
health (which also waits for these channels, see ``peer_health``) would say NOT_SERVING
all that time. Inside the mesh, a connection attempt every two seconds to a peer that is
down costs nothing.
"""

from __future__ import annotations

import grpc

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
