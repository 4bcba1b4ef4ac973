"""DependencyCheck on a clock that moves only when it sleeps: when a dependency is checked,
and that commands (``touched``) put checks off."""

from __future__ import annotations

import asyncio

from ragserve.runtime.dependency_check import DependencyCheck


class World:
    """The clock, the dependency's state, and the checks made (time, state seen)."""

    def __init__(self) -> None:
        self.now = 100.0
        self.down = False
        self.checks: list[tuple[float, bool]] = []
        self.enough = asyncio.Event()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)  # let the test run between the checker's steps

    async def check(self) -> None:
        self.checks.append((round(self.now, 6), self.down))
        self.down = True  # the first check finds the dependency gone
        if len(self.checks) == 4:
            self.enough.set()

    def checker(self, idle_interval_s: float, down_interval_s: float) -> DependencyCheck:
        """A DependencyCheck of this world's dependency, on its clock."""
        return DependencyCheck(
            self.check,
            lambda: self.down,
            idle_interval_s=idle_interval_s,
            down_interval_s=down_interval_s,
            clock=self.clock,
            sleep=self.sleep,
        )


async def test_an_up_dependency_is_checked_when_idle_a_down_one_every_interval() -> None:
    world = World()
    checker = world.checker(5, 0.5)
    checker.start()
    async with asyncio.timeout(10):
        await world.enough.wait()
    await checker.close()
    # Up: after 5 s without contact. Down: every retry interval.
    assert world.checks == [(105.0, False), (105.5, True), (106.0, True), (106.5, True)]


async def test_commands_put_the_check_off() -> None:
    world = World()
    checker = world.checker(5, 1)
    checker.start()
    for _ in range(20):  # a command every second: never 5 s of quiet
        world.now += 1
        checker.touched()
        await asyncio.sleep(0)
    await checker.close()
    assert world.checks == []


async def test_a_dependency_going_down_while_idle_is_checked_at_the_down_pace() -> None:
    world = World()
    # Never checked while up (the budget ledger's use).
    checker = world.checker(float("inf"), 0.5)
    checker.start()
    for _ in range(10):
        await asyncio.sleep(0)
    assert world.checks == []
    world.down = True
    checker.touched()
    started = world.now
    async with asyncio.timeout(10):
        await world.enough.wait()
    await checker.close()
    assert world.checks[0] == (started + 0.5, True)
