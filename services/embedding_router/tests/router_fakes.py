"""A fake of the router's own provider interface (``EmbeddingClient``), for unit tests of
routing logic. Suite-behaviour tests use the real inference service and a real HTTP server."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ragserve.embedding_router.config import (
    BreakerConfig,
    CacheConfig,
    ModelConfig,
    ProviderConfig,
    ProviderKind,
    RouterConfig,
    RoutingConfig,
    TenantConfig,
)
from ragserve.embedding_router.providers.base import EmbeddingReply, Priority, ProviderError
from ragserve.embedding_router.tokens import TokenCounter

DIM = 8
# The project's model's tokenizer (set up with the inference model repository).
TOKENIZER = Path(__file__).resolve().parents[3] / "models" / "all-minilm-l6-v2" / "tokenizer.json"


def vector_of(text: str, salt: str = "", dimension: int = DIM) -> np.ndarray:
    """A deterministic unit vector per (text, salt): tests can tell which text produced it."""
    seed = int.from_bytes(hashlib.sha256((salt + text).encode()).digest()[:8], "little")
    raw = np.random.default_rng(seed).standard_normal(dimension).astype(np.float32)
    return raw / np.linalg.norm(raw)


def hashed_embedder(dimension: int) -> Callable[[Sequence[str]], np.ndarray]:
    """An embedder for a test provider server: ``vector_of`` each text."""

    def embed(texts: Sequence[str]) -> np.ndarray:
        return np.stack([vector_of(t, dimension=dimension) for t in texts])

    return embed


def token_count(tokenizer: Path) -> Callable[[Sequence[str]], int]:
    """Total tokens of texts with a tokenizer, whole texts and special tokens (as a provider
    reports a call's usage)."""
    counter = TokenCounter.from_file(tokenizer)
    return lambda texts: sum(counter.count(texts))


@dataclass
class FakeClient:
    """Answers with ``vector_of(text, salt)``; fails the next ``fail_next`` calls with ``error``.

    ``gate``, when set, holds every call until it is set; ``calls`` records the texts of each call
    and ``cancelled`` those of calls cancelled while held; ``priorities`` each call's priority. ``usage``, when set, is reported as the
    call's total tokens (as an OpenAI-speaking provider does).
    """

    salt: str = ""
    fail_next: int = 0
    error: ProviderError = field(default_factory=lambda: ProviderError("fake: HTTP 503"))
    gate: asyncio.Event | None = None
    calls: list[list[str]] = field(default_factory=list)
    started: asyncio.Event = field(default_factory=asyncio.Event)
    cancelled: list[list[str]] = field(default_factory=list)
    usage: int | None = None
    priorities: list[Priority] = field(default_factory=list)

    async def embed(
        self, texts: Sequence[str], timeout_s: float, priority: Priority = Priority.NORMAL
    ) -> EmbeddingReply:
        self.calls.append(list(texts))
        self.priorities.append(priority)
        self.started.set()
        if self.gate is not None:
            try:
                await self.gate.wait()
            except asyncio.CancelledError:
                self.cancelled.append(list(texts))
                raise
        if self.fail_next > 0:
            self.fail_next -= 1
            raise self.error
        return EmbeddingReply(np.stack([vector_of(t, self.salt) for t in texts]), self.usage)

    async def close(self) -> None:
        return None

    @property
    def texts_seen(self) -> list[str]:
        return [t for call in self.calls for t in call]


class SkippingClock:
    """The router's clock and sleep for tests: monotonic time plus every sleep the router asked
    for, which returns at once, so a test of a wait does not wait. Waits the router bounds by a
    deadline rather than sleeping (a provider call that hangs) still take real time."""

    def __init__(self) -> None:
        self.skipped = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return time.monotonic() + self.skipped

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.skipped += seconds
        await asyncio.sleep(0)


def provider(
    provider_id: str,
    model: str = "m1",
    *,
    price: float = 0.0,
    quality: float = 1.0,
    external: bool = False,
    max_batch: int = 32,
    wait_s: float = 0.0,
    max_concurrency: int = 4,
) -> ProviderConfig:
    return ProviderConfig(
        id=provider_id,
        model=model,
        kind=ProviderKind.OPENAI if external else ProviderKind.INFERENCE,
        endpoints=("http://fake" if external else "fake:1",),
        price_per_1k_tokens=price,
        quality=quality,
        external=external,
        max_batch=max_batch,
        max_batch_wait_s=wait_s,
        max_concurrency=max_concurrency,
    )


def router_config(
    providers: Sequence[ProviderConfig],
    *,
    tenants: Sequence[TenantConfig] = (),
    models: Sequence[ModelConfig] = (ModelConfig("m1", "1", DIM), ModelConfig("m2", "1", DIM)),
    breaker: BreakerConfig | None = None,
    redis_url: str | None = None,
) -> RouterConfig:
    return RouterConfig(
        models=tuple(models),
        providers=tuple(providers),
        tenants=tuple(tenants),
        routing=RoutingConfig(backoff_base_s=0.0, default_deadline_s=5.0),
        breaker=breaker or BreakerConfig(failure_threshold=2, open_s=60.0),
        cache=CacheConfig(redis_url=redis_url, lru_size=1000),
    )
