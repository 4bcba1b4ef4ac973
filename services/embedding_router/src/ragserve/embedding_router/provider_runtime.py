"""One provider as the router sees it: its client behind a micro-batcher, its breaker, its stats.

Each text is submitted to the provider's batcher on its own, so concurrent small requests are
coalesced into one provider call of up to ``max_batch`` texts. The breaker and the statistics
count provider calls (batches), not texts: one failed call of 32 texts is one failure.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence

import numpy as np

from ragserve.batching import BatcherConfig, DynamicBatcher
from ragserve.batching.events import Batch
from ragserve.embedding_router.breaker import BreakerState, CircuitBreaker
from ragserve.embedding_router.config import (
    BreakerConfig,
    ModelConfig,
    ProviderConfig,
    RoutingConfig,
)
from ragserve.embedding_router.metrics import RouterMetrics
from ragserve.embedding_router.providers.base import EmbeddingClient, ProviderError
from ragserve.embedding_router.selection import Candidate, ProviderStats

log = logging.getLogger(__name__)

Vector = np.ndarray[tuple[int], np.dtype[np.float32]]

# Batcher priorities: 0 high, 1 normal, 2 low.
PRIORITY_LEVELS = 3

_BREAKER_GAUGE = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}


class RateLimiter:
    """At most ``rate`` calls per second, spaced evenly (a leaky bucket of one slot)."""

    def __init__(self, rate: float, clock: Callable[[], float]) -> None:
        self._interval = 1.0 / rate
        self._clock = clock
        self._next_free = 0.0

    def reserve(self) -> float:
        """Take the next slot; returns how long to wait for it."""
        now = self._clock()
        start = max(now, self._next_free)
        self._next_free = start + self._interval
        return start - now


class ProviderRuntime:
    def __init__(
        self,
        config: ProviderConfig,
        model: ModelConfig,
        client: EmbeddingClient,
        *,
        routing: RoutingConfig,
        breaker: BreakerConfig,
        metrics: RouterMetrics,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.model = model
        self.client = client
        self._metrics = metrics
        self._clock = clock
        self.stats = ProviderStats(routing.ewma_alpha)
        self.breaker = CircuitBreaker(breaker, clock, self._on_breaker_change)
        self.throttled_until = 0.0
        self._rate_limiter = (
            RateLimiter(config.rate_limit_rps, clock) if config.rate_limit_rps else None
        )
        self._batcher: DynamicBatcher[str, Vector] = DynamicBatcher(
            self._execute,
            BatcherConfig(
                name=f"provider-{config.id}",
                max_batch_size=config.max_batch,
                max_queue_delay_s=config.max_batch_wait_s,
                max_concurrent_batches=config.max_concurrency,
                priority_levels=PRIORITY_LEVELS,
                max_queue_size=max(8192, config.max_batch),
            ),
        )
        metrics.breaker_state.labels(config.id).set(0)

    @property
    def id(self) -> str:
        return self.config.id

    async def start(self) -> None:
        self._batcher.start()

    async def close(self) -> None:
        await self._batcher.close()
        await self.client.close()

    def is_throttled(self) -> bool:
        return self._clock() < self.throttled_until

    def candidate(self) -> Candidate:
        return Candidate(
            provider_id=self.config.id,
            price_per_1k_tokens=self.config.price_per_1k_tokens,
            quality=self.config.quality,
            latency_s=self.stats.latency_s,
            success_ratio=self.stats.success_ratio,
            in_flight=self.stats.in_flight,
        )

    async def embed_many(
        self, texts: Sequence[str], deadline: float, priority: int = 1
    ) -> list[Vector | ProviderError]:
        """One result per text, in order: its vector, or the error of the call that carried it."""
        self.stats.in_flight += len(texts)
        try:
            # The batcher never interrupts a running batch, so the caller's wait is bounded here.
            outcomes: list[object] = await asyncio.wait_for(
                asyncio.gather(
                    *(
                        self._batcher.submit(text, priority=priority, deadline=deadline)
                        for text in texts
                    ),
                    return_exceptions=True,
                ),
                timeout=max(0.0, deadline - self._clock()),
            )
        except TimeoutError:
            timeout = ProviderError(f"provider {self.id!r}: no answer before the deadline")
            outcomes = [timeout] * len(texts)
        finally:
            self.stats.in_flight -= len(texts)
        results: list[Vector | ProviderError] = []
        for outcome in outcomes:
            if isinstance(outcome, ProviderError):
                results.append(outcome)
            elif isinstance(outcome, BaseException):
                if isinstance(outcome, asyncio.CancelledError):
                    raise outcome
                # Queue full, expired in the queue, shut down: the provider did not answer.
                results.append(
                    ProviderError(f"provider {self.id!r}: {type(outcome).__name__}: {outcome}")
                )
            else:
                results.append(outcome)  # type: ignore[arg-type]
        return results

    async def _execute(self, batch: Batch[str]) -> list[Vector]:
        if not self.breaker.try_acquire():
            raise ProviderError(f"provider {self.id!r}: circuit open")
        if self._rate_limiter is not None:
            wait = self._rate_limiter.reserve()
            if wait > 0:
                await asyncio.sleep(wait)
        deadline = batch.deadline if batch.deadline is not None else self._clock() + 30.0
        started = self._clock()
        try:
            vectors = await self.client.embed(list(batch.items), deadline - started)
            vectors = self._check(vectors, len(batch.items))
        except ProviderError as error:
            self._record_failure(error, self._clock() - started)
            raise
        except asyncio.CancelledError:
            self.breaker.release()
            raise
        except Exception as error:
            # A client bug or an unexpected reply is still this provider failing the call.
            wrapped = ProviderError(f"provider {self.id!r}: {type(error).__name__}: {error}")
            self._record_failure(wrapped, self._clock() - started)
            raise wrapped from error
        elapsed = self._clock() - started
        self.breaker.record_success()
        self.stats.record(elapsed, ok=True)
        labels = (self.model.id, self.id)
        self._metrics.provider_calls.labels(*labels, "ok").inc()
        self._metrics.provider_latency.labels(*labels).observe(elapsed)
        self._metrics.provider_batch_size.labels(self.id).observe(len(batch.items))
        return [vectors[i] for i in range(len(batch.items))]

    def _check(self, vectors: np.ndarray, count: int) -> np.ndarray:
        if vectors.shape != (count, self.model.dimension):
            raise ProviderError(
                f"provider {self.id!r}: returned shape {tuple(vectors.shape)}, model "
                f"{self.model.id!r} needs ({count}, {self.model.dimension})"
            )
        vectors = np.asarray(vectors, dtype=np.float32)
        if not np.isfinite(vectors).all():
            raise ProviderError(f"provider {self.id!r}: returned non-finite values")
        if self.model.normalized:
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            # Vectors already of unit length keep the provider's exact bits.
            if not np.allclose(norms, 1.0, atol=1e-4):
                vectors = vectors / np.maximum(norms, np.float32(1e-12))
        return vectors.astype(np.float32, copy=False)

    def _record_failure(self, error: ProviderError, elapsed: float) -> None:
        labels = (self.model.id, self.id)
        if error.throttled:
            # Being told to slow down is not a fault: no breaker failure, just a pause.
            self.breaker.release()
            pause = error.retry_after_s if error.retry_after_s is not None else 1.0
            self.throttled_until = max(self.throttled_until, self._clock() + pause)
            self._metrics.provider_calls.labels(*labels, "throttled").inc()
            return
        if not error.retryable:
            # The provider judged the input; it is healthy.
            self.breaker.release()
            self._metrics.provider_calls.labels(*labels, "rejected").inc()
            return
        self.breaker.record_failure()
        self.stats.record(elapsed, ok=False)
        self._metrics.provider_calls.labels(*labels, "error").inc()

    def _on_breaker_change(self, old: BreakerState, new: BreakerState) -> None:
        log.warning(
            "provider %s breaker %s -> %s",
            self.id,
            old.value,
            new.value,
            extra={"event": "breaker", "provider": self.id, "from": old.value, "to": new.value},
        )
        self._metrics.breaker_state.labels(self.id).set(_BREAKER_GAUGE[new])
        self._metrics.breaker_transitions.labels(self.id, new.value).inc()
        if new is BreakerState.CLOSED:
            # A provider that proved itself again starts with a clean record, or the reliability
            # floor would keep it idle forever.
            self.stats.success_ratio = 1.0
