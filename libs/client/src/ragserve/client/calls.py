"""Each RPC of the gateway described once, without I/O: the core both clients run.

A description names the stub method, holds the request built from the public
method's arguments, and converts what comes back; how to retry it is in
:class:`ragserve.client.retry.Attempts` (unary calls and the query before its
first event) and :class:`ragserve.client.ingest_session.IngestSession` (ingest
streams). :class:`ragserve.client.sync.Client` and
:class:`ragserve.client.aio.AsyncClient` are thin shells over these: each public
method is one line that picks a description, and what is left twice is only how
a call is made (``stub.M(request, ...)`` or ``await stub.M(request, ...)``) and
how the wait before a retry is slept.

Why this shape ("sans-I/O") rather than the sync client running the async one on
a private event-loop thread: that facade costs a thread hop per call (about
50-80 µs measured here with ``run_coroutine_threadsafe`` on a trivial coroutine,
against a gateway budget of 0.5 ms p50), makes the sync query iterator a bridge
between threads, moves Ctrl-C (KeyboardInterrupt in the CLI's main thread) away
from the thread that owns the call, and leaves a loop thread that a fork copies
without its thread. Described calls keep the sync client free of asyncio and
make every behaviour testable without a server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from google.protobuf.message import Message

from ragserve.api.gateway.v1 import gateway_pb2 as pb
from ragserve.client import convert, types

R = TypeVar("R")
I = TypeVar("I")  # noqa: E741  # an item of a paged list


@dataclass(frozen=True)
class Unary(Generic[R]):
    """One unary call: ``method`` of the stub with ``request``; ``result`` converts the response."""

    method: str
    request: Message
    result: Callable[[Any], R]


@dataclass
class Pages(Generic[I]):
    """A list RPC followed through every page; ``items`` gathers them as pages come."""

    method: str
    # The request of the page with this token ('' = the first).
    request: Callable[[str], Message]
    # The items of one response.
    page_items: Callable[[Any], Iterable[I]]
    items: list[I] = field(default_factory=list)
    # The next page's token; None once the last page is in.
    _token: str | None = ""

    def next_page(self) -> Unary[None] | None:
        """The call of the next page, or None: ``items`` is complete."""
        if self._token is None:
            return None
        return Unary(self.method, self.request(self._token), self._take)

    def _take(self, response: Any) -> None:
        self.items.extend(self.page_items(response))
        self._token = str(response.next_page_token) or None


@dataclass(frozen=True)
class ServerStream(Generic[R]):
    """A server-streaming call; ``item`` converts a message (None: one to skip).

    The request is built when the stream starts (``request()``), as a generator
    would: an iterator that is never read never builds or sends anything."""

    method: str
    request: Callable[[], Message]
    item: Callable[[Any], R | None]


def _names(collections: str | list[str]) -> list[str]:
    return [collections] if isinstance(collections, str) else list(collections)


# ------------------------------------------------------------ collections


def create_collection(name: str, model: str) -> Unary[types.Collection]:
    request = pb.CreateCollectionRequest(name=name, model=model)
    return Unary("CreateCollection", request, lambda r: convert.collection(r.collection))


def get_collection(name: str) -> Unary[types.Collection]:
    request = pb.GetCollectionRequest(name=name)
    return Unary("GetCollection", request, lambda r: convert.collection(r.collection))


def list_collections() -> Pages[types.Collection]:
    return Pages(
        "ListCollections",
        lambda token: pb.ListCollectionsRequest(page_token=token),
        lambda r: (convert.collection(c) for c in r.collections),
    )


def delete_collection(name: str) -> Unary[None]:
    return Unary("DeleteCollection", pb.DeleteCollectionRequest(name=name), lambda _r: None)


def list_documents(collection: str) -> Pages[types.DocumentInfo]:
    return Pages(
        "ListDocuments",
        lambda token: pb.ListDocumentsRequest(collection=collection, page_token=token),
        lambda r: (convert.document_info(d) for d in r.documents),
    )


def delete_document(collection: str, document_id: str) -> Unary[int]:
    request = pb.DeleteDocumentRequest(collection=collection, document_id=document_id)
    return Unary("DeleteDocument", request, lambda r: int(r.chunks_deleted))


# ------------------------------------------------------------ query, search, embed


def query(
    query: str,
    collections: str | list[str],
    top_k: int,
    answer: str | None,
    score_threshold: float | None,
) -> ServerStream[types.QueryEvent]:
    def request() -> pb.QueryRequest:
        return convert.query_request(
            _names(collections), query, top_k=top_k, answer=answer, score_threshold=score_threshold
        )

    return ServerStream("Query", request, convert.query_event)


def search(
    query: str, collections: str | list[str], top_k: int, score_threshold: float | None
) -> Unary[list[types.Hit]]:
    request = pb.SearchRequest(collections=_names(collections), query=query, top_k=top_k)
    if score_threshold is not None:
        request.score_threshold = score_threshold
    return Unary("Search", request, lambda r: [convert.hit(h) for h in r.hits])


def embed(texts: list[str], model: str) -> Unary[list[list[float]]]:
    request = pb.EmbedRequest(model=model, texts=texts)
    return Unary("Embed", request, lambda r: [list(e.values) for e in r.embeddings])


# ------------------------------------------------------------ API keys


def create_key(
    tenant: str,
    permissions: Iterable[types.Permission | str],
    description: str,
    ttl_s: float | None,
) -> Unary[types.CreatedKey]:
    request = convert.create_key_request(tenant, permissions, description, ttl_s)
    return Unary(
        "CreateApiKey", request, lambda r: types.CreatedKey(convert.api_key(r.key), r.secret)
    )


def list_keys(tenant: str, include_revoked: bool) -> Pages[types.ApiKey]:
    return Pages(
        "ListApiKeys",
        lambda token: pb.ListApiKeysRequest(
            tenant=tenant, page_token=token, include_revoked=include_revoked
        ),
        lambda r: (convert.api_key(k) for k in r.keys),
    )


def revoke_key(key_id: str) -> Unary[types.ApiKey]:
    request = pb.RevokeApiKeyRequest(id=key_id)
    return Unary("RevokeApiKey", request, lambda r: convert.api_key(r.key))
