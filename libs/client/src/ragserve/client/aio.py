"""The asyncio client of the gateway (the same methods as the sync Client, awaited).

Every method raises a :class:`ragserve.client.errors.RagserveError` subclass on
failure; UNAVAILABLE and RESOURCE_EXHAUSTED are retried inside the call's
deadline (``timeout`` seconds; None = the gateway's default for the RPC).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import grpc

from ragserve.api.gateway.v1 import gateway_pb2 as pb
from ragserve.api.gateway.v1 import gateway_pb2_grpc as pb_grpc
from ragserve.client import convert, types
from ragserve.client.connection import Connection, Deadline
from ragserve.client.documents import DocumentSource, collect
from ragserve.client.errors import RagserveError, error_from_aio
from ragserve.client.ingest import IngestTracker, Pending
from ragserve.client.retry import RESUMABLE_CODES, RetryPolicy
from ragserve.client.sync import AckCallback, _reporter

T = TypeVar("T")


class AsyncClient:
    """Asyncio client; an async context manager that closes its channel."""

    def __init__(
        self,
        address: str | None = None,
        api_key: str | None = None,
        *,
        tls: bool | None = None,
        ca_file: Path | str | None = None,
        retry: RetryPolicy | None = None,
        connection: Connection | None = None,
    ) -> None:
        self.connection = connection or Connection.resolve(
            address, api_key, tls=tls, ca_file=ca_file
        )
        self.retry = retry or RetryPolicy()
        self._channel = self.connection.aio_channel()
        self._stub = pb_grpc.GatewayServiceStub(self._channel)

    async def close(self) -> None:
        await self._channel.close(None)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------ plumbing

    async def _unary(
        self, method: Callable[..., Awaitable[T]], request: Any, timeout: float | None
    ) -> T:
        deadline = Deadline(timeout)
        attempt = 0
        while True:
            attempt += 1
            try:
                return await method(
                    request, metadata=self.connection.metadata(), timeout=deadline.remaining()
                )
            except grpc.aio.AioRpcError as rpc_error:
                error = error_from_aio(rpc_error)
                wait = self.retry.delay(error, attempt, deadline.remaining())
                if wait is None:
                    raise error from None
                await asyncio.sleep(wait)  # back-off: nothing to wait on but time

    # ------------------------------------------------------------ collections

    async def create_collection(
        self, name: str, model: str = "", *, timeout: float | None = None
    ) -> types.Collection:
        request = pb.CreateCollectionRequest(name=name, model=model)
        response = await self._unary(self._stub.CreateCollection, request, timeout)
        return convert.collection(response.collection)

    async def get_collection(self, name: str, *, timeout: float | None = None) -> types.Collection:
        response = await self._unary(
            self._stub.GetCollection, pb.GetCollectionRequest(name=name), timeout
        )
        return convert.collection(response.collection)

    async def list_collections(self, *, timeout: float | None = None) -> list[types.Collection]:
        collections: list[types.Collection] = []
        token = ""
        while True:
            response = await self._unary(
                self._stub.ListCollections, pb.ListCollectionsRequest(page_token=token), timeout
            )
            collections.extend(convert.collection(c) for c in response.collections)
            token = response.next_page_token
            if not token:
                return collections

    async def delete_collection(self, name: str, *, timeout: float | None = None) -> None:
        await self._unary(
            self._stub.DeleteCollection, pb.DeleteCollectionRequest(name=name), timeout
        )

    async def list_documents(
        self, collection: str, *, timeout: float | None = None
    ) -> list[types.DocumentInfo]:
        documents: list[types.DocumentInfo] = []
        token = ""
        while True:
            request = pb.ListDocumentsRequest(collection=collection, page_token=token)
            response = await self._unary(self._stub.ListDocuments, request, timeout)
            documents.extend(convert.document_info(d) for d in response.documents)
            token = response.next_page_token
            if not token:
                return documents

    async def delete_document(
        self, collection: str, document_id: str, *, timeout: float | None = None
    ) -> int:
        request = pb.DeleteDocumentRequest(collection=collection, document_id=document_id)
        response = await self._unary(self._stub.DeleteDocument, request, timeout)
        return int(response.chunks_deleted)

    # ------------------------------------------------------------ query, search, embed

    async def query(
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
        names = [collections] if isinstance(collections, str) else list(collections)
        request = convert.query_request(
            names, query, top_k=top_k, answer=answer, score_threshold=score_threshold
        )
        deadline = Deadline(timeout)
        attempt = 0
        while True:
            attempt += 1
            received = False
            try:
                call = self._stub.Query(
                    request, metadata=self.connection.metadata(), timeout=deadline.remaining()
                )
                try:
                    async for message in call:
                        event = convert.query_event(message)
                        if event is not None:
                            received = True
                            yield event
                finally:
                    # A caller that stops reading early (break) cancels the query below.
                    call.cancel()
                return
            except grpc.aio.AioRpcError as rpc_error:
                error = error_from_aio(rpc_error)
                wait = None if received else self.retry.delay(error, attempt, deadline.remaining())
                if wait is None:
                    raise error from None
                await asyncio.sleep(wait)

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
        result = types.QueryResult()
        async for event in self.query(
            query,
            collections,
            top_k=top_k,
            answer=answer,
            score_threshold=score_threshold,
            timeout=timeout,
        ):
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
        names = [collections] if isinstance(collections, str) else list(collections)
        request = pb.SearchRequest(collections=names, query=query, top_k=top_k)
        if score_threshold is not None:
            request.score_threshold = score_threshold
        response = await self._unary(self._stub.Search, request, timeout)
        return [convert.hit(h) for h in response.hits]

    async def embed(
        self, texts: list[str], model: str = "all-minilm-l6-v2", *, timeout: float | None = None
    ) -> list[list[float]]:
        response = await self._unary(
            self._stub.Embed, pb.EmbedRequest(model=model, texts=texts), timeout
        )
        return [list(e.values) for e in response.embeddings]

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
        return await self.ingest_documents(
            collect(paths).documents,
            collection,
            on_ack=on_ack,
            max_tokens=max_tokens,
            overlap_tokens=overlap_tokens,
            timeout=timeout,
        )

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
        tracker = IngestTracker(sources)
        summary = types.IngestSummary(collection)
        report = _reporter(summary, on_ack)
        config = convert.ingest_config(collection, max_tokens, overlap_tokens)
        deadline = Deadline(timeout)
        failures = 0
        for ack in tracker.take_local():
            report(ack)
        while not tracker.done():
            batch = tracker.next_stream()
            for ack in tracker.take_local():
                report(ack)
            if not batch:
                continue
            summary.streams += 1
            try:
                # No request iterator: _write writes while this task reads.
                call = self._stub.Ingest(  # type: ignore[call-arg]
                    metadata=self.connection.metadata(), timeout=deadline.remaining()
                )
                writer = asyncio.create_task(_write(call, config, batch, tracker))
                try:
                    async for response in call:
                        outcome = tracker.record(**convert.ack_fields(response))
                        if outcome is not None:
                            report(outcome)
                finally:
                    writer.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await writer
                for local in tracker.take_local():
                    report(local)
                wait = tracker.retry_delay_s()
            except grpc.aio.AioRpcError as rpc_error:
                for ack in tracker.take_local():
                    report(ack)
                error = error_from_aio(rpc_error)
                tracker.last_stream_error = str(error)
                failures += 1
                found = self.retry.delay(error, failures, deadline.remaining(), RESUMABLE_CODES)
                if found is None:
                    raise error from None
                wait = found
            if wait and not tracker.done():
                await asyncio.sleep(wait)
        return summary

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
        request = convert.create_key_request(tenant, permissions, description, ttl_s)
        response = await self._unary(self._stub.CreateApiKey, request, timeout)
        return types.CreatedKey(convert.api_key(response.key), response.secret)

    async def list_keys(
        self,
        tenant: str = "",
        *,
        include_revoked: bool = False,
        timeout: float | None = None,
    ) -> list[types.ApiKey]:
        keys: list[types.ApiKey] = []
        token = ""
        while True:
            request = pb.ListApiKeysRequest(
                tenant=tenant, page_token=token, include_revoked=include_revoked
            )
            response = await self._unary(self._stub.ListApiKeys, request, timeout)
            keys.extend(convert.api_key(k) for k in response.keys)
            token = response.next_page_token
            if not token:
                return keys

    async def revoke_key(self, key_id: str, *, timeout: float | None = None) -> types.ApiKey:
        response = await self._unary(
            self._stub.RevokeApiKey, pb.RevokeApiKeyRequest(id=key_id), timeout
        )
        return convert.api_key(response.key)


async def _write(
    call: Any, config: pb.IngestRequest, batch: list[Pending], tracker: IngestTracker
) -> None:
    """Writes the stream's messages while acks are read; a file that cannot be read fails
    alone. Written with explicit writes, not a request iterator: when the server ends the
    call early, a write fails here quietly and the reader gets the call's real status
    (an iterator's failed write can surface as an INTERNAL status instead)."""
    try:
        await call.write(config)
        for pending in batch:
            try:
                message = await asyncio.to_thread(
                    convert.ingest_document, pending.sequence, pending.source
                )
            except OSError as error:
                reason = f"cannot read the file: {error}"
                tracker.fail_locally(pending.sequence, "unreadable", reason)
                continue
            await call.write(message)
        await call.done_writing()
    except (grpc.aio.AioRpcError, asyncio.InvalidStateError):
        return  # the call has ended; its status comes from reading it


__all__ = ["AsyncClient", "RagserveError"]
