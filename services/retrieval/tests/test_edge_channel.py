"""The loop's end of the worker socket speaks multiprocessing.Connection's framing both ways,
whole or in pieces, and reports the end of the stream once."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from ragserve.retrieval.edge_channel import WorkerChannel, frame

SMALL = (1, "search", ["collection", [0.25] * 384])
BIG = (2, True, b"x" * 300_000)  # over the join threshold and Connection's 16 KiB split


async def test_messages_cross_both_ways_and_the_end_is_reported_once() -> None:
    mine, theirs = WorkerChannel.pair()
    loop = asyncio.get_running_loop()
    received: list[Any] = []
    arrived = asyncio.Event()
    lost: list[bool] = []
    ended = asyncio.Event()

    def on_message(message: Any) -> None:
        received.append(message)
        if len(received) == 2:
            arrived.set()

    def on_lost() -> None:
        lost.append(True)
        ended.set()

    def echo_twice_then_close() -> None:  # the worker's side: a plain Connection
        for _ in range(2):
            theirs.send(theirs.recv())
        theirs.close()

    channel = await WorkerChannel.open(mine, on_message, on_lost)
    worker = threading.Thread(target=echo_twice_then_close)
    worker.start()
    try:
        await channel.send(SMALL)
        await channel.send(BIG)
        await asyncio.wait_for(arrived.wait(), 30)
        await asyncio.wait_for(ended.wait(), 30)
    finally:
        await loop.run_in_executor(None, worker.join)
        channel.close()
    assert received == [SMALL, BIG]
    assert lost == [True]


def test_a_frame_split_anywhere_is_delivered_whole() -> None:
    received: list[Any] = []
    channel = WorkerChannel(received.append, lambda: None)
    stream = b"".join(frame(SMALL)) + b"".join(frame((3, False, ("NotFound", "x", "y"))))
    for size in (1, 3, 7, len(stream)):
        received.clear()
        for start in range(0, len(stream), size):
            channel.data_received(stream[start : start + size])
        assert received == [SMALL, (3, False, ("NotFound", "x", "y"))]
