"""Dynamic batching: cost-bounded batches, priorities, deadlines, cancellation.

A :class:`DynamicBatcher` is an object its owner (a model, a provider) starts and
closes. Callers ``await batcher.submit(item)``; the batcher groups queued items into
:class:`Batch` es and awaits the owner's ``execute(batch)`` for each. It knows nothing
of gRPC, ONNX or text: an item's size is what the owner's cost function says.

When a batch closes (whichever comes first, evaluated whenever a slot is free):
the queued rows reach ``max_batch_size``; the queue's padded cost
``max(length) * rows`` reaches ``max_batch_tokens``; the oldest queued item has
waited ``max_queue_delay_s``; or the batcher is draining on close.

Which items a closing batch takes:

* Priorities are strict: every candidate of level ``p`` is considered before any of
  level ``p + 1``. A sustained stream of high-priority work can therefore starve
  lower levels; that is what a priority is for.
* FIFO (``group_by_length=False``): items are taken in queue order, and the batch
  closes at the first item that does not fit (rows or padded tokens), so no item is
  overtaken by a younger one of its level.
* Grouped (``group_by_length=True``): if everything queued fits one batch, it is all
  taken. Otherwise the oldest item of the highest non-empty level is taken first (the
  anchor: it guarantees every item of that level is served once it is the oldest, so
  nothing in it starves); then, level by level, the remaining items ordered by
  ``abs(length - anchor.length)`` (older first on ties) are added when they fit, and
  skipped when they do not, until the batch is full. This keeps padding small.
* The first item always fits: an item alone over the token budget runs alone.
"""

from ragserve.batching.batcher import DynamicBatcher
from ragserve.batching.clock import Clock, ManualClock, SystemClock, TimerHandle
from ragserve.batching.config import BatcherConfig, ItemCost
from ragserve.batching.events import (
    Batch,
    BatcherStats,
    BatchExecuted,
    BatchObserver,
    DropReason,
    ItemDropped,
)

__all__ = [
    "Batch",
    "BatchExecuted",
    "BatchObserver",
    "BatcherConfig",
    "BatcherStats",
    "Clock",
    "DropReason",
    "DynamicBatcher",
    "ItemCost",
    "ItemDropped",
    "ManualClock",
    "SystemClock",
    "TimerHandle",
]
