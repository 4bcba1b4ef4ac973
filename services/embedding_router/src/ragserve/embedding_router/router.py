"""The embedding router's core: one ``embed`` over a model's providers.

Per call: validate (:mod:`validation`) → PII screening (:mod:`screening`, only where a model has
an external provider and the tenant has a policy) → cache (:mod:`cache_lookup`: LRU, then Redis)
→ single-flight for the misses (:mod:`shared_compute`) → provider attempts with retries, budget
check and charge (:mod:`attempts`, :mod:`spending`) → cache fill.

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
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import cast

from ragserve.embedding_router.attempts import ProviderAttempts
from ragserve.embedding_router.budget import BudgetLedger
from ragserve.embedding_router.cache import VectorCache
from ragserve.embedding_router.cache_lookup import CacheLookup
from ragserve.embedding_router.call_state import CallState
from ragserve.embedding_router.config import ModelConfig, ProviderKind, RouterConfig, TenantConfig
from ragserve.embedding_router.metrics import RouterMetrics
from ragserve.embedding_router.provider_runtime import ProviderRuntime
from ragserve.embedding_router.providers.base import EmbeddingClient, Priority
from ragserve.embedding_router.screening import PiiScreen
from ragserve.embedding_router.shared_compute import SharedComputation
from ragserve.embedding_router.spending import Spending
from ragserve.embedding_router.status import health_details, provider_status
from ragserve.embedding_router.tokens import (
    TokenCounter,
    TokenizerDefinition,
    load_counters,
    read_tokenizer_definition,
)
from ragserve.embedding_router.types import (
    EmbedCall,
    EmbeddedText,
    EmbedResult,
    ModelInfo,
    ProviderStatus,
)
from ragserve.embedding_router.validation import refuse_over_limit, validate_call
from ragserve.errors import InvalidArgument, NotFound

ClientFactory = Callable[[object, ModelConfig], EmbeddingClient]

_UNCONFIGURED_TENANTS_KEPT = 4096


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
        self._screen = PiiScreen(
            {m: [r.config for r in rs] for m, rs in self._by_model.items()}, self.metrics
        )
        self._lookup = CacheLookup(self.cache, config.cache.key_prefix)
        attempts = ProviderAttempts(
            self.providers,
            self._counters,
            Spending(self.budgets, self.metrics),
            config.routing,
            self.metrics,
            clock=clock,
            sleep=sleep if sleep is not None else asyncio.sleep,
            rng=rng if rng is not None else random.Random(),
        )
        self._shared = SharedComputation(
            attempts, self._lookup, self.providers, self.metrics, clock
        )
        self._tenants = {t.id: t for t in config.tenants}
        # The defaults of tenants not in the config, made once per id (a pydantic dataclass
        # costs ~20 µs to build, most of a cache hit's own time) and shared: they are frozen.
        self._unconfigured: dict[str, TenantConfig] = {}

    async def start(self) -> None:
        self.cache.start()
        self.budgets.start()
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
        return provider_status(self.providers.values(), self._clock)

    def health_details(self) -> dict[str, str]:
        """Operator-facing words: the cache's and budget ledger's state, each model's health."""
        return health_details(self.cache, self.budgets, self._by_model)

    # ------------------------------------------------------------------ embed

    def _tenant(self, tenant_id: str) -> TenantConfig:
        """The tenant's config; a tenant not configured gets the defaults."""
        found = self._tenants.get(tenant_id) or self._unconfigured.get(tenant_id)
        if found is None:
            if len(self._unconfigured) >= _UNCONFIGURED_TENANTS_KEPT:
                self._unconfigured.clear()  # bounded, whatever ids callers send
            found = self._unconfigured[tenant_id] = TenantConfig(id=tenant_id)
        return found

    async def embed(self, call: EmbedCall) -> EmbedResult:
        model = validate_call(call, self._models, self.config.routing.max_texts_per_call)
        state = CallState(
            tenant=self._tenant(call.tenant),
            tenant_label=call.tenant if call.tenant in self._tenants else "other",
            model=model,
            deadline=(
                call.deadline
                if call.deadline is not None
                else self._clock() + self.config.routing.default_deadline_s
            ),
            priority=Priority(call.priority),
        )

        # Each distinct text is screened, looked up and computed once per call.
        unique: dict[str, int] = {}
        for text in call.texts:
            unique.setdefault(text, len(unique))
        texts = list(unique)
        if not call.truncate:
            await refuse_over_limit(model, self._counters[model.id], call.texts, texts)
        screened = self._screen.screen(state, texts)

        answers: list[EmbeddedText | None] = [None] * len(texts)
        if not call.bypass_cache:
            answers = await self._lookup.find(model, screened)
        missing = [i for i, answer in enumerate(answers) if answer is None]
        if missing:
            computed = await self._shared.compute(state, [screened[i] for i in missing])
            for i, fresh in zip(missing, computed, strict=True):
                answers[i] = fresh

        return EmbedResult(model=model, items=_in_input_order(call.texts, unique, answers))


def _in_input_order(
    texts: Sequence[str], unique: Mapping[str, int], answers: Sequence[EmbeddedText | None]
) -> list[EmbeddedText]:
    """One answer per input text from the answers of the unique texts. A text repeated within one
    call is charged once, on its first occurrence."""
    if len(unique) == len(texts):
        # No repeats: every answer is in place (the common case, and every cache hit's).
        return cast(list[EmbeddedText], list(answers))
    charged: set[str] = set()
    items: list[EmbeddedText] = []
    for text in texts:
        item = answers[unique[text]]
        assert item is not None
        if text in charged and item.tokens:
            item = EmbeddedText(item.vector, item.provider_id, item.cached, 0.0, 0, False)
        charged.add(text)
        items.append(item)
    return items


__all__ = ["EmbedCall", "EmbedResult", "EmbeddingRouter"]
