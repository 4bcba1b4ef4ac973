"""What the core needs from the embedding router and retrieval, in domain terms.

The gRPC clients (``router_client``, ``retrieval_client``) implement these; the core
never sees a proto or a status code, only ``ragserve.errors`` exceptions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ragserve.orchestrator.model import MetadataType

# A vector as the router returns it; the core passes it on without reading it.
Vector = Sequence[float]
Payload = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ModelDescription:
    id: str
    version: str
    dimension: int
    max_tokens: int


@dataclass(frozen=True, slots=True)
class ModelTokenizer:
    model: ModelDescription
    # A Hugging Face tokenizer.json, as the model runs it.
    tokenizer_json: str


@dataclass(frozen=True, slots=True)
class EmbeddedBatch:
    batch_id: str
    model_version: str
    vectors: Sequence[Vector]


class EmbedStream(Protocol):
    """One open bulk-embedding stream: batches go out in order, results come back in the
    same order. ``receive`` raises a domain error when the stream fails, and returns None
    once the peer has ended it cleanly (after ``finish``)."""

    async def send(self, batch_id: str, texts: Sequence[str]) -> None: ...

    async def receive(self) -> EmbeddedBatch | None: ...

    async def finish(self) -> None:
        """Half-closes the stream (nothing in flight): the peer then ends it."""
        ...

    async def close(self) -> None:
        """Cancels the stream and whatever is in flight on it."""
        ...


class EmbeddingPeer(Protocol):
    async def list_models(self) -> list[ModelDescription]: ...

    async def get_tokenizer(self, model: str) -> ModelTokenizer: ...

    def open_stream(self, tenant: str, model: str, priority: int) -> EmbedStream: ...


@dataclass(frozen=True, slots=True)
class Match:
    """``key`` equals ``value`` (a keyword or an integer)."""

    key: str
    value: str | int


@dataclass(frozen=True, slots=True)
class PayloadFilter:
    must: tuple[Match, ...] = ()
    must_not: tuple[Match, ...] = ()


@dataclass(frozen=True, slots=True)
class PointWrite:
    id: str
    vector: Vector
    payload: Payload


@dataclass(frozen=True, slots=True)
class StoredCollection:
    name: str
    dimension: int
    points_count: int


@dataclass(frozen=True, slots=True)
class ScrollPage:
    """Points in id order; ``next_offset`` is the id the next page starts at (None: last)."""

    points: Sequence[tuple[str, Payload]]
    next_offset: str | None


class VectorPeer(Protocol):
    async def create_collection(
        self, tenant: str, name: str, dimension: int, indexes: Sequence[tuple[str, MetadataType]]
    ) -> None: ...

    async def describe_collection(self, tenant: str, name: str) -> StoredCollection: ...

    async def list_collections(self, tenant: str) -> list[StoredCollection]: ...

    async def delete_collection(self, tenant: str, name: str) -> None: ...

    async def upsert(self, tenant: str, name: str, points: Sequence[PointWrite]) -> None:
        """Returns once every point is durable (retrieval's write-ahead log)."""
        ...

    async def delete_by_filter(self, tenant: str, name: str, filter: PayloadFilter) -> int: ...

    async def count(self, tenant: str, name: str, filter: PayloadFilter | None) -> int: ...

    async def get_payloads(
        self, tenant: str, name: str, ids: Sequence[str], keys: Sequence[str] = ()
    ) -> dict[str, Payload]:
        """Payloads of the stored points among ``ids`` (all keys when ``keys`` is empty)."""
        ...

    async def scroll(
        self,
        tenant: str,
        name: str,
        *,
        filter: PayloadFilter | None,
        limit: int,
        offset: str | None = None,
    ) -> ScrollPage:
        """Up to ``limit`` points matching ``filter`` with their payloads, in point-id order,
        from ``offset`` (inclusive; None = the first)."""
        ...
