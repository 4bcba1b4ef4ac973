"""The retrieval core: tenant-scoped collections, points, search and snapshots over a
``VectorStore`` backend. It knows nothing of gRPC.

Invariants:
- every call takes a tenant; names are resolved through ``ragserve.retrieval.names`` so a
  tenant only ever reaches its own collections, and what it sees never names another
  tenant (errors and results carry the tenant-visible name only);
- input is validated here, once, before any backend sees it (``ragserve.retrieval.validation``);
- a backend failure leaves as a domain error (Unavailable for an outage) or, when only a
  bug explains it, as it is (``VectorStoreFault`` and the like): the runtime answers
  INTERNAL and logs it, so a client does not retry a bug as an outage.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from opentelemetry import trace

from ragserve.errors import InvalidArgument, NotFound, RagserveError, Unavailable
from ragserve.retrieval import metrics, validation
from ragserve.retrieval.model import (
    CollectionInfo,
    CollectionSpec,
    Filter,
    PayloadSelection,
    Point,
    Record,
    ScoredPoint,
    ScrollPage,
    ScrollQuery,
    SearchQuery,
    SnapshotInfo,
    WriteResult,
)
from ragserve.retrieval.names import (
    check_name,
    physical_name,
    split_physical_name,
    tenant_collections,
)
from ragserve.retrieval.store import VectorStore
from ragserve.runtime.spans import internal_span

logger = logging.getLogger("ragserve.retrieval.core")
tracer = trace.get_tracer("ragserve.retrieval")

T = TypeVar("T")


class RetrievalCore:
    def __init__(self, store: VectorStore, backend: str) -> None:
        self.store = store
        self.backend = backend
        self._specs: dict[str, CollectionSpec] = {}
        self._labels = metrics.CollectionLabels()

    async def start(self) -> None:
        await self.store.start()
        await self._seed_points_gauge()

    async def close(self) -> None:
        await self.store.close()

    async def ready(self) -> bool:
        return await self.store.ready()

    def watch_availability(self, listener: Callable[[bool], None]) -> None:
        """See ``VectorStore.watch_availability``."""
        self.store.watch_availability(listener)

    # ------------------------------------------------------------------ collections

    async def create_collection(
        self, tenant: str, collection: str, spec: CollectionSpec
    ) -> CollectionInfo:
        physical = physical_name(tenant, collection)
        validation.spec(spec)
        await self._backend("create_collection", self.store.create_collection(physical, spec))
        self._specs[physical] = spec
        return await self.describe_collection(tenant, collection)

    async def describe_collection(self, tenant: str, collection: str) -> CollectionInfo:
        physical = physical_name(tenant, collection)
        info = await self._backend(
            "describe_collection", self.store.describe_collection(physical), physical
        )
        self._specs[physical] = info.spec
        self._labels.set_points(physical, collection, info.points_count)
        return CollectionInfo(
            collection, info.spec, info.points_count, info.indexed_vectors_count, info.index_state
        )

    async def list_collections(self, tenant: str) -> list[str]:
        check_name("tenant", tenant)
        names = await self._backend("list_collections", self.store.list_collections())
        return tenant_collections(tenant, names)

    async def delete_collection(self, tenant: str, collection: str) -> None:
        physical = physical_name(tenant, collection)
        await self._backend("delete_collection", self.store.delete_collection(physical), physical)
        self._specs.pop(physical, None)
        self._labels.set_points(physical, collection, None)

    # ------------------------------------------------------------------ points

    async def upsert(
        self, tenant: str, collection: str, points: Sequence[Point], field: str = "points"
    ) -> int:
        """Upserts one batch; returns once every point is durable, with the number of
        distinct ids written. Same ids replace; within the batch the last occurrence wins."""
        physical = physical_name(tenant, collection)
        spec = await self._spec(physical)
        checked = validation.points(field, points, spec.dimension, collection)
        # One write per id, the batch's last: what both engines keep, made explicit so the
        # count is of points written, not of entries sent.
        distinct = list({point.id: point for point in checked}.values())
        with internal_span(
            tracer,
            "retrieval.upsert_batch",
            lambda: {
                "retrieval.collection": collection,
                "retrieval.points": len(distinct),
                "retrieval.backend": self.backend,
            },
        ):
            result = await self._backend("upsert", self.store.upsert(physical, distinct), physical)
        label = self._labels.label(collection)
        metrics.UPSERTED_POINTS.labels(label).inc(len(distinct))
        self._count_points(physical, collection, result)
        return len(distinct)

    async def delete_points(self, tenant: str, collection: str, ids: Sequence[object]) -> None:
        physical = physical_name(tenant, collection)
        checked = validation.point_ids("ids", ids)
        result = await self._backend(
            "delete_points", self.store.delete_points(physical, checked), physical
        )
        self._count_points(physical, collection, result)

    async def delete_by_filter(self, tenant: str, collection: str, filter: Filter) -> int:
        """Deletes every point matching ``filter``; returns how many matched."""
        physical = physical_name(tenant, collection)
        validation.filter_("filter", filter)
        if filter.is_empty():
            # An empty filter matches everything; deleting a collection's content is
            # DeleteCollection's job, not an accident of a missing field.
            raise InvalidArgument("filter", "is empty; it would delete every point")
        result = await self._backend(
            "delete_by_filter", self.store.delete_by_filter(physical, filter), physical
        )
        self._count_points(physical, collection, result)
        return result.matched

    async def count(self, tenant: str, collection: str, filter: Filter | None = None) -> int:
        physical = physical_name(tenant, collection)
        if filter is not None:
            validation.filter_("filter", filter)
        return await self._backend("count", self.store.count(physical, filter), physical)

    async def retrieve(
        self,
        tenant: str,
        collection: str,
        ids: Sequence[object],
        with_payload: PayloadSelection = True,
        with_vectors: bool = False,
    ) -> list[Record]:
        """The stored points among ``ids``, in the order of ``ids``; missing ids are skipped."""
        physical = physical_name(tenant, collection)
        checked = validation.point_ids("ids", ids)
        validation.payload_selection("with_payload", with_payload)
        records = await self._backend(
            "retrieve",
            self.store.retrieve(physical, checked, with_payload, with_vectors),
            physical,
        )
        by_id = {record.id: record for record in records}
        return [by_id[point_id] for point_id in dict.fromkeys(checked) if point_id in by_id]

    async def scroll(self, tenant: str, collection: str, query: ScrollQuery) -> ScrollPage:
        """One page of the points matching ``query.filter`` in point-id order; the page's
        ``next_offset`` starts the next one (None after the last)."""
        physical = physical_name(tenant, collection)
        checked = validation.scroll_query(query)
        with internal_span(
            tracer,
            "retrieval.scroll",
            lambda: {
                "retrieval.collection": collection,
                "retrieval.limit": checked.limit,
                "retrieval.filtered": checked.filter is not None,
                "retrieval.backend": self.backend,
            },
        ):
            return await self._backend("scroll", self.store.scroll(physical, checked), physical)

    # ------------------------------------------------------------------ search

    async def search(self, tenant: str, collection: str, query: SearchQuery) -> list[ScoredPoint]:
        physical = physical_name(tenant, collection)
        spec = await self._spec(physical)
        validation.search_query("query", query, spec.dimension, collection)
        return (await self._search(physical, collection, [query]))[0]

    async def search_batch(
        self, tenant: str, collection: str, queries: Sequence[SearchQuery]
    ) -> list[list[ScoredPoint]]:
        """One result list per query, in order, each best first and at most ``limit`` long."""
        physical = physical_name(tenant, collection)
        spec = await self._spec(physical)
        validation.search_queries("queries", queries, spec.dimension, collection)
        return await self._search(physical, collection, queries)

    async def _search(
        self, physical: str, collection: str, queries: Sequence[SearchQuery]
    ) -> list[list[ScoredPoint]]:
        label = self._labels.label(collection)
        with internal_span(
            tracer,
            "retrieval.search",
            lambda: {
                "retrieval.collection": collection,
                "retrieval.queries": len(queries),
                "retrieval.limit": max(query.limit for query in queries),
                "retrieval.filtered": any(query.filter is not None for query in queries),
                "retrieval.backend": self.backend,
            },
        ):
            started = time.perf_counter()
            results = await self._backend("search", self.store.search(physical, queries), physical)
            metrics.SEARCH_DURATION.labels(label).observe(time.perf_counter() - started)
        return results

    # ------------------------------------------------------------------ snapshots

    async def create_snapshot(self, tenant: str, collection: str) -> SnapshotInfo:
        physical = physical_name(tenant, collection)
        info = await self._backend(
            "create_snapshot", self.store.create_snapshot(physical), physical
        )
        return _visible(info, collection)

    async def list_snapshots(self, tenant: str, collection: str) -> list[SnapshotInfo]:
        physical = physical_name(tenant, collection)
        snapshots = await self._backend(
            "list_snapshots", self.store.list_snapshots(physical), physical
        )
        return [_visible(info, collection) for info in snapshots]

    async def restore_snapshot(self, tenant: str, collection: str, snapshot: str) -> CollectionInfo:
        """Replaces (or re-creates) the collection with the snapshot's content."""
        physical = physical_name(tenant, collection)
        if not snapshot:
            raise InvalidArgument("snapshot", "is empty")
        self._specs.pop(physical, None)
        await self._backend(
            "restore_snapshot", self.store.restore_snapshot(physical, snapshot), physical
        )
        return await self.describe_collection(tenant, collection)

    async def delete_snapshot(self, tenant: str, collection: str, snapshot: str) -> None:
        """Deletes one snapshot; the collection itself may already be deleted."""
        physical = physical_name(tenant, collection)
        if not snapshot:
            raise InvalidArgument("snapshot", "is empty")
        await self._backend(
            "delete_snapshot", self.store.delete_snapshot(physical, snapshot), physical
        )

    # ------------------------------------------------------------------ helpers

    async def _seed_points_gauge(self) -> None:
        """Sets the points gauge of every stored collection, so that it is right from
        start-up, not only after each collection's first write or describe."""
        try:
            for physical in await self.store.list_collections():
                parts = split_physical_name(physical)
                if parts is not None:
                    info = await self.store.describe_collection(physical)
                    self._labels.set_points(physical, parts[1], info.points_count)
        except Exception:  # metrics must not keep a working store from serving
            logger.warning("could not read the collections' point counts", exc_info=True)

    def _count_points(self, physical: str, collection: str, result: WriteResult) -> None:
        if result.points_count is not None:
            self._labels.set_points(physical, collection, result.points_count)

    async def _spec(self, physical: str) -> CollectionSpec:
        spec = self._specs.get(physical)
        if spec is None:
            info = await self._backend(
                "describe_collection", self.store.describe_collection(physical), physical
            )
            spec = self._specs[physical] = info.spec
        return spec

    async def _backend(self, operation: str, call: Awaitable[T], physical: str = "") -> T:
        try:
            return await call
        except NotFound:
            # The cached spec may describe a collection deleted behind our back.
            self._specs.pop(physical, None)
            raise
        except Unavailable:
            metrics.BACKEND_ERRORS.labels(self.backend, operation).inc()
            raise
        except RagserveError:
            raise
        except Exception:
            # A bug, not an outage: counted here, logged with the trace id by the runtime.
            metrics.BACKEND_ERRORS.labels(self.backend, operation).inc()
            raise


def _visible(info: SnapshotInfo, collection: str) -> SnapshotInfo:
    return SnapshotInfo(info.name, collection, info.created_at_unix_s, info.size_bytes)


__all__ = ["RetrievalCore"]
