"""The ingest pipeline: documents in, one durable acknowledgement per document out.

Per document: validate → content hash → if that version is stored complete, UNCHANGED
(nothing parsed or embedded; a missing or outdated manifest is written) → parse → chunk
with the model's own tokenizer → embed (the stream's shared :class:`BatchingEmbedder`) →
upsert, durable → the document's manifest, durable (listed with this version from here
on) → delete other versions → STORED. Any failure of one document is its FAILED ack; the
stream goes on.

Back-pressure, end to end: at most ``concurrency`` documents are between being read and
having their ack written to the client. The reader takes the next document only when one
of those slots is free, and a slot frees only once its ack is handed to gRPC — whose send
waits for the client to read. So a slow router or retrieval, or a client that does not
read its acks, stops the reading of documents (gRPC flow control then stops the client)
instead of growing memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from ragserve import errors
from ragserve.orchestrator import payload, validation
from ragserve.orchestrator.collections import Collections
from ragserve.orchestrator.document_store import DocumentStore
from ragserve.orchestrator.documents import DocumentError, chunk_document, parse_document
from ragserve.orchestrator.embedder import BatchingEmbedder
from ragserve.orchestrator.manifests import DocumentManifests
from ragserve.orchestrator.metrics import IngestMetrics
from ragserve.orchestrator.model import (
    Ack,
    AckStatus,
    CollectionRecord,
    DocumentInfo,
    DocumentInput,
    Failure,
    FailureCode,
    IngestConfig,
    IngestItem,
)
from ragserve.orchestrator.peers import EmbeddingPeer, PointWrite, VectorPeer
from ragserve.orchestrator.tokenizer_cache import LoadedTokenizer, TokenizerCache

log = logging.getLogger("ragserve.orchestrator.ingest")

_MAX_FAILURE_MESSAGE = 1024


@dataclass(frozen=True, slots=True)
class IngestLimits:
    concurrency: int = 8
    embed_batch_texts: int = 64
    embed_window: int = 4
    document_timeout_s: float = 300.0


def content_hash(
    content: bytes, media_type: str, max_tokens: int, overlap_tokens: int, model_version: str
) -> str:
    """Lowercase hex SHA-256 over everything that decides a document's chunks and vectors."""
    digest = hashlib.sha256()
    header = f"ragserve-ingest-v1\x00{media_type}\x00{max_tokens}\x00{overlap_tokens}\x00"
    digest.update(header.encode("utf-8"))
    digest.update(model_version.encode("utf-8") + b"\x00")
    digest.update(content)
    return digest.hexdigest()


def failure_of(error: BaseException) -> Failure:
    """How a document's error reads in its ack: a code, and whether a retry can help."""
    message = str(error)[:_MAX_FAILURE_MESSAGE]
    if isinstance(error, DocumentError):
        return Failure(FailureCode.UNPARSABLE, message, retryable=False)
    if isinstance(error, errors.InvalidArgument):
        return Failure(FailureCode.INVALID_ARGUMENT, message, retryable=False)
    if isinstance(error, errors.ResourceExhausted):
        return Failure(
            FailureCode.RESOURCE_EXHAUSTED,
            message,
            retryable=True,
            retry_delay_s=error.retry_after_s,
        )
    if isinstance(error, errors.Unavailable | errors.Cancelled):
        return Failure(FailureCode.UNAVAILABLE, message, retryable=True, retry_delay_s=1.0)
    if isinstance(error, errors.DeadlineExceeded | TimeoutError):
        return Failure(
            FailureCode.DEADLINE_EXCEEDED,
            message or "the document's work did not finish in time",
            retryable=True,
        )
    if isinstance(error, errors.NotFound | errors.FailedPrecondition):
        return Failure(FailureCode.FAILED_PRECONDITION, message, retryable=False)
    return Failure(
        FailureCode.INTERNAL, "internal error (logged)", retryable=True, retry_delay_s=1.0
    )


class IngestPipeline:
    def __init__(
        self,
        vectors: VectorPeer,
        embedding: EmbeddingPeer,
        collections: Collections,
        tokenizers: TokenizerCache,
        limits: IngestLimits,
        metrics: IngestMetrics,
        wall_clock: Callable[[], float] = time.time,
        manifests: DocumentManifests | None = None,
    ) -> None:
        self._vectors = vectors
        self._manifests = manifests or DocumentManifests(vectors)
        self._embedding = embedding
        self._collections = collections
        self._tokenizers = tokenizers
        self._limits = limits
        self._metrics = metrics
        self._wall_clock = wall_clock

    async def run(
        self, config: IngestConfig, items: AsyncIterator[IngestItem]
    ) -> AsyncIterator[Ack]:
        """Acks for ``items``, one per document, in completion order.

        Raises (ending the stream) for a bad config, a missing collection, or a broken
        protocol in ``items`` — after the acks of the documents already taken in."""
        validation.tenant(config.tenant, "config.tenant")
        if not config.collection:
            raise errors.InvalidArgument("config.collection", "must name a collection")
        record = await self._collections.resolve(
            config.tenant, config.collection, "config.collection"
        )
        tokenizer = await self._tokenizers.get(record.model)
        max_tokens, overlap = validation.chunking(config.chunking, tokenizer.model.max_tokens)
        session = _Session(
            config,
            record,
            tokenizer,
            (max_tokens, overlap),
            self._limits,
            store=DocumentStore(self._vectors, self._manifests, config.tenant, record.name),
            embedder=BatchingEmbedder(
                lambda: self._embedding.open_stream(config.tenant, record.model, config.priority),
                model_version=tokenizer.model.version,
                batch_texts=self._limits.embed_batch_texts,
                window=self._limits.embed_window,
            ),
            metrics=self._metrics,
            wall_clock=self._wall_clock,
        )
        async for ack in session.run(items):
            yield ack


class _Session:
    """One Ingest stream."""

    def __init__(
        self,
        config: IngestConfig,
        record: CollectionRecord,
        tokenizer: LoadedTokenizer,
        chunking: tuple[int, int],
        limits: IngestLimits,
        *,
        store: DocumentStore,
        embedder: BatchingEmbedder,
        metrics: IngestMetrics,
        wall_clock: Callable[[], float],
    ) -> None:
        self._config = config
        self._record = record
        self._tokenizer = tokenizer
        self._max_tokens, self._overlap = chunking
        self._limits = limits
        self._store = store
        self._embedder = embedder
        self._metrics = metrics
        self._wall_clock = wall_clock
        self._slots = asyncio.Semaphore(limits.concurrency)
        self._acks: asyncio.Queue[Ack | None] = asyncio.Queue()
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self, items: AsyncIterator[IngestItem]) -> AsyncIterator[Ack]:
        reader = asyncio.create_task(self._read(items))
        completed = False
        try:
            while True:
                ack = await self._acks.get()
                if ack is None:
                    break
                yield ack
                self._slots.release()
            reader.result()  # a broken protocol ends the stream after the acks due
            completed = True
        finally:
            reader.cancel()
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(reader, *self._tasks, return_exceptions=True)
            # A client that went away cancels the router's stream (and its work) with it.
            await self._embedder.close(graceful=completed)

    async def _read(self, items: AsyncIterator[IngestItem]) -> None:
        last = 0
        try:
            async for item in items:
                if item.sequence <= last:
                    raise errors.InvalidArgument(
                        "item.sequence",
                        f"must be at least 1 and increase within a stream: got {item.sequence} "
                        f"after {last}",
                    )
                last = item.sequence
                await self._slots.acquire()
                task = asyncio.create_task(self._document(item))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        finally:
            # The stream ends once every document taken in has its ack.
            while self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)
            self._acks.put_nowait(None)

    async def _document(self, item: IngestItem) -> None:
        started = time.perf_counter()
        document_id = item.document.id[: validation.MAX_DOCUMENT_ID] if item.document else ""
        try:
            async with asyncio.timeout(self._limits.document_timeout_s):
                ack = await self._ingest(item.sequence, item.document)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            failure = failure_of(error)
            if failure.code is FailureCode.INTERNAL:
                log.exception(
                    "document failed", extra={"event": "ingest_failed", "document": document_id}
                )
            ack = Ack(
                item.sequence,
                self._record.name,
                document_id,
                AckStatus.FAILED,
                failure=failure,
            )
        self._metrics.observe(ack, time.perf_counter() - started)
        self._acks.put_nowait(ack)

    async def _ingest(self, sequence: int, document: DocumentInput | None) -> Ack:
        (media_type, charset), metadata = validation.document(document, self._record.indexed)
        assert document is not None
        version = content_hash(
            document.content,
            f"{media_type}; charset={charset}",
            self._max_tokens,
            self._overlap,
            self._tokenizer.model.version,
        )
        state = await self._store.version_state(document.id, version)
        if state.complete:
            await self._store.ensure_recorded(document.id, version, state)
            if state.stale_chunks:
                await self._store.delete_other_versions(document.id, version)
            return Ack(
                sequence,
                self._record.name,
                document.id,
                AckStatus.UNCHANGED,
                state.chunk_count,
                version,
            )
        extracted = await asyncio.to_thread(
            parse_document, document.content, f"{media_type}; charset={charset}"
        )
        chunks = await asyncio.to_thread(
            chunk_document,
            extracted,
            self._tokenizer.tokenizer,
            max_tokens=self._max_tokens,
            overlap_tokens=self._overlap,
            token_limit=self._tokenizer.model.max_tokens,
        )
        if not chunks:
            raise DocumentError("the document holds no text")
        vectors = await self._embedder.embed([chunk.text for chunk in chunks])
        ingested_at = self._wall_clock()
        points = [
            PointWrite(
                payload.chunk_id(document.id, version, chunk.index),
                vector,
                {
                    payload.DOCUMENT_ID: document.id,
                    payload.CONTENT_HASH: version,
                    payload.CHUNK_INDEX: chunk.index,
                    payload.CHUNK_COUNT: len(chunks),
                    payload.TEXT: chunk.text,
                    payload.START: chunk.start,
                    payload.END: chunk.end,
                    payload.PAGE: chunk.page or 0,
                    payload.HEADING_PATH: list(chunk.heading_path),
                    payload.MEDIA_TYPE: media_type,
                    payload.INGESTED_AT: ingested_at,
                    payload.METADATA: metadata,
                },
            )
            for chunk, vector in zip(chunks, vectors, strict=True)
        ]
        await self._store.write(points)
        # Listed from now on, with this version; until now, with the previous one.
        await self._store.record(
            DocumentInfo(document.id, len(chunks), version, ingested_at, media_type, metadata)
        )
        with contextlib.suppress(errors.RagserveError):
            # The new version is durable and complete: the ack is due even if removing the
            # old one fails now (the next ingest of the document removes it).
            await self._store.delete_other_versions(document.id, version)
        return Ack(sequence, self._record.name, document.id, AckStatus.STORED, len(chunks), version)
