"""Overhead of the batcher itself: submit -> result with a no-op execute.

Not a test (performance is measured, not asserted). Run:
    uv run python libs/batching/tests/bench_overhead.py
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Sequence

from ragserve.batching import Batch, BatcherConfig, DynamicBatcher


async def echo(batch: Batch[int]) -> Sequence[int]:
    return batch.items


async def one_caller(count: int) -> tuple[float, float]:
    """Per-item seconds: direct ``await execute`` vs through the batcher."""
    direct = []
    for _ in range(5):
        started = time.perf_counter()
        for index in range(count):
            await echo(Batch(items=[index], rows=1, max_length=1, links=(), deadline=None))
        direct.append((time.perf_counter() - started) / count)
    through = []
    async with DynamicBatcher(echo, BatcherConfig(max_queue_delay_s=0.0)) as batcher:
        for _ in range(5):
            started = time.perf_counter()
            for index in range(count):
                await batcher.submit(index)
            through.append((time.perf_counter() - started) / count)
    return statistics.median(direct), statistics.median(through)


async def many_callers(callers: int, per_caller: int) -> tuple[float, float]:
    """Items per second and mean batch size with ``callers`` concurrent submitters."""
    batch_sizes: list[int] = []

    async def counting_echo(batch: Batch[int]) -> Sequence[int]:
        batch_sizes.append(len(batch.items))
        await asyncio.sleep(0)
        return batch.items

    config = BatcherConfig(max_batch_size=32, max_queue_delay_s=0.0)
    async with DynamicBatcher(counting_echo, config) as batcher:

        async def caller() -> None:
            for index in range(per_caller):
                await batcher.submit(index)

        started = time.perf_counter()
        await asyncio.gather(*(caller() for _ in range(callers)))
        elapsed = time.perf_counter() - started
    return callers * per_caller / elapsed, statistics.mean(batch_sizes)


async def main() -> None:
    direct, through = await one_caller(20_000)
    print(
        f"one caller, no-op execute: direct {direct * 1e6:.1f} us/item, "
        f"through the batcher {through * 1e6:.1f} us/item "
        f"(overhead {(through - direct) * 1e6:.1f} us)"
    )
    rate, mean_batch = await many_callers(64, 500)
    print(f"64 callers: {rate:,.0f} items/s, mean batch {mean_batch:.1f}")


if __name__ == "__main__":
    asyncio.run(main())
