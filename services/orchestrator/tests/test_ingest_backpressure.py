"""The ingest pipeline in process with scripted peers: a stalled retrieval stops the
reading of documents at the concurrency bound (memory stays bounded, the client is slowed
by gRPC flow control), and everything taken in is acked once it moves again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from ragserve.orchestrator import payload
from ragserve.orchestrator.ingest import IngestLimits, IngestPipeline
from ragserve.orchestrator.metrics import IngestMetrics
from ragserve.orchestrator.model import (
    AckStatus,
    CollectionRecord,
    DocumentInput,
    IngestConfig,
    IngestItem,
)
from ragserve.orchestrator.peers import (
    EmbeddedBatch,
    ModelDescription,
    ModelTokenizer,
    PayloadFilter,
    PointWrite,
)
from ragserve.orchestrator.tokenizer_cache import TokenizerCache

TOKENIZER = Path(__file__).resolve().parents[3] / "models" / "all-minilm-l6-v2" / "tokenizer.json"
MODEL = ModelDescription("m", "1", 3, 256)
CONCURRENCY = 3


class InstantStream:
    def __init__(self) -> None:
        self._answers: asyncio.Queue[EmbeddedBatch | None] = asyncio.Queue()

    async def send(self, batch_id: str, texts: Sequence[str]) -> None:
        self._answers.put_nowait(EmbeddedBatch(batch_id, "1", [[1.0, 0.0, 0.0]] * len(texts)))

    async def receive(self) -> EmbeddedBatch | None:
        return await self._answers.get()

    async def finish(self) -> None:
        self._answers.put_nowait(None)

    async def close(self) -> None:
        pass


class Embedding:
    async def list_models(self) -> list[ModelDescription]:
        return [MODEL]

    async def get_tokenizer(self, model: str) -> ModelTokenizer:
        return ModelTokenizer(MODEL, TOKENIZER.read_text(encoding="utf-8"))

    def open_stream(self, tenant: str, model: str, priority: int) -> InstantStream:
        return InstantStream()


class StalledVectors:
    """Nothing is stored yet; every upsert waits for ``gate``."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.upserts_waiting = 0
        self.all_waiting = asyncio.Event()
        self.points: dict[str, PointWrite] = {}
        self.manifests: dict[str, PointWrite] = {}

    async def create_collection(self, *args: Any, **kwargs: Any) -> None:
        pass

    async def get_payloads(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return {}

    async def count(self, tenant: str, name: str, filter: PayloadFilter | None) -> int:
        return 0

    async def upsert(self, tenant: str, name: str, points: Sequence[PointWrite]) -> None:
        if name == payload.DOCUMENTS_COLLECTION:  # written once the chunks are
            self.manifests.update((p.id, p) for p in points)
            return
        self.upserts_waiting += 1
        if self.upserts_waiting == CONCURRENCY:
            self.all_waiting.set()
        await self.gate.wait()
        self.points.update((p.id, p) for p in points)

    async def delete_by_filter(self, tenant: str, name: str, filter: PayloadFilter) -> int:
        return 0


class OneCollection:
    async def resolve(self, tenant: str, name: str, field: str = "name") -> CollectionRecord:
        return CollectionRecord(name, MODEL.id, MODEL.dimension)


async def test_a_stalled_retrieval_stops_the_reading_of_documents_at_the_bound() -> None:
    vectors = StalledVectors()
    embedding = Embedding()
    pipeline = IngestPipeline(
        vectors,  # type: ignore[arg-type]
        embedding,
        OneCollection(),  # type: ignore[arg-type]
        TokenizerCache(embedding, 60.0),
        IngestLimits(concurrency=CONCURRENCY, embed_batch_texts=8, embed_window=2),
        IngestMetrics(CollectorRegistry()),
    )
    pulled = 0

    async def items() -> AsyncIterator[IngestItem]:
        nonlocal pulled
        for sequence in range(1, 21):
            pulled += 1
            yield IngestItem(
                sequence,
                DocumentInput(f"doc-{sequence}", f"Document number {sequence}.".encode(), "", {}),
            )

    acks = pipeline.run(IngestConfig("t", "c"), items())
    first = asyncio.create_task(anext(acks))
    await vectors.all_waiting.wait()
    for _ in range(100):  # let every runnable task run; none may take another document
        await asyncio.sleep(0)
    # The bound, plus the one the reader holds while it waits for a free slot.
    assert pulled == CONCURRENCY + 1
    assert not first.done()

    vectors.gate.set()
    received = [await first] + [ack async for ack in acks]
    assert sorted(a.sequence for a in received) == list(range(1, 21))
    assert {a.status for a in received} == {AckStatus.STORED}
    assert len(vectors.points) == 20
    assert len(vectors.manifests) == 20  # every stored document is listed
