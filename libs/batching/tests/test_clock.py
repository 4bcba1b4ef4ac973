"""The clocks: a manual one for tests, the system one for real timers."""

from __future__ import annotations

import asyncio

import pytest

from ragserve.batching import BatcherConfig, DynamicBatcher, ManualClock, SystemClock
from ragserve.batching.events import Batch


def test_manual_clock_runs_due_timers_in_order_at_their_own_time() -> None:
    clock = ManualClock(start=10.0)
    seen: list[tuple[str, float]] = []
    clock.call_at(12.0, lambda: seen.append(("late", clock.now())))
    clock.call_at(11.0, lambda: seen.append(("early", clock.now())))
    cancelled = clock.call_at(11.5, lambda: seen.append(("cancelled", clock.now())))
    cancelled.cancel()
    clock.advance(1.5)
    assert seen == [("early", 11.0)]
    assert clock.now() == 11.5
    assert clock.pending_timers() == 1
    clock.advance(0.5)
    assert seen == [("early", 11.0), ("late", 12.0)]
    assert clock.pending_timers() == 0


def test_manual_clock_runs_timers_armed_by_timers_within_the_same_advance() -> None:
    clock = ManualClock()
    seen: list[float] = []

    def first() -> None:
        seen.append(clock.now())
        clock.call_at(clock.now() + 1.0, lambda: seen.append(clock.now()))

    clock.call_at(1.0, first)
    clock.advance(5.0)
    assert seen == [1.0, 2.0]


def test_manual_clock_does_not_go_back() -> None:
    with pytest.raises(ValueError, match="cannot go back"):
        ManualClock().advance(-1.0)


async def test_a_batcher_on_the_system_clock_closes_a_batch_by_its_delay() -> None:
    batches: list[list[int]] = []

    async def double(batch: Batch[int]) -> list[int]:
        batches.append(list(batch.items))
        return [item * 2 for item in batch.items]

    config = BatcherConfig(max_batch_size=8, max_queue_delay_s=0.002)
    async with DynamicBatcher(double, config, clock=SystemClock()) as batcher:
        first = batcher.submit_nowait(1)
        second = batcher.submit_nowait(2)
        results = await asyncio.wait_for(asyncio.gather(first, second), timeout=5)
    assert list(results) == [2, 4]
    assert batches == [[1, 2]]
