"""Which asyncio event loop a service process runs on.

uvloop (libuv underneath) by default: every RPC crosses the loop a few times (gRPC's
completion queue hands each event to it, the handler's task runs on it, the access line is
batched on it), and uvloop schedules callbacks, tasks and socket I/O for less CPU than the
standard loop. ``asyncio`` is the opt-out, for telling a uvloop problem from ours. Where
uvloop cannot be imported (a platform without its wheels) the standard loop runs instead,
and one WARNING says so: the loop a process runs is never changed silently.

The loop is made per run (``asyncio.Runner(loop_factory=...)``), not by installing a
global event loop policy, so nothing else in the process is affected.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Coroutine
from typing import Any, Literal, TypeVar, cast, get_args

EventLoop = Literal["uvloop", "asyncio"]
LoopFactory = Callable[[], asyncio.AbstractEventLoop]
T = TypeVar("T")

# Suite-wide default of every service's RAGSERVE_<SVC>_EVENT_LOOP (and of the tests' loop).
SUITE_VARIABLE = "RAGSERVE_EVENT_LOOP"

log = logging.getLogger("ragserve.server")


def loop_factory(wanted: EventLoop) -> LoopFactory:
    """A factory of the wanted loop; the standard loop's when uvloop is not installed
    (logged once as a WARNING: call this after logging is configured)."""
    if wanted == "uvloop":
        try:
            import uvloop
        except ImportError as error:
            log.warning(
                "uvloop is not installed (%s): running on the standard asyncio event loop",
                error,
                extra={"event": "event_loop_fallback", "event_loop": "asyncio"},
            )
        else:
            return uvloop.new_event_loop
    return asyncio.new_event_loop


def suite_event_loop() -> EventLoop:
    """The loop ``RAGSERVE_EVENT_LOOP`` names for the whole suite (uvloop when unset);
    ValueError naming the variable for anything else."""
    wanted = os.environ.get(SUITE_VARIABLE) or "uvloop"
    if wanted not in get_args(EventLoop):
        raise ValueError(f"{SUITE_VARIABLE}: must be one of {get_args(EventLoop)}, got {wanted!r}")
    return cast(EventLoop, wanted)


def run_on_suite_loop(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on the suite's loop: for benchmark servers that stand in for services."""
    with asyncio.Runner(loop_factory=loop_factory(suite_event_loop())) as runner:
        return runner.run(main)


def implementation(loop: asyncio.AbstractEventLoop) -> EventLoop:
    """The loop that actually runs, named as the setting names it."""
    return "uvloop" if type(loop).__module__.partition(".")[0] == "uvloop" else "asyncio"
