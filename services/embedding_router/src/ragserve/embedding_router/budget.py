"""Per-tenant daily spend, shared by replicas through Redis.

Spend is kept per UTC day under ``<prefix>:<YYYY-MM-DD>:<tenant>`` (INCRBYFLOAT, expiring two
days later), so every replica sees the same total and the day rolls over by itself.

When Redis is down or slow the ledger fails open and keeps counting locally: a replica then
enforces the budget on the last total it read plus what it charged since, so across N replicas a
tenant can overspend by at most what the other replicas charge during the outage. The local
charges are added to Redis when it answers again, so the shared total catches up: at the
tenant's next call, or by the ledger itself (``runtime.dependency_check``) within a second of
Redis answering, for tenants that make no further call; and once more at close.

Checking and charging are separate steps (check before the provider call, charge the actual cost
after), so concurrent calls of one tenant can overshoot the budget by at most the cost of the calls
in flight; the next call is then refused.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from ragserve.embedding_router.cache import redis_client
from ragserve.runtime.dependency_check import DependencyCheck

log = logging.getLogger(__name__)

_TWO_DAYS_S = 2 * 24 * 3600
# While charges wait to be added to Redis, the ledger tries this often on its own.
_RESYNC_S = 1.0


def utc_day(now_s: float) -> str:
    return datetime.fromtimestamp(now_s, UTC).strftime("%Y-%m-%d")


def seconds_until_utc_midnight(now_s: float) -> float:
    now = datetime.fromtimestamp(now_s, UTC)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (midnight - now).total_seconds()


class BudgetLedger:
    def __init__(
        self,
        redis_url: str | None,
        *,
        timeout_s: float = 0.05,
        key_prefix: str = "ragserve:budget",
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis: aioredis.Redis | None = (
            redis_client(redis_url, timeout_s) if redis_url else None
        )
        self._timeout_s = timeout_s
        self._prefix = key_prefix
        self._wall_clock = wall_clock
        # (day, tenant) -> last total read from Redis / charges not yet written to Redis.
        self._shared: dict[tuple[str, str], float] = {}
        self._unsynced: dict[tuple[str, str], float] = {}
        self._lock = asyncio.Lock()
        self.degraded = False
        # Never checked while Redis answers and nothing waits (the cache checks it when idle);
        # while charges wait or the ledger counts locally, every _RESYNC_S.
        self._resync = DependencyCheck(
            self._recover,
            lambda: self.degraded or bool(self._unsynced),
            idle_interval_s=float("inf"),
            down_interval_s=_RESYNC_S,
        )

    def start(self) -> None:
        """Starts adding waiting charges to Redis on its own (on the running loop)."""
        if self._redis is not None:
            self._resync.start()

    async def _recover(self) -> None:
        if self._unsynced:
            await self.sync_all()
            return
        assert self._redis is not None
        try:
            await asyncio.wait_for(self._redis.ping(), timeout=self._timeout_s)
        except (RedisError, OSError, TimeoutError) as error:
            self._down(error)
        else:
            self._up()

    async def sync_all(self) -> None:
        """Adds every slot's waiting local charges to Redis (those that fail keep waiting)."""
        if self._redis is not None:
            for slot in list(self._unsynced):
                await self._sync(slot)

    def seconds_until_reset(self) -> float:
        return seconds_until_utc_midnight(self._wall_clock())

    def _key(self, day: str, tenant: str) -> str:
        return f"{self._prefix}:{day}:{tenant}"

    async def spent_today(self, tenant: str) -> float:
        slot = (utc_day(self._wall_clock()), tenant)
        if self._redis is not None:
            await self._sync(slot)
            try:
                raw = await asyncio.wait_for(
                    self._redis.get(self._key(*slot)), timeout=self._timeout_s
                )
            except (RedisError, OSError, TimeoutError) as error:
                self._down(error)
            else:
                self._up()
                self._shared[slot] = float(raw) if raw is not None else 0.0
        return self._shared.get(slot, 0.0) + self._unsynced.get(slot, 0.0)

    async def charge(self, tenant: str, amount: float) -> None:
        if amount <= 0:
            return
        slot = (utc_day(self._wall_clock()), tenant)
        self._unsynced[slot] = self._unsynced.get(slot, 0.0) + amount
        if self._redis is not None:
            await self._sync(slot)

    async def _sync(self, slot: tuple[str, str]) -> None:
        """Move a slot's local charges into Redis; on failure they stay local for next time."""
        assert self._redis is not None
        async with self._lock:
            amount = self._unsynced.pop(slot, 0.0)
            if amount <= 0:
                return
            key = self._key(*slot)
            try:
                async with self._redis.pipeline(transaction=True) as pipe:
                    pipe.incrbyfloat(key, amount)
                    pipe.expire(key, _TWO_DAYS_S)
                    total, _ = await asyncio.wait_for(pipe.execute(), timeout=self._timeout_s)
            except (RedisError, OSError, TimeoutError) as error:
                self._unsynced[slot] = self._unsynced.get(slot, 0.0) + amount
                self._down(error)
                return
            self._up()
            self._shared[slot] = float(total)

    def _down(self, error: BaseException) -> None:
        if not self.degraded:
            log.warning(
                "budget counters fall back to local counting, redis: %s", type(error).__name__
            )
        self.degraded = True

    def _up(self) -> None:
        if self.degraded:
            log.info("budget counters are shared through redis again")
        self.degraded = False

    async def close(self) -> None:
        await self._resync.close()
        if self._redis is not None:
            await self.sync_all()  # the last chance for charges made during an outage
            await self._redis.aclose()
