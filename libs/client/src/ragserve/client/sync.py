"""The blocking client of the gateway.

Every method raises a :class:`ragserve.client.errors.RagserveError` subclass on
failure; UNAVAILABLE and RESOURCE_EXHAUSTED are retried inside the call's
deadline (``timeout`` seconds; None = the gateway's default for the RPC).

Each method picks its call's description from :mod:`ragserve.client.calls` (see
there why); this module only makes the calls and sleeps between attempts.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TypeVar

import grpc

from ragserve.client import calls, types
from ragserve.client.base import ClientBase
from ragserve.client.documents import DocumentSource, collect
from ragserve.client.errors import RagserveError
from ragserve.client.ingest_session import AckCallback, IngestSession
from ragserve.client.retry import Attempts

R = TypeVar("R")
I = TypeVar("I")  # noqa: E741


class Client(ClientBase[grpc.Channel]):
    """Sync client; a context manager that closes its channel."""

    def _open_channel(self) -> grpc.Channel:
        return self.connection.channel()

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ collections

    def create_collection(
        self, name: str, model: str = "", *, timeout: float | None = None
    ) -> types.Collection:
        return self._call(calls.create_collection(name, model), timeout)

    def get_collection(self, name: str, *, timeout: float | None = None) -> types.Collection:
        return self._call(calls.get_collection(name), timeout)

    def list_collections(self, *, timeout: float | None = None) -> list[types.Collection]:
        return self._pages(calls.list_collections(), timeout)

    def delete_collection(self, name: str, *, timeout: float | None = None) -> None:
        self._call(calls.delete_collection(name), timeout)

    def list_documents(
        self, collection: str, *, timeout: float | None = None
    ) -> list[types.DocumentInfo]:
        return self._pages(calls.list_documents(collection), timeout)

    def delete_document(
        self, collection: str, document_id: str, *, timeout: float | None = None
    ) -> int:
        return self._call(calls.delete_document(collection, document_id), timeout)

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
        stream = calls.query(query, collections, top_k, answer, score_threshold)
        return self._stream(stream, timeout)

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
        stream = calls.query(query, collections, top_k, answer, score_threshold)
        return types.QueryResult.of(self._stream(stream, timeout))

    def search(
        self,
        query: str,
        collections: str | list[str],
        *,
        top_k: int = 5,
        score_threshold: float | None = None,
        timeout: float | None = None,
    ) -> list[types.Hit]:
        return self._call(calls.search(query, collections, top_k, score_threshold), timeout)

    def embed(
        self, texts: list[str], model: str = "all-minilm-l6-v2", *, timeout: float | None = None
    ) -> list[list[float]]:
        return self._call(calls.embed(texts, model), timeout)

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
        sources = collect(paths).documents
        return self.ingest_documents(
            sources, collection, on_ack=on_ack, max_tokens=max_tokens,
            overlap_tokens=overlap_tokens, timeout=timeout,
        )  # fmt: skip

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
        session = self._session(sources, collection, on_ack, max_tokens, overlap_tokens, timeout)
        return self._ingest(session)

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
        return self._call(calls.create_key(tenant, permissions, description, ttl_s), timeout)

    def list_keys(
        self,
        tenant: str = "",
        *,
        include_revoked: bool = False,
        timeout: float | None = None,
    ) -> list[types.ApiKey]:
        return self._pages(calls.list_keys(tenant, include_revoked), timeout)

    def revoke_key(self, key_id: str, *, timeout: float | None = None) -> types.ApiKey:
        return self._call(calls.revoke_key(key_id), timeout)

    # ------------------------------------------------------------ transport
    # The async client's twins of these differ only by awaiting the call and the sleep.

    def _call(self, call: calls.Unary[R], timeout: float | None) -> R:
        attempts = Attempts(self.retry, timeout)
        while True:
            with attempts:
                return call.result(self._start(call.method, call.request, attempts.remaining()))
            time.sleep(attempts.wait_s)  # back-off: nothing to wait on but time

    def _pages(self, pages: calls.Pages[I], timeout: float | None) -> list[I]:
        while (page := pages.next_page()) is not None:
            self._call(page, timeout)
        return pages.items

    def _stream(self, stream: calls.ServerStream[R], timeout: float | None) -> Iterator[R]:
        request = stream.request()
        attempts = Attempts(self.retry, timeout)
        while True:
            with attempts:
                call = self._start(stream.method, request, attempts.remaining())
                try:
                    for message in call:
                        if (item := stream.item(message)) is not None:
                            attempts.final()
                            yield item
                finally:
                    call.cancel()  # a caller that stops reading early (break) ends the call
                return
            time.sleep(attempts.wait_s)

    def _ingest(self, session: IngestSession) -> types.IngestSummary:
        while (batch := session.next_stream()) is not None:
            with session:  # a lost stream is resumed by the next one, or its error raised
                for response in self._start("Ingest", session.messages(batch), session.remaining()):
                    session.ack(response)
            time.sleep(session.wait_s)
        return session.summary


__all__ = ["Client", "RagserveError"]
