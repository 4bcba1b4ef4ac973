"""The embedding router's core: one ``embed`` over a model's providers.

Per call: validate → PII screening (only where a model has an external provider and the tenant has
a policy) → cache (LRU, then Redis) → single-flight for the misses → budget check → provider
attempts with retries → cache fill → charge.

Invariants:
- a text is only ever sent to a provider of the requested model (never another vector space);
- a text with PII under a ``redact`` policy reaches an external provider only redacted, and under
  ``refuse`` never reaches one;
- the cache key is the hash of the text as sent, so a redacted text's vector is cached under the
  redacted text, never under the original;
- no error message contains a caller's text.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import cast

from prometheus_client import Counter

from ragserve.embedding_router.breaker import BreakerState
from ragserve.embedding_router.budget import BudgetLedger
from ragserve.embedding_router.cache import VectorCache, cache_key
from ragserve.embedding_router.config import (
    ModelConfig,
    PiiPolicy,
    ProviderKind,
    RouterConfig,
    TenantConfig,
)
from ragserve.embedding_router.metrics import RouterMetrics
from ragserve.embedding_router.pii import PiiScanner
from ragserve.embedding_router.provider_runtime import ProviderRuntime, ProviderVector
from ragserve.embedding_router.providers.base import EmbeddingClient, ProviderError
from ragserve.embedding_router.selection import order_candidates
from ragserve.embedding_router.singleflight import Abandoned, SingleFlight
from ragserve.embedding_router.tokens import (
    TokenCounter,
    TokenizerDefinition,
    cost_of,
    load_counters,
    read_tokenizer_definition,
)
from ragserve.embedding_router.types import (
    EmbedCall,
    EmbeddedText,
    EmbedResult,
    ModelInfo,
    ProviderStatus,
    Vector,
)
from ragserve.errors import (
    DeadlineExceeded,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    Unavailable,
)

log = logging.getLogger(__name__)

ClientFactory = Callable[[object, ModelConfig], EmbeddingClient]


# How a text may travel, which decides both the providers allowed and the text sent to them.
_PLAIN = "plain"  # any provider, as written
_REDACT = "redact"  # external providers get the redacted text
_INTERNAL_ONLY = "internal"  # PII under a refuse policy: internal providers only


# Above this many characters in one call, token counting runs in a worker thread so that the
# event loop keeps serving (a tokenizer takes ~20 µs per short text; 2048 long texts take seconds).
_INLINE_COUNT_CHARS = 4096


@dataclass(slots=True)
class _Computed:
    vector: Vector
    provider_id: str
    tokens: int
    cost: float
    tokens_estimated: bool


def default_client_factory(provider: object, model: ModelConfig) -> EmbeddingClient:
    from ragserve.embedding_router.config import ProviderConfig

    assert isinstance(provider, ProviderConfig)
    if provider.kind is ProviderKind.OPENAI:
        from ragserve.embedding_router.providers.openai import OpenAIEmbeddingClient

        return OpenAIEmbeddingClient(provider, dimension=model.dimension)
    from ragserve.embedding_router.providers.inference import InferenceEmbeddingClient

    return InferenceEmbeddingClient(provider, dimension=model.dimension)


class EmbeddingRouter:
    """Owns the providers, the cache, the budget ledger; safe for concurrent ``embed`` calls on
    one event loop. Call :meth:`start` before use and :meth:`close` at shutdown."""

    def __init__(
        self,
        config: RouterConfig,
        *,
        clients: Mapping[str, EmbeddingClient] | None = None,
        client_factory: ClientFactory = default_client_factory,
        metrics: RouterMetrics | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[object]] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.metrics = metrics if metrics is not None else RouterMetrics()
        self._clock = clock
        self._sleep = sleep if sleep is not None else asyncio.sleep
        self._rng = rng if rng is not None else random.Random()
        self.cache = VectorCache(config.cache, self.metrics, clock)
        self.budgets = BudgetLedger(
            config.cache.redis_url,
            timeout_s=config.cache.timeout_s,
            wall_clock=wall_clock,
        )
        self._models = {m.id: m for m in config.models}
        # Raises ConfigError naming the model entry when a tokenizer cannot be loaded.
        self._counters: dict[str, TokenCounter] = load_counters(config.models)
        self.providers: dict[str, ProviderRuntime] = {}
        for provider in config.providers:
            model = self._models[provider.model]
            client = (clients or {}).get(provider.id) or client_factory(provider, model)
            self.providers[provider.id] = ProviderRuntime(
                provider,
                model,
                client,
                routing=config.routing,
                breaker=config.breaker,
                metrics=self.metrics,
                clock=clock,
            )
        self._by_model: dict[str, list[ProviderRuntime]] = {m.id: [] for m in config.models}
        for runtime in self.providers.values():
            self._by_model[runtime.model.id].append(runtime)
        self._has_external = {
            model_id: any(r.config.external for r in runtimes)
            for model_id, runtimes in self._by_model.items()
        }
        self._scanners: dict[str, PiiScanner] = {}
        self._flights: SingleFlight[_Computed] = SingleFlight()
        self._configured_tenants = {t.id for t in config.tenants}
        self._tenants = {t.id: t for t in config.tenants}
        # Label children, made once per (tenant label, provider) rather than once per call.
        self._charge_metrics: dict[tuple[str, str], tuple[Counter, Counter]] = {}

    async def start(self) -> None:
        for runtime in self.providers.values():
            await runtime.start()

    async def close(self) -> None:
        for runtime in self.providers.values():
            await runtime.close()
        await self.cache.close()
        await self.budgets.close()

    # ------------------------------------------------------------------ queries

    def list_models(self) -> list[ModelInfo]:
        return [
            ModelInfo(model, tuple(r.id for r in self._by_model[model.id]))
            for model in self.config.models
        ]

    async def tokenizer(self, model_id: str) -> TokenizerDefinition:
        """The model's tokenizer definition; NotFound for a model not served here,
        FailedPrecondition when it has no tokenizer."""
        if not model_id:
            raise InvalidArgument("model", "must name a model")
        model = self._models.get(model_id)
        if model is None:
            raise NotFound(
                f"model {model_id[:128]!r} is not served here (models: "
                f"{', '.join(sorted(self._models))})"
            )
        return await asyncio.to_thread(read_tokenizer_definition, model)

    def provider_status(self) -> list[ProviderStatus]:
        now = self._clock()
        result = []
        for runtime in self.providers.values():
            stats = runtime.stats
            result.append(
                ProviderStatus(
                    provider_id=runtime.id,
                    model=runtime.model.id,
                    kind=runtime.config.kind,
                    external=runtime.config.external,
                    breaker_state=runtime.breaker.state,
                    latency_s=stats.latency_s,
                    error_rate=(
                        1.0
                        if runtime.breaker.state is BreakerState.OPEN
                        else runtime.breaker.failure_rate()
                    ),
                    success_ratio_ewma=stats.success_ratio(),
                    calls=runtime.calls,
                    in_flight=stats.in_flight,
                    throttled_for_s=max(0.0, runtime.throttled_until - now),
                    retry_in_s=runtime.breaker.retry_in(),
                    price_per_1k_tokens=runtime.config.price_per_1k_tokens,
                )
            )
        return result

    def health_details(self) -> dict[str, str]:
        """Operator-facing words: the cache's and budget ledger's state, each model's health."""
        details = {
            "cache": self.cache.status(),
            "budgets": "local counting (redis down)" if self.budgets.degraded else "ok",
        }
        for model_id, runtimes in self._by_model.items():
            healthy = [r.id for r in runtimes if r.breaker.admits()]
            details[f"model.{model_id}"] = f"{len(healthy)}/{len(runtimes)} providers admit calls"
        return details

    # ------------------------------------------------------------------ embed

    async def embed(self, call: EmbedCall) -> EmbedResult:
        model = self._validate(call)
        tenant = self._tenants.get(call.tenant) or TenantConfig(id=call.tenant)
        deadline = (
            call.deadline
            if call.deadline is not None
            else self._clock() + self.config.routing.default_deadline_s
        )

        unique: dict[str, int] = {}
        for text in call.texts:
            unique.setdefault(text, len(unique))
        texts = list(unique)
        if not call.truncate:
            await self._refuse_over_limit(model, call.texts, texts)
        routes, redacted = self._screen(tenant, model, texts)

        answers: list[EmbeddedText | None] = [None] * len(texts)
        prefix = self.config.cache.key_prefix
        if not call.bypass_cache:
            keys = [cache_key(prefix, model, t) for t in texts]
            # A redacted text may also have been cached under its redacted form (by an external
            # provider); those keys are looked up after the texts' own.
            redacted_at: dict[int, int] = {}
            for i, route in enumerate(routes):
                if route == _REDACT:
                    redacted_at[i] = len(keys)
                    keys.append(cache_key(prefix, model, redacted[i]))
            found = await self.cache.get_many(model, keys)
            for i in range(len(texts)):
                hit = found[i]
                if hit is None and i in redacted_at:
                    hit = found[redacted_at[i]]
                if hit is not None:
                    answers[i] = EmbeddedText(hit.vector, hit.provider_id, True, 0.0, 0, False)

        missing = [i for i, answer in enumerate(answers) if answer is None]
        if missing:
            computed = await self._compute_shared(
                tenant,
                model,
                [texts[i] for i in missing],
                [routes[i] for i in missing],
                [redacted[i] for i in missing],
                deadline,
                call.priority,
            )
            for i, fresh in zip(missing, computed, strict=True):
                answers[i] = fresh

        if len(texts) == len(call.texts):
            # No repeats: every answer is in place (the common case, and every cache hit's).
            return EmbedResult(model=model, items=cast(list[EmbeddedText], answers))
        # A text repeated within one call is charged once, on its first occurrence.
        charged: set[str] = set()
        result_items: list[EmbeddedText] = []
        for text in call.texts:
            item = answers[unique[text]]
            assert item is not None
            if text in charged and item.tokens:
                item = EmbeddedText(item.vector, item.provider_id, item.cached, 0.0, 0, False)
            charged.add(text)
            result_items.append(item)
        return EmbedResult(model=model, items=result_items)

    async def _count(self, model: ModelConfig, texts: Sequence[str]) -> list[int]:
        counter = self._counters[model.id]
        if sum(len(t) for t in texts) > _INLINE_COUNT_CHARS:
            return await asyncio.to_thread(counter.count, texts)
        return counter.count(texts)

    async def _refuse_over_limit(
        self, model: ModelConfig, texts: Sequence[str], unique: list[str]
    ) -> None:
        """Truncation 'refuse': the first text over the model's max_tokens is an error."""
        counts = dict(zip(unique, await self._count(model, unique), strict=True))
        for index, text in enumerate(texts):
            tokens = counts[text]
            if tokens <= model.max_tokens:
                continue
            if self._counters[model.id].exact:
                raise InvalidArgument(
                    f"texts[{index}]",
                    f"text has {tokens} tokens, model {model.id!r} accepts at most "
                    f"{model.max_tokens} (max_tokens) and truncation is 'refuse'",
                )
            raise InvalidArgument(
                f"texts[{index}]",
                f"text has about {tokens} tokens (estimated), model {model.id!r} accepts at "
                f"most {model.max_tokens} (max_tokens) and truncation is 'refuse'",
            )

    def _validate(self, call: EmbedCall) -> ModelConfig:
        model = self._models.get(call.model)
        if not call.model:
            raise InvalidArgument("model", "must name a model")
        if model is None:
            raise NotFound(
                f"model {call.model!r} is not served here (models: "
                f"{', '.join(sorted(self._models))})"
            )
        if not call.texts:
            raise InvalidArgument("texts", "must contain at least one text")
        limit = self.config.routing.max_texts_per_call
        if len(call.texts) > limit:
            raise InvalidArgument("texts", f"{len(call.texts)} texts exceed the limit of {limit}")
        if not 0 <= call.priority <= 2:
            raise InvalidArgument("priority", f"must be 0, 1 or 2, got {call.priority}")
        for index, text in enumerate(call.texts):
            if not text:
                raise InvalidArgument(f"texts[{index}]", "must not be empty")
        return model

    def _screen(
        self, tenant: TenantConfig, model: ModelConfig, texts: Sequence[str]
    ) -> tuple[list[str], list[str]]:
        """Each text's route and its redacted form (the text itself when not redacted)."""
        routes = [_PLAIN] * len(texts)
        redacted = list(texts)
        if tenant.pii_policy is PiiPolicy.OFF or not self._has_external[model.id]:
            return routes, redacted
        scanner = self._scanner(tenant)
        label = self._tenant_label(tenant.id)
        for i, text in enumerate(texts):
            clean, kinds = scanner.redact(text)
            if not kinds:
                continue
            if tenant.pii_policy is PiiPolicy.REDACT:
                routes[i] = _REDACT
                redacted[i] = clean
                self.metrics.pii.labels(label, "redacted").inc()
            else:
                routes[i] = _INTERNAL_ONLY
                self.metrics.pii.labels(label, "kept_internal").inc()
                if not any(not r.config.external for r in self._by_model[model.id]):
                    self.metrics.pii.labels(label, "refused").inc()
                    raise FailedPrecondition(
                        f"texts[{i}] contains personal data ({', '.join(kinds)}) and tenant "
                        f"{tenant.id!r} has PII policy 'refuse'; model {model.id!r} has only "
                        "external providers"
                    )
        return routes, redacted

    def _scanner(self, tenant: TenantConfig) -> PiiScanner:
        scanner = self._scanners.get(tenant.id)
        if scanner is None:
            scanner = PiiScanner(tenant.pii_patterns)
            self._scanners[tenant.id] = scanner
        return scanner

    def _tenant_label(self, tenant_id: str) -> str:
        return tenant_id if tenant_id in self._configured_tenants else "other"

    # ------------------------------------------------------------------ single-flight

    async def _compute_shared(
        self,
        tenant: TenantConfig,
        model: ModelConfig,
        texts: list[str],
        routes: list[str],
        redacted: list[str],
        deadline: float,
        priority: int,
    ) -> list[EmbeddedText]:
        results: list[EmbeddedText | None] = [None] * len(texts)
        while True:
            owned: list[int] = []
            followed: list[tuple[int, asyncio.Future[_Computed]]] = []
            for i, text in enumerate(texts):
                if results[i] is not None:
                    continue
                key = (model.id, routes[i], text)
                future, owner = self._flights.join(key)
                if not owner:
                    followed.append((i, future))
                    continue
                # An identical computation may have finished while this call was looking in
                # Redis; its result went to the LRU in the same step as it left the flight table.
                prefix = self.config.cache.key_prefix
                landed = self.cache.peek(cache_key(prefix, model, text))
                if landed is None and routes[i] == _REDACT:
                    landed = self.cache.peek(cache_key(prefix, model, redacted[i]))
                if landed is not None:
                    self._flights.resolve(
                        key, _Computed(landed.vector, landed.provider_id, 0, 0.0, False)
                    )
                    results[i] = EmbeddedText(
                        landed.vector, landed.provider_id, True, 0.0, 0, False
                    )
                    continue
                owned.append(i)
            if owned:
                await self._compute_owned(
                    tenant, model, texts, routes, redacted, owned, deadline, results, priority
                )
            abandoned = False
            for i, future in followed:
                remaining = deadline - self._clock()
                try:
                    shared = await asyncio.wait_for(asyncio.shield(future), max(remaining, 0.0))
                except TimeoutError:
                    raise DeadlineExceeded(
                        f"model {model.id!r}: deadline passed waiting for an identical request"
                    ) from None
                except Abandoned:
                    abandoned = True
                    continue
                self.metrics.singleflight_shared.inc()
                # Computed (and charged) for another call: nothing is charged to this one.
                results[i] = EmbeddedText(shared.vector, shared.provider_id, False, 0.0, 0, False)
            if not abandoned:
                break
        return [r for r in results if r is not None]

    async def _compute_owned(
        self,
        tenant: TenantConfig,
        model: ModelConfig,
        texts: list[str],
        routes: list[str],
        redacted: list[str],
        owned: list[int],
        deadline: float,
        results: list[EmbeddedText | None],
        priority: int,
    ) -> None:
        keys = {i: (model.id, routes[i], texts[i]) for i in owned}
        try:
            by_route: dict[str, list[int]] = {}
            for i in owned:
                by_route.setdefault(routes[i], []).append(i)
            groups = await asyncio.gather(
                *(
                    self._compute(
                        tenant,
                        model,
                        route,
                        [texts[i] for i in idx],
                        [redacted[i] for i in idx],
                        deadline,
                        priority,
                    )
                    for route, idx in by_route.items()
                )
            )
        except BaseException:
            # The owner's failure may be its own (its budget, its deadline, its cancellation):
            # followers are told to try again for themselves rather than given this error.
            for key in keys.values():
                self._flights.fail(key, Abandoned())
            raise
        to_cache: list[tuple[str, Vector, str]] = []
        for (route, idx), computed in zip(by_route.items(), groups, strict=True):
            for i, item in zip(idx, computed, strict=True):
                self._flights.resolve(keys[i], item)
                results[i] = EmbeddedText(
                    item.vector,
                    item.provider_id,
                    False,
                    item.cost,
                    item.tokens,
                    item.tokens_estimated,
                )
                sent_redacted = (
                    route == _REDACT and self.providers[item.provider_id].config.external
                )
                sent = redacted[i] if sent_redacted else texts[i]
                to_cache.append(
                    (
                        cache_key(self.config.cache.key_prefix, model, sent),
                        item.vector,
                        item.provider_id,
                    )
                )
        self.cache.put_many(to_cache)

    # ------------------------------------------------------------------ providers

    def _admissible(self, model: ModelConfig, route: str) -> list[ProviderRuntime]:
        runtimes = self._by_model[model.id]
        if route == _INTERNAL_ONLY:
            runtimes = [r for r in runtimes if not r.config.external]
        return runtimes

    async def _compute(
        self,
        tenant: TenantConfig,
        model: ModelConfig,
        route: str,
        texts: list[str],
        redacted: list[str],
        deadline: float,
        priority: int,
    ) -> list[_Computed]:
        routing = self.config.routing
        # Counted as sent: a redacted text is counted (and charged) as the redacted text.
        tokens = await self._count(model, texts)
        tokens_redacted = await self._count(model, redacted) if route == _REDACT else tokens
        exact = self._counters[model.id].exact
        results: list[_Computed | None] = [None] * len(texts)
        pending = list(range(len(texts)))
        failed_here: set[str] = set()
        last_error: ProviderError | None = None
        attempt = 0
        label = self._tenant_label(tenant.id)
        while pending:
            pool = self._admissible(model, route)
            ready = [r for r in pool if r.breaker.admits() and not r.is_throttled()]
            if not ready:
                await self._wait_for_throttle_or_fail(model, pool, deadline, last_error)
                continue
            ordered_ids = order_candidates([r.candidate() for r in ready], routing)
            # A half-open provider goes first: its trial calls are how it proves it is back (ranked
            # by its poor record, it would never get one and stay half-open). A failed trial costs
            # the caller one retry on the next provider.
            ordered = sorted(
                (self.providers[pid] for pid in ordered_ids),
                key=lambda r: r.breaker.state is not BreakerState.HALF_OPEN,
            )
            ordered = await self._within_budget(
                tenant, model, ordered, sum(tokens[i] for i in pending)
            )
            # Move on to a provider this call has not failed on yet, while there is one.
            fresh = [r for r in ordered if r.id not in failed_here]
            runtime = fresh[0] if fresh else ordered[0]
            if self._clock() >= deadline:
                raise DeadlineExceeded(self._deadline_message(model, attempt, last_error))
            send_redacted = route == _REDACT and runtime.config.external
            sent = [redacted[i] if send_redacted else texts[i] for i in pending]
            counts = [tokens_redacted[i] if send_redacted else tokens[i] for i in pending]
            outcomes = await runtime.embed_many(sent, counts, deadline, priority)
            still: list[int] = []
            charged = 0.0
            charged_tokens = 0
            for i, outcome in zip(pending, outcomes, strict=True):
                if isinstance(outcome, ProviderError):
                    if not outcome.retryable:
                        raise InvalidArgument("texts", outcome.message)
                    last_error = outcome
                    still.append(i)
                    continue
                computed = self._charge_for(outcome, runtime, exact)
                results[i] = computed
                charged += computed.cost
                charged_tokens += computed.tokens
            if charged_tokens:
                tokens_metric, cost_metric = self._charge_metric(label, runtime.id)
                tokens_metric.inc(charged_tokens)
                if charged:
                    cost_metric.inc(charged)
            if charged:
                await self.budgets.charge(tenant.id, charged)
            pending = still
            if not pending:
                break
            failed_here.add(runtime.id)
            attempt += 1
            self.metrics.retries.labels(model.id).inc()
            if attempt >= routing.max_attempts:
                raise Unavailable(
                    f"model {model.id!r}: {attempt} provider attempts failed "
                    f"(last: {last_error.message if last_error else 'unknown'})"
                )
            await self._backoff(model, attempt, deadline, last_error)
        return [r for r in results if r is not None]

    @staticmethod
    def _charge_for(outcome: ProviderVector, runtime: ProviderRuntime, exact: bool) -> _Computed:
        """What one text computed by ``runtime`` costs: the provider's own token count when it
        reported one, else the router's (exact with a tokenizer, estimated without)."""
        cost = cost_of(outcome.tokens, runtime.config.price_per_1k_tokens)
        estimated = not outcome.reported and not exact
        return _Computed(outcome.vector, runtime.id, outcome.tokens, cost, estimated)

    def _charge_metric(self, tenant_label: str, provider_id: str) -> tuple[Counter, Counter]:
        children = self._charge_metrics.get((tenant_label, provider_id))
        if children is None:
            children = (
                self.metrics.tokens.labels(tenant_label, provider_id),
                self.metrics.cost.labels(tenant_label, provider_id),
            )
            self._charge_metrics[(tenant_label, provider_id)] = children
        return children

    async def _backoff(
        self, model: ModelConfig, attempt: int, deadline: float, last_error: ProviderError | None
    ) -> None:
        routing = self.config.routing
        # Full jitter: spreads the retries of many callers that failed together.
        ceiling = min(routing.backoff_max_s, routing.backoff_base_s * 2 ** (attempt - 1))
        delay = self._rng.uniform(0, ceiling)
        if self._clock() + delay >= deadline:
            raise DeadlineExceeded(self._deadline_message(model, attempt, last_error))
        if delay > 0:
            await self._sleep(delay)

    async def _wait_for_throttle_or_fail(
        self,
        model: ModelConfig,
        pool: list[ProviderRuntime],
        deadline: float,
        last_error: ProviderError | None,
    ) -> None:
        """No provider admits a call now: wait out a rate limit if it ends in time, else fail."""
        now = self._clock()
        throttled = [r for r in pool if r.breaker.admits() and r.is_throttled()]
        if throttled:
            wait = min(r.throttled_until for r in throttled) - now
            if now + wait < deadline:
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

    async def _within_budget(
        self,
        tenant: TenantConfig,
        model: ModelConfig,
        ordered: list[ProviderRuntime],
        tokens: int,
    ) -> list[ProviderRuntime]:
        budget = tenant.daily_budget
        if budget is None:
            return ordered
        spent = await self.budgets.spent_today(tenant.id)
        affordable = [
            r for r in ordered if spent + cost_of(tokens, r.config.price_per_1k_tokens) <= budget
        ]
        if affordable and (affordable[0] is ordered[0] or tenant.allow_cheaper_fallback):
            return affordable
        preferred = ordered[0]
        needed = cost_of(tokens, preferred.config.price_per_1k_tokens)
        self.metrics.budget_refusals.labels(self._tenant_label(tenant.id)).inc()
        reset = self.budgets.seconds_until_reset()
        raise ResourceExhausted(
            f"tenant {tenant.id!r} is over its daily budget of {budget:.4f}: spent {spent:.4f} "
            f"today and this call needs {needed:.4f} on provider {preferred.id!r} "
            f"(model {model.id!r}); the budget resets at 00:00 UTC",
            retry_after_s=reset,
        )

    def _deadline_message(
        self, model: ModelConfig, attempts: int, last_error: ProviderError | None
    ) -> str:
        last = f"; last error: {last_error.message}" if last_error else ""
        return f"model {model.id!r}: deadline passed after {attempts} provider attempts{last}"


__all__ = ["EmbedCall", "EmbedResult", "EmbeddingRouter"]
