"""Dynamic batching: cost-bounded batches, priorities, deadlines, cancellation.

A :class:`DynamicBatcher` is an object its owner (a model, a provider) starts and
closes. Callers ``await batcher.submit(item)``; the batcher groups queued items into
:class:`Batch` es and awaits the owner's ``execute(batch)`` for each. It knows nothing
of gRPC, ONNX or text: an item's size is what the owner's cost function says.
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
