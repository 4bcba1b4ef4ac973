"""The router's Prometheus metrics. Labels stay low-cardinality: model, provider, configured
tenant ids (unknown tenants are counted as ``other``), outcome words."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)


class RouterMetrics:
    """All metrics of one router; a fresh registry unless the service passes its own."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        ns = "ragserve_embedding_router"
        self.cache_requests = Counter(
            f"{ns}_cache_requests",
            "Cache lookups by outcome (hit or miss).",
            ["outcome"],
            registry=r,
        )
        self.cache_latency = Histogram(
            f"{ns}_cache_lookup_seconds",
            "Time to look texts up in the cache.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.cache_bytes = Counter(
            f"{ns}_cache_bytes", "Bytes read from or written to Redis.", ["direction"], registry=r
        )
        self.cache_errors = Counter(
            f"{ns}_cache_errors",
            "Redis commands that failed or timed out.",
            ["operation"],
            registry=r,
        )
        self.cache_redis_up = Gauge(
            f"{ns}_cache_redis_up", "1 while the Redis cache answers, 0 while degraded.", registry=r
        )
        self.singleflight_shared = Counter(
            f"{ns}_singleflight_shared_texts",
            "Texts answered by another request's in-flight computation.",
            registry=r,
        )
        self.provider_calls = Counter(
            f"{ns}_provider_calls",
            "Provider calls (batches) by outcome.",
            ["model", "provider", "outcome"],
            registry=r,
        )
        self.provider_latency = Histogram(
            f"{ns}_provider_call_seconds",
            "Latency of provider calls.",
            ["model", "provider"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.provider_batch_size = Histogram(
            f"{ns}_provider_batch_size",
            "Texts per provider call.",
            ["provider"],
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
            registry=r,
        )
        self.breaker_state = Gauge(
            f"{ns}_breaker_state",
            "Breaker state per provider: 0 closed, 1 half-open, 2 open.",
            ["provider"],
            registry=r,
        )
        self.breaker_transitions = Counter(
            f"{ns}_breaker_transitions", "Breaker state changes.", ["provider", "to"], registry=r
        )
        self.retries = Counter(
            f"{ns}_retries", "Provider attempts beyond the first, per model.", ["model"], registry=r
        )
        self.tokens = Counter(
            f"{ns}_tokens", "Tokens sent to providers.", ["tenant", "provider"], registry=r
        )
        self.cost = Counter(
            f"{ns}_cost",
            "Money charged, in provider price units.",
            ["tenant", "provider"],
            registry=r,
        )
        self.budget_refusals = Counter(
            f"{ns}_budget_refusals",
            "Calls refused for an exhausted daily budget.",
            ["tenant"],
            registry=r,
        )
        self.pii = Counter(
            f"{ns}_pii_actions",
            "Texts redacted or refused by PII policy.",
            ["tenant", "action"],
            registry=r,
        )
