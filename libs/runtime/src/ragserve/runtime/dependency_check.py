"""Checks a dependency (Redis) on its own when traffic does not.

A service that learns a dependency's state only from the commands its requests make has
a stale verdict whenever it is idle: after one timeout it says "down" until the next
request, and while idle it never sees the dependency go. Health reports, gauges and the
monitor read that verdict, so it must not wait for traffic. This runs a cheap check (a
PING) every ``down_interval_s`` while the dependency is marked down, and after
``idle_interval_s`` without any command while it is up; every command the service makes
counts as contact (:meth:`touched`), so a busy service is never checked at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

# Shortest pause between two checks of a down dependency (a 0 retry interval is allowed).
MIN_DOWN_INTERVAL_S = 0.1
# Seconds without any command after which an up dependency is checked anyway.
IDLE_INTERVAL_S = 5.0


class DependencyCheck:
    def __init__(
        self,
        check: Callable[[], Awaitable[object]],
        is_down: Callable[[], bool],
        *,
        down_interval_s: float,
        idle_interval_s: float = IDLE_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        """``check`` contacts the dependency and records the outcome itself (through the
        same path as the service's own commands, which call :meth:`touched`)."""
        self._check = check
        self._is_down = is_down
        self._idle_interval_s = idle_interval_s
        self._down_interval_s = max(down_interval_s, MIN_DOWN_INTERVAL_S)
        self._clock = clock
        self._sleep = sleep
        self._last_contact = clock()
        self._task: asyncio.Task[None] | None = None

    def touched(self) -> None:
        """A command reached the dependency (or failed trying) just now."""
        self._last_contact = self._clock()

    def start(self) -> None:
        """Starts checking, on the running loop."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            interval = self._down_interval_s if self._is_down() else self._idle_interval_s
            quiet = self._clock() - self._last_contact
            if quiet < interval:
                # Never longer than the down interval: the state may change meanwhile (a
                # command fails, charges start waiting) and must be acted on at that pace.
                await self._sleep(min(interval - quiet, self._down_interval_s))
                continue
            await self._check()
            self.touched()  # a check that records nothing must not be repeated at once
