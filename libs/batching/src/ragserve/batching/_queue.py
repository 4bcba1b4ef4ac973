"""The waiting room: queued items by priority, and the choice of the next batch.

Implements the selection policy described in :mod:`ragserve.batching`.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Iterator
from enum import Enum
from typing import Generic, TypeVar

from opentelemetry.trace import Link

from ragserve.batching.clock import TimerHandle

ItemT = TypeVar("ItemT")
ResultT = TypeVar("ResultT")


class EntryState(Enum):
    QUEUED = 1
    RUNNING = 2
    DROPPED = 3


class Entry(Generic[ItemT, ResultT]):
    """One submitted item and the future its caller awaits."""

    __slots__ = (
        "deadline",
        "deadline_timer",
        "enqueued_at",
        "future",
        "item",
        "length",
        "link",
        "priority",
        "rows",
        "sequence",
        "state",
    )

    def __init__(
        self,
        item: ItemT,
        rows: int,
        length: int,
        priority: int,
        sequence: int,
        enqueued_at: float,
        deadline: float | None,
        future: asyncio.Future[ResultT],
        link: Link | None,
    ) -> None:
        self.item = item
        self.rows = rows
        self.length = length
        self.priority = priority
        self.sequence = sequence
        self.enqueued_at = enqueued_at
        self.deadline = deadline
        self.future = future
        self.link = link
        self.state = EntryState.QUEUED
        self.deadline_timer: TimerHandle | None = None


class PendingQueue(Generic[ItemT, ResultT]):
    """Queued entries, one insertion-ordered map per priority level.

    Invariants: ``rows`` and ``items`` count exactly the entries held; an entry is held
    iff its state is QUEUED; within a level, iteration order is enqueue order.
    """

    def __init__(self, priority_levels: int) -> None:
        self._levels: list[OrderedDict[int, Entry[ItemT, ResultT]]] = [
            OrderedDict() for _ in range(priority_levels)
        ]
        self.rows = 0
        self.items = 0
        # An upper bound on the longest queued length, exact when not stale; removals
        # mark it stale rather than rescanning on every cancellation.
        self._max_length = 0
        self._max_length_stale = False

    def add(self, entry: Entry[ItemT, ResultT]) -> None:
        self._levels[entry.priority][entry.sequence] = entry
        self.rows += entry.rows
        self.items += 1
        if entry.length > self._max_length:
            self._max_length = entry.length

    def remove(self, entry: Entry[ItemT, ResultT]) -> None:
        del self._levels[entry.priority][entry.sequence]
        self.rows -= entry.rows
        self.items -= 1
        if entry.length >= self._max_length:
            self._max_length_stale = True

    def __iter__(self) -> Iterator[Entry[ItemT, ResultT]]:
        for level in self._levels:
            yield from level.values()

    def oldest(self) -> Entry[ItemT, ResultT] | None:
        """The earliest-enqueued entry of any level."""
        oldest: Entry[ItemT, ResultT] | None = None
        for level in self._levels:
            if level:
                head = next(iter(level.values()))
                if oldest is None or head.sequence < oldest.sequence:
                    oldest = head
        return oldest

    def max_length(self) -> int:
        if self._max_length_stale:
            self._max_length = max((entry.length for entry in self), default=0)
            self._max_length_stale = False
        return self._max_length

    def fills_a_batch(self, max_rows: int, max_tokens: int | None) -> bool:
        """True when waiting longer cannot make the next batch bigger: the queue holds a
        full batch of rows, or its padded cost reaches the token budget."""
        if self.rows >= max_rows:
            return True
        return max_tokens is not None and self.max_length() * self.rows >= max_tokens

    def select(
        self,
        max_rows: int,
        max_tokens: int | None,
        group_by_length: bool,
        usable: Callable[[Entry[ItemT, ResultT]], bool],
    ) -> tuple[list[Entry[ItemT, ResultT]], list[Entry[ItemT, ResultT]]]:
        """Choose the next batch (see the module docstring); does not remove anything.

        Returns ``(chosen, unusable)``: ``chosen`` in batch order (non-empty when any
        entry is usable), and the entries met on the way that ``usable`` rejected.
        """
        if group_by_length and _fits(self.max_length(), self.rows, max_rows, max_tokens):
            group_by_length = False  # everything fits: a grouped pick would take it all too
        if group_by_length:
            return self._select_grouped(max_rows, max_tokens, usable)
        return self._select_fifo(max_rows, max_tokens, usable)

    def _select_fifo(
        self,
        max_rows: int,
        max_tokens: int | None,
        usable: Callable[[Entry[ItemT, ResultT]], bool],
    ) -> tuple[list[Entry[ItemT, ResultT]], list[Entry[ItemT, ResultT]]]:
        chosen: list[Entry[ItemT, ResultT]] = []
        unusable: list[Entry[ItemT, ResultT]] = []
        rows = 0
        longest = 0
        for entry in self:
            if not usable(entry):
                unusable.append(entry)
                continue
            new_rows = rows + entry.rows
            new_longest = max(longest, entry.length)
            if chosen and not _fits(new_longest, new_rows, max_rows, max_tokens):
                break
            chosen.append(entry)
            rows, longest = new_rows, new_longest
            if rows >= max_rows:
                break
        return chosen, unusable

    def _select_grouped(
        self,
        max_rows: int,
        max_tokens: int | None,
        usable: Callable[[Entry[ItemT, ResultT]], bool],
    ) -> tuple[list[Entry[ItemT, ResultT]], list[Entry[ItemT, ResultT]]]:
        unusable: list[Entry[ItemT, ResultT]] = []
        anchor: Entry[ItemT, ResultT] | None = None
        for entry in self:
            if usable(entry):
                anchor = entry
                break
            unusable.append(entry)
        if anchor is None:
            return [], unusable
        chosen = [anchor]
        rows = anchor.rows
        longest = anchor.length
        target = anchor.length
        for level in self._levels[anchor.priority :]:
            if rows >= max_rows:
                break
            candidates = sorted(
                (entry for entry in level.values() if entry is not anchor),
                key=lambda entry: (abs(entry.length - target), entry.sequence),
            )
            for entry in candidates:
                if entry.sequence < anchor.sequence and entry.priority == anchor.priority:
                    continue  # already met (and rejected) while looking for the anchor
                if not usable(entry):
                    unusable.append(entry)
                    continue
                new_rows = rows + entry.rows
                new_longest = max(longest, entry.length)
                if not _fits(new_longest, new_rows, max_rows, max_tokens):
                    continue
                chosen.append(entry)
                rows, longest = new_rows, new_longest
                if rows >= max_rows:
                    break
        return chosen, unusable


def _fits(longest: int, rows: int, max_rows: int, max_tokens: int | None) -> bool:
    return rows <= max_rows and (max_tokens is None or longest * rows <= max_tokens)
