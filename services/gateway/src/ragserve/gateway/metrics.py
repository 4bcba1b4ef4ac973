"""Prometheus metrics of the gateway (label values are bounded: no key ids, no tenants)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

DEGRADED = Gauge(
    "ragserve_gateway_degraded",
    "1 while the gateway serves without a dependency: 'redis' = rate limits per replica "
    "and keys from the local cache",
    ["dependency"],
)
REDIS_FAILURES = Counter(
    "ragserve_gateway_redis_failures_total",
    "Redis commands that failed or timed out (the gateway then serves degraded)",
    ["operation"],
)
AUTH_REJECTED = Counter(
    "ragserve_gateway_auth_rejected_total",
    "Calls refused by authentication or authorisation, by reason",
    ["reason"],
)
RATE_LIMITED = Counter(
    "ragserve_gateway_rate_limited_total",
    "Calls refused (or ingest documents delayed) by a rate limit, by limit and by where "
    "it was counted ('shared' in Redis, 'local' while Redis is down)",
    ["limit", "scope"],
)
LOCAL_ADMISSIONS = Counter(
    "ragserve_gateway_local_admissions_total",
    "Rate-limit decisions taken by one replica alone because Redis was down",
)
STALE_KEYS_USED = Counter(
    "ragserve_gateway_stale_keys_used_total",
    "Calls verified from a cached key record older than the cache TTL (key store down)",
)
