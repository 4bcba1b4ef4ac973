"""One provider as the router sees it: its client behind a micro-batcher, its breaker, its stats.

Each text is submitted to the provider's batcher on its own, so concurrent small requests are
coalesced into one provider call of up to ``max_batch`` texts: with no wait configured a lone
text goes at once, and texts arriving while calls run share the next call. The breaker and the
statistics count provider calls (batches), not texts: one failed call of 32 texts is one failure.

A provider call whose callers have all gone (cancelled, or past their deadline) is cancelled
too: nobody would read its answer, and it holds one of the provider's concurrency slots. It
counts neither for nor against the provider.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ragserve.batching import BatcherConfig, DynamicBatcher
from ragserve.batching.clock import TimerHandle
from ragserve.batching.events import Batch
from ragserve.embedding_router.batch_trace import provider_call_span
from ragserve.embedding_router.breaker import BreakerState, CircuitBreaker
from ragserve.embedding_router.config import (
    BreakerConfig,
    ModelConfig,
    ProviderConfig,
    RoutingConfig,
)
from ragserve.embedding_router.metrics import RouterMetrics
from ragserve.embedding_router.providers.base import EmbeddingClient, Priority, ProviderError
from ragserve.embedding_router.selection import Candidate, ProviderStats
from ragserve.embedding_router.tokens import apportion

log = logging.getLogger(__name__)

Vector = np.ndarray[tuple[int], np.dtype[np.float32]]

# Batcher priorities: 0 high, 1 normal, 2 low.
PRIORITY_LEVELS = len(Priority)

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


class _BatcherClock:
    """The router's clock as its batchers' clock: the deadlines a batcher is given are on the
    router's clock, so it must read the same one. Timers run on the event loop."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock

    def now(self) -> float:
        return self._clock()

    def call_at(self, when: float, callback: Callable[[], None]) -> TimerHandle:
        return asyncio.get_running_loop().call_later(max(0.0, when - self._clock()), callback)


@dataclass(frozen=True, slots=True)
class ProviderVector:
    """One text's answer from a provider call. ``tokens`` is the provider's own count when it
    reported one for the call (``reported``; split over the call's texts in proportion to the
    router's counts), else the router's count that came with the text."""

    vector: Vector
    tokens: int
    reported: bool


class CallersGone(Exception):
    """A provider call was cancelled because every caller waiting for it had gone."""


class _Caller:
    """One :meth:`ProviderRuntime.embed_many` call, as seen by the provider calls carrying its
    texts: when it leaves, each of those calls loses one caller."""

    __slots__ = ("gone", "watches")

    def __init__(self) -> None:
        self.gone = False
        self.watches: list[_CallWatch] = []

    def leave(self) -> None:
        self.gone = True
        for watch in self.watches:
            watch.leave()
        self.watches.clear()


class _CallWatch:
    """Cancels one running provider call when the last of its callers has left."""

    __slots__ = ("_call", "_live", "abandoned")

    def __init__(self, call: asyncio.Future[Any], live: int) -> None:
        self._call = call
        self._live = live
        self.abandoned = False

    def leave(self) -> None:
        self._live -= 1
        if self._live <= 0 and not self._call.done():
            self.abandoned = True
            self._call.cancel()


@dataclass(frozen=True, slots=True)
class _Item:
    text: str
    tokens: int
    priority: Priority
    caller: _Caller


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
        self.stats = ProviderStats(routing.ewma_alpha, routing.reliability_half_life_s, clock)
        # Every call made to the provider, whatever its outcome.
        self.calls = 0
        self.breaker = CircuitBreaker(breaker, clock, self._on_breaker_change)
        self.throttled_until = 0.0
        self._rate_limiter = (
            RateLimiter(config.rate_limit_rps, clock) if config.rate_limit_rps else None
        )
        self._batcher: DynamicBatcher[_Item, ProviderVector] = DynamicBatcher(
            self._execute,
            BatcherConfig(
                name=f"provider-{config.id}",
                max_batch_size=config.max_batch,
                max_queue_delay_s=config.max_batch_wait_s,
                max_concurrent_batches=config.max_concurrency,
                priority_levels=PRIORITY_LEVELS,
                max_queue_size=max(8192, config.max_batch),
            ),
            clock=_BatcherClock(clock),
        )
        labels = (model.id, config.id)
        self._outcomes = {
            outcome: metrics.provider_calls.labels(*labels, outcome)
            for outcome in ("ok", "error", "throttled", "rejected", "abandoned")
        }
        self._latency = metrics.provider_latency.labels(*labels)
        self._batch_size = metrics.provider_batch_size.labels(config.id)
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
            success_ratio=self.stats.success_ratio(),
            in_flight=self.stats.in_flight,
        )

    async def embed_many(
        self,
        texts: Sequence[str],
        tokens: Sequence[int],
        deadline: float,
        priority: Priority = Priority.NORMAL,
    ) -> list[ProviderVector | ProviderError]:
        """One result per text, in order: its answer, or the error of the call that carried it.

        ``tokens`` are the router's counts of the texts (what a call is charged when the
        provider reports none). Cancelling this call drops its texts that have not been sent
        and cancels the provider calls that no one else waits for.
        """
        caller = _Caller()
        outcomes: list[object] = []
        futures: list[asyncio.Future[ProviderVector]] = []
        for text, count in zip(texts, tokens, strict=True):
            try:
                future = self._batcher.submit_nowait(
                    _Item(text, count, priority, caller), priority=priority, deadline=deadline
                )
            except Exception as refused:  # queue full, deadline already passed, shutting down
                outcomes.append(refused)
                continue
            outcomes.append(future)
            futures.append(future)
        self.stats.in_flight += len(texts)
        try:
            if futures:
                # The batcher never interrupts a running batch: the caller's wait is bounded here.
                await asyncio.wait(futures, timeout=max(0.0, deadline - self._clock()))
        finally:
            self.stats.in_flight -= len(texts)
            for future in futures:
                if future.done():
                    if not future.cancelled():
                        future.exception()  # read here or below; never logged as unread
                    continue
                # Past the deadline, or this call is being cancelled: cancelling drops a queued
                # text, and leaving cancels the provider calls no one else waits for.
                future.cancel()
            caller.leave()
        timeout = ProviderError(f"provider {self.id!r}: no answer before the deadline")
        return [self._result(outcome, timeout) for outcome in outcomes]

    def _result(self, outcome: object, timeout: ProviderError) -> ProviderVector | ProviderError:
        if isinstance(outcome, asyncio.Future):
            if outcome.cancelled():
                return timeout
            error = outcome.exception()
            if error is None:
                result: ProviderVector = outcome.result()
                return result
            outcome = error
        if isinstance(outcome, ProviderError):
            return outcome
        # Queue full, expired in the queue, shut down: the provider did not answer.
        assert isinstance(outcome, BaseException)
        return ProviderError(f"provider {self.id!r}: {type(outcome).__name__}: {outcome}")

    async def _execute(self, batch: Batch[_Item]) -> list[ProviderVector]:
        callers = {id(item.caller): item.caller for item in batch.items if not item.caller.gone}
        if not callers:
            raise CallersGone(f"provider {self.id!r}: every caller of the batch has gone")
        if not self.breaker.try_acquire():
            raise ProviderError(f"provider {self.id!r}: circuit open")
        if self._rate_limiter is not None:
            wait = self._rate_limiter.reserve()
            if wait > 0:
                try:
                    await asyncio.sleep(wait)
                except asyncio.CancelledError:
                    self.breaker.release()
                    raise
        deadline = batch.deadline if batch.deadline is not None else self._clock() + 30.0
        texts = [item.text for item in batch.items]
        # A call carrying a high-priority caller's text is a high-priority call.
        priority = min(item.priority for item in batch.items)
        started = self._clock()
        self.calls += 1
        with provider_call_span(self.id, self.model.id, len(texts), batch.links):
            # Created inside the span, so the provider's own spans are its children.
            call = asyncio.ensure_future(self.client.embed(texts, deadline - started, priority))
            watch = _CallWatch(call, len(callers))
            for caller in callers.values():
                caller.watches.append(watch)
            try:
                reply = await call
                vectors = self._check(reply.vectors, len(texts))
            except ProviderError as error:
                self._record_failure(error, self._clock() - started)
                raise
            except asyncio.CancelledError:
                self.breaker.release()
                task = asyncio.current_task()
                if watch.abandoned and (task is None or not task.cancelling()):
                    self._outcomes["abandoned"].inc()
                    raise CallersGone(
                        f"provider {self.id!r}: call cancelled, every caller had gone"
                    ) from None
                raise
            except Exception as error:
                # A client bug or an unexpected reply is still this provider failing the call.
                wrapped = ProviderError(f"provider {self.id!r}: {type(error).__name__}: {error}")
                self._record_failure(wrapped, self._clock() - started)
                raise wrapped from error
        elapsed = self._clock() - started
        self.breaker.record_success()
        self.stats.record(elapsed, ok=True)
        self._outcomes["ok"].inc()
        self._latency.observe(elapsed)
        self._batch_size.observe(len(texts))
        counts = [item.tokens for item in batch.items]
        reported = reply.total_tokens is not None
        if reply.total_tokens is not None:
            counts = apportion(reply.total_tokens, counts)
        return [ProviderVector(vectors[i], counts[i], reported) for i in range(len(batch.items))]

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
        if error.throttled:
            # Being told to slow down is not a fault: no breaker failure, just a pause.
            self.breaker.release()
            pause = error.retry_after_s if error.retry_after_s is not None else 1.0
            self.throttled_until = max(self.throttled_until, self._clock() + pause)
            self._outcomes["throttled"].inc()
            return
        if not error.retryable:
            # The provider judged the input; it is healthy.
            self.breaker.release()
            self._outcomes["rejected"].inc()
            return
        self.breaker.record_failure()
        self.stats.record(elapsed, ok=False)
        self._outcomes["error"].inc()

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
            # floor would keep it idle until its failures decay.
            self.stats.reset_success()
