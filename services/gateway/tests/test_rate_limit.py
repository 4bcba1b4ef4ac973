"""Rate limits against a real Redis: GCRA buckets in one hash slot per key, charged all
or nothing, a retry delay on refusal, and a local fallback that says so when Redis dies."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from prometheus_client import REGISTRY

from ragserve.gateway.rate_limit import Limit, LocalBuckets, RateLimiter, Rates
from ragserve.gateway.redis_link import RedisLink
from ragserve.testkit.redis_server import RedisServer

RATES = Rates({Limit.REQUESTS: 10.0, Limit.TEXTS: 5.0, Limit.INGEST_BYTES: 1000.0}, burst_s=1.0)


@pytest.fixture
def redis() -> AsyncIterator[RedisServer]:
    with RedisServer() as server:
        yield server  # type: ignore[misc]


@pytest_asyncio.fixture
async def link(redis: RedisServer) -> AsyncIterator[RedisLink]:
    link = RedisLink(redis.url, timeout_s=0.5, retry_interval_s=0.05)
    yield link
    await link.close()


def degraded() -> float | None:
    return REGISTRY.get_sample_value("ragserve_gateway_degraded", {"dependency": "redis"})


async def test_a_burst_is_admitted_then_refused_with_a_retry_delay(link: RedisLink) -> None:
    limiter = RateLimiter(link, RATES)
    decisions = [await limiter.acquire("k1", {Limit.REQUESTS: 1}) for _ in range(11)]
    assert [d.allowed for d in decisions] == [True] * 10 + [False]
    refused = decisions[-1]
    assert refused.limit is Limit.REQUESTS and refused.shared
    # One request's worth of the rate (0.1 s) at most, minus the time the burst took.
    assert 0 < refused.retry_after_s <= 0.1


async def test_limits_are_charged_all_or_nothing(link: RedisLink) -> None:
    limiter = RateLimiter(link, RATES)
    assert (await limiter.acquire("k2", {Limit.REQUESTS: 1, Limit.TEXTS: 5})).allowed
    refused = await limiter.acquire("k2", {Limit.REQUESTS: 1, Limit.TEXTS: 1})
    assert (refused.allowed, refused.limit) == (False, Limit.TEXTS)
    # The refused call charged no request: nine more requests fit in the burst.
    admitted = [(await limiter.acquire("k2", {Limit.REQUESTS: 1})).allowed for _ in range(10)]
    assert admitted == [True] * 9 + [False]


async def test_a_key_s_counters_are_one_hash_in_one_slot(link: RedisLink) -> None:
    limiter = RateLimiter(link, RATES)
    await limiter.acquire("abcdef0123456789", {Limit.REQUESTS: 1, Limit.TEXTS: 2})
    await limiter.acquire("abcdef0123456789", {Limit.INGEST_BYTES: 100})
    keys = sorted(k.decode() for k in await link.client.keys("*"))
    assert keys == ["ragserve:gateway:rl:{abcdef0123456789}"]
    fields = await link.client.hkeys(keys[0])  # type: ignore[misc]
    assert sorted(f.decode() for f in fields) == ["ingest_bytes", "requests", "texts"]
    assert 0 < await link.client.pttl(keys[0]) <= 2000


async def test_a_cost_larger_than_the_burst_needs_a_full_bucket(link: RedisLink) -> None:
    limiter = RateLimiter(link, RATES)
    assert (await limiter.acquire("k3", {Limit.INGEST_BYTES: 50_000})).allowed
    # The bucket is empty: another large document waits for all of it to refill.
    refused = await limiter.acquire("k3", {Limit.INGEST_BYTES: 50_000})
    assert not refused.allowed and 0.9 < refused.retry_after_s <= 1.0


async def test_without_redis_each_replica_limits_alone_and_says_so(
    redis: RedisServer, link: RedisLink
) -> None:
    limiter = RateLimiter(link, RATES, local_share=0.5)
    assert (await limiter.acquire("k4", {Limit.REQUESTS: 1})).shared
    assert degraded() == 0
    redis.kill()
    decisions = [await limiter.acquire("k4", {Limit.REQUESTS: 1}) for _ in range(6)]
    # Half the rate locally (local_share): a burst of 5, then refusals; never an error.
    assert [d.allowed for d in decisions] == [True] * 5 + [False]
    assert not any(d.shared for d in decisions)
    assert degraded() == 1
    # Redis back on the same port: the script is loaded again (NOSCRIPT) and limits are shared.
    with RedisServer(port=redis.port):  # stopped at the end, not left running
        deadline = time.monotonic() + 10
        while not (await limiter.acquire("k5", {Limit.REQUESTS: 1})).shared:
            assert time.monotonic() < deadline, "limits never shared again after Redis came back"
            await asyncio.sleep(0.05)  # the retry interval: the link skips Redis until it passes
        assert degraded() == 0


def test_local_buckets_follow_the_same_algorithm() -> None:
    now = [100.0]
    buckets = LocalBuckets(clock=lambda: now[0])
    admitted = [buckets.acquire("k", {Limit.REQUESTS: 1}, RATES, 1.0).allowed for _ in range(11)]
    assert admitted == [True] * 10 + [False]
    now[0] += 0.1  # one request's worth of time
    assert buckets.acquire("k", {Limit.REQUESTS: 1}, RATES, 1.0).allowed
    assert not buckets.acquire("k", {Limit.REQUESTS: 1}, RATES, 1.0).allowed
