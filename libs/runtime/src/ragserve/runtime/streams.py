"""Bounded concurrency for request streams: many requests in flight, never unbounded."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterable, Callable, Coroutine
from typing import Any, TypeVar

RequestT = TypeVar("RequestT")
ResponseT = TypeVar("ResponseT")


async def serve_concurrently(
    requests: AsyncIterable[RequestT],
    serve: Callable[[RequestT], Coroutine[Any, Any, ResponseT]],
    *,
    limit: int,
    ordered: bool,
) -> AsyncGenerator[ResponseT, None]:
    """Serve each request of ``requests`` with ``serve``, at most ``limit`` at once, and
    yield the answers: in the order the requests came when ``ordered``, else as each
    completes.

    Back-pressure: while ``limit`` requests are unanswered the client's stream is not
    read. A request that fails, or a failure to read the stream, ends the stream with
    that error. However the stream ends — finished, failed, closed by the consumer,
    cancelled — every request still in flight is cancelled and awaited before this
    returns: no task outlives it. A consumer that may stop early iterates it under
    ``contextlib.aclosing``: ``async for`` alone leaves an abandoned async generator to
    the garbage collector, and its clean-up to whenever that runs.
    """
    if limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")
    slots = asyncio.Semaphore(limit)
    unanswered: deque[asyncio.Task[ResponseT]] = deque()  # in request order
    # Every task that finished (a request, or the reader), in the order they did.
    finished: asyncio.Queue[asyncio.Task[Any]] = asyncio.Queue()

    async def read() -> None:
        async for request in requests:
            await slots.acquire()
            task = asyncio.create_task(serve(request))
            unanswered.append(task)
            task.add_done_callback(finished.put_nowait)

    reader = asyncio.create_task(read())
    reader.add_done_callback(finished.put_nowait)
    reading = True
    try:
        while reading or unanswered:
            done = await finished.get()
            if done is reader:
                reading = False
                reader.result()  # a failed read ends the stream with its error
                continue
            if ordered:
                while unanswered and unanswered[0].done():
                    task = unanswered.popleft()
                    slots.release()
                    yield task.result()
            elif done in unanswered:
                unanswered.remove(done)
                slots.release()
                yield done.result()
    finally:
        reader.cancel()
        for task in unanswered:
            task.cancel()
        await asyncio.gather(reader, *unanswered, return_exceptions=True)
