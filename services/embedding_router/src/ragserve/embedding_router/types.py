"""The core's inputs and outputs: domain objects, which the servicer converts to and from protos."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ragserve.embedding_router.breaker import BreakerState
from ragserve.embedding_router.config import ModelConfig, ProviderKind

Vector = np.ndarray[tuple[int], np.dtype[np.float32]]


@dataclass(frozen=True, slots=True)
class EmbedCall:
    """One request. ``deadline`` is on the router's monotonic clock (``time.monotonic()``);
    None means the configured default from now."""

    tenant: str
    model: str
    texts: Sequence[str]
    deadline: float | None = None
    # Skip the cache lookup; fresh vectors are still written to the cache.
    bypass_cache: bool = False
    # Batcher priority at the providers: 0 high, 1 normal, 2 low.
    priority: int = 1
    # False: refuse a text whose token count exceeds the model's max_tokens instead of letting
    # the provider truncate it.
    truncate: bool = True


@dataclass(frozen=True, slots=True)
class EmbeddedText:
    """The answer for one text. ``provider_id`` is the provider that computed the vector (for a
    cache hit, the one that computed it originally). ``tokens`` and ``cost`` are what this call
    was charged for the text: both 0 for a cache hit, a text computed by another in-flight call,
    or a repeat of an earlier text of the same call. ``tokens_estimated``: ``tokens`` is an
    estimate, not a tokenizer's or the provider's count (always False when ``tokens`` is 0)."""

    vector: Vector
    provider_id: str
    cached: bool
    cost: float
    tokens: int
    tokens_estimated: bool


@dataclass(frozen=True, slots=True)
class EmbedResult:
    """Invariant: ``items`` has one entry per input text, in input order, every vector has
    ``model.dimension`` float32 values and comes from a provider of ``model``."""

    model: ModelConfig
    items: Sequence[EmbeddedText]

    @property
    def total_cost(self) -> float:
        return sum(item.cost for item in self.items)


@dataclass(frozen=True, slots=True)
class ModelInfo:
    model: ModelConfig
    provider_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ProviderStatus:
    provider_id: str
    model: str
    kind: ProviderKind
    external: bool
    breaker_state: BreakerState
    # Moving average of call latency; None until the first successful call.
    latency_s: float | None
    # Failed share of calls over the breaker's window (1 while open, 0 when no call yet).
    error_rate: float
    # Recent success ratio (moving average over calls, failures fading with time).
    success_ratio_ewma: float
    # Provider calls made since start, whatever their outcome.
    calls: int
    in_flight: int
    throttled_for_s: float
    retry_in_s: float
    price_per_1k_tokens: float
