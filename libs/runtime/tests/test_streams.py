"""serve_concurrently in process, gated by events: order, the bound, failures, clean-up."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import aclosing

import pytest

from ragserve.runtime.streams import serve_concurrently


class Gates:
    """``serve`` for requests named by ints: each waits until the test opens its gate."""

    def __init__(self) -> None:
        self.gates: dict[int, asyncio.Event] = {}
        self.running: set[int] = set()
        self.most_running = 0
        self.cancelled: list[int] = []
        self.started = asyncio.Queue[int]()
        self.started_all: list[int] = []

    def open(self, request: int) -> None:
        self.gates.setdefault(request, asyncio.Event()).set()

    async def serve(self, request: int) -> str:
        self.running.add(request)
        self.most_running = max(self.most_running, len(self.running))
        self.started.put_nowait(request)
        self.started_all.append(request)
        try:
            await self.gates.setdefault(request, asyncio.Event()).wait()
        except asyncio.CancelledError:
            self.cancelled.append(request)
            raise
        finally:
            self.running.discard(request)
        if request < 0:
            raise ValueError(f"request {request} fails")
        return f"answer {request}"


async def numbers(*values: int) -> AsyncIterator[int]:
    for value in values:
        yield value


async def test_ordered_answers_keep_request_order_and_the_bound() -> None:
    gates = Gates()
    responses = serve_concurrently(numbers(0, 1, 2, 3), gates.serve, limit=2, ordered=True)
    async with aclosing(responses):
        first = asyncio.ensure_future(anext(responses))
        assert {await gates.started.get(), await gates.started.get()} == {0, 1}
        gates.open(1)  # finishes first, but 0 is answered first
        gates.open(0)
        assert await first == "answer 0"
        assert await anext(responses) == "answer 1"
        for request in (2, 3):
            gates.open(request)
        assert [r async for r in responses] == ["answer 2", "answer 3"]
    assert gates.most_running == 2


async def test_unordered_answers_come_as_they_complete() -> None:
    gates = Gates()
    responses = serve_concurrently(numbers(0, 1, 2), gates.serve, limit=3, ordered=False)
    async with aclosing(responses):
        first = asyncio.ensure_future(anext(responses))  # the stream starts when first read
        for _ in range(3):
            await gates.started.get()
        gates.open(2)
        assert await first == "answer 2"
        gates.open(0)
        assert await anext(responses) == "answer 0"
        gates.open(1)
        assert [r async for r in responses] == ["answer 1"]


async def test_a_failed_request_ends_the_stream_and_cancels_the_rest() -> None:
    gates = Gates()
    responses = serve_concurrently(numbers(-1, 1, 2), gates.serve, limit=3, ordered=True)
    async with aclosing(responses):
        first = asyncio.ensure_future(anext(responses))
        for _ in range(3):
            await gates.started.get()
        gates.open(-1)
        with pytest.raises(ValueError, match="request -1 fails"):
            await first
    assert sorted(gates.cancelled) == [1, 2]
    assert gates.running == set()


async def test_closing_early_cancels_and_awaits_the_work_in_flight() -> None:
    gates = Gates()
    read: list[int] = []

    async def endless() -> AsyncIterator[int]:
        n = 0
        while True:
            read.append(n)
            yield n
            n += 1

    responses = serve_concurrently(endless(), gates.serve, limit=3, ordered=True)
    gates.open(0)
    assert await anext(responses) == "answer 0"
    await responses.aclose()
    assert gates.running == set()  # cancelled and awaited before aclose returned
    # Every request started and not answered was cancelled (1 and 2 at least).
    assert sorted(gates.cancelled) == sorted(set(gates.started_all) - {0})
    assert {1, 2} <= set(gates.cancelled)
    assert len(read) <= 1 + 3 + 1  # answered, in flight, and one waiting for a slot


async def test_a_failed_read_ends_the_stream_with_its_error() -> None:
    gates = Gates()

    async def broken() -> AsyncIterator[int]:
        yield 0
        raise ConnectionError("the client's stream broke")

    responses = serve_concurrently(broken(), gates.serve, limit=2, ordered=True)
    async with aclosing(responses):
        with pytest.raises(ConnectionError, match="stream broke"):
            await anext(responses)
    assert gates.cancelled == [0]
