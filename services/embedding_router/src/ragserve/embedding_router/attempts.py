"""The provider attempt loop: computes a call's texts of one route on its model's providers.

Each attempt picks the best ready provider (breaker admits it, not rate limited, affordable),
moving on to a provider this call has not failed on yet while there is one; the texts a call
failed are retried with full-jitter backoff, up to ``routing.max_attempts`` attempts and never past
the call's deadline. When every provider is rate limiting, the call waits out the shortest pause
if it ends before the deadline. A provider that rejects the input itself is the caller's mistake
(INVALID_ARGUMENT), never retried.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Mapping, Sequence

from ragserve.embedding_router.breaker import BreakerState
from ragserve.embedding_router.call_state import CallState, Computed
from ragserve.embedding_router.config import ModelConfig, RoutingConfig
from ragserve.embedding_router.metrics import RouterMetrics
from ragserve.embedding_router.provider_runtime import ProviderRuntime, ProviderVector
from ragserve.embedding_router.providers.base import ProviderError
from ragserve.embedding_router.screening import Route, ScreenedText
from ragserve.embedding_router.selection import order_candidates
from ragserve.embedding_router.spending import Spending
from ragserve.embedding_router.tokens import TokenCounter, cost_of, count_tokens
from ragserve.errors import DeadlineExceeded, InvalidArgument, ResourceExhausted, Unavailable


class ProviderAttempts:
    def __init__(
        self,
        providers: Mapping[str, ProviderRuntime],
        counters: Mapping[str, TokenCounter],
        spending: Spending,
        routing: RoutingConfig,
        metrics: RouterMetrics,
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[object]],
        rng: random.Random,
    ) -> None:
        self._providers = providers
        self._by_model: dict[str, list[ProviderRuntime]] = {}
        for runtime in providers.values():
            self._by_model.setdefault(runtime.model.id, []).append(runtime)
        self._counters = counters
        self._spending = spending
        self._routing = routing
        self._metrics = metrics
        self._clock = clock
        self._sleep = sleep
        self._rng = rng

    async def compute(
        self, call: CallState, route: Route, texts: Sequence[ScreenedText]
    ) -> list[Computed]:
        """One result per text, in order; raises the domain error that ends the call."""
        model = call.model
        counter = self._counters[model.id]
        # Counted as sent: a redacted text is counted (and charged) as the redacted text.
        tokens = await count_tokens(counter, [t.text for t in texts])
        tokens_redacted = (
            await count_tokens(counter, [t.redacted for t in texts])
            if route is Route.REDACT
            else tokens
        )
        results: list[Computed | None] = [None] * len(texts)
        pending = list(range(len(texts)))
        failed_here: set[str] = set()
        last_error: ProviderError | None = None
        attempt = 0
        while pending:
            pool = [r for r in self._by_model.get(model.id, []) if route.allows(r.config.external)]
            ready = [r for r in pool if r.breaker.admits() and not r.is_throttled()]
            if not ready:
                await self._wait_for_throttle_or_fail(call, pool, last_error)
                continue
            ordered = await self._spending.affordable(
                call, self._ordered(ready), sum(tokens[i] for i in pending)
            )
            # Move on to a provider this call has not failed on yet, while there is one.
            fresh = [r for r in ordered if r.id not in failed_here]
            runtime = fresh[0] if fresh else ordered[0]
            if self._clock() >= call.deadline:
                raise DeadlineExceeded(_deadline_message(model, attempt, last_error))
            external = runtime.config.external
            outcomes = await runtime.embed_many(
                [texts[i].as_sent_to(external) for i in pending],
                [tokens_redacted[i] if external else tokens[i] for i in pending],
                call.deadline,
                call.priority,
            )
            still: list[int] = []
            computed: list[Computed] = []
            for i, outcome in zip(pending, outcomes, strict=True):
                if isinstance(outcome, ProviderError):
                    if not outcome.retryable:
                        raise InvalidArgument("texts", outcome.message)
                    last_error = outcome
                    still.append(i)
                    continue
                item = _charge_for(outcome, runtime, counter.exact)
                results[i] = item
                computed.append(item)
            await self._spending.charge(call, runtime.id, computed)
            pending = still
            if not pending:
                break
            failed_here.add(runtime.id)
            attempt += 1
            self._metrics.retries.labels(model.id).inc()
            if attempt >= self._routing.max_attempts:
                raise Unavailable(
                    f"model {model.id!r}: {attempt} provider attempts failed "
                    f"(last: {last_error.message if last_error else 'unknown'})"
                )
            await self._backoff(call, attempt, last_error)
        return [r for r in results if r is not None]

    def _ordered(self, ready: list[ProviderRuntime]) -> list[ProviderRuntime]:
        ordered_ids = order_candidates([r.candidate() for r in ready], self._routing)
        # A half-open provider goes first: its trial calls are how it proves it is back (ranked
        # by its poor record, it would never get one and stay half-open). A failed trial costs
        # the caller one retry on the next provider.
        return sorted(
            (self._providers[pid] for pid in ordered_ids),
            key=lambda r: r.breaker.state is not BreakerState.HALF_OPEN,
        )

    async def _backoff(
        self, call: CallState, attempt: int, last_error: ProviderError | None
    ) -> None:
        routing = self._routing
        # Full jitter: spreads the retries of many callers that failed together.
        ceiling = min(routing.backoff_max_s, routing.backoff_base_s * 2 ** (attempt - 1))
        delay = self._rng.uniform(0, ceiling)
        if self._clock() + delay >= call.deadline:
            raise DeadlineExceeded(_deadline_message(call.model, attempt, last_error))
        if delay > 0:
            await self._sleep(delay)

    async def _wait_for_throttle_or_fail(
        self, call: CallState, pool: list[ProviderRuntime], last_error: ProviderError | None
    ) -> None:
        """No provider admits a call now: wait out a rate limit if it ends in time, else fail."""
        model = call.model
        now = self._clock()
        throttled = [r for r in pool if r.breaker.admits() and r.is_throttled()]
        if throttled:
            wait = min(r.throttled_until for r in throttled) - now
            if now + wait < call.deadline:
                await self._sleep(wait)
                return
            raise ResourceExhausted(
                f"model {model.id!r}: every available provider is rate limiting "
                f"({', '.join(r.id for r in throttled)}); retry after {wait:.1f} s",
                retry_after_s=wait,
            )
        reasons = "; ".join(
            f"{r.id}: circuit {r.breaker.state.value}, retry in {r.breaker.retry_in():.1f} s"
            for r in pool
        )
        if not pool:
            reasons = "no internal provider for texts kept from external ones"
        raise Unavailable(f"model {model.id!r} has no healthy provider ({reasons})")


def _charge_for(outcome: ProviderVector, runtime: ProviderRuntime, exact: bool) -> Computed:
    """What one text computed by ``runtime`` costs: the provider's own token count when it
    reported one, else the router's (exact with a tokenizer, estimated without)."""
    cost = cost_of(outcome.tokens, runtime.config.price_per_1k_tokens)
    estimated = not outcome.reported and not exact
    return Computed(outcome.vector, runtime.id, outcome.tokens, cost, estimated)


def _deadline_message(model: ModelConfig, attempts: int, last_error: ProviderError | None) -> str:
    last = f"; last error: {last_error.message}" if last_error else ""
    return f"model {model.id!r}: deadline passed after {attempts} provider attempts{last}"
