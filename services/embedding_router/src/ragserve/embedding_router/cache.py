"""The vector cache: a bounded in-process LRU in front of Redis.

Key: ``<prefix>:<model id>:<model version>:<sha256 hex of the text as sent>``.
Value: msgpack of ``[vector, provider id]`` where ``vector`` is the float32 little-endian bytes
(``dimension * 4`` bytes, no per-float framing) and ``provider id`` names the provider that
computed it. Vectors are deterministic per model version, so entries never need invalidating;
the TTL only bounds memory.

Redis is optional and never on the critical path: every command is bounded by ``timeout_s``;
a failure or timeout marks the cache degraded, skips Redis for ``retry_interval_s`` and then
tries again (the client reconnects by itself). Reads fall back to a miss, writes are dropped.
Writes go out in the background so a response never waits for them.

The verdict on Redis (``redis_healthy``, read by GetProviderStatus and so by the monitor, and
the redis-up gauge) must not wait for traffic: after one timeout on an idle router it would
say "down" for good, and an idle router would never see Redis go. So Redis is also checked
on its own (PING, see ``ragserve.runtime.dependency_check``): every retry interval while it
is marked down, and after 5 s without any command while it is up.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import msgpack
import numpy as np
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from ragserve.embedding_router.config import CacheConfig, ModelConfig
from ragserve.embedding_router.metrics import RouterMetrics
from ragserve.runtime.dependency_check import DependencyCheck

log = logging.getLogger(__name__)

T = TypeVar("T")

Vector = np.ndarray[tuple[int], np.dtype[np.float32]]

# Timeout of those checks: a verdict, not a request's wait, so a host that is merely busy
# (the request path's 50 ms is easy to miss there) must not read as Redis gone.
CHECK_TIMEOUT_S = 1.0


def redis_client(url: str, timeout_s: float) -> aioredis.Redis:
    """A client that gives up after ``timeout_s`` and retries once, at once, only a dropped
    connection: after a Redis restart the pool still holds dead connections, and the first
    command on each would otherwise be lost."""
    return aioredis.Redis.from_url(
        url,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
    )


def cache_key(prefix: str, model: ModelConfig, text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return f"{prefix}:{model.id}:{model.version}:{digest}"


def encode_entry(vector: Vector, provider_id: str) -> bytes:
    data: bytes = msgpack.packb([np.asarray(vector, dtype="<f4").tobytes(), provider_id])
    return data


def decode_entry(data: bytes, dimension: int) -> tuple[Vector, str] | None:
    """The vector and provider of an entry; None when it is not a well-formed entry."""
    try:
        raw, provider_id = msgpack.unpackb(data)
    except (ValueError, TypeError, msgpack.UnpackException):
        return None
    if not isinstance(raw, bytes) or len(raw) != dimension * 4 or not isinstance(provider_id, str):
        return None
    return np.frombuffer(raw, dtype="<f4").astype(np.float32), provider_id


@dataclass(frozen=True, slots=True)
class CachedVector:
    vector: Vector
    provider_id: str


class VectorCache:
    """get_many / put_many over LRU + Redis; see the module docstring for failure behaviour."""

    def __init__(
        self,
        config: CacheConfig,
        metrics: RouterMetrics,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._config = config
        self._metrics = metrics
        self._clock = clock
        self._lru: OrderedDict[str, CachedVector] = OrderedDict()
        self._redis: aioredis.Redis | None = None
        self._check_redis: aioredis.Redis | None = None
        self._check_timeout_s = max(config.timeout_s, CHECK_TIMEOUT_S)
        if config.enabled and config.redis_url:
            self._redis = redis_client(config.redis_url, config.timeout_s)
            self._check_redis = redis_client(config.redis_url, self._check_timeout_s)
        self._skip_redis_until = 0.0
        self._last_error: str | None = None
        self._checker = DependencyCheck(
            self._redis_ping,
            lambda: self._last_error is not None,
            down_interval_s=config.retry_interval_s,
            clock=clock,
        )
        self._writes: set[asyncio.Task[None]] = set()
        # Label children made once: a lookup is on every request's path.
        self._hits = metrics.cache_requests.labels("hit")
        self._misses = metrics.cache_requests.labels("miss")
        self._bytes_read = metrics.cache_bytes.labels("read")
        self._bytes_written = metrics.cache_bytes.labels("written")
        metrics.cache_redis_up.set(1 if self._redis is not None else 0)

    @property
    def redis_healthy(self) -> bool:
        return self._redis is not None and self._last_error is None

    def status(self) -> str:
        """A health detail: ``disabled``, ``lru only``, ``ok`` or ``degraded: <reason>``."""
        if not self._config.enabled:
            return "disabled"
        if self._redis is None:
            return "lru only"
        return "ok" if self._last_error is None else f"degraded: {self._last_error}"

    def unavailable_reason(self) -> str:
        """Why the shared (Redis) cache is not in use; empty while it is."""
        if not self._config.enabled:
            return "the cache is disabled (cache.enabled = false)"
        if self._redis is None:
            return "no Redis configured (cache.redis_url): in-process LRU only"
        if self._last_error is not None:
            return f"{self._last_error}; serving without it and retrying"
        return ""

    # ------------------------------------------------------------------ reads

    async def get_many(self, model: ModelConfig, keys: Sequence[str]) -> list[CachedVector | None]:
        """Each key's entry or None. Keys all found in the LRU never touch Redis."""
        if not self._config.enabled or not keys:
            return [None] * len(keys)
        started = self._clock()
        found: list[CachedVector | None] = [self._lru_get(k) for k in keys]
        missing = [i for i, hit in enumerate(found) if hit is None]
        if not missing:
            self._hits.inc(len(keys))
            self._metrics.cache_latency.observe(self._clock() - started)
            return found
        if self._redis_usable():
            values = await self._redis_call("read", self._redis_mget([keys[i] for i in missing]))
            if values is not None:
                for index, value in zip(missing, values, strict=True):
                    if value is None:
                        continue
                    decoded = decode_entry(value, model.dimension)
                    if decoded is None:
                        continue
                    entry = CachedVector(decoded[0], decoded[1])
                    found[index] = entry
                    self._lru_put(keys[index], entry)
                    self._bytes_read.inc(len(value))
        hits = sum(1 for f in found if f is not None)
        if hits:
            self._hits.inc(hits)
        self._misses.inc(len(keys) - hits)
        self._metrics.cache_latency.observe(self._clock() - started)
        return found

    # ------------------------------------------------------------------ writes

    def put_many(self, items: Sequence[tuple[str, Vector, str]]) -> None:
        """Store (key, vector, provider id) entries: in the LRU now, in Redis in the background."""
        if not self._config.enabled or not items:
            return
        for key, vector, provider_id in items:
            self._lru_put(key, CachedVector(vector, provider_id))
        if self._redis_usable():
            payload = [(key, encode_entry(vector, pid)) for key, vector, pid in items]
            task = asyncio.get_running_loop().create_task(self._write(payload))
            self._writes.add(task)
            task.add_done_callback(self._writes.discard)

    async def _write(self, payload: list[tuple[str, bytes]]) -> None:
        if await self._redis_call("write", self._redis_set(payload)) is not None:
            self._bytes_written.inc(sum(len(v) for _, v in payload))

    async def flush(self) -> None:
        """Wait for background writes (tests and shutdown)."""
        while self._writes:
            await asyncio.gather(*list(self._writes), return_exceptions=True)

    def start(self) -> None:
        """Starts checking Redis on its own (on the running loop)."""
        if self._redis is not None:
            self._checker.start()

    async def close(self) -> None:
        await self._checker.close()
        await self.flush()
        if self._redis is not None:
            await self._redis.aclose()
        if self._check_redis is not None:
            await self._check_redis.aclose()

    # ------------------------------------------------------------------ Redis, failing open

    async def _redis_mget(self, keys: list[str]) -> list[bytes | None]:
        assert self._redis is not None
        values = await self._redis.mget(keys)
        return [v if isinstance(v, bytes) or v is None else v.encode() for v in values]

    async def _redis_set(self, payload: list[tuple[str, bytes]]) -> bool:
        assert self._redis is not None
        async with self._redis.pipeline(transaction=False) as pipe:
            for key, value in payload:
                pipe.set(key, value, ex=self._config.ttl_s)
            await pipe.execute()
        return True

    async def _redis_ping(self) -> None:
        """The check of an idle or down Redis: one PING through the failing-open path."""
        assert self._check_redis is not None
        await self._redis_call("ping", self._check_redis.ping(), self._check_timeout_s)

    def _redis_usable(self) -> bool:
        return self._redis is not None and self._clock() >= self._skip_redis_until

    async def _redis_call(
        self, operation: str, call: Awaitable[T], timeout_s: float | None = None
    ) -> T | None:
        """Await a Redis coroutine within the timeout (the request path's unless given); on
        any failure record it and return None."""
        try:
            result = await asyncio.wait_for(call, timeout=timeout_s or self._config.timeout_s)
        except (RedisError, OSError, TimeoutError) as error:
            self._checker.touched()
            reason = "timed out" if isinstance(error, TimeoutError) else type(error).__name__
            if self._last_error is None:
                log.warning(
                    "redis cache unavailable, serving without it: %s (%s)", reason, operation
                )
            self._last_error = f"redis {reason} on {operation}"
            self._skip_redis_until = self._clock() + self._config.retry_interval_s
            self._metrics.cache_errors.labels(operation).inc()
            self._metrics.cache_redis_up.set(0)
            return None
        self._checker.touched()
        if self._last_error is not None:
            log.info("redis cache is back")
            self._last_error = None
            self._metrics.cache_redis_up.set(1)
        return result

    # ------------------------------------------------------------------ LRU

    def peek(self, key: str) -> CachedVector | None:
        """The in-process entry for ``key``, if any (no Redis, no metrics)."""
        return self._lru_get(key) if self._config.enabled else None

    def _lru_get(self, key: str) -> CachedVector | None:
        entry = self._lru.get(key)
        if entry is not None:
            self._lru.move_to_end(key)
        return entry

    def _lru_put(self, key: str, entry: CachedVector) -> None:
        if self._config.lru_size <= 0:
            return
        self._lru[key] = entry
        self._lru.move_to_end(key)
        while len(self._lru) > self._config.lru_size:
            self._lru.popitem(last=False)
