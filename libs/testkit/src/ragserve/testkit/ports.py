"""Free loopback ports for servers that cannot bind port 0 themselves.

A port chosen here is bound later by another process, seconds later (a service's start-up).
Chosen by binding port 0, it was one of the kernel's ephemeral ports, which the kernel goes
on handing out in the meantime: to another server binding port 0, to a client's outgoing
connection, or to the next ``free_port()`` call (the kernel does not remember it was given
out: 10 draws repeat one in about 1 run of 300 here). The service then cannot bind it.

So ports come from below the ephemeral range, which the kernel never hands out itself,
probed free at the moment, and never twice from one process.
"""

from __future__ import annotations

import random
import socket
import threading
from pathlib import Path

# Ports handed out by this process, never handed out again (a killed service's port may
# still be dialed by the clients of the service that had it).
_handed_out: set[int] = set()
_lock = threading.Lock()
_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
# How many ports below the ephemeral range to choose from.
_SPAN = 12_000


def _candidates() -> range:
    """The ports below the kernel's ephemeral range (Linux's default 32768-60999)."""
    try:
        first_ephemeral = int(_RANGE_FILE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        first_ephemeral = 32768
    low = max(1024, first_ephemeral - _SPAN)
    if first_ephemeral - low < 1000:
        raise RuntimeError(
            f"the ephemeral port range starts at {first_ephemeral}: too few ports below it"
        )
    return range(low, first_ephemeral)


def free_port() -> int:
    """A loopback port that is free now, below the ephemeral range, and new to this process."""
    candidates = _candidates()
    with _lock:
        for _ in range(1000):
            port = random.choice(candidates)
            if port in _handed_out:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                try:
                    probe.bind(("127.0.0.1", port))
                except OSError:
                    continue  # in use (another test run's server, or a system service)
            _handed_out.add(port)
            return port
    raise RuntimeError(f"no free port found in {candidates.start}-{candidates.stop - 1}")
