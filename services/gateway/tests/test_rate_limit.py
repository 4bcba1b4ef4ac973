"""Rate limits against a real Redis: GCRA buckets in one hash slot per key, charged all
or nothing, a retry delay on refusal, and a local fallback that says so when Redis dies."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from prometheus_client import REGISTRY

from ragserve.gateway.limits import Limit
from ragserve.gateway.rate_limit import Decision, LocalBuckets, RateLimiter, Rates, lease_sizes
from ragserve.gateway.redis_link import RedisLink
from ragserve.testkit.redis_server import RedisServer

# Buckets of 10 requests, 5 texts and 1000 bytes that refill slowly (a request a second), so
# a test whose dozen Redis round trips a loaded machine stalls still sees the bucket it
# emptied empty.
RATES = Rates({Limit.REQUESTS: 1.0, Limit.TEXTS: 0.5, Limit.INGEST_BYTES: 100.0}, burst_s=10.0)


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
    # One request's worth of the rate (1 s) at most, minus the time the burst took.
    assert 0 < refused.retry_after_s <= 1.0


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
    # Kept a burst and a second after the last charge, whichever limits it charged: the
    # ingest charge must not let the texts bucket (4 s ahead) expire with it.
    assert 10_000 < await link.client.pttl(keys[0]) <= 11_000


async def test_a_cost_larger_than_the_burst_needs_a_full_bucket(link: RedisLink) -> None:
    limiter = RateLimiter(link, RATES)
    assert (await limiter.acquire("k3", {Limit.INGEST_BYTES: 50_000})).allowed
    # The bucket is empty: another large document waits for all of it to refill.
    refused = await limiter.acquire("k3", {Limit.INGEST_BYTES: 50_000})
    assert not refused.allowed and 9.0 < refused.retry_after_s <= 10.0


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
    now[0] += 1.0  # one request's worth of time
    assert buckets.acquire("k", {Limit.REQUESTS: 1}, RATES, 1.0).allowed
    assert not buckets.acquire("k", {Limit.REQUESTS: 1}, RATES, 1.0).allowed


# ---------------------------------------------------------------- leases

FAST = Rates({Limit.REQUESTS: 1000.0, Limit.TEXTS: 1000.0, Limit.INGEST_BYTES: 1e6}, burst_s=1.0)


async def script_calls(link: RedisLink) -> int:
    stats = await link.client.info("commandstats")
    return int(stats.get("cmdstat_evalsha", {}).get("calls", 0))


async def charged(link: RedisLink, limiter: RateLimiter, key_id: str, since_us: int) -> float:
    """Tokens the key's requests bucket was charged since ``since_us`` (Redis time)."""
    tat = await link.client.hget(limiter.bucket_key(key_id), "requests")  # type: ignore[misc]
    return (int(tat) - since_us) / (1e6 / FAST.per_second[Limit.REQUESTS])


def test_a_lease_is_a_slice_of_the_rate_at_most_a_quarter_of_the_burst() -> None:
    rates = Rates({Limit.REQUESTS: 200.0, Limit.TEXTS: 10.0, Limit.INGEST_BYTES: 1e6}, 0.1)
    assert lease_sizes(rates, 0.05) == {
        Limit.REQUESTS: 5,  # 200 * 0.05 = 10, capped at a quarter of the 20-token burst
        Limit.TEXTS: 0,  # under one token: every call asks Redis
        Limit.INGEST_BYTES: 25_000,
    }
    assert set(lease_sizes(rates, 0.0).values()) == {0}


async def test_leased_tokens_admit_calls_without_a_redis_round_trip(link: RedisLink) -> None:
    limiter = RateLimiter(link, FAST, lease_s=0.05)  # leases of 50 requests
    seconds, micros = await link.client.time()
    before = await script_calls(link)
    decisions = [await limiter.acquire("lease1", {Limit.REQUESTS: 1}) for _ in range(200)]
    assert all(d.allowed and d.shared for d in decisions)
    await asyncio.gather(*limiter._refills)
    # One script call per ~25 calls (a lease is topped up at half), not one per call.
    assert 4 <= await script_calls(link) - before <= 12
    # Every admitted call was charged to the shared bucket, plus at most two leases held.
    assert 200 <= await charged(link, limiter, "lease1", seconds * 1_000_000 + micros) <= 301
    await limiter.close()


async def test_two_leasing_replicas_never_admit_more_than_the_shared_limit(
    redis: RedisServer,
) -> None:
    rate = 500.0
    rates = Rates({Limit.REQUESTS: rate, Limit.TEXTS: rate, Limit.INGEST_BYTES: 1e6}, 1.0)
    links = [RedisLink(redis.url, timeout_s=0.5, retry_interval_s=0.05) for _ in range(2)]
    replicas = [RateLimiter(link, rates, lease_s=0.05) for link in links]  # leases of 25
    admitted = [0, 0]
    refused: list[Decision] = []
    started = time.monotonic()
    last_refused = started  # when the last call that was refused began

    async def client(index: int) -> None:
        nonlocal last_refused
        while time.monotonic() - started < 1.5:
            called = time.monotonic()
            decision = await replicas[index % 2].acquire("shared", {Limit.REQUESTS: 1})
            if decision.allowed:
                admitted[index % 2] += 1
            else:
                refused.append(decision)
                last_refused = max(last_refused, called)
            await asyncio.sleep(0)  # let the other replicas' calls and top-ups run

    await asyncio.gather(*(client(i) for i in range(6)))
    elapsed = time.monotonic() - started
    total = sum(admitted)
    limit = rate * (1.0 + elapsed)  # the burst plus the rate over the window
    assert all(admitted) and refused, (admitted, len(refused))
    assert total <= limit * 1.01, f"admitted {total} > limit {limit:.0f} + 1 %"
    # A refusal means the shared bucket was empty: every token up to then was charged, to
    # an admitted call or a lease. So admissions reach the burst plus the rate up to the
    # last refusal, short by at most the leases both replicas still hold (two each). Not
    # up to the window's end: a stall of this process there (a GC pause, a busy host)
    # accrues tokens that no call is left to ask for.
    floor = rate * (1.0 + last_refused - started)
    assert total >= floor * 0.99 - 4 * 25, f"admitted {total} ≪ {floor:.0f} (limit {limit:.0f})"
    assert all(d.limit is Limit.REQUESTS and 0 < d.retry_after_s <= 1 / rate for d in refused)
    for replica, link in zip(replicas, links, strict=True):
        await replica.close()
        await link.close()


async def test_held_tokens_outlive_redis_then_each_replica_limits_alone(
    redis: RedisServer, link: RedisLink
) -> None:
    limiter = RateLimiter(link, FAST, lease_s=0.05, local_share=0.5)
    assert (await limiter.acquire("lease2", {Limit.REQUESTS: 1})).shared
    redis.kill()
    # The lease was charged while Redis was up: its tokens admit calls as shared ones.
    held = [await limiter.acquire("lease2", {Limit.REQUESTS: 1}) for _ in range(40)]
    assert all(d.allowed and d.shared for d in held)
    decisions = [await limiter.acquire("lease2", {Limit.REQUESTS: 1}) for _ in range(20)]
    assert all(d.allowed for d in decisions) and not decisions[-1].shared
    assert degraded() == 1
    await limiter.close()
