"""The ingest stream's shared embedder, in process against a scripted stream: texts of
concurrent documents share batches, vectors go back to their own document, a failed
stream fails everything waiting on it and the next document opens a new one."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from ragserve.errors import Unavailable
from ragserve.orchestrator.embedder import BatchingEmbedder
from ragserve.orchestrator.peers import EmbeddedBatch


class ScriptedStream:
    """Records every batch sent; answers only when the test says so."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, list[str]]] = []
        self.sent_changed = asyncio.Event()
        self._answers: asyncio.Queue[EmbeddedBatch | Exception | None] = asyncio.Queue()
        self.closed = False
        self.finished = False

    async def send(self, batch_id: str, texts: Sequence[str]) -> None:
        self.sent.append((batch_id, list(texts)))
        self.sent_changed.set()

    async def receive(self) -> EmbeddedBatch | None:
        answer = await self._answers.get()
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def finish(self) -> None:
        self.finished = True
        self._answers.put_nowait(None)  # the peer's clean end

    async def close(self) -> None:
        self.closed = True

    def answer(self, index: int, version: str = "1") -> None:
        batch_id, texts = self.sent[index]
        self._answers.put_nowait(EmbeddedBatch(batch_id, version, [[float(len(t))] for t in texts]))

    def fail(self, error: Exception) -> None:
        self._answers.put_nowait(error)

    async def wait_sent(self, count: int) -> None:
        while len(self.sent) < count:
            self.sent_changed.clear()
            await self.sent_changed.wait()


async def test_concurrent_documents_share_batches_and_get_their_own_vectors() -> None:
    streams: list[ScriptedStream] = []

    def open_stream() -> ScriptedStream:
        streams.append(ScriptedStream())
        return streams[-1]

    embedder = BatchingEmbedder(open_stream, model_version="1", batch_texts=4, window=1)
    first = asyncio.create_task(embedder.embed(["a", "bb", "ccc"]))
    await asyncio.sleep(0)
    stream = streams[0]
    await stream.wait_sent(1)
    # While the first batch is out (window 1), two more documents queue up.
    second = asyncio.create_task(embedder.embed(["dddd", "eeeee", "ffffff"]))
    third = asyncio.create_task(embedder.embed(["g" * 7, "h" * 8, "i" * 9]))
    await asyncio.sleep(0)
    assert [texts for _, texts in stream.sent] == [["a", "bb", "ccc"]]
    stream.answer(0)
    await stream.wait_sent(2)
    stream.answer(1)
    await stream.wait_sent(3)
    stream.answer(2)
    assert [texts for _, texts in stream.sent] == [
        ["a", "bb", "ccc"],
        ["dddd", "eeeee", "ffffff", "g" * 7],
        ["h" * 8, "i" * 9],
    ]
    assert await first == [[1.0], [2.0], [3.0]]
    assert await second == [[4.0], [5.0], [6.0]]
    assert await third == [[7.0], [8.0], [9.0]]
    assert len(streams) == 1
    await embedder.close(graceful=True)
    assert stream.finished  # half-closed, not cancelled with work in flight


async def test_a_failed_stream_fails_every_waiting_document_and_the_next_opens_a_new_one() -> None:
    streams: list[ScriptedStream] = []

    def open_stream() -> ScriptedStream:
        streams.append(ScriptedStream())
        return streams[-1]

    embedder = BatchingEmbedder(open_stream, model_version="1", batch_texts=2, window=1)
    sent = asyncio.create_task(embedder.embed(["a", "b"]))
    await asyncio.sleep(0)
    await streams[0].wait_sent(1)
    waiting = asyncio.create_task(embedder.embed(["c"]))
    await asyncio.sleep(0)
    streams[0].fail(Unavailable("embedding router: down"))
    for task in (sent, waiting):
        with pytest.raises(Unavailable, match="embedding router: down"):
            await task
    assert streams[0].closed

    again = asyncio.create_task(embedder.embed(["d"]))
    await asyncio.sleep(0)
    await streams[1].wait_sent(1)
    streams[1].answer(0)
    assert await again == [[1.0]]
    await embedder.close()


async def test_a_new_model_version_mid_stream_fails_the_documents_not_silently_mixes() -> None:
    stream = ScriptedStream()
    embedder = BatchingEmbedder(lambda: stream, model_version="1", batch_texts=8, window=2)
    task = asyncio.create_task(embedder.embed(["a"]))
    await asyncio.sleep(0)
    await stream.wait_sent(1)
    stream.answer(0, version="2")
    with pytest.raises(Exception, match="the embedding model changed version"):
        await task
    await embedder.close()
