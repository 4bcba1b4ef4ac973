"""The one module that imports ``qdrant_edge`` (Qdrant Edge, beta, pinned to 0.9.0).

Everything the service needs from the embedded engine goes through ``EdgeShardHandle``,
which speaks domain objects only; an upgrade of the engine touches this file alone.

Facts this module relies on (measured with 0.9.0): every call holds the GIL for its whole
duration, so the handle lives in a worker process, never in the gRPC server's; a shard
directory can be opened by one process at a time (the WAL is locked); ``update`` is durable
against a process crash once it returns (WAL); ``optimize`` is the only way to build HNSW
and blocks its caller for as long as the build runs; an interrupted ``optimize`` leaves a
``temp_segments`` directory behind; string point ids must be UUIDs; errors are plain
``Exception``s carrying only a message.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
import qdrant_edge as qe

from ragserve.errors import InvalidArgument, RagserveError, Unavailable
from ragserve.retrieval import qdrant_translation as translation
from ragserve.retrieval.model import (
    CollectionSpec,
    Distance,
    Filter,
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
)
from ragserve.retrieval.qdrant_translation import FilterBuilder
from ragserve.retrieval.search_calibration import Calibration, calibrate
from ragserve.retrieval.store import VectorStoreFault

logger = logging.getLogger("ragserve.retrieval.edge_engine")

ENGINE_VERSION = "qdrant-edge-py 0.9.0"

_DISTANCES = {
    Distance.COSINE: qe.Distance.Cosine,
    Distance.DOT: qe.Distance.Dot,
    Distance.EUCLID: qe.Distance.Euclid,
}
_FIELD_TYPES = {
    PayloadFieldType.KEYWORD: qe.PayloadSchemaType.Keyword,
    PayloadFieldType.INTEGER: qe.PayloadSchemaType.Integer,
    PayloadFieldType.FLOAT: qe.PayloadSchemaType.Float,
    PayloadFieldType.BOOL: qe.PayloadSchemaType.Bool,
    PayloadFieldType.TEXT: qe.PayloadSchemaType.Text,
    PayloadFieldType.DATETIME: qe.PayloadSchemaType.Datetime,
    PayloadFieldType.UUID: qe.PayloadSchemaType.Uuid,
}
# Stored vectors used as queries to calibrate a built index: recall measured on 320
# neighbours (standard error ~1.2% at 0.95), in well under a second at 100k points.
CALIBRATION_SAMPLES = 32
# Segments below this size (KB) are scanned even when indexed: a graph walk does not pay off.
_FULL_SCAN_THRESHOLD_KB = 1_000
# The shard's search pool: one thread. The default pool (threads per CPU) reads segments in
# parallel, but our shards search one big segment (plus a small appendable one), so it only
# added a hand-off per query and pool threads spinning for work: a 200-point search cost
# ~100 µs wall and ~190 µs CPU against ~20 µs for both with one thread, and exact search at
# 100k points and HNSW at 10k were no faster with the pool (measured on 2 cores).
_SEARCH_THREADS = 1


# Engine messages that mean it cannot use its storage or memory now: an outage of the
# embedded store (disk full, files gone, memory exhausted), not a fault of the request.
_OUTAGES = (
    "service runtime error",
    "inconsistent storage",
    "out of memory",
    "operation cancelled",
    "timeout",
)


def translate_error(exc: Exception, field: str) -> RagserveError | VectorStoreFault:
    """What an engine exception means for the caller; the engine's own words stay in our log.

    The engine gives only a message (plain ``Exception``, or ValueError / TypeError from its
    Python binding when an argument does not convert). Requests are validated before they
    get here, so a rejection the caller could cause is a safety net, an outage is
    Unavailable, and anything else can only be a bug on our side (``VectorStoreFault``).
    """
    message = str(exc)
    lowered = message.lower()
    if "invalid json path" in lowered:
        # validation.payload_path runs first; this catches a path the engine reads
        # differently, which is still the caller's input.
        logger.warning("engine rejected a payload path in %s: %s", field, message)
        return InvalidArgument(field, "is not a valid payload path")
    if "dimension error" in lowered:
        logger.warning("engine rejected a vector in %s: %s", field, message)
        return InvalidArgument(field, "does not have the collection's dimension")
    if isinstance(exc, OSError) or lowered.startswith(_OUTAGES):
        logger.error("embedded vector store cannot serve %s: %s", field, message)
        return Unavailable("embedded vector store cannot use its storage now")
    return VectorStoreFault(f"Qdrant Edge failed on {field}: {type(exc).__name__}: {message}")


@contextlib.contextmanager
def _engine_errors(field: str) -> Iterator[None]:
    """Translates whatever the engine (or its binding, building a request) raises in the
    block; our own domain errors pass as they are."""
    try:
        yield
    except RagserveError:
        raise
    except Exception as exc:
        raise translate_error(exc, field) from exc


def remove_temp_segments(shard_dir: Path) -> list[Path]:
    """Deletes what an interrupted ``optimize`` left behind; only call on a closed shard."""
    removed = [path for path in shard_dir.rglob("temp_segments") if path.is_dir()]
    for path in removed:
        shutil.rmtree(path, ignore_errors=True)
    return removed


def _vectors(spec: CollectionSpec) -> Any:
    return qe.EdgeVectorParams(
        size=spec.dimension,
        distance=_DISTANCES[spec.distance],
        memory=qe.Memory.Cold if spec.on_disk else None,
    )


def _config(spec: CollectionSpec, *, index_everything: bool = False) -> Any:
    hnsw = qe.HnswIndexConfig(
        m=spec.hnsw.m,
        ef_construct=spec.hnsw.ef_construct,
        full_scan_threshold=_FULL_SCAN_THRESHOLD_KB,
        # One thread: the builder must leave a core to the process that keeps serving.
        max_indexing_threads=1,
    )
    optimizers = qe.EdgeOptimizersConfig(indexing_threshold=1) if index_everything else None
    return qe.EdgeConfig(
        vectors=_vectors(spec),
        hnsw_config=hnsw,
        optimizers=optimizers,
        max_search_threads=_SEARCH_THREADS,
    )


class _EdgeFilters(FilterBuilder):
    def filter(
        self, must: list[Any] | None, should: list[Any] | None, must_not: list[Any] | None
    ) -> Any:
        return qe.Filter(must=must, should=should, must_not=must_not)

    def match_value(self, key: str, value: str | int | bool) -> Any:
        return qe.FieldCondition(key=key, match=qe.MatchValue(value))

    def match_any(self, key: str, values: list[str] | list[int]) -> Any:
        return qe.FieldCondition(key=key, match=qe.MatchAny(values))

    def range(self, key: str, bounds: Range) -> Any:
        return qe.FieldCondition(
            key=key,
            range=qe.RangeFloat(gte=bounds.gte, gt=bounds.gt, lte=bounds.lte, lt=bounds.lt),
        )


FILTERS = _EdgeFilters()


class EdgeShardHandle:
    """One open shard (one collection). Not thread-safe; one process owns it."""

    def __init__(self, shard: Any, path: Path) -> None:
        self._shard = shard
        self.path = path

    @classmethod
    def create(cls, path: Path, spec: CollectionSpec) -> EdgeShardHandle:
        with _engine_errors("collection"):
            shard = qe.EdgeShard.create(str(path), _config(spec))
        handle = cls(shard, path)
        try:
            with _engine_errors("config.payload_indexes"):
                for key, field_type in spec.payload_indexes.items():
                    shard.update(
                        qe.UpdateOperation.create_field_index(key, _FIELD_TYPES[field_type])
                    )
            handle.flush()
        except BaseException:
            # The caller removes the directory; an open shard would hold its lock.
            with contextlib.suppress(Exception):
                shard.close()
            raise
        return handle

    @classmethod
    def open(cls, path: Path, spec: CollectionSpec) -> EdgeShardHandle:
        # The search pool's size is given at every load, so shards created before it was
        # set get one thread too; everything else keeps what the shard has stored.
        config = qe.EdgeConfig(vectors=_vectors(spec), max_search_threads=_SEARCH_THREADS)
        with _engine_errors("collection"):
            return cls(qe.EdgeShard.load(str(path), config), path)

    def upsert(self, points: Sequence[Point]) -> None:
        with _engine_errors("points"):
            operation = qe.UpdateOperation.upsert_points(
                [
                    # The engine takes float32 arrays as they are: no per-float Python objects.
                    qe.Point(
                        point.id,
                        cast(Any, np.asarray(point.vector, np.float32)),
                        dict(point.payload),
                    )
                    for point in points
                ]
            )
            self._shard.update(operation)

    def delete(self, ids: Sequence[PointId]) -> None:
        with _engine_errors("ids"):
            self._shard.update(qe.UpdateOperation.delete_points(list(ids)))

    def delete_by_filter(self, value: Filter) -> int:
        matched = self.count(value)
        if matched:
            with _engine_errors("filter"):
                self._shard.update(
                    qe.UpdateOperation.delete_points_by_filter(FILTERS.translate(value))
                )
        return matched

    def count(self, value: Filter | None = None) -> int:
        with _engine_errors("filter"):
            request = qe.CountRequest(exact=True, filter=FILTERS.translate_optional(value))
            return int(self._shard.count(request))

    def retrieve(
        self, ids: Sequence[PointId], with_payload: PayloadSelection, with_vectors: bool
    ) -> list[Record]:
        with _engine_errors("ids"):
            records = self._shard.retrieve(
                list(ids),
                with_payload=translation.payload_selection(with_payload),
                with_vector=with_vectors,
            )
        return [translation.record_out(record, with_payload, with_vectors) for record in records]

    def scroll(self, query: ScrollQuery) -> ScrollPage:
        with _engine_errors("filter"):
            records, next_offset = self._shard.scroll(
                qe.ScrollRequest(
                    offset=query.offset,
                    limit=query.limit,
                    filter=FILTERS.translate_optional(query.filter),
                    with_payload=translation.payload_selection(query.with_payload),
                    with_vector=query.with_vectors,
                )
            )
        return translation.scroll_page_out(records, next_offset, query)

    def search(
        self, queries: Sequence[SearchQuery], *, indexed: bool, default_ef: int
    ) -> list[list[ScoredPoint]]:
        """``indexed``: the shard's HNSW index may answer; ``default_ef``: the beam width
        for queries that set none (0: those are answered exactly)."""
        with _engine_errors("queries"):
            requests = [
                qe.QueryRequest(
                    limit=query.limit,
                    offset=query.offset or None,
                    query=qe.Query.Nearest(translation.vector_in(query.vector)),
                    filter=FILTERS.translate_optional(query.filter),
                    score_threshold=query.score_threshold,
                    with_payload=translation.payload_selection(query.with_payload),
                    with_vector=query.with_vectors,
                    params=qe.SearchParams(exact=True)
                    if not indexed or query.exact or not (query.hnsw_ef or default_ef)
                    else qe.SearchParams(hnsw_ef=query.hnsw_ef or default_ef),
                )
                for query in queries
            ]
            if len(requests) == 1:
                batches = [self._shard.query(requests[0])]
            else:
                batches = self._shard.query_batch(qe.QueryBatchRequest(requests))
        return [
            [translation.hit_out(hit, query) for hit in hits]
            for query, hits in zip(queries, batches, strict=True)
        ]

    def sample(self, count: int) -> list[Point]:
        """Up to ``count`` stored points (vector and payload), spread over the first
        ``8 * count`` in id order (cheap, and not only the first document's chunks)."""
        with _engine_errors("collection"):
            records, _ = self._shard.scroll(
                qe.ScrollRequest(limit=8 * count, with_payload=True, with_vector=True)
            )
        step = max(1, len(records) // count)
        return [
            Point(translation.point_id_out(record.id), vector, dict(record.payload or {}))
            for record in records[::step][:count]
            if (vector := translation.vector_out(record.vector)) is not None
        ]

    def counts(self) -> tuple[int, int]:
        """(points, indexed vectors)."""
        with _engine_errors("collection"):
            info = self._shard.info()
        return int(info.points_count), int(info.indexed_vectors_count)

    def flush(self) -> None:
        with _engine_errors("collection"):
            self._shard.flush()

    def close(self) -> None:
        with _engine_errors("collection"):
            self._shard.close()


def build_index(
    path: Path, spec: CollectionSpec, *, min_recall: float, require_faster: bool = True
) -> Calibration:
    """Builds the HNSW index of the (closed, private) shard at ``path``, then measures how
    it should be searched (``search_calibration``); blocks for the build.

    The calibration queries are stored points held out of the index while it is built and
    put back afterwards (into a plain segment, searched exactly like any later write):
    a point that is in the graph leads the search straight to its own neighbour list, so
    stored points as queries flattered recall (0.96 measured against 0.66 for outside
    queries at 5k random vectors).

    Runs in a throw-away process (``edge_index_builder``): it holds the GIL and a core for
    as long as it takes.
    """
    remove_temp_segments(path)
    shard = qe.EdgeShard.load(str(path), _config(spec, index_everything=True))
    try:
        handle = EdgeShardHandle(shard, path)
        held_out = handle.sample(CALIBRATION_SAMPLES)
        if held_out:
            handle.delete([point.id for point in held_out])
        shard.optimize()
        calibration = calibrate(
            handle,
            [(point.id, tuple(float(x) for x in point.vector)) for point in held_out],
            min_recall=min_recall,
            require_faster=require_faster,
        )
        if held_out:
            handle.upsert(held_out)
        shard.flush()
    finally:
        shard.close()
    return calibration
