"""The embedding side of one ingest stream: the chunks of every document in flight share
batches on one router ``EmbedStream``.

A sender takes pending texts — from any number of documents, in arrival order — into a
batch of at most ``batch_texts`` as soon as the stream has room (at most ``window``
batches in flight), so batches are small while the router is idle and fill up while it is
busy; a receiver hands each batch's vectors back to the documents they belong to (the
router answers batches in order). Memory is bounded: documents are bounded by the ingest
stream, batches by the window.

When the stream fails, every document waiting on it fails with the stream's error (its
ack says whether a retry helps) and the next document opens a new stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ragserve.errors import FailedPrecondition, RagserveError, Unavailable
from ragserve.orchestrator.peers import EmbedStream, Vector


@dataclass(eq=False)
class _Request:
    texts: Sequence[str]
    future: asyncio.Future[list[Vector]]
    vectors: list[Vector | None] = field(default_factory=list)
    # Texts handed to a batch so far, and texts whose vector came back.
    sent: int = 0
    received: int = 0


@dataclass(frozen=True, slots=True)
class _Part:
    request: _Request
    start: int
    count: int


@dataclass(frozen=True, slots=True)
class _Batch:
    batch_id: str
    parts: tuple[_Part, ...]
    size: int


# How long a half-closed stream may take to end before it is cancelled.
_FINISH_TIMEOUT_S = 5.0


class _Generation:
    """One open stream with its sender and receiver; dies with the stream."""

    def __init__(self, stream: EmbedStream, window: int) -> None:
        self.stream = stream
        self.room = asyncio.Semaphore(window)
        self.in_flight: deque[_Batch] = deque()
        self.tasks: list[asyncio.Task[None]] = []
        self.failed: Exception | None = None
        # Half-closed by us: the peer's clean end is expected.
        self.closing = False


class BatchingEmbedder:
    def __init__(
        self,
        open_stream: Callable[[], EmbedStream],
        *,
        model_version: str,
        batch_texts: int,
        window: int,
    ) -> None:
        self._open_stream = open_stream
        self._model_version = model_version
        self._batch_texts = batch_texts
        self._window = window
        self._pending: deque[_Request] = deque()
        self._wakeup = asyncio.Event()
        self._generation: _Generation | None = None
        self._ids = itertools.count()

    async def embed(self, texts: Sequence[str]) -> list[Vector]:
        """One vector per text, in order. Raises the stream's domain error when it fails."""
        if not texts:
            return []
        request = _Request(texts, asyncio.get_running_loop().create_future())
        request.vectors = [None] * len(texts)
        self._pending.append(request)
        self._wakeup.set()
        if self._generation is None or self._generation.failed is not None:
            self._start()
        return await request.future

    def _start(self) -> None:
        generation = _Generation(self._open_stream(), self._window)
        self._generation = generation
        generation.tasks = [
            asyncio.create_task(self._send(generation)),
            asyncio.create_task(self._receive(generation)),
        ]

    async def _send(self, generation: _Generation) -> None:
        try:
            while True:
                await generation.room.acquire()
                while not self._pending:
                    self._wakeup.clear()
                    await self._wakeup.wait()
                batch = self._next_batch()
                generation.in_flight.append(batch)
                texts = [
                    text
                    for part in batch.parts
                    for text in part.request.texts[part.start : part.start + part.count]
                ]
                await generation.stream.send(batch.batch_id, texts)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            self._fail(generation, error)
            await generation.stream.close()

    def _next_batch(self) -> _Batch:
        parts: list[_Part] = []
        size = 0
        while self._pending and size < self._batch_texts:
            request = self._pending[0]
            if request.future.done():  # its document gave up (cancelled)
                self._pending.popleft()
                continue
            count = min(len(request.texts) - request.sent, self._batch_texts - size)
            parts.append(_Part(request, request.sent, count))
            request.sent += count
            size += count
            if request.sent == len(request.texts):
                self._pending.popleft()
        return _Batch(str(next(self._ids)), tuple(parts), size)

    async def _receive(self, generation: _Generation) -> None:
        try:
            while True:
                result = await generation.stream.receive()
                if result is None:
                    if generation.closing:
                        return
                    raise Unavailable("embedding router ended the embedding stream early")
                # Left in flight until it checks out, so that a failure here fails it too.
                batch = generation.in_flight[0]
                if result.batch_id != batch.batch_id or len(result.vectors) != batch.size:
                    raise Unavailable(
                        f"embedding router answered batch {result.batch_id!r} with "
                        f"{len(result.vectors)} vectors where batch {batch.batch_id!r} of "
                        f"{batch.size} was due"
                    )
                if result.model_version != self._model_version:
                    raise FailedPrecondition(
                        f"the embedding model changed version ({self._model_version!r} → "
                        f"{result.model_version!r}) during the stream; send the document again"
                    )
                generation.in_flight.popleft()
                generation.room.release()
                offset = 0
                for part in batch.parts:
                    request = part.request
                    request.vectors[part.start : part.start + part.count] = result.vectors[
                        offset : offset + part.count
                    ]
                    offset += part.count
                    request.received += part.count
                    if request.received == len(request.texts) and not request.future.done():
                        request.future.set_result(request.vectors)  # type: ignore[arg-type]
        except asyncio.CancelledError:
            raise
        except Exception as error:
            self._fail(generation, error)
            await generation.stream.close()

    def _fail(self, generation: _Generation, error: Exception) -> None:
        if generation.failed is not None:
            return
        generation.failed = (
            error
            if isinstance(error, RagserveError)
            else Unavailable(f"embedding stream failed: {error}")
        )
        # Everything sent on this stream, and everything waiting for it, fails with it.
        victims = {part.request for batch in generation.in_flight for part in batch.parts}
        victims.update(self._pending)
        self._pending.clear()
        for request in victims:
            if not request.future.done():
                request.future.set_exception(generation.failed)
        for task in generation.tasks:
            if task is not asyncio.current_task():
                task.cancel()

    async def close(self, *, graceful: bool = False) -> None:
        """Ends the stream: ``graceful`` half-closes it and lets the router finish (the
        ingest stream ended normally, nothing is in flight); otherwise it is cancelled, and
        the router drops whatever it was still embedding for it."""
        generation, self._generation = self._generation, None
        if generation is None:
            return
        sender, receiver = generation.tasks
        sender.cancel()  # idle: nothing pending
        if graceful and generation.failed is None and not generation.in_flight:
            # The receiver reads on: cancelling a task blocked in a gRPC read would cancel
            # the call, and the peer would count a normal end as a cancellation.
            generation.closing = True
            await generation.stream.finish()
            try:
                async with asyncio.timeout(_FINISH_TIMEOUT_S):
                    await asyncio.gather(receiver, return_exceptions=True)
            except TimeoutError:
                pass
        receiver.cancel()
        for task in (sender, receiver):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await generation.stream.close()
