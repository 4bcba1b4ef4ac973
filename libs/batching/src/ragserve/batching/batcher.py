"""The dynamic batcher: one queue, one future per item, batches bounded by cost.

Scheduling is event driven rather than a polling loop: every change (a submit, a
batch finishing, a cancellation, a timer) calls ``_dispatch``, which starts a batch
when a slot is free and the queue is ready — it fills a batch (rows or padded tokens),
its oldest item has waited ``max_queue_delay_s``, or the batcher is draining — and
otherwise arms one timer for the moment the oldest item's delay runs out.

A started batch picks its items when its task first runs, one loop iteration after
the decision: submits made in the same iteration (a ``gather`` of many) join it, and
a slot that frees starts the next batch at once, with whatever waited meanwhile.
Only one batch is being picked at a time, so two slots never race for the same items.

A batch runs in a fresh ``contextvars`` context, not in the context of whichever
submit happened to start it: a batch serves many callers, and one caller's context
(its trace span, its deadline) must not become the batch's. ``Batch.links`` carries
every caller's span; ``Batch.deadline`` the batch's own deadline.
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import logging
from collections.abc import Awaitable, Callable, Sequence
from enum import Enum
from functools import partial
from types import TracebackType
from typing import Generic, TypeVar

from opentelemetry import trace

from ragserve.batching._queue import Entry, EntryState, PendingQueue
from ragserve.batching.clock import Clock, SystemClock, TimerHandle
from ragserve.batching.config import UNIT_COST, BatcherConfig, ItemCost
from ragserve.batching.events import (
    Batch,
    BatcherStats,
    BatchExecuted,
    BatchObserver,
    DropReason,
    ItemDropped,
)
from ragserve.errors import (
    Cancelled,
    DeadlineExceeded,
    FailedPrecondition,
    InvalidArgument,
    ResourceExhausted,
    Unavailable,
)

ItemT = TypeVar("ItemT")
ResultT = TypeVar("ResultT")

_log = logging.getLogger(__name__)

# Before any batch has been timed, a refused caller is told to retry after this long.
_DEFAULT_RETRY_AFTER_S = 0.05
_EWMA_WEIGHT = 0.2


class _Lifecycle(Enum):
    NEW = 1
    RUNNING = 2
    CLOSING = 3
    CLOSED = 4


class DynamicBatcher(Generic[ItemT, ResultT]):
    """Groups submitted items into batches and runs ``execute`` on each.

    Invariants:

    * every submitted item's future ends exactly once: with its own result (position
      ``i`` of ``execute``'s results goes to item ``i`` of the batch), with the batch's
      exception, or with a domain error (``DeadlineExceeded``, ``Unavailable``), or it
      is cancelled by its caller;
    * an item that expired, was cancelled, or was shut out while queued is never passed
      to ``execute``; an item already executing is never interrupted;
    * at most ``max_concurrent_batches`` calls of ``execute`` run at once;
    * a batch never exceeds ``max_batch_size`` rows, nor ``max_batch_tokens`` padded
      cost unless it is one item that alone exceeds it;
    * with a free slot, no item waits in the queue longer than ``max_queue_delay_s``
      (plus one loop iteration); with ``max_queue_delay_s == 0`` an item submitted to
      an idle batcher starts executing on the next loop iteration.

    ``execute`` runs on the event loop; an owner with blocking work runs it in a thread
    itself. All methods must be called from the loop ``start`` ran on.
    """

    def __init__(
        self,
        execute: Callable[[Batch[ItemT]], Awaitable[Sequence[ResultT]]],
        config: BatcherConfig,
        *,
        cost: Callable[[ItemT], ItemCost] | None = None,
        observer: BatchObserver | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._execute = execute
        self._config = config
        self._cost = cost
        self._observer = observer
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._queue: PendingQueue[ItemT, ResultT] = PendingQueue(config.priority_levels)
        self._lifecycle = _Lifecycle.NEW
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sequence = itertools.count()
        self._running_batches = 0  # slots taken, including the batch being picked
        self._picking = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._delay_timer: TimerHandle | None = None
        self._delay_timer_at = 0.0
        self._idle = asyncio.Event()
        self._closed = asyncio.Event()
        self._execution_ewma_s: float | None = None
        self._submitted = 0
        self._completed = 0
        self._failed = 0
        self._dropped = dict.fromkeys(DropReason, 0)
        self._batches = 0
        self._failed_batches = 0

    @property
    def config(self) -> BatcherConfig:
        return self._config

    @property
    def pending_rows(self) -> int:
        """Rows waiting in the queue (not those executing)."""
        return self._queue.rows

    @property
    def pending_items(self) -> int:
        return self._queue.items

    @property
    def running_batches(self) -> int:
        return self._running_batches

    def stats(self) -> BatcherStats:
        return BatcherStats(
            submitted_items=self._submitted,
            completed_items=self._completed,
            failed_items=self._failed,
            rejected_items=self._dropped[DropReason.QUEUE_FULL],
            expired_items=self._dropped[DropReason.DEADLINE_EXCEEDED],
            cancelled_items=self._dropped[DropReason.CANCELLED],
            shutdown_items=self._dropped[DropReason.SHUTDOWN],
            batches=self._batches,
            failed_batches=self._failed_batches,
            pending_items=self._queue.items,
            pending_rows=self._queue.rows,
            running_batches=self._running_batches,
        )

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        """Bind to the running event loop and accept submits. Call once."""
        if self._lifecycle is not _Lifecycle.NEW:
            raise RuntimeError(f"batcher '{self._config.name}' was already started")
        self._loop = asyncio.get_running_loop()
        self._lifecycle = _Lifecycle.RUNNING

    async def close(self, drain: bool = True) -> None:
        """Stop accepting submits, then wait until no batch runs.

        ``drain=True`` executes everything queued first (without waiting for the queue
        delay; deadlines still apply); ``drain=False`` fails every queued item with
        ``Unavailable``. Batches already executing always finish. Idempotent: a second
        call waits for the first.
        """
        if self._lifecycle is _Lifecycle.NEW:
            self._lifecycle = _Lifecycle.CLOSED
            self._closed.set()
            return
        if self._lifecycle is not _Lifecycle.RUNNING:
            await self._closed.wait()
            return
        self._lifecycle = _Lifecycle.CLOSING
        if not drain:
            for entry in list(self._queue):
                self._drop(entry, DropReason.SHUTDOWN, self._shutting_down())
        self._dispatch()
        await self._idle.wait()
        self._cancel_delay_timer()
        self._lifecycle = _Lifecycle.CLOSED
        self._closed.set()

    async def __aenter__(self) -> DynamicBatcher[ItemT, ResultT]:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close(drain=True)

    # -- submitting ------------------------------------------------------------------

    async def submit(
        self, item: ItemT, *, priority: int = 0, deadline: float | None = None
    ) -> ResultT:
        """Queue ``item`` and return its result once its batch has run.

        ``priority`` is 0 (served first) to ``priority_levels - 1``; ``deadline`` is an
        absolute time on the batcher's clock after which the item is no longer worth
        running. Cancelling the caller drops the item if it has not started.

        Raises at once: ``InvalidArgument`` (priority out of range, rows < 1 or
        > max_batch_size, length < 0), ``ResourceExhausted`` (queue full),
        ``DeadlineExceeded`` (deadline already passed), ``Unavailable`` (closing or
        closed), ``FailedPrecondition`` (not started). Later: ``DeadlineExceeded``,
        ``Unavailable`` (shut down without draining), or whatever ``execute`` raised.
        """
        return await self.submit_nowait(item, priority=priority, deadline=deadline)

    def submit_nowait(
        self, item: ItemT, *, priority: int = 0, deadline: float | None = None
    ) -> asyncio.Future[ResultT]:
        """As :meth:`submit`, but return the item's future; cancelling it drops the item."""
        loop = self._require_accepting()
        cost = self._cost(item) if self._cost is not None else UNIT_COST
        self._check_item(cost, priority)
        now = self._clock.now()
        if deadline is not None and deadline <= now:
            self._notify_drop(DropReason.DEADLINE_EXCEEDED, cost.rows, 0.0)
            raise DeadlineExceeded(
                f"deadline passed {now - deadline:.6f} s before the item reached "
                f"batcher '{self._config.name}'"
            )
        self._refuse_if_full(cost.rows, "the item")
        span_context = trace.get_current_span().get_span_context()
        future: asyncio.Future[ResultT] = loop.create_future()
        entry = Entry(
            item,
            cost.rows,
            cost.length,
            priority,
            next(self._sequence),
            now,
            deadline,
            future,
            trace.Link(span_context) if span_context.is_valid else None,
        )
        self._queue.add(entry)
        self._submitted += 1
        future.add_done_callback(partial(self._on_future_done, entry))
        if deadline is not None:
            entry.deadline_timer = self._clock.call_at(deadline, partial(self._on_deadline, entry))
        self._dispatch()
        return future

    def require_room(self, rows: int) -> None:
        """Raise ``ResourceExhausted`` (with the retry estimate, counted as a QUEUE_FULL
        drop) unless ``rows`` more rows fit in the queue now: for an owner that submits
        one request as several items and wants all of them queued or none."""
        self._refuse_if_full(rows, "the request")

    def _refuse_if_full(self, rows: int, needing: str) -> None:
        limit = self._config.max_queue_size
        if limit is not None and self._queue.rows + rows > limit:
            self._notify_drop(DropReason.QUEUE_FULL, rows, 0.0)
            retry_after_s = self._retry_after_s()
            raise ResourceExhausted(
                f"batcher '{self._config.name}' queue is full: {self._queue.rows} of "
                f"{limit} rows queued, {needing} needs {rows}; "
                f"retry after {retry_after_s:.3f} s",
                retry_after_s=retry_after_s,
            )

    def _require_accepting(self) -> asyncio.AbstractEventLoop:
        if self._lifecycle is _Lifecycle.RUNNING and self._loop is not None:
            return self._loop
        if self._lifecycle is _Lifecycle.NEW:
            raise FailedPrecondition(f"batcher '{self._config.name}' is not started")
        raise self._shutting_down()

    def _check_item(self, cost: ItemCost, priority: int) -> None:
        config = self._config
        if not 0 <= priority < config.priority_levels:
            raise InvalidArgument(
                "priority",
                f"must be 0..{config.priority_levels - 1} for batcher '{config.name}', "
                f"got {priority}",
            )
        if cost.rows < 1:
            raise InvalidArgument("rows", f"an item needs at least 1 row, got {cost.rows}")
        if cost.rows > config.max_batch_size:
            raise InvalidArgument(
                "rows",
                f"the item has {cost.rows} rows, more than max_batch_size "
                f"{config.max_batch_size} of batcher '{config.name}'",
            )
        if cost.length < 0:
            raise InvalidArgument("length", f"must be >= 0, got {cost.length}")

    def _shutting_down(self) -> Unavailable:
        return Unavailable(f"batcher '{self._config.name}' is shutting down")

    def _retry_after_s(self) -> float:
        # The queue gains room when a batch leaves it, at the latest one batch
        # execution from now; before any batch has run, a short fixed guess.
        estimate = self._execution_ewma_s
        if estimate is None:
            estimate = _DEFAULT_RETRY_AFTER_S
        return max(0.001, estimate, self._config.max_queue_delay_s)

    # -- scheduling ------------------------------------------------------------------

    def _dispatch(self) -> None:
        """Start a batch if one is due; otherwise arm the delay timer (see module doc)."""
        config = self._config
        if (
            self._picking
            or self._running_batches >= config.max_concurrent_batches
            or self._queue.items == 0
        ):
            self._cancel_delay_timer()
            if self._queue.items == 0 and self._running_batches == 0:
                self._set_idle_if_closing()
            return
        oldest = self._queue.oldest()
        assert oldest is not None  # the queue is not empty
        due = oldest.enqueued_at + config.max_queue_delay_s
        if (
            self._lifecycle is _Lifecycle.CLOSING
            or due <= self._clock.now()
            or self._queue.fills_a_batch(config.max_batch_size, config.max_batch_tokens)
        ):
            self._cancel_delay_timer()
            self._start_batch()
        elif self._delay_timer is None or self._delay_timer_at != due:
            self._cancel_delay_timer()
            self._delay_timer_at = due
            self._delay_timer = self._clock.call_at(due, self._on_delay_timer)

    def _start_batch(self) -> None:
        assert self._loop is not None
        self._picking = True
        self._running_batches += 1
        task = self._loop.create_task(self._run_batch(), context=contextvars.Context())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _on_delay_timer(self) -> None:
        self._delay_timer = None
        self._dispatch()

    def _cancel_delay_timer(self) -> None:
        if self._delay_timer is not None:
            self._delay_timer.cancel()
            self._delay_timer = None

    def _set_idle_if_closing(self) -> None:
        if self._lifecycle is _Lifecycle.CLOSING:
            self._idle.set()

    def _on_future_done(
        self, entry: Entry[ItemT, ResultT], future: asyncio.Future[ResultT]
    ) -> None:
        if future.cancelled() and entry.state is EntryState.QUEUED:
            self._drop(entry, DropReason.CANCELLED, None)
            self._dispatch()

    def _on_deadline(self, entry: Entry[ItemT, ResultT]) -> None:
        entry.deadline_timer = None
        if entry.state is EntryState.QUEUED and not entry.future.done():
            self._expire(entry)
            self._dispatch()

    def _expire(self, entry: Entry[ItemT, ResultT]) -> None:
        waited = self._clock.now() - entry.enqueued_at
        self._drop(
            entry,
            DropReason.DEADLINE_EXCEEDED,
            DeadlineExceeded(
                f"deadline passed after {waited:.6f} s in the queue of batcher "
                f"'{self._config.name}'"
            ),
        )

    def _drop(
        self, entry: Entry[ItemT, ResultT], reason: DropReason, error: BaseException | None
    ) -> None:
        """Take a queued entry out for good, failing its future with ``error``."""
        self._queue.remove(entry)
        entry.state = EntryState.DROPPED
        if entry.deadline_timer is not None:
            entry.deadline_timer.cancel()
            entry.deadline_timer = None
        if error is not None and not entry.future.done():
            entry.future.set_exception(error)
        self._notify_drop(reason, entry.rows, self._clock.now() - entry.enqueued_at)

    # -- executing -------------------------------------------------------------------

    async def _run_batch(self) -> None:
        try:
            self._picking = False
            entries = self._pick()
            self._dispatch()  # another free slot may take what is left
            if entries:
                await self._execute_batch(entries)
        finally:
            self._running_batches -= 1
            self._dispatch()

    def _pick(self) -> list[Entry[ItemT, ResultT]]:
        config = self._config
        now = self._clock.now()

        def usable(entry: Entry[ItemT, ResultT]) -> bool:
            return not entry.future.done() and (entry.deadline is None or entry.deadline > now)

        chosen, unusable = self._queue.select(
            config.max_batch_size, config.max_batch_tokens, config.group_by_length, usable
        )
        for entry in unusable:
            if entry.future.done():
                self._drop(entry, DropReason.CANCELLED, None)
            else:
                self._expire(entry)
        for entry in chosen:
            self._queue.remove(entry)
            entry.state = EntryState.RUNNING
            if entry.deadline_timer is not None:
                entry.deadline_timer.cancel()
                entry.deadline_timer = None
        return chosen

    async def _execute_batch(self, entries: list[Entry[ItemT, ResultT]]) -> None:
        deadlines = [entry.deadline for entry in entries]
        batch = Batch(
            items=[entry.item for entry in entries],
            rows=sum(entry.rows for entry in entries),
            max_length=max(entry.length for entry in entries),
            links=[entry.link for entry in entries if entry.link is not None],
            deadline=None if None in deadlines else max(d for d in deadlines if d is not None),
        )
        started_at = self._clock.now()
        try:
            results = await self._execute(batch)
        except asyncio.CancelledError:
            self._finish(
                entries,
                batch,
                started_at,
                None,
                Cancelled(f"a batch of batcher '{self._config.name}' was cancelled"),
            )
            raise
        except Exception as error:
            self._finish(entries, batch, started_at, None, error)
            return
        if len(results) != len(entries):
            self._finish(
                entries,
                batch,
                started_at,
                None,
                RuntimeError(
                    f"batcher '{self._config.name}': execute returned {len(results)} "
                    f"results for a batch of {len(entries)} items"
                ),
            )
            return
        self._finish(entries, batch, started_at, results, None)

    def _finish(
        self,
        entries: list[Entry[ItemT, ResultT]],
        batch: Batch[ItemT],
        started_at: float,
        results: Sequence[ResultT] | None,
        error: BaseException | None,
    ) -> None:
        finished_at = self._clock.now()
        execution_s = finished_at - started_at
        self._batches += 1
        if error is None and results is not None:
            self._completed += len(entries)
            for entry, result in zip(entries, results, strict=True):
                if not entry.future.done():
                    entry.future.set_result(result)
        else:
            assert error is not None
            self._failed_batches += 1
            self._failed += len(entries)
            for entry in entries:
                if not entry.future.done():
                    entry.future.set_exception(error)
        for entry in entries:
            entry.state = EntryState.DROPPED
        previous = self._execution_ewma_s
        self._execution_ewma_s = (
            execution_s if previous is None else previous + _EWMA_WEIGHT * (execution_s - previous)
        )
        if self._observer is not None:
            event = BatchExecuted(
                batcher=self._config.name,
                items=len(entries),
                rows=batch.rows,
                max_length=batch.max_length,
                padded_cost=batch.padded_cost,
                queue_waits_s=tuple(started_at - entry.enqueued_at for entry in entries),
                execution_s=execution_s,
                error=error,
            )
            try:
                self._observer.on_batch_executed(event)
            except Exception:
                _log.exception("batch observer of batcher '%s' failed", self._config.name)

    def _notify_drop(self, reason: DropReason, rows: int, queue_wait_s: float) -> None:
        self._dropped[reason] += 1
        if self._observer is None:
            return
        event = ItemDropped(
            batcher=self._config.name, reason=reason, rows=rows, queue_wait_s=queue_wait_s
        )
        try:
            self._observer.on_item_dropped(event)
        except Exception:
            _log.exception("batch observer of batcher '%s' failed", self._config.name)
