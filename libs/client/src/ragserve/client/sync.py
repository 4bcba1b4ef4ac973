"""The blocking client of the gateway.

Every method raises a :class:`ragserve.client.errors.RagserveError` subclass on
failure; UNAVAILABLE and RESOURCE_EXHAUSTED are retried inside the call's
deadline (``timeout`` seconds; None = the gateway's default for the RPC).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import grpc

from ragserve.api.gateway.v1 import gateway_pb2 as pb
from ragserve.api.gateway.v1 import gateway_pb2_grpc as pb_grpc
from ragserve.client import convert, types
from ragserve.client.connection import Connection, Deadline
from ragserve.client.documents import DocumentSource, collect
from ragserve.client.errors import RagserveError, error_from_rpc
from ragserve.client.ingest import IngestTracker, Pending
from ragserve.client.retry import RESUMABLE_CODES, RetryPolicy

T = TypeVar("T")
AckCallback = Callable[[types.IngestAck], None]


class Client:
    """Sync client; a context manager that closes its channel."""

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
        self._channel = self.connection.channel()
        self._stub = pb_grpc.GatewayServiceStub(self._channel)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ plumbing

    def _unary(self, method: Callable[..., T], request: Any, timeout: float | None) -> T:
        deadline = Deadline(timeout)
        attempt = 0
        while True:
            attempt += 1
            try:
                return method(
                    request, metadata=self.connection.metadata(), timeout=deadline.remaining()
                )
            except grpc.RpcError as rpc_error:
                error = error_from_rpc(rpc_error)
                wait = self.retry.delay(error, attempt, deadline.remaining())
                if wait is None:
                    raise error from None
                time.sleep(wait)  # back-off: nothing to wait on but time

    # ------------------------------------------------------------ collections

    def create_collection(
        self, name: str, model: str = "", *, timeout: float | None = None
    ) -> types.Collection:
        request = pb.CreateCollectionRequest(name=name, model=model)
        response = self._unary(self._stub.CreateCollection, request, timeout)
        return convert.collection(response.collection)

    def get_collection(self, name: str, *, timeout: float | None = None) -> types.Collection:
        response = self._unary(
            self._stub.GetCollection, pb.GetCollectionRequest(name=name), timeout
        )
        return convert.collection(response.collection)

    def list_collections(self, *, timeout: float | None = None) -> list[types.Collection]:
        collections: list[types.Collection] = []
        token = ""
        while True:
            response = self._unary(
                self._stub.ListCollections, pb.ListCollectionsRequest(page_token=token), timeout
            )
            collections.extend(convert.collection(c) for c in response.collections)
            token = response.next_page_token
            if not token:
                return collections

    def delete_collection(self, name: str, *, timeout: float | None = None) -> None:
        self._unary(self._stub.DeleteCollection, pb.DeleteCollectionRequest(name=name), timeout)

    def list_documents(
        self, collection: str, *, timeout: float | None = None
    ) -> list[types.DocumentInfo]:
        documents: list[types.DocumentInfo] = []
        token = ""
        while True:
            request = pb.ListDocumentsRequest(collection=collection, page_token=token)
            response = self._unary(self._stub.ListDocuments, request, timeout)
            documents.extend(convert.document_info(d) for d in response.documents)
            token = response.next_page_token
            if not token:
                return documents

    def delete_document(
        self, collection: str, document_id: str, *, timeout: float | None = None
    ) -> int:
        request = pb.DeleteDocumentRequest(collection=collection, document_id=document_id)
        return self._unary(self._stub.DeleteDocument, request, timeout).chunks_deleted

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
    ) -> Iterator[types.QueryEvent]:
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
                    for message in call:
                        event = convert.query_event(message)
                        if event is not None:
                            received = True
                            yield event
                finally:
                    # A caller that stops reading early (break) cancels the query below.
                    call.cancel()  # type: ignore[no-untyped-call]  # grpc-stubs leave it untyped
                return
            except grpc.RpcError as rpc_error:
                error = error_from_rpc(rpc_error)
                wait = None if received else self.retry.delay(error, attempt, deadline.remaining())
                if wait is None:
                    raise error from None
                time.sleep(wait)

    def ask(
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
        for event in self.query(
            query,
            collections,
            top_k=top_k,
            answer=answer,
            score_threshold=score_threshold,
            timeout=timeout,
        ):
            result.add(event)
        return result

    def search(
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
        response = self._unary(self._stub.Search, request, timeout)
        return [convert.hit(h) for h in response.hits]

    def embed(
        self, texts: list[str], model: str = "all-minilm-l6-v2", *, timeout: float | None = None
    ) -> list[list[float]]:
        response = self._unary(self._stub.Embed, pb.EmbedRequest(model=model, texts=texts), timeout)
        return [list(e.values) for e in response.embeddings]

    # ------------------------------------------------------------ ingest

    def ingest(
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
        return self.ingest_documents(
            collect(paths).documents,
            collection,
            on_ack=on_ack,
            max_tokens=max_tokens,
            overlap_tokens=overlap_tokens,
            timeout=timeout,
        )

    def ingest_documents(
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
                responses = self._stub.Ingest(
                    _requests(config, batch, tracker),
                    metadata=self.connection.metadata(),
                    timeout=deadline.remaining(),
                )
                for response in responses:
                    outcome = tracker.record(**convert.ack_fields(response))
                    if outcome is not None:
                        report(outcome)
                for local in tracker.take_local():
                    report(local)
                wait = tracker.retry_delay_s()
            except grpc.RpcError as rpc_error:
                for ack in tracker.take_local():
                    report(ack)
                error = error_from_rpc(rpc_error)
                tracker.last_stream_error = str(error)
                failures += 1
                found = self.retry.delay(error, failures, deadline.remaining(), RESUMABLE_CODES)
                if found is None:
                    raise error from None
                wait = found
            if wait and not tracker.done():
                time.sleep(wait)
        return summary

    # ------------------------------------------------------------ API keys

    def create_key(
        self,
        tenant: str,
        permissions: Iterable[types.Permission | str],
        *,
        description: str = "",
        ttl_s: float | None = None,
        timeout: float | None = None,
    ) -> types.CreatedKey:
        request = convert.create_key_request(tenant, permissions, description, ttl_s)
        response = self._unary(self._stub.CreateApiKey, request, timeout)
        return types.CreatedKey(convert.api_key(response.key), response.secret)

    def list_keys(
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
            response = self._unary(self._stub.ListApiKeys, request, timeout)
            keys.extend(convert.api_key(k) for k in response.keys)
            token = response.next_page_token
            if not token:
                return keys

    def revoke_key(self, key_id: str, *, timeout: float | None = None) -> types.ApiKey:
        response = self._unary(self._stub.RevokeApiKey, pb.RevokeApiKeyRequest(id=key_id), timeout)
        return convert.api_key(response.key)


def _reporter(
    summary: types.IngestSummary, on_ack: AckCallback | None
) -> Callable[[types.IngestAck], None]:
    def report(ack: types.IngestAck) -> None:
        summary.acks.append(ack)
        if on_ack is not None:
            on_ack(ack)

    return report


def _requests(
    config: pb.IngestRequest, batch: list[Pending], tracker: IngestTracker
) -> Iterator[pb.IngestRequest]:
    """The stream's messages; a file that cannot be read fails alone, the stream goes on."""
    yield config
    for pending in batch:
        try:
            message = convert.ingest_document(pending.sequence, pending.source)
        except OSError as error:
            tracker.fail_locally(pending.sequence, "unreadable", f"cannot read the file: {error}")
            continue
        yield message


__all__ = ["Client", "RagserveError"]
