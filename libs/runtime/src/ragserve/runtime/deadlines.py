"""The caller's deadline, carried from an inbound RPC to every outbound one.

The deadline interceptor stores the inbound call's absolute deadline in a
context variable; the client interceptors in :mod:`ragserve.runtime.channels`
give every outbound call the smaller of its own timeout and what remains.
Cores use :func:`remaining` to bound retries and waits.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Iterator
from contextlib import contextmanager

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


@contextmanager
def deadline_scope(timeout_s: float | None) -> Iterator[None]:
    """Run a block under a deadline ``timeout_s`` from now (never later than the current one)."""
    if timeout_s is None:
        yield
        return
    new = time.monotonic() + timeout_s
    outer = _deadline.get()
    token = _deadline.set(new if outer is None else min(outer, new))
    try:
        yield
    finally:
        _deadline.reset(token)


def set_from_time_remaining(time_remaining: float | None) -> contextvars.Token[float | None]:
    """Set the deadline from gRPC's ``context.time_remaining()`` (None: no deadline)."""
    if time_remaining is None:
        return _deadline.set(None)
    return _deadline.set(time.monotonic() + time_remaining)


def reset(token: contextvars.Token[float | None]) -> None:
    _deadline.reset(token)
