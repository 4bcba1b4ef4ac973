"""The server backend: a ``VectorStore`` over a Qdrant server or cluster via qdrant-client.

Uses ``AsyncQdrantClient`` with gRPC preferred and HTTP/2 keepalive. Writes pass
``wait=True``, so an upsert returns once the server has applied it (Qdrant's durable
acknowledgement). The collection's spec is kept in Qdrant's collection metadata so that
``describe`` returns what the collection was created with.

The same class drives qdrant-client's local mode (``location=":memory:"`` or ``path=``),
which the conformance tests use where no server runs; the local mode has no snapshots
(FailedPrecondition) and is slow beyond ~20k points, so it is never the default.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from qdrant_client import AsyncQdrantClient
from qdrant_client import models as qm

from ragserve.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    RagserveError,
    Unavailable,
)
from ragserve.retrieval import qdrant_translation as translation
from ragserve.retrieval.model import (
    CollectionInfo,
    CollectionSpec,
    Distance,
    Filter,
    HnswSettings,
    IndexState,
    PayloadFieldType,
    PayloadSelection,
    Point,
    PointId,
    Range,
    Record,
    ScoredPoint,
    ScrollPage,
    ScrollQuery,
    SearchQuery,
    SnapshotInfo,
    WriteResult,
)
from ragserve.retrieval.names import collection_of
from ragserve.retrieval.qdrant_translation import FilterBuilder
from ragserve.retrieval.specs import spec_from_json, spec_to_json
from ragserve.retrieval.store import VectorStoreFault

logger = logging.getLogger("ragserve.retrieval.server_store")

_METADATA_KEY = "ragserve_spec"
_DISTANCES = {
    Distance.COSINE: qm.Distance.COSINE,
    Distance.DOT: qm.Distance.DOT,
    Distance.EUCLID: qm.Distance.EUCLID,
}
_DISTANCES_BACK = {value: key for key, value in _DISTANCES.items()}
_FIELD_TYPES = {
    PayloadFieldType.KEYWORD: qm.PayloadSchemaType.KEYWORD,
    PayloadFieldType.INTEGER: qm.PayloadSchemaType.INTEGER,
    PayloadFieldType.FLOAT: qm.PayloadSchemaType.FLOAT,
    PayloadFieldType.BOOL: qm.PayloadSchemaType.BOOL,
    PayloadFieldType.TEXT: qm.PayloadSchemaType.TEXT,
    PayloadFieldType.DATETIME: qm.PayloadSchemaType.DATETIME,
    PayloadFieldType.UUID: qm.PayloadSchemaType.UUID,
}
_KEEPALIVE = {
    "grpc.keepalive_time_ms": 30_000,
    "grpc.keepalive_timeout_ms": 10_000,
    "grpc.http2.max_pings_without_data": 0,
}


# Exceptions raised inside qdrant-client (and its local mode) before or after any network
# traffic: a wrong argument or a bug, never an outage.
_FAULTS = (TypeError, ValueError, KeyError, AttributeError, IndexError, AssertionError)


def translate_error(
    exc: Exception, physical: str, field: str = ""
) -> RagserveError | VectorStoreFault:
    """What a qdrant-client exception (local mode, REST or gRPC) means for the caller.

    The server's own words stay in our log: the caller gets a status and a message of ours.
    """
    if isinstance(exc, RagserveError):
        return exc
    message = str(exc)
    lowered = message.lower()
    status = getattr(exc, "status_code", None)
    code_method = getattr(exc, "code", None)
    code = getattr(code_method(), "name", "") if callable(code_method) else ""
    name = collection_of(physical)
    if isinstance(exc, NotImplementedError):
        return FailedPrecondition("not supported by this Qdrant deployment")
    if status == 404 or code == "NOT_FOUND" or ("not found" in lowered and "collection" in lowered):
        return NotFound(f"collection {name!r} does not exist")
    if status == 409 or code == "ALREADY_EXISTS" or "already exists" in lowered:
        return AlreadyExists(f"collection {name!r} already exists")
    if "dimension error" in lowered or status == 400 or code == "INVALID_ARGUMENT":
        # Requests are validated first: what the server still rejects is logged in full.
        logger.warning("qdrant rejected %s of %s: %s", field or "a request", physical, message)
        return InvalidArgument(field or "request", "rejected by the vector store as invalid")
    if isinstance(exc, _FAULTS):
        return VectorStoreFault(
            f"qdrant-client failed on {physical}: {type(exc).__name__}: {message}"
        )
    logger.warning(
        "qdrant server unavailable for %s: %s: %s", physical, type(exc).__name__, message
    )
    return Unavailable(
        f"qdrant server unavailable ({type(exc).__name__}{f' {code}' if code else ''})"
    )


class _ClientFilters(FilterBuilder):
    def filter(
        self, must: list[Any] | None, should: list[Any] | None, must_not: list[Any] | None
    ) -> qm.Filter:
        return qm.Filter(must=must, should=should, must_not=must_not)

    def match_value(self, key: str, value: str | int | bool) -> qm.FieldCondition:
        return qm.FieldCondition(key=key, match=qm.MatchValue(value=value))

    def match_any(self, key: str, values: list[str] | list[int]) -> qm.FieldCondition:
        return qm.FieldCondition(key=key, match=qm.MatchAny(any=values))

    def range(self, key: str, bounds: Range) -> qm.FieldCondition:
        return qm.FieldCondition(
            key=key, range=qm.Range(gt=bounds.gt, gte=bounds.gte, lt=bounds.lt, lte=bounds.lte)
        )


FILTERS = _ClientFilters()


class ServerStore:
    def __init__(
        self,
        client: AsyncQdrantClient,
        *,
        server_snapshots_path: str = "/qdrant/snapshots",
        hnsw_ef: int = 512,
    ) -> None:
        self._client = client
        self._server_snapshots_path = server_snapshots_path.rstrip("/")
        self._hnsw_ef = hnsw_ef
        self._ready = False

    @classmethod
    def connect(
        cls, url: str, api_key: str | None = None, timeout_s: int = 10, **options: Any
    ) -> ServerStore:
        client = AsyncQdrantClient(
            url=url,
            api_key=api_key or None,
            prefer_grpc=True,
            timeout=timeout_s,
            grpc_options=_KEEPALIVE,
        )
        return cls(client, **options)

    async def start(self) -> None:
        try:
            await self._client.get_collections()
        except Exception as exc:
            raise translate_error(exc, "") from exc
        self._ready = True

    async def close(self) -> None:
        self._ready = False
        await self._client.close()

    async def ready(self) -> bool:
        return self._ready

    async def _run(self, call: Any, physical: str, field: str = "") -> Any:
        try:
            return await call
        except Exception as exc:
            raise translate_error(exc, physical, field) from exc

    # ------------------------------------------------------------------ collections

    async def create_collection(self, name: str, spec: CollectionSpec) -> None:
        if await self._run(self._client.collection_exists(name), name):
            raise AlreadyExists(f"collection {collection_of(name)!r} already exists")
        await self._run(
            self._client.create_collection(
                name,
                vectors_config=qm.VectorParams(
                    size=spec.dimension, distance=_DISTANCES[spec.distance], on_disk=spec.on_disk
                ),
                hnsw_config=qm.HnswConfigDiff(m=spec.hnsw.m, ef_construct=spec.hnsw.ef_construct),
                on_disk_payload=spec.on_disk,
                metadata={_METADATA_KEY: spec_to_json(spec)},
            ),
            name,
        )
        try:
            for key, field_type in spec.payload_indexes.items():
                await self._run(
                    self._client.create_payload_index(
                        name, key, field_schema=_FIELD_TYPES[field_type], wait=True
                    ),
                    name,
                    "config.payload_indexes",
                )
        except BaseException:
            # A failed create leaves nothing: a half-made collection would answer
            # AlreadyExists to the retry, and lack the indexes its spec promises.
            with contextlib.suppress(Exception):
                await self._client.delete_collection(name)
            raise

    async def describe_collection(self, name: str) -> CollectionInfo:
        info = await self._run(self._client.get_collection(name), name)
        metadata = info.config.metadata or {}
        if _METADATA_KEY in metadata:
            spec = spec_from_json(metadata[_METADATA_KEY])
        else:  # a collection this service did not create: derive what we can
            vectors = info.config.params.vectors
            spec = CollectionSpec(
                dimension=vectors.size,
                distance=_DISTANCES_BACK.get(vectors.distance, Distance.COSINE),
                hnsw=HnswSettings(info.config.hnsw_config.m, info.config.hnsw_config.ef_construct),
                on_disk=bool(vectors.on_disk),
            )
        indexed = int(info.indexed_vectors_count or 0)
        status = str(getattr(info.status, "value", info.status)).lower()
        if status == "yellow":
            state = IndexState.INDEXING
        elif indexed > 0:
            state = IndexState.INDEXED
        else:
            state = IndexState.EXACT
        return CollectionInfo(name, spec, int(info.points_count or 0), indexed, state)

    async def list_collections(self) -> list[str]:
        response = await self._run(self._client.get_collections(), "")
        return sorted(collection.name for collection in response.collections)

    async def delete_collection(self, name: str) -> None:
        if not await self._run(self._client.collection_exists(name), name):
            raise NotFound(f"collection {collection_of(name)!r} does not exist")
        await self._run(self._client.delete_collection(name), name)

    # ------------------------------------------------------------------ points

    async def upsert(self, name: str, points: Sequence[Point]) -> WriteResult:
        structs = [
            qm.PointStruct(
                id=point.id,
                vector=[float(x) for x in point.vector],
                payload=dict(point.payload),
            )
            for point in points
        ]
        await self._run(self._client.upsert(name, points=structs, wait=True), name, "points")
        # The server does not return the collection's size; counting would cost a round trip
        # per batch, so the points gauge follows describe calls on this backend.
        return WriteResult(None)

    async def delete_points(self, name: str, ids: Sequence[PointId]) -> WriteResult:
        await self._run(
            self._client.delete(name, points_selector=qm.PointIdsList(points=list(ids)), wait=True),
            name,
            "ids",
        )
        return WriteResult(None)

    async def delete_by_filter(self, name: str, filter: Filter) -> WriteResult:
        matched = await self.count(name, filter)
        if matched:
            await self._run(
                self._client.delete(
                    name,
                    points_selector=qm.FilterSelector(filter=FILTERS.translate(filter)),
                    wait=True,
                ),
                name,
                "filter",
            )
        return WriteResult(None, matched)

    async def count(self, name: str, filter: Filter | None) -> int:
        result = await self._run(
            self._client.count(name, count_filter=FILTERS.translate_optional(filter), exact=True),
            name,
            "filter",
        )
        return int(result.count)

    async def retrieve(
        self,
        name: str,
        ids: Sequence[PointId],
        with_payload: PayloadSelection,
        with_vectors: bool,
    ) -> list[Record]:
        records = await self._run(
            self._client.retrieve(
                name,
                list(ids),
                with_payload=translation.payload_selection(with_payload),
                with_vectors=with_vectors,
            ),
            name,
            "ids",
        )
        return [translation.record_out(record, with_payload, with_vectors) for record in records]

    async def scroll(self, name: str, query: ScrollQuery) -> ScrollPage:
        records, next_offset = await self._run(
            self._client.scroll(
                name,
                scroll_filter=FILTERS.translate_optional(query.filter),
                limit=query.limit,
                offset=query.offset,
                with_payload=translation.payload_selection(query.with_payload),
                with_vectors=query.with_vectors,
            ),
            name,
            "filter",
        )
        return translation.scroll_page_out(records, next_offset, query)

    async def search(self, name: str, queries: Sequence[SearchQuery]) -> list[list[ScoredPoint]]:
        requests = [
            qm.QueryRequest(
                query=translation.vector_in(query.vector),
                filter=FILTERS.translate_optional(query.filter),
                limit=query.limit,
                score_threshold=query.score_threshold,
                with_payload=translation.payload_selection(query.with_payload),
                with_vector=query.with_vectors,
                offset=query.offset or None,
                params=qm.SearchParams(hnsw_ef=query.hnsw_ef or self._hnsw_ef, exact=query.exact),
            )
            for query in queries
        ]
        responses = await self._run(
            self._client.query_batch_points(name, requests=requests), name, "queries"
        )
        return [
            [translation.hit_out(hit, query) for hit in response.points]
            for query, response in zip(queries, responses, strict=True)
        ]

    # ------------------------------------------------------------------ snapshots

    async def create_snapshot(self, name: str) -> SnapshotInfo:
        description = await self._run(self._client.create_snapshot(name, wait=True), name)
        if description is None:
            raise Unavailable(
                f"qdrant server did not report the snapshot of {collection_of(name)!r}"
            )
        return _snapshot_info(name, description)

    async def list_snapshots(self, name: str) -> list[SnapshotInfo]:
        descriptions = await self._run(self._client.list_snapshots(name), name)
        infos = [_snapshot_info(name, description) for description in descriptions]
        return sorted(infos, key=lambda info: (info.created_at_unix_s, info.name))

    async def restore_snapshot(self, name: str, snapshot: str) -> None:
        _check_snapshot_name(snapshot)
        location = f"file://{self._server_snapshots_path}/{name}/{snapshot}"
        await self._run(
            self._client.recover_snapshot(name, location=location, wait=True), name, "snapshot"
        )

    async def delete_snapshot(self, name: str, snapshot: str) -> None:
        _check_snapshot_name(snapshot)
        try:
            await self._run(
                self._client.delete_snapshot(name, snapshot, wait=True), name, "snapshot"
            )
        except NotFound:
            # The server answers 404 for an unknown snapshot (and for a missing collection,
            # which then has no such snapshot either): name what the caller asked for.
            raise NotFound(
                f"snapshot {snapshot!r} of collection {collection_of(name)!r} does not exist"
            ) from None

    def watch_availability(self, listener: Callable[[bool], None]) -> None:
        """Never calls ``listener``: a server's outages surface per call as Unavailable."""


def _check_snapshot_name(snapshot: str) -> None:
    # The name becomes part of a path on the server; keep it inside the snapshots directory.
    if "/" in snapshot or snapshot.startswith("."):
        raise InvalidArgument("snapshot", f"{snapshot!r} is not a snapshot name")


def _snapshot_info(name: str, description: Any) -> SnapshotInfo:
    created = description.creation_time
    created_at = 0.0
    if created:
        parsed = datetime.fromisoformat(str(created))
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        created_at = parsed.timestamp()
    return SnapshotInfo(description.name, name, created_at, int(description.size or 0))
