"""DynamicBatcher behaviour, driven by a manual clock and an execute gated by events.

No test waits on wall time: time moves only through ``ManualClock.advance``, and an
executing batch finishes only when the test releases it. ``settle`` yields to the
event loop a few times so that already-scheduled callbacks run; it is used only to
show that something did *not* happen.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pytest
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from ragserve.batching import (
    Batch,
    BatcherConfig,
    BatchExecuted,
    DropReason,
    DynamicBatcher,
    ItemCost,
    ItemDropped,
    ManualClock,
)
from ragserve.batching.clock import ManualTimer
from ragserve.errors import (
    DeadlineExceeded,
    FailedPrecondition,
    InvalidArgument,
    ResourceExhausted,
    Unavailable,
)


@dataclass(frozen=True)
class Item:
    name: str
    rows: int = 1
    length: int = 1


def cost_of(item: Item) -> ItemCost:
    return ItemCost(rows=item.rows, length=item.length)


async def settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


class Executor:
    """An execute callable that records batches and, when gated, blocks each batch until
    the test releases it (in start order). It advances the clock by ``execution_s``
    while a batch runs, so measured durations are exact."""

    def __init__(
        self,
        clock: ManualClock,
        *,
        gated: bool = True,
        execution_s: float = 0.0,
        error: Exception | None = None,
        results: Callable[[Batch[Item]], Sequence[str]] | None = None,
    ) -> None:
        self.clock = clock
        self.gated = gated
        self.execution_s = execution_s
        self.error = error
        self.results = results
        self.batches: list[list[str]] = []
        self.started: asyncio.Queue[Batch[Item]] = asyncio.Queue()
        self.running = 0
        self._gates: list[asyncio.Event] = []

    async def __call__(self, batch: Batch[Item]) -> Sequence[str]:
        self.batches.append([item.name for item in batch.items])
        self.started.put_nowait(batch)
        self.running += 1
        try:
            if self.gated:
                gate = asyncio.Event()
                self._gates.append(gate)
                await gate.wait()
            else:
                await asyncio.sleep(0)  # let other submitters interleave
            self.clock.advance(self.execution_s)
        finally:
            self.running -= 1
        if self.error is not None:
            raise self.error
        if self.results is not None:
            return self.results(batch)
        return [f"{item.name}!" for item in batch.items]

    async def next_batch(self) -> list[str]:
        batch = await asyncio.wait_for(self.started.get(), timeout=5)
        return [item.name for item in batch.items]

    def release(self) -> None:
        self._gates.pop(0).set()

    def nothing_started(self) -> bool:
        return self.started.empty()


@dataclass
class Recorder:
    batches: list[BatchExecuted] = field(default_factory=list)
    drops: list[ItemDropped] = field(default_factory=list)

    def on_batch_executed(self, event: BatchExecuted) -> None:
        self.batches.append(event)

    def on_item_dropped(self, event: ItemDropped) -> None:
        self.drops.append(event)


def make(
    executor: Executor, observer: Recorder | None = None, **config: object
) -> DynamicBatcher[Item, str]:
    settings: dict[str, object] = {"name": "test", "max_batch_size": 8, **config}
    batcher: DynamicBatcher[Item, str] = DynamicBatcher(
        executor,
        BatcherConfig(**settings),  # type: ignore[arg-type]
        cost=cost_of,
        observer=observer,
        clock=executor.clock,
    )
    batcher.start()
    return batcher


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


async def occupy(batcher: DynamicBatcher[Item, str], executor: Executor) -> asyncio.Future[str]:
    """Put one item ``busy`` into execution, holding the only slot."""
    future = batcher.submit_nowait(Item("busy"))
    assert await executor.next_batch() == ["busy"]
    return future


# -- closing a batch ---------------------------------------------------------------------


async def test_lone_item_on_an_idle_batcher_runs_at_once(clock: ManualClock) -> None:
    executor = Executor(clock, gated=False)
    batcher = make(executor, max_queue_delay_s=0.0)
    assert await batcher.submit(Item("a")) == "a!"
    assert executor.batches == [["a"]]
    assert clock.now() == 0.0
    assert clock.pending_timers() == 0
    await batcher.close()


async def test_items_submitted_in_one_loop_iteration_share_a_batch(clock: ManualClock) -> None:
    executor = Executor(clock, gated=False)
    batcher = make(executor)
    results = await asyncio.gather(*(batcher.submit(Item(name)) for name in "abcde"))
    assert results == ["a!", "b!", "c!", "d!", "e!"]
    assert executor.batches == [["a", "b", "c", "d", "e"]]
    await batcher.close()


async def test_batch_closes_when_max_batch_size_rows_are_queued(clock: ManualClock) -> None:
    executor = Executor(clock)
    batcher = make(executor, max_batch_size=4, max_queue_delay_s=10.0)
    futures = [batcher.submit_nowait(Item(str(i))) for i in range(5)]
    assert await executor.next_batch() == ["0", "1", "2", "3"]
    assert clock.now() == 0.0
    executor.release()
    await settle()
    assert executor.nothing_started()  # "4" waits for its delay
    clock.advance(10.0)
    assert await executor.next_batch() == ["4"]
    executor.release()
    assert await asyncio.gather(*futures) == ["0!", "1!", "2!", "3!", "4!"]
    await batcher.close()


async def test_batch_closes_before_an_item_whose_rows_would_overflow_it(
    clock: ManualClock,
) -> None:
    executor = Executor(clock)
    batcher = make(executor, max_batch_size=4, max_queue_delay_s=10.0)
    batcher.submit_nowait(Item("three", rows=3))
    await settle()
    assert executor.nothing_started()
    batcher.submit_nowait(Item("two", rows=2))
    assert await executor.next_batch() == ["three"]
    executor.release()
    clock.advance(10.0)
    assert await executor.next_batch() == ["two"]
    executor.release()
    await batcher.close()


async def test_batch_closes_when_padded_tokens_would_exceed_the_budget(
    clock: ManualClock,
) -> None:
    executor = Executor(clock)
    batcher = make(executor, max_batch_size=32, max_batch_tokens=100, max_queue_delay_s=10.0)
    batcher.submit_nowait(Item("l20", length=20))
    batcher.submit_nowait(Item("l30", length=30))  # padded 2 x 30 = 60
    await settle()
    assert executor.nothing_started()
    batcher.submit_nowait(Item("l40", length=40))  # 3 x 40 = 120 > 100
    batch = await asyncio.wait_for(executor.started.get(), 5)
    assert [item.name for item in batch.items] == ["l20", "l30"]
    assert (batch.rows, batch.max_length, batch.padded_cost, batch.size) == (2, 30, 60, 2)
    executor.release()
    clock.advance(10.0)
    assert await executor.next_batch() == ["l40"]
    executor.release()
    await batcher.close()


async def test_an_item_alone_over_the_token_budget_still_runs_alone(clock: ManualClock) -> None:
    executor = Executor(clock)
    batcher = make(executor, max_batch_tokens=100, max_queue_delay_s=10.0)
    big = batcher.submit_nowait(Item("big", length=150))
    small = batcher.submit_nowait(Item("small", length=10))
    assert await executor.next_batch() == ["big"]
    executor.release()
    assert await big == "big!"
    clock.advance(10.0)
    assert await executor.next_batch() == ["small"]
    executor.release()
    assert await small == "small!"
    await batcher.close()


async def test_batch_closes_when_the_oldest_item_has_waited_the_delay(
    clock: ManualClock,
) -> None:
    executor = Executor(clock)
    observer = Recorder()
    batcher = make(executor, observer, max_queue_delay_s=0.5)
    batcher.submit_nowait(Item("a"))
    clock.advance(0.375)
    batcher.submit_nowait(Item("b"))
    clock.advance(0.0625)
    await settle()
    assert executor.nothing_started()
    clock.advance(0.0625)  # t = 0.5: a has waited exactly the delay
    assert await executor.next_batch() == ["a", "b"]
    executor.release()
    await batcher.close()
    assert observer.batches[0].queue_waits_s == (0.5, 0.125)


async def test_a_submit_does_not_push_back_the_oldest_items_timer(clock: ManualClock) -> None:
    executor = Executor(clock)
    batcher = make(executor, max_queue_delay_s=0.5)
    batcher.submit_nowait(Item("a"))
    for name in "bcd":
        clock.advance(0.125)
        batcher.submit_nowait(Item(name))
    clock.advance(0.125)
    assert await executor.next_batch() == ["a", "b", "c", "d"]
    assert clock.now() == 0.5
    executor.release()
    await batcher.close()


# -- concurrency -------------------------------------------------------------------------


async def test_no_more_than_max_concurrent_batches_execute(clock: ManualClock) -> None:
    executor = Executor(clock)
    batcher = make(executor, max_batch_size=1, max_concurrent_batches=2)
    futures = [batcher.submit_nowait(Item(name)) for name in "abc"]
    assert await executor.next_batch() == ["a"]
    assert await executor.next_batch() == ["b"]
    await settle()
    assert executor.nothing_started()
    assert (executor.running, batcher.running_batches, batcher.pending_rows) == (2, 2, 1)
    executor.release()
    assert await executor.next_batch() == ["c"]
    assert executor.running == 2
    executor.release()
    executor.release()
    assert await asyncio.gather(*futures) == ["a!", "b!", "c!"]
    await batcher.close()


async def test_next_batch_starts_the_moment_a_slot_frees(clock: ManualClock) -> None:
    executor = Executor(clock)
    batcher = make(executor, max_queue_delay_s=0.5)
    batcher.submit_nowait(Item("a"))
    clock.advance(0.5)
    assert await executor.next_batch() == ["a"]
    for name in "bcd":
        batcher.submit_nowait(Item(name))
    assert clock.pending_timers() == 0  # no delay timer while every slot is busy
    clock.advance(0.5)  # b, c, d wait out their delay while "a" runs
    await settle()
    assert executor.nothing_started()
    executor.release()
    # No clock advance: the slot freed and the batch was due, so it starts at once.
    assert await executor.next_batch() == ["b", "c", "d"]
    executor.release()
    await batcher.close()


async def test_a_full_batch_waiting_for_a_slot_starts_without_its_delay(
    clock: ManualClock,
) -> None:
    executor = Executor(clock)
    batcher = make(executor, max_batch_size=2, max_queue_delay_s=10.0)
    batcher.submit_nowait(Item("a"))
    batcher.submit_nowait(Item("b"))
    assert await executor.next_batch() == ["a", "b"]
    for name in "cde":
        batcher.submit_nowait(Item(name))
    executor.release()
    assert await executor.next_batch() == ["c", "d"]
    executor.release()
    await settle()
    assert executor.nothing_started()  # "e" alone waits for its delay
    clock.advance(10.0)
    assert await executor.next_batch() == ["e"]
    executor.release()
    await batcher.close()


# -- priorities and length grouping ------------------------------------------------------


async def test_higher_priority_is_taken_first_fifo_within_a_level(clock: ManualClock) -> None:
    executor = Executor(clock)
    batcher = make(executor, max_batch_size=4, priority_levels=3)
    await occupy(batcher, executor)
    for name, priority in [("a", 2), ("b", 1), ("c", 0), ("d", 1), ("e", 0)]:
        batcher.submit_nowait(Item(name), priority=priority)
    executor.release()
    assert await executor.next_batch() == ["c", "e", "b", "d"]
    executor.release()
    assert await executor.next_batch() == ["a"]
    executor.release()
    await batcher.close()


async def test_group_by_length_picks_close_lengths_around_the_oldest(clock: ManualClock) -> None:
    executor = Executor(clock)
    batcher = make(executor, max_batch_size=3, group_by_length=True)
    await occupy(batcher, executor)
    for length in [50, 10, 48, 12, 52, 90]:
        batcher.submit_nowait(Item(f"l{length}", length=length))
    executor.release()
    assert await executor.next_batch() == ["l50", "l48", "l52"]
    executor.release()
    assert await executor.next_batch() == ["l10", "l12", "l90"]
    executor.release()
    await batcher.close()


async def test_group_by_length_never_starves_the_oldest_item(clock: ManualClock) -> None:
    executor = Executor(clock)
    batcher = make(executor, max_batch_size=3, group_by_length=True)
    await occupy(batcher, executor)
    batcher.submit_nowait(Item("long", length=200))
    for index in range(10):
        batcher.submit_nowait(Item(f"short{index}", length=10))
    executor.release()
    assert await executor.next_batch() == ["long", "short0", "short1"]
    executor.release()
    assert await executor.next_batch() == ["short2", "short3", "short4"]
    executor.release()
    await batcher.close(drain=False)


async def test_group_by_length_skips_what_overflows_the_budget_and_keeps_filling(
    clock: ManualClock,
) -> None:
    executor = Executor(clock)
    batcher = make(executor, max_batch_size=4, max_batch_tokens=120, group_by_length=True)
    await occupy(batcher, executor)
    for length in [30, 60, 25, 100, 5]:
        batcher.submit_nowait(Item(f"l{length}", length=length))
    executor.release()
    # Around 30: 25 (3 x 30 = 90), 5 (4 x 30 = 120); 60 would pad to 240.
    assert await executor.next_batch() == ["l30", "l25", "l5"]
    executor.release()
    assert await executor.next_batch() == ["l60"]  # 60 + 100 -> 2 x 100 = 200 > 120
    executor.release()
    assert await executor.next_batch() == ["l100"]
    executor.release()
    await batcher.close()


async def test_group_by_length_respects_priority(clock: ManualClock) -> None:
    executor = Executor(clock)
    batcher = make(executor, max_batch_size=2, group_by_length=True, priority_levels=2)
    await occupy(batcher, executor)
    batcher.submit_nowait(Item("low-close", length=10), priority=1)
    batcher.submit_nowait(Item("high-anchor", length=10), priority=0)
    batcher.submit_nowait(Item("high-far", length=90), priority=0)
    batcher.submit_nowait(Item("low-closer", length=10), priority=1)
    executor.release()
    assert await executor.next_batch() == ["high-anchor", "high-far"]
    executor.release()
    assert await executor.next_batch() == ["low-close", "low-closer"]
    executor.release()
    await batcher.close()


# -- refusing, expiring, cancelling ------------------------------------------------------


async def test_a_full_queue_refuses_at_once_with_a_retry_hint(clock: ManualClock) -> None:
    executor = Executor(clock, execution_s=0.25)
    observer = Recorder()
    batcher = make(executor, observer, max_batch_size=2, max_queue_size=4)
    await occupy(batcher, executor)
    queued = [batcher.submit_nowait(Item(str(i))) for i in range(3)]
    with pytest.raises(ResourceExhausted) as refused:
        batcher.submit_nowait(Item("two-rows", rows=2))
    assert refused.value.message == (
        "batcher 'test' queue is full: 3 of 4 rows queued, the item needs 2; retry after 0.050 s"
    )
    assert refused.value.retry_after_s == 0.05
    queued.append(batcher.submit_nowait(Item("3")))
    executor.release()  # "busy" took 0.25 s: the hint follows measured batches
    assert await executor.next_batch() == ["0", "1"]
    queued += [batcher.submit_nowait(Item("4")), batcher.submit_nowait(Item("5"))]
    with pytest.raises(ResourceExhausted) as refused:
        batcher.submit_nowait(Item("6"))
    assert refused.value.message == (
        "batcher 'test' queue is full: 4 of 4 rows queued, the item needs 1; retry after 0.250 s"
    )
    assert refused.value.retry_after_s == 0.25
    assert observer.drops == [
        ItemDropped("test", DropReason.QUEUE_FULL, rows=2, queue_wait_s=0.0),
        ItemDropped("test", DropReason.QUEUE_FULL, rows=1, queue_wait_s=0.0),
    ]
    for _ in range(3):
        executor.release()
        if len(executor.batches) < 4:
            await executor.next_batch()
    assert await asyncio.gather(*queued) == ["0!", "1!", "2!", "3!", "4!", "5!"]
    assert batcher.stats().rejected_items == 2
    await batcher.close()


async def test_an_item_whose_deadline_passes_in_the_queue_fails_and_never_runs(
    clock: ManualClock,
) -> None:
    executor = Executor(clock)
    observer = Recorder()
    batcher = make(executor, observer)
    await occupy(batcher, executor)
    late = batcher.submit_nowait(Item("late"), deadline=1.0)
    kept = batcher.submit_nowait(Item("kept"), deadline=5.0)
    assert batcher.pending_rows == 2
    clock.advance(1.0)
    with pytest.raises(DeadlineExceeded) as expired:
        await late
    assert expired.value.message == (
        "deadline passed after 1.000000 s in the queue of batcher 'test'"
    )
    assert batcher.pending_rows == 1
    executor.release()
    assert await executor.next_batch() == ["kept"]
    executor.release()
    assert await kept == "kept!"
    assert executor.batches == [["busy"], ["kept"]]
    assert observer.drops == [
        ItemDropped("test", DropReason.DEADLINE_EXCEEDED, rows=1, queue_wait_s=1.0)
    ]
    assert batcher.stats().expired_items == 1
    await batcher.close()


async def test_a_deadline_already_passed_is_refused_at_submit(clock: ManualClock) -> None:
    executor = Executor(clock)
    batcher = make(executor)
    clock.advance(2.0)
    with pytest.raises(DeadlineExceeded) as expired:
        batcher.submit_nowait(Item("a"), deadline=1.5)
    assert expired.value.message == (
        "deadline passed 0.500000 s before the item reached batcher 'test'"
    )
    assert batcher.pending_rows == 0
    assert executor.batches == []
    await batcher.close()


async def test_a_deadline_does_not_interrupt_an_executing_item(clock: ManualClock) -> None:
    executor = Executor(clock)
    batcher = make(executor)
    future = batcher.submit_nowait(Item("a"), deadline=1.0)
    batch = await asyncio.wait_for(executor.started.get(), 5)
    assert batch.deadline == 1.0
    clock.advance(2.0)
    executor.release()
    assert await future == "a!"
    await batcher.close()


async def test_a_cancelled_caller_is_dropped_before_it_runs(clock: ManualClock) -> None:
    executor = Executor(clock)
    observer = Recorder()
    batcher = make(executor, observer)
    await occupy(batcher, executor)
    caller = asyncio.create_task(batcher.submit(Item("gone", rows=3)))
    stays = batcher.submit_nowait(Item("stays"))
    await settle()
    assert batcher.pending_rows == 4
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    await settle()
    assert batcher.pending_rows == 1
    executor.release()
    assert await executor.next_batch() == ["stays"]
    executor.release()
    assert await stays == "stays!"
    assert executor.batches == [["busy"], ["stays"]]
    assert observer.drops == [ItemDropped("test", DropReason.CANCELLED, rows=3, queue_wait_s=0.0)]
    await batcher.close()


async def test_a_caller_cancelled_while_its_batch_runs_does_not_disturb_the_others(
    clock: ManualClock,
) -> None:
    executor = Executor(clock)
    batcher = make(executor, max_queue_delay_s=1.0)
    first = asyncio.create_task(batcher.submit(Item("a")))
    await settle()
    second = batcher.submit_nowait(Item("b"))
    clock.advance(1.0)
    assert await executor.next_batch() == ["a", "b"]
    first.cancel()
    executor.release()
    assert await second == "b!"
    assert first.cancelled()
    await batcher.close()


# -- failures ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "error", [InvalidArgument("inputs", "bad shape"), ValueError("onnx exploded")]
)
async def test_a_failing_execute_fails_every_item_with_the_same_exception(
    clock: ManualClock, error: Exception
) -> None:
    executor = Executor(clock, gated=False, error=error)
    observer = Recorder()
    batcher = make(executor, observer)
    outcomes = await asyncio.gather(
        *(batcher.submit(Item(name)) for name in "abc"), return_exceptions=True
    )
    assert all(outcome is error for outcome in outcomes)
    assert executor.batches == [["a", "b", "c"]]
    assert observer.batches[0].error is error
    stats = batcher.stats()
    assert (stats.failed_items, stats.failed_batches, stats.completed_items) == (3, 1, 0)
    executor.error = None
    assert await batcher.submit(Item("after")) == "after!"  # the batcher carries on
    await batcher.close()


async def test_a_wrong_result_count_fails_every_item(clock: ManualClock) -> None:
    executor = Executor(clock, gated=False, results=lambda batch: ["only one"])
    batcher = make(executor)
    outcomes = await asyncio.gather(
        batcher.submit(Item("a")), batcher.submit(Item("b")), return_exceptions=True
    )
    assert [type(outcome) for outcome in outcomes] == [RuntimeError, RuntimeError]
    assert str(outcomes[0]) == "batcher 'test': execute returned 1 results for a batch of 2 items"
    await batcher.close()


async def test_an_observer_that_raises_is_logged_and_ignored(
    clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken:
        def on_batch_executed(self, event: BatchExecuted) -> None:
            raise KeyError("metrics")

        def on_item_dropped(self, event: ItemDropped) -> None:
            raise KeyError("metrics")

    executor = Executor(clock, gated=False)
    batcher: DynamicBatcher[Item, str] = DynamicBatcher(
        executor, BatcherConfig(name="test"), cost=cost_of, observer=Broken(), clock=clock
    )
    batcher.start()
    with caplog.at_level(logging.ERROR):
        assert await batcher.submit(Item("a")) == "a!"
    assert caplog.messages == ["batch observer of batcher 'test' failed"]
    await batcher.close()


# -- lifecycle ---------------------------------------------------------------------------


async def test_close_with_drain_runs_what_is_queued_without_waiting_the_delay(
    clock: ManualClock,
) -> None:
    executor = Executor(clock)
    batcher = make(executor, max_batch_size=2, max_queue_delay_s=10.0)
    futures = [batcher.submit_nowait(Item(name)) for name in "abc"]
    assert await executor.next_batch() == ["a", "b"]
    closing = asyncio.create_task(batcher.close(drain=True))
    await settle()
    with pytest.raises(Unavailable) as refused:
        batcher.submit_nowait(Item("late"))
    assert refused.value.message == "batcher 'test' is shutting down"
    executor.release()
    assert await executor.next_batch() == ["c"]  # no clock advance needed
    assert not closing.done()
    executor.release()
    await closing
    assert await asyncio.gather(*futures) == ["a!", "b!", "c!"]
    assert clock.pending_timers() == 0
    with pytest.raises(Unavailable):
        await batcher.submit(Item("after"))


async def test_close_without_drain_fails_the_queue_and_finishes_what_runs(
    clock: ManualClock,
) -> None:
    executor = Executor(clock)
    observer = Recorder()
    batcher = make(executor, observer)
    busy = await occupy(batcher, executor)
    queued = [batcher.submit_nowait(Item(name), deadline=9.0) for name in "ab"]
    closing = asyncio.create_task(batcher.close(drain=False))
    await settle()
    for future in queued:
        with pytest.raises(Unavailable) as shut:
            await future
        assert shut.value.message == "batcher 'test' is shutting down"
    assert not closing.done()
    executor.release()
    await closing
    assert await busy == "busy!"
    assert executor.batches == [["busy"]]
    assert [drop.reason for drop in observer.drops] == [DropReason.SHUTDOWN] * 2
    assert clock.pending_timers() == 0  # the deadline timers went with the items
    await batcher.close()  # a second close returns at once


async def test_submit_before_start_is_refused(clock: ManualClock) -> None:
    batcher: DynamicBatcher[Item, str] = DynamicBatcher(
        Executor(clock), BatcherConfig(name="test"), clock=clock
    )
    with pytest.raises(FailedPrecondition) as refused:
        await batcher.submit(Item("a"))
    assert refused.value.message == "batcher 'test' is not started"
    await batcher.close()


async def test_the_batcher_is_an_async_context_manager(clock: ManualClock) -> None:
    executor = Executor(clock, gated=False)
    async with make_unstarted(executor) as batcher:
        assert await batcher.submit(Item("a")) == "a!"
    with pytest.raises(Unavailable):
        batcher.submit_nowait(Item("b"))


def make_unstarted(executor: Executor) -> DynamicBatcher[Item, str]:
    return DynamicBatcher(executor, BatcherConfig(name="test"), clock=executor.clock)


# -- validation --------------------------------------------------------------------------


async def test_invalid_items_are_refused_at_submit(clock: ManualClock) -> None:
    batcher = make(Executor(clock), max_batch_size=4, priority_levels=2)
    with pytest.raises(InvalidArgument) as too_big:
        batcher.submit_nowait(Item("wide", rows=5))
    assert (too_big.value.field, too_big.value.message) == (
        "rows",
        "rows: the item has 5 rows, more than max_batch_size 4 of batcher 'test'",
    )
    with pytest.raises(InvalidArgument) as bad_priority:
        batcher.submit_nowait(Item("a"), priority=2)
    assert bad_priority.value.message == "priority: must be 0..1 for batcher 'test', got 2"
    with pytest.raises(InvalidArgument) as no_rows:
        batcher.submit_nowait(Item("a", rows=0))
    assert no_rows.value.message == "rows: an item needs at least 1 row, got 0"
    assert batcher.pending_rows == 0
    await batcher.close()


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"max_batch_size": 0}, "max_batch_size must be >= 1, got 0"),
        ({"max_batch_tokens": 0}, "max_batch_tokens must be None or >= 1, got 0"),
        ({"max_queue_delay_s": -1.0}, "max_queue_delay_s must be a finite number >= 0, got -1.0"),
        ({"max_concurrent_batches": 0}, "max_concurrent_batches must be >= 1, got 0"),
        ({"priority_levels": 0}, "priority_levels must be >= 1, got 0"),
        (
            {"max_batch_size": 8, "max_queue_size": 4},
            "max_queue_size must be None or >= max_batch_size (8), got 4",
        ),
    ],
)
def test_bad_config_names_the_setting(settings: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError) as bad:
        BatcherConfig(**settings)  # type: ignore[arg-type]
    assert str(bad.value) == message


# -- tracing, statistics -----------------------------------------------------------------


async def test_the_batch_links_to_every_submitters_span(clock: ManualClock) -> None:
    executor = Executor(clock)
    batcher = make(executor, max_queue_delay_s=1.0)
    contexts = [
        SpanContext(
            trace_id=0x1000 + index,
            span_id=0x20 + index,
            is_remote=False,
            trace_flags=TraceFlags(TraceFlags.SAMPLED),
        )
        for index in range(2)
    ]
    for index, context in enumerate(contexts):
        with trace.use_span(NonRecordingSpan(context)):
            batcher.submit_nowait(Item(f"traced{index}"))
    batcher.submit_nowait(Item("untraced"))
    clock.advance(1.0)
    batch = await asyncio.wait_for(executor.started.get(), 5)
    assert [link.context for link in batch.links] == contexts
    assert batch.deadline is None
    executor.release()
    await batcher.close()


REQUEST_SCOPED: contextvars.ContextVar[str] = contextvars.ContextVar("request_scoped", default="")


async def test_a_batch_runs_in_a_fresh_context_not_its_first_submitters(
    clock: ManualClock,
) -> None:
    """A batch serves many callers: the span and deadline of whichever submit woke the
    batcher must not become the batch's (its callers reach it through Batch.links)."""
    seen: list[tuple[str, bool]] = []

    async def execute(batch: Batch[Item]) -> Sequence[str]:
        span_context = trace.get_current_span().get_span_context()
        seen.append((REQUEST_SCOPED.get(), span_context.is_valid))
        return [item.name for item in batch.items]

    batcher: DynamicBatcher[Item, str] = DynamicBatcher(
        execute, BatcherConfig(name="test", max_batch_size=8), cost=cost_of, clock=clock
    )
    batcher.start()
    traced = SpanContext(
        trace_id=0x1234, span_id=0x56, is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED)
    )

    async def caller() -> str:
        REQUEST_SCOPED.set("the first caller's")
        with trace.use_span(NonRecordingSpan(traced)):
            return await batcher.submit(Item("a"))

    assert await asyncio.wait_for(asyncio.create_task(caller()), 5) == "a"
    assert seen == [("", False)]
    await batcher.close()


async def test_observer_and_stats_report_each_batch(clock: ManualClock) -> None:
    executor = Executor(clock, execution_s=0.25)
    observer = Recorder()
    batcher = make(executor, observer, max_queue_delay_s=0.5)
    batcher.submit_nowait(Item("a", rows=2, length=7))
    clock.advance(0.25)
    batcher.submit_nowait(Item("b", rows=1, length=3))
    clock.advance(0.25)
    await executor.next_batch()
    assert batcher.stats().running_batches == 1
    executor.release()
    await batcher.close()
    assert observer.batches == [
        BatchExecuted(
            batcher="test",
            items=2,
            rows=3,
            max_length=7,
            padded_cost=21,
            queue_waits_s=(0.5, 0.25),
            execution_s=0.25,
            error=None,
        )
    ]
    stats = batcher.stats()
    assert (stats.submitted_items, stats.completed_items, stats.batches) == (2, 2, 1)
    assert (stats.pending_items, stats.pending_rows, stats.running_batches) == (0, 0, 0)


# -- many callers ------------------------------------------------------------------------


async def test_results_reach_the_right_caller_under_100_concurrent_submitters(
    clock: ManualClock,
) -> None:
    executor = Executor(clock, gated=False)
    batcher = make(executor, max_batch_size=8, max_concurrent_batches=2, priority_levels=3)
    shuffle = random.Random(7)

    async def caller(index: int) -> tuple[int, str]:
        for _ in range(shuffle.randrange(3)):
            await asyncio.sleep(0)
        result = await batcher.submit(Item(f"req{index}", rows=1 + index % 3), priority=index % 3)
        return index, result

    outcomes = await asyncio.gather(*(caller(index) for index in range(100)))
    assert all(result == f"req{index}!" for index, result in outcomes)
    executed = [name for batch in executor.batches for name in batch]
    assert sorted(executed) == sorted(f"req{index}" for index in range(100))
    assert len(executor.batches) > 1
    await batcher.close()


class DeafClock(ManualClock):
    """A clock whose timers never fire, as when the event loop is late: what the
    batcher decides must not depend on a timer having run."""

    def call_at(self, when: float, callback: Callable[[], None]) -> ManualTimer:
        return ManualTimer(when, callback)


async def test_an_expired_item_is_not_executed_even_if_its_timer_is_late() -> None:
    clock = DeafClock()
    executor = Executor(clock)
    observer = Recorder()
    batcher = make(executor, observer)
    await occupy(batcher, executor)
    late = batcher.submit_nowait(Item("late"), deadline=1.0)
    kept = batcher.submit_nowait(Item("kept"))
    clock.advance(2.0)
    assert not late.done()  # the timer did not fire
    executor.release()
    assert await executor.next_batch() == ["kept"]
    with pytest.raises(DeadlineExceeded) as expired:
        await late
    assert expired.value.message == (
        "deadline passed after 2.000000 s in the queue of batcher 'test'"
    )
    executor.release()
    assert await kept == "kept!"
    assert [drop.reason for drop in observer.drops] == [DropReason.DEADLINE_EXCEEDED]
    await batcher.close()


async def test_require_room_refuses_a_whole_request_with_the_batchers_estimate(
    clock: ManualClock,
) -> None:
    executor = Executor(clock, execution_s=0.25)
    observer = Recorder()
    batcher = make(executor, observer, max_batch_size=2, max_queue_size=4)
    await occupy(batcher, executor)
    queued = [batcher.submit_nowait(Item(str(i))) for i in range(2)]
    batcher.require_room(2)  # fits: 2 of 4 rows queued
    with pytest.raises(ResourceExhausted) as refused:
        batcher.require_room(3)
    assert refused.value.message == (
        "batcher 'test' queue is full: 2 of 4 rows queued, the request needs 3; retry after 0.050 s"
    )
    assert observer.drops == [ItemDropped("test", DropReason.QUEUE_FULL, rows=3, queue_wait_s=0.0)]
    for _ in range(2):
        executor.release()
        if len(executor.batches) < 2:
            await executor.next_batch()
    assert await asyncio.gather(*queued) == ["0!", "1!"]
    await batcher.close()
