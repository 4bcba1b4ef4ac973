"""What the router reports about itself: each provider's state, and words for operators."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from ragserve.embedding_router.breaker import BreakerState
from ragserve.embedding_router.budget import BudgetLedger
from ragserve.embedding_router.cache import VectorCache
from ragserve.embedding_router.provider_runtime import ProviderRuntime
from ragserve.embedding_router.types import ProviderStatus


def provider_status(
    providers: Iterable[ProviderRuntime], clock: Callable[[], float]
) -> list[ProviderStatus]:
    now = clock()
    result = []
    for runtime in providers:
        stats = runtime.stats
        breaker = runtime.breaker
        result.append(
            ProviderStatus(
                provider_id=runtime.id,
                model=runtime.model.id,
                kind=runtime.config.kind,
                external=runtime.config.external,
                breaker_state=breaker.state,
                latency_s=stats.latency_s,
                error_rate=1.0 if breaker.state is BreakerState.OPEN else breaker.failure_rate(),
                success_ratio_ewma=stats.success_ratio(),
                calls=runtime.calls,
                in_flight=stats.in_flight,
                throttled_for_s=max(0.0, runtime.throttled_until - now),
                retry_in_s=breaker.retry_in(),
                price_per_1k_tokens=runtime.config.price_per_1k_tokens,
            )
        )
    return result


def health_details(
    cache: VectorCache,
    ledger: BudgetLedger,
    providers_by_model: Mapping[str, Sequence[ProviderRuntime]],
) -> dict[str, str]:
    """Operator-facing words: the cache's and budget ledger's state, each model's health."""
    details = {
        "cache": cache.status(),
        "budgets": "local counting (redis down)" if ledger.degraded else "ok",
    }
    for model_id, runtimes in providers_by_model.items():
        healthy = [r.id for r in runtimes if r.breaker.admits()]
        details[f"model.{model_id}"] = f"{len(healthy)}/{len(runtimes)} providers admit calls"
    return details
