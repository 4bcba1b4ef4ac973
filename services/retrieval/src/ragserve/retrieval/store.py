"""The backend interface: a vector store addressed by physical collection names.

Backends know nothing of tenants: the core (``ragserve.retrieval.core``) derives physical
names and validates input before calling them. Every method raises only domain errors
(``ragserve.errors``): NotFound for a missing collection, AlreadyExists, InvalidArgument,
and Unavailable when the store cannot be reached (the call may succeed later) — or
``VectorStoreFault`` for a failure that only a bug explains.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from ragserve.retrieval.model import (
    CollectionInfo,
    CollectionSpec,
    Filter,
    PayloadSelection,
    Point,
    PointId,
    Record,
    ScoredPoint,
    ScrollPage,
    ScrollQuery,
    SearchQuery,
    SnapshotInfo,
    WriteResult,
)


class VectorStoreFault(Exception):
    """A store failed on a validated request while it was reachable: a bug in the service's
    use of the engine, neither the caller's mistake nor an outage. Deliberately not a
    domain error, so the runtime answers INTERNAL and logs it with the trace id (a client
    must not retry it as it would UNAVAILABLE). The message is for the log only."""


class VectorStore(Protocol):
    """Invariant: ``upsert`` returns only once the points are durable (they survive a crash
    of the store's process) and visible to searches; upserting the same ids again replaces
    the points, so a retried batch is harmless."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def ready(self) -> bool:
        """Whether the store can serve now (for health)."""
        ...

    async def create_collection(self, name: str, spec: CollectionSpec) -> None: ...

    async def describe_collection(self, name: str) -> CollectionInfo:
        """The returned info's ``name`` is the physical name."""
        ...

    async def list_collections(self) -> list[str]: ...

    async def delete_collection(self, name: str) -> None: ...

    async def upsert(self, name: str, points: Sequence[Point]) -> WriteResult: ...

    async def delete_points(self, name: str, ids: Sequence[PointId]) -> WriteResult: ...

    async def delete_by_filter(self, name: str, filter: Filter) -> WriteResult:
        """Deletes every point matching ``filter``; ``matched`` says how many matched."""
        ...

    async def count(self, name: str, filter: Filter | None) -> int: ...

    async def retrieve(
        self,
        name: str,
        ids: Sequence[PointId],
        with_payload: PayloadSelection,
        with_vectors: bool,
    ) -> list[Record]:
        """The stored points among ``ids`` (missing ids are skipped), in no set order."""
        ...

    async def scroll(self, name: str, query: ScrollQuery) -> ScrollPage:
        """One page of the points matching the query's filter, in point-id order."""
        ...

    async def search(self, name: str, queries: Sequence[SearchQuery]) -> list[list[ScoredPoint]]:
        """One result list per query, in order, each sorted best first."""
        ...

    async def create_snapshot(self, name: str) -> SnapshotInfo: ...

    async def list_snapshots(self, name: str) -> list[SnapshotInfo]:
        """Snapshots of ``name``, oldest first; they outlive the collection's deletion."""
        ...

    async def restore_snapshot(self, name: str, snapshot: str) -> None:
        """Replaces the collection (creating it if deleted) with the snapshot's content."""
        ...

    async def delete_snapshot(self, name: str, snapshot: str) -> None:
        """Deletes one snapshot of ``name``, which may itself be deleted already; NotFound
        naming the snapshot when there is no such snapshot."""
        ...

    def watch_availability(self, listener: Callable[[bool], None]) -> None:
        """Calls ``listener(False)`` on the event loop when the store stops being able to
        serve, and ``listener(True)`` when it can again (for health). A store that cannot
        tell never calls it."""
        ...
