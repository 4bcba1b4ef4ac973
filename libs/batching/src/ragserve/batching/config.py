"""What a batcher is allowed to do: its limits, and what one item costs."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ItemCost:
    """What one item occupies in a batch.

    ``rows`` is how many batch rows the item fills (a request with 3 texts fills 3);
    ``length`` is the tokens (or any per-row unit) of its longest row, so a batch's
    padded cost is ``max(length) * total rows``.
    """

    rows: int = 1
    length: int = 1


UNIT_COST = ItemCost()


@dataclass(frozen=True, slots=True)
class BatcherConfig:
    """Limits of one :class:`~ragserve.batching.DynamicBatcher`.

    Invariants (checked at construction, ``ValueError`` naming the field otherwise):
    ``max_batch_size >= 1`` rows; ``max_batch_tokens`` is ``None`` (no cap) or ``>= 1``;
    ``max_queue_delay_s >= 0`` (0 = a batch starts as soon as a slot is free);
    ``max_concurrent_batches >= 1``; ``priority_levels >= 1`` (0 is served first);
    ``max_queue_size`` is ``None`` (unbounded) or ``>= max_batch_size`` rows, so the
    largest admissible item always fits an empty queue.
    """

    name: str = "batcher"
    max_batch_size: int = 32
    max_batch_tokens: int | None = None
    max_queue_delay_s: float = 0.0
    max_concurrent_batches: int = 1
    priority_levels: int = 1
    group_by_length: bool = False
    max_queue_size: int | None = 1024

    def __post_init__(self) -> None:
        if self.max_batch_size < 1:
            raise ValueError(f"max_batch_size must be >= 1, got {self.max_batch_size}")
        if self.max_batch_tokens is not None and self.max_batch_tokens < 1:
            raise ValueError(f"max_batch_tokens must be None or >= 1, got {self.max_batch_tokens}")
        if not math.isfinite(self.max_queue_delay_s) or self.max_queue_delay_s < 0:
            raise ValueError(
                f"max_queue_delay_s must be a finite number >= 0, got {self.max_queue_delay_s}"
            )
        if self.max_concurrent_batches < 1:
            raise ValueError(
                f"max_concurrent_batches must be >= 1, got {self.max_concurrent_batches}"
            )
        if self.priority_levels < 1:
            raise ValueError(f"priority_levels must be >= 1, got {self.priority_levels}")
        if self.max_queue_size is not None and self.max_queue_size < self.max_batch_size:
            raise ValueError(
                f"max_queue_size must be None or >= max_batch_size ({self.max_batch_size}), "
                f"got {self.max_queue_size}"
            )
