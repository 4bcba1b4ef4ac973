"""The caller's deadline, carried from an inbound RPC to every outbound one.

The runtime's call wrapper publishes the inbound call's absolute deadline in a
context variable, in the call's own task; the client interceptors in
:mod:`ragserve.runtime.channels` give every outbound call the smaller of its own
timeout and what remains. Cores use :func:`remaining` to bound retries and waits.
Work that serves many calls (a batch) runs in a fresh context and sees no
deadline of any one of them (``ragserve.batching``).
"""

from __future__ import annotations

import contextvars
import time

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "ragserve_deadline", default=None
)


def current() -> float | None:
    """Absolute ``time.monotonic()`` deadline of the call being served, if any."""
    return _deadline.get()


def remaining() -> float | None:
    """Seconds left before the current deadline (may be negative); None: no deadline."""
    deadline = _deadline.get()
    return None if deadline is None else deadline - time.monotonic()


def publish(time_remaining: float | None) -> float | None:
    """Make gRPC's ``context.time_remaining()`` the current deadline (None: no deadline)
    for the rest of the calling task; returns the absolute deadline."""
    deadline = None if time_remaining is None else time.monotonic() + time_remaining
    _deadline.set(deadline)
    return deadline
