"""The gateway's one Redis connection and its view of whether Redis is up.

Every command is bounded by a short timeout. A failure marks Redis down: for
``retry_interval_s`` the gateway does not wait on Redis at all (callers get
:class:`RedisDown` at once and fall back: local rate limits, cached keys), then
it tries again; the first success marks it up. Both transitions are logged and
the ``ragserve_gateway_degraded{dependency="redis"}`` gauge follows them, so
serving degraded is never silent.

The verdict does not wait for traffic: Redis is also PINGed on its own (see
``ragserve.runtime.dependency_check``) every retry interval while it is down and after
5 s without a command while it is up, so an idle gateway's gauge neither
stays at "degraded" after one slow command nor misses Redis going.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from ragserve.gateway.metrics import DEGRADED, REDIS_FAILURES
from ragserve.runtime.dependency_check import DependencyCheck

log = logging.getLogger(__name__)

T = TypeVar("T")


class RedisDown(Exception):
    """Redis is unreachable (now, or failed within the retry interval)."""


class RedisLink:
    def __init__(self, url: str, timeout_s: float, retry_interval_s: float) -> None:
        # One immediate retry of a dropped connection only: after a Redis restart the pool
        # still holds dead connections, and the first command on each would be lost.
        self.client = aioredis.Redis.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        )
        self._retry_interval_s = retry_interval_s
        self._down_until = 0.0
        self.available = True
        DEGRADED.labels("redis").set(0)
        self._checker = DependencyCheck(
            self._ping,
            lambda: not self.available,
            down_interval_s=retry_interval_s,
        )

    def start(self) -> None:
        """Starts checking Redis on its own (on the running loop)."""
        self._checker.start()

    async def _ping(self) -> None:
        with contextlib.suppress(RedisDown):
            await self.call("ping", lambda client: client.ping())

    async def call(self, operation: str, command: Callable[[aioredis.Redis], Awaitable[T]]) -> T:
        """Run ``command``; RedisDown when Redis is down or the command fails."""
        if not self.available and time.monotonic() < self._down_until:
            raise RedisDown(f"redis down (retrying after {self._retry_interval_s}s)")
        try:
            result = await command(self.client)
        except (RedisError, OSError) as error:
            self._checker.touched()
            REDIS_FAILURES.labels(operation).inc()
            self._mark_down(error)
            raise RedisDown(str(error)) from error
        self._checker.touched()
        if not self.available:
            self.available = True
            DEGRADED.labels("redis").set(0)
            log.warning(
                "redis is back: shared rate limits and key store resume",
                extra={"event": "redis_up"},
            )
        return result

    def _mark_down(self, error: BaseException) -> None:
        self._down_until = time.monotonic() + self._retry_interval_s
        if self.available:
            self.available = False
            DEGRADED.labels("redis").set(1)
            # WARNING, not ERROR: every call still gets its answer (degraded, as designed);
            # the gauge is what alerts. A single command past the timeout on a busy host
            # lands here too.
            log.warning(
                "redis unreachable: serving degraded (rate limits per replica, keys from "
                "the local cache): %s",
                error,
                extra={"event": "redis_down"},
            )

    async def close(self) -> None:
        await self._checker.close()
        await self.client.aclose()
