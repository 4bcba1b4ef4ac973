"""What the batcher hands its executor, and what it tells its observer.

One frozen dataclass per hook call, so a field can be added without breaking
anyone who implements :class:`BatchObserver`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, Protocol, TypeVar

from opentelemetry.trace import Link

ItemT_co = TypeVar("ItemT_co", covariant=True)


@dataclass(frozen=True, slots=True)
class Batch(Generic[ItemT_co]):
    """One batch to execute.

    Invariants: ``items`` is non-empty and in the order the results must come back;
    ``rows`` is the sum of the items' rows (``<= max_batch_size``); ``max_length`` is
    their longest length, so ``padded_cost <= max_batch_tokens`` unless the batch is a
    single item that alone exceeds the budget. ``links`` holds one link per item whose
    submitter had a valid span context, so the executor can start one batch span linked
    to every request span. ``deadline`` is the latest of the items' deadlines (the
    longest a call serving all of them may usefully run), or ``None`` if any item has
    no deadline.
    """

    items: Sequence[ItemT_co]
    rows: int
    max_length: int
    links: Sequence[Link]
    deadline: float | None

    @property
    def size(self) -> int:
        """Number of items (requests); see ``rows`` for batch rows."""
        return len(self.items)

    @property
    def padded_cost(self) -> int:
        return self.max_length * self.rows


@dataclass(frozen=True, slots=True)
class BatchExecuted:
    """A batch finished, well or not (``error`` is what every item of it received)."""

    batcher: str
    items: int
    rows: int
    max_length: int
    padded_cost: int
    queue_waits_s: tuple[float, ...]
    execution_s: float
    error: BaseException | None


class DropReason(StrEnum):
    QUEUE_FULL = "queue_full"
    DEADLINE_EXCEEDED = "deadline_exceeded"
    CANCELLED = "cancelled"
    SHUTDOWN = "shutdown"


@dataclass(frozen=True, slots=True)
class ItemDropped:
    """An item left without executing: refused at submit, expired, cancelled or shut out.

    ``queue_wait_s`` is 0 for an item refused at submit.
    """

    batcher: str
    reason: DropReason
    rows: int
    queue_wait_s: float


class BatchObserver(Protocol):
    """Receives the batcher's events (for metrics). Called on the event loop; must not
    block. An exception raised here is logged and otherwise ignored."""

    def on_batch_executed(self, event: BatchExecuted) -> None: ...

    def on_item_dropped(self, event: ItemDropped) -> None: ...


@dataclass(frozen=True, slots=True)
class BatcherStats:
    """A snapshot of a batcher's counters (monotonic since start) and gauges."""

    submitted_items: int
    completed_items: int
    failed_items: int
    rejected_items: int
    expired_items: int
    cancelled_items: int
    shutdown_items: int
    batches: int
    failed_batches: int
    pending_items: int
    pending_rows: int
    running_batches: int
