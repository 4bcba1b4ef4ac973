"""The selection policy on its own: which queued entries make the next batch."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from ragserve.batching._queue import Entry, PendingQueue


@pytest.fixture
def queue() -> PendingQueue[str, str]:
    return PendingQueue(priority_levels=2)


_sequence = itertools.count()


def add(
    queue: PendingQueue[str, str], name: str, *, rows: int = 1, length: int = 1, priority: int = 0
) -> Entry[str, str]:
    future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    entry = Entry(name, rows, length, priority, next(_sequence), 0.0, None, future, None)
    queue.add(entry)
    return entry


def names(entries: list[Entry[str, str]]) -> list[str]:
    return [entry.item for entry in entries]


def everything(entry: Entry[str, str]) -> bool:
    return True


async def test_counts_and_oldest_follow_adds_and_removes(queue: PendingQueue[str, str]) -> None:
    low = add(queue, "low", rows=2, priority=1)
    high = add(queue, "high", rows=3, priority=0)
    assert (queue.rows, queue.items, queue.oldest()) == (5, 2, low)
    queue.remove(low)
    assert (queue.rows, queue.items, queue.oldest()) == (3, 1, high)
    queue.remove(high)
    assert (queue.rows, queue.items, queue.oldest()) == (0, 0, None)


async def test_fills_a_batch_by_rows_or_by_padded_tokens(queue: PendingQueue[str, str]) -> None:
    add(queue, "a", rows=2, length=10)
    longest = add(queue, "b", rows=1, length=40)
    assert not queue.fills_a_batch(max_rows=4, max_tokens=None)
    assert queue.fills_a_batch(max_rows=3, max_tokens=None)
    assert queue.fills_a_batch(max_rows=8, max_tokens=120)  # 3 rows x 40
    assert not queue.fills_a_batch(max_rows=8, max_tokens=121)
    queue.remove(longest)  # the longest left: the bound must come down
    assert not queue.fills_a_batch(max_rows=8, max_tokens=21)
    assert queue.max_length() == 10


async def test_fifo_stops_at_the_first_item_that_does_not_fit(
    queue: PendingQueue[str, str],
) -> None:
    add(queue, "a", rows=2)
    add(queue, "b", rows=3)
    add(queue, "c", rows=1)
    chosen, unusable = queue.select(4, None, False, everything)
    assert (names(chosen), unusable) == (["a"], [])  # "c" would fit but must not overtake "b"


async def test_unusable_entries_are_reported_and_skipped(queue: PendingQueue[str, str]) -> None:
    dead = add(queue, "dead")
    add(queue, "a")
    add(queue, "b", priority=1)
    for group in (False, True):
        chosen, unusable = queue.select(1, None, group, lambda entry: entry is not dead)
        assert (names(chosen), unusable) == (["a"], [dead])


async def test_grouped_takes_everything_in_queue_order_when_it_all_fits(
    queue: PendingQueue[str, str],
) -> None:
    for length in [9, 1, 5]:
        add(queue, f"l{length}", length=length)
    chosen, _ = queue.select(3, None, True, everything)
    assert names(chosen) == ["l9", "l1", "l5"]


async def test_grouped_prefers_the_older_of_two_equally_close_lengths(
    queue: PendingQueue[str, str],
) -> None:
    for length in [20, 24, 16, 40]:
        add(queue, f"l{length}", length=length)
    chosen, _ = queue.select(2, None, True, everything)
    assert names(chosen) == ["l20", "l24"]


async def test_nothing_usable_gives_an_empty_batch(queue: PendingQueue[str, str]) -> None:
    add(queue, "a")
    for group in (False, True):
        chosen, unusable = queue.select(4, None, group, lambda entry: False)
        assert (chosen, names(unusable)) == ([], ["a"])
