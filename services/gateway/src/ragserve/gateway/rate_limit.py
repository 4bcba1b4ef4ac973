"""Rate limits per API key, shared by every gateway replica through Redis.

Each limit is a GCRA token bucket (rate per second, a burst of ``burst_s`` seconds
of rate). All of a key's buckets live in one Redis hash,
``<prefix>:rl:{<key id>}`` — the hash tag keeps them (and the key's record) in one
Redis Cluster slot — and one Lua script checks every limit a call touches and
charges them all or none, atomically, with Redis's own clock: replicas share the
limit exactly instead of each granting it (the failure of per-pod limiters), and
clock skew between replicas does not matter.

While Redis is down every replica limits on its own with the same algorithm at
``local_share`` of each rate, counts those decisions, and the degraded gauge says
so (see :mod:`ragserve.gateway.redis_link`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

import redis.asyncio as aioredis
from redis.exceptions import NoScriptError

from ragserve.gateway.metrics import LOCAL_ADMISSIONS, RATE_LIMITED
from ragserve.gateway.redis_link import RedisDown, RedisLink


class Limit(StrEnum):
    REQUESTS = "requests"
    TEXTS = "texts"
    INGEST_BYTES = "ingest_bytes"


UNITS = {Limit.REQUESTS: "requests/s", Limit.TEXTS: "texts/s", Limit.INGEST_BYTES: "bytes/s"}

# KEYS[1]: the key's hash. ARGV: n, then per limit: field, interval_us, tolerance_us, cost.
# Field value: the bucket's theoretical arrival time (TAT), in microseconds of Redis time.
# Returns {1, 0, 0} when every limit admits (and charges them all), else
# {0, retry_after_us, index of the first refusing limit (1-based)}.
GCRA_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local n = tonumber(ARGV[1])
local updates = {}
local longest = 0
for i = 1, n do
  local base = 1 + (i - 1) * 4
  local field = ARGV[base + 1]
  local interval = tonumber(ARGV[base + 2])
  local tolerance = tonumber(ARGV[base + 3])
  local cost = tonumber(ARGV[base + 4])
  local tat = tonumber(redis.call('HGET', KEYS[1], field) or '0')
  if tat < now then tat = now end
  local increment = math.min(interval * cost, tolerance)
  local new_tat = tat + increment
  local allow_at = new_tat - tolerance
  if allow_at > now then
    return {0, allow_at - now, i}
  end
  updates[#updates + 1] = field
  updates[#updates + 1] = string.format('%.0f', new_tat)
  if new_tat - now > longest then longest = new_tat - now end
end
redis.call('HSET', KEYS[1], unpack(updates))
redis.call('PEXPIRE', KEYS[1], math.ceil(longest / 1000) + 1000)
return {1, 0, 0}
"""


@dataclass(frozen=True, slots=True)
class Rates:
    """Per-second rates of each limit and the burst, in seconds of rate."""

    per_second: Mapping[Limit, float]
    burst_s: float


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    retry_after_s: float = 0.0
    limit: Limit | None = None
    shared: bool = True


class LocalBuckets:
    """The same GCRA buckets in this process (Redis down), on the monotonic clock."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._tat: dict[tuple[str, Limit], float] = {}

    def acquire(
        self, key_id: str, costs: Mapping[Limit, float], rates: Rates, share: float
    ) -> Decision:
        now = self._clock()
        updates: dict[tuple[str, Limit], float] = {}
        for limit, cost in costs.items():
            rate = rates.per_second[limit] * share
            interval, tolerance = 1.0 / rate, rates.burst_s
            tat = max(self._tat.get((key_id, limit), now), now)
            new_tat = tat + min(interval * cost, tolerance)
            if new_tat - tolerance > now:
                return Decision(False, new_tat - tolerance - now, limit, shared=False)
            updates[(key_id, limit)] = new_tat
        self._tat.update(updates)
        if len(self._tat) > 200_000:
            # Buckets that are full again carry no state worth keeping.
            self._tat = {k: v for k, v in self._tat.items() if v > now}
        return Decision(True, shared=False)


class RateLimiter:
    def __init__(
        self,
        link: RedisLink | None,
        rates: Rates,
        *,
        local_share: float = 1.0,
        prefix: str = "ragserve:gateway",
    ) -> None:
        self._link = link
        self._rates = rates
        self._local = LocalBuckets()
        self._local_share = local_share
        self._prefix = prefix
        self._sha: str | None = None

    def bucket_key(self, key_id: str) -> str:
        return f"{self._prefix}:rl:{{{key_id}}}"

    async def acquire(self, key_id: str, costs: Mapping[Limit, float]) -> Decision:
        """Charge ``costs`` to the key's buckets if every one admits them."""
        costs = {limit: cost for limit, cost in costs.items() if cost > 0}
        if not costs:
            return Decision(True)
        decision: Decision | None = None
        if self._link is not None:
            try:
                decision = await self._shared(key_id, costs)
            except RedisDown:
                decision = None
        if decision is None:
            LOCAL_ADMISSIONS.inc()
            decision = self._local.acquire(key_id, costs, self._rates, self._local_share)
        if not decision.allowed and decision.limit is not None:
            RATE_LIMITED.labels(
                decision.limit.value, "shared" if decision.shared else "local"
            ).inc()
        return decision

    async def _shared(self, key_id: str, costs: Mapping[Limit, float]) -> Decision:
        assert self._link is not None
        limits = list(costs)
        args: list[str | int] = [len(limits)]
        for limit in limits:
            interval_us = 1e6 / self._rates.per_second[limit]
            args += [
                limit.value,
                f"{interval_us:.6f}",
                f"{self._rates.burst_s * 1e6:.0f}",
                f"{costs[limit]:.6f}",
            ]
        key = self.bucket_key(key_id)

        async def run(client: aioredis.Redis) -> list[int]:
            if self._sha is None:
                self._sha = await client.script_load(GCRA_SCRIPT)
            try:
                result = await client.evalsha(self._sha, 1, key, *args)
            except NoScriptError:  # a restarted Redis forgot the script: load it again
                self._sha = await client.script_load(GCRA_SCRIPT)
                result = await client.evalsha(self._sha, 1, key, *args)
            return [int(v) for v in result]

        allowed, retry_us, index = await self._link.call("rate_limit", run)
        if allowed:
            return Decision(True)
        return Decision(False, retry_us / 1e6, limits[index - 1])
