"""Rate limits per API key, shared by every gateway replica through Redis.

Each limit is a GCRA token bucket (rate per second, a burst of ``burst_s`` seconds
of rate). All of a key's buckets live in one Redis hash,
``<prefix>:rl:{<key id>}`` — the hash tag keeps them (and the key's record) in one
Redis Cluster slot — and one Lua script checks every limit a call touches and
charges them all or none, atomically, with Redis's own clock: replicas share the
limit exactly instead of each granting it (the failure of per-pod limiters), and
clock skew between replicas does not matter.

With ``lease_s`` > 0 the script also takes a small lease of tokens for this
replica's next calls, which are then admitted without waiting on Redis (see
:mod:`ragserve.gateway.token_leases` for what that changes at the limit's edge).

While Redis is down every replica limits on its own with the same algorithm at
``local_share`` of each rate, counts those decisions, and the degraded gauge says
so (see :mod:`ragserve.gateway.redis_link`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.exceptions import NoScriptError

from ragserve.gateway.limits import Limit
from ragserve.gateway.metrics import LOCAL_ADMISSIONS, RATE_LIMITED
from ragserve.gateway.redis_link import RedisDown, RedisLink
from ragserve.gateway.token_leases import LeaseBook

log = logging.getLogger(__name__)

# KEYS[1]: the key's hash. ARGV: n, then per limit: field, interval_us, tolerance_us,
# need, want. Field value: the bucket's theoretical arrival time (TAT), in microseconds
# of Redis time. Charges every limit's `need` or none: {0, retry_after_us, index of the
# first refusing limit (1-based)}; with them, up to `want - need` more tokens of each
# limit as far as its bucket has room (a lease), returned as {1, extra_1, ..., extra_n}.
GCRA_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local n = tonumber(ARGV[1])
local updates = {}
local result = {1}
local keep = 0
for i = 1, n do
  local base = 1 + (i - 1) * 5
  local field = ARGV[base + 1]
  local interval = tonumber(ARGV[base + 2])
  local tolerance = tonumber(ARGV[base + 3])
  local need = tonumber(ARGV[base + 4])
  local want = tonumber(ARGV[base + 5])
  local tat = tonumber(redis.call('HGET', KEYS[1], field) or '0')
  if tat < now then tat = now end
  local new_tat = tat + math.min(interval * need, tolerance)
  local allow_at = new_tat - tolerance
  if allow_at > now then
    return {0, allow_at - now, i}
  end
  local extra = 0
  if want > need then
    extra = math.min(want - need, math.floor((now + tolerance - new_tat) / interval))
    if extra < 0 then extra = 0 end
    new_tat = new_tat + extra * interval
  end
  result[#result + 1] = extra
  updates[#updates + 1] = field
  updates[#updates + 1] = string.format('%.0f', new_tat)
  if tolerance > keep then keep = tolerance end
end
redis.call('HSET', KEYS[1], unpack(updates))
-- A bucket's TAT is at most its tolerance ahead: kept that long after any charge, a
-- bucket still ahead never expires with a charge of the key's other limits.
redis.call('PEXPIRE', KEYS[1], math.ceil(keep / 1000) + 1000)
return result
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


def lease_sizes(rates: Rates, lease_s: float) -> dict[Limit, int]:
    """Tokens per lease: ``lease_s`` of each rate, at most a quarter of its burst (so one
    replica never holds most of a bucket); 0 (no lease) where that is under one token."""
    return {
        limit: int(min(rate * lease_s, rate * rates.burst_s / 4))
        for limit, rate in rates.per_second.items()
    }


class RateLimiter:
    def __init__(
        self,
        link: RedisLink | None,
        rates: Rates,
        *,
        local_share: float = 1.0,
        lease_s: float = 0.0,
        prefix: str = "ragserve:gateway",
    ) -> None:
        self._link = link
        self._rates = rates
        self._local = LocalBuckets()
        self._local_share = local_share
        self._leases = LeaseBook(lease_sizes(rates, lease_s), ttl_s=rates.burst_s)
        self._refills: set[asyncio.Task[None]] = set()
        self._prefix = prefix
        self._sha: str | None = None

    def bucket_key(self, key_id: str) -> str:
        return f"{self._prefix}:rl:{{{key_id}}}"

    async def acquire(self, key_id: str, costs: Mapping[Limit, float]) -> Decision:
        """Charge ``costs`` to the key's buckets if every one admits them."""
        costs = {limit: cost for limit, cost in costs.items() if cost > 0}
        if not costs:
            return Decision(True)
        if self._link is not None and self._leases.spend(key_id, costs):
            self._top_up(key_id)
            return Decision(True)
        decision: Decision | None = None
        if self._link is not None:
            decision = await self._charge(key_id, costs)
        if decision is None:
            LOCAL_ADMISSIONS.inc()
            decision = self._local.acquire(key_id, costs, self._rates, self._local_share)
        if not decision.allowed and decision.limit is not None:
            RATE_LIMITED.labels(
                decision.limit.value, "shared" if decision.shared else "local"
            ).inc()
        return decision

    async def close(self) -> None:
        """Stops the background top-ups (at shutdown; their tokens are simply not used)."""
        for task in list(self._refills):
            task.cancel()
        await asyncio.gather(*self._refills, return_exceptions=True)

    async def _charge(self, key_id: str, costs: Mapping[Limit, float]) -> Decision | None:
        """The shared decision for what held tokens do not cover, plus a lease of each
        leased limit; None when Redis is down."""
        taken = self._leases.take(key_id, costs)
        needs = {limit: cost - taken.get(limit, 0.0) for limit, cost in costs.items()}
        wants = {limit: need + self._leases.size(limit) for limit, need in needs.items()}
        try:
            decision, extra = await self._shared(key_id, needs, wants)
        except RedisDown:
            self._leases.give_back(key_id, taken)
            return None
        if decision.allowed:
            self._leases.add(key_id, extra)
        else:
            self._leases.give_back(key_id, taken)
        return decision

    def _top_up(self, key_id: str) -> None:
        """Refills a key's leases below half in the background, so calls keep spending
        held tokens instead of waiting on Redis."""
        wants = self._leases.top_ups(key_id)
        if not wants or not self._leases.begin_refill(key_id):
            return
        task = asyncio.create_task(self._refill(key_id, wants))
        self._refills.add(task)
        task.add_done_callback(self._refills.discard)

    async def _refill(self, key_id: str, wants: Mapping[Limit, int]) -> None:
        try:
            _, extra = await self._shared(key_id, dict.fromkeys(wants, 0.0), wants)
            self._leases.add(key_id, extra)
        except RedisDown:
            pass  # the next call that finds no tokens asks Redis itself (or limits locally)
        except Exception:
            log.exception("rate-limit lease top-up failed")
        finally:
            self._leases.end_refill(key_id)

    async def _shared(
        self, key_id: str, needs: Mapping[Limit, float], wants: Mapping[Limit, float]
    ) -> tuple[Decision, dict[Limit, float]]:
        """The script's answer: the decision on ``needs``, and the extra tokens it leased."""
        assert self._link is not None
        limits = list(needs)
        args: list[str | int] = [len(limits)]
        for limit in limits:
            interval_us = 1e6 / self._rates.per_second[limit]
            args += [
                limit.value,
                f"{interval_us:.6f}",
                f"{self._rates.burst_s * 1e6:.0f}",
                f"{needs[limit]:.6f}",
                f"{wants[limit]:.6f}",
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

        result = await self._link.call("rate_limit", run)
        if result[0]:
            return Decision(True), dict(zip(limits, map(float, result[1:]), strict=True))
        retry_us, index = result[1], result[2]
        return Decision(False, retry_us / 1e6, limits[index - 1]), {}
