"""The asyncio client of the gateway: the methods of :class:`ragserve.client.sync.Client`
with the same errors, retries and deadlines, awaited; ``query`` is an async iterator.

Like the sync client it is a shell over :mod:`ragserve.client.calls`: it makes
the described calls with grpc.aio and sleeps with asyncio between attempts."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any, TypeVar

import grpc

from ragserve.client import calls, types
from ragserve.client.base import ClientBase
from ragserve.client.documents import DocumentSource, collect
from ragserve.client.errors import RagserveError
from ragserve.client.ingest import Pending
from ragserve.client.ingest_session import AckCallback, IngestSession, read_file
from ragserve.client.retry import Attempts

R = TypeVar("R")
I = TypeVar("I")  # noqa: E741


class AsyncClient(ClientBase[grpc.aio.Channel]):
    """Asyncio client; an async context manager that closes its channel."""

    def _open_channel(self) -> grpc.aio.Channel:
        return self.connection.aio_channel()

    async def close(self) -> None:
        await self._channel.close(None)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------ collections

    async def create_collection(
        self, name: str, model: str = "", *, timeout: float | None = None
    ) -> types.Collection:
        return await self._call(calls.create_collection(name, model), timeout)

    async def get_collection(self, name: str, *, timeout: float | None = None) -> types.Collection:
        return await self._call(calls.get_collection(name), timeout)

    async def list_collections(self, *, timeout: float | None = None) -> list[types.Collection]:
        return await self._pages(calls.list_collections(), timeout)

    async def delete_collection(self, name: str, *, timeout: float | None = None) -> None:
        await self._call(calls.delete_collection(name), timeout)

    async def list_documents(
        self, collection: str, *, timeout: float | None = None
    ) -> list[types.DocumentInfo]:
        return await self._pages(calls.list_documents(collection), timeout)

    async def delete_document(
        self, collection: str, document_id: str, *, timeout: float | None = None
    ) -> int:
        return await self._call(calls.delete_document(collection, document_id), timeout)

    # ------------------------------------------------------------ query, search, embed

    def query(
        self,
        query: str,
        collections: str | list[str],
        *,
        top_k: int = 5,
        answer: str | None = "extractive",
        score_threshold: float | None = None,
        timeout: float | None = None,
    ) -> AsyncIterator[types.QueryEvent]:
        """The query's events as they come: started, hits, answer pieces, citations, done.

        A failure before the first event is retried like a unary call; after it, the
        error is raised (a half-streamed answer cannot be replayed unnoticed)."""
        stream = calls.query(query, collections, top_k, answer, score_threshold)
        return self._stream(stream, timeout)

    async def ask(
        self,
        query: str,
        collections: str | list[str],
        *,
        top_k: int = 5,
        answer: str | None = "extractive",
        score_threshold: float | None = None,
        timeout: float | None = None,
    ) -> types.QueryResult:
        """The whole query stream gathered into one result."""
        stream = calls.query(query, collections, top_k, answer, score_threshold)
        result = types.QueryResult()
        async for event in self._stream(stream, timeout):
            result.add(event)
        return result

    async def search(
        self,
        query: str,
        collections: str | list[str],
        *,
        top_k: int = 5,
        score_threshold: float | None = None,
        timeout: float | None = None,
    ) -> list[types.Hit]:
        return await self._call(calls.search(query, collections, top_k, score_threshold), timeout)

    async def embed(
        self, texts: list[str], model: str = "all-minilm-l6-v2", *, timeout: float | None = None
    ) -> list[list[float]]:
        return await self._call(calls.embed(texts, model), timeout)

    # ------------------------------------------------------------ ingest

    async def ingest(
        self,
        paths: Iterable[Path | str],
        collection: str,
        *,
        on_ack: AckCallback | None = None,
        max_tokens: int = 0,
        overlap_tokens: int | None = None,
        timeout: float | None = None,
    ) -> types.IngestSummary:
        """Ingest files and folders (text, Markdown, HTML, PDF by extension)."""
        sources = collect(paths).documents
        return await self.ingest_documents(
            sources, collection, on_ack=on_ack, max_tokens=max_tokens,
            overlap_tokens=overlap_tokens, timeout=timeout,
        )  # fmt: skip

    async def ingest_documents(
        self,
        sources: list[DocumentSource],
        collection: str,
        *,
        on_ack: AckCallback | None = None,
        max_tokens: int = 0,
        overlap_tokens: int | None = None,
        timeout: float | None = None,
    ) -> types.IngestSummary:
        """Send every document, resuming lost streams from the last ``acked_through``.

        Returns when every document has a final outcome; raises when a stream fails
        with an error a retry cannot cure (e.g. NOT_FOUND for the collection) or the
        retries run out (the outcomes so far have reached ``on_ack``)."""
        session = self._session(sources, collection, on_ack, max_tokens, overlap_tokens, timeout)
        return await self._ingest(session)

    # ------------------------------------------------------------ API keys

    async def create_key(
        self,
        tenant: str,
        permissions: Iterable[types.Permission | str],
        *,
        description: str = "",
        ttl_s: float | None = None,
        timeout: float | None = None,
    ) -> types.CreatedKey:
        return await self._call(calls.create_key(tenant, permissions, description, ttl_s), timeout)

    async def list_keys(
        self,
        tenant: str = "",
        *,
        include_revoked: bool = False,
        timeout: float | None = None,
    ) -> list[types.ApiKey]:
        return await self._pages(calls.list_keys(tenant, include_revoked), timeout)

    async def revoke_key(self, key_id: str, *, timeout: float | None = None) -> types.ApiKey:
        return await self._call(calls.revoke_key(key_id), timeout)

    # ------------------------------------------------------------ transport
    # The sync client's twins of these differ only by awaiting the call and the sleep
    # (and the ingest stream, written by a task rather than read from an iterator).

    async def _call(self, call: calls.Unary[R], timeout: float | None) -> R:
        attempts = Attempts(self.retry, timeout)
        while True:
            with attempts:
                return call.result(
                    await self._start(call.method, call.request, attempts.remaining())
                )
            await asyncio.sleep(attempts.wait_s)  # back-off: nothing to wait on but time

    async def _pages(self, pages: calls.Pages[I], timeout: float | None) -> list[I]:
        while (page := pages.next_page()) is not None:
            await self._call(page, timeout)
        return pages.items

    async def _stream(
        self, stream: calls.ServerStream[R], timeout: float | None
    ) -> AsyncIterator[R]:
        request = stream.request()
        attempts = Attempts(self.retry, timeout)
        while True:
            with attempts:
                call = self._start(stream.method, request, attempts.remaining())
                try:
                    async for message in call:
                        if (item := stream.item(message)) is not None:
                            attempts.final()
                            yield item
                finally:
                    call.cancel()  # a caller that stops reading early (break) ends the call
                return
            await asyncio.sleep(attempts.wait_s)

    async def _ingest(self, session: IngestSession) -> types.IngestSummary:
        while (batch := session.next_stream()) is not None:
            with session:  # a lost stream is resumed by the next one, or its error raised
                # No request iterator: _write writes while this task reads.
                call = self._start("Ingest", None, session.remaining())
                writer = asyncio.create_task(_write(call, session, batch))
                try:
                    async for response in call:
                        session.ack(response)
                finally:
                    writer.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await writer
            await asyncio.sleep(session.wait_s)
        return session.summary


async def _write(call: Any, session: IngestSession, batch: list[Pending]) -> None:
    """Writes the stream's messages while acks are read, each file read in a thread.
    Written with explicit writes, not a request iterator: when the server ends the
    call early, a write fails here quietly and the reader gets the call's real status
    (an iterator's failed write can surface as an INTERNAL status instead)."""
    try:
        await call.write(session.config)
        for pending in batch:
            message = session.document(pending, await asyncio.to_thread(read_file, pending))
            if message is not None:
                await call.write(message)
        await call.done_writing()
    except (grpc.aio.AioRpcError, asyncio.InvalidStateError):
        return  # the call has ended; its status comes from reading it


__all__ = ["AsyncClient", "RagserveError"]
