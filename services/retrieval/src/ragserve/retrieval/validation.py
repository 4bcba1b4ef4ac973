"""Checks on requests, done once in the core so every backend sees only valid input.

Every failure is an ``InvalidArgument`` whose field is the dotted path of the offending
value as the caller wrote it (``queries[2].filter.must[0].range``), and whose message
names the value and the limit.
"""

from __future__ import annotations

import dataclasses
import json
import math
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ragserve.errors import InvalidArgument
from ragserve.retrieval import payload_paths
from ragserve.retrieval.model import (
    CollectionSpec,
    FieldCondition,
    Filter,
    MatchAny,
    MatchValue,
    PayloadSelection,
    Point,
    PointId,
    ScrollQuery,
    SearchQuery,
    Vector,
)

MAX_DIMENSION = 65_536
_FLOAT32_MAX = float(np.finfo(np.float32).max)
MAX_LIMIT = 1_000
MAX_QUERIES_PER_BATCH = 100
MAX_OFFSET = 10_000
MAX_IDS = 1_024
MAX_POINTS_PER_BATCH = 1_024
MAX_FILTER_DEPTH = 8
_MAX_UINT64 = 2**64 - 1
_MIN_INT64, _MAX_INT64 = -(2**63), 2**63 - 1


def point_id(field: str, value: object) -> PointId:
    """The canonical form of a point id: an int in [0, 2^64) or a lowercase hyphenated UUID."""
    if isinstance(value, bool):
        raise InvalidArgument(field, f"{value!r} is not a point id")
    if isinstance(value, int):
        if 0 <= value <= _MAX_UINT64:
            return value
        raise InvalidArgument(field, f"integer id {value} is outside [0, 2^64-1]")
    if isinstance(value, str):
        try:
            return str(uuid.UUID(value))
        except ValueError:
            raise InvalidArgument(
                field,
                f"string id {value!r} is not a UUID: string point ids must be UUIDs "
                "(use an unsigned integer or a UUID such as uuid5 of your own key)",
            ) from None
    raise InvalidArgument(field, f"{value!r} is not a point id")


def point_ids(field: str, values: Sequence[object]) -> list[PointId]:
    if not values:
        raise InvalidArgument(field, "is empty")
    if len(values) > MAX_IDS:
        raise InvalidArgument(field, f"has {len(values)} ids, at most {MAX_IDS} per call")
    return [point_id(f"{field}[{index}]", value) for index, value in enumerate(values)]


def vector(field: str, values: Vector, dimension: int, collection: str) -> None:
    if len(values) != dimension:
        raise InvalidArgument(
            field,
            f"has {len(values)} dimensions, collection {collection!r} expects {dimension}",
        )
    # The engines store float32: a value is refused when it is NaN or infinite as a float32.
    # An array is checked as float32 (2 µs when it is one already); for a tuple, its
    # Euclidean norm (2 µs for 384 floats, against 16 µs to build a float32 array) settles
    # the usual vector: a norm within float32's range means every component is finite there;
    # a NaN, an infinity or a huge component (rare) is decided by the float32 array itself.
    if isinstance(values, np.ndarray):
        if not np.isfinite(np.asarray(values, dtype=np.float32)).all():
            raise InvalidArgument(field, "contains NaN or infinity")
        return
    if math.hypot(*values) <= _FLOAT32_MAX:
        return
    if not np.isfinite(np.asarray(values, dtype=np.float32)).all():
        raise InvalidArgument(field, "contains NaN or infinity")


def spec(value: CollectionSpec) -> None:
    if not 1 <= value.dimension <= MAX_DIMENSION:
        raise InvalidArgument(
            "config.dimension", f"{value.dimension} is outside [1, {MAX_DIMENSION}]"
        )
    if not 4 <= value.hnsw.m <= 128:
        raise InvalidArgument("config.hnsw.m", f"{value.hnsw.m} is outside [4, 128]")
    if not 4 <= value.hnsw.ef_construct <= 4096:
        raise InvalidArgument(
            "config.hnsw.ef_construct", f"{value.hnsw.ef_construct} is outside [4, 4096]"
        )
    if value.hnsw.full_scan_threshold < 0:
        raise InvalidArgument(
            "config.hnsw.full_scan_threshold", f"{value.hnsw.full_scan_threshold} is negative"
        )
    for index, key in enumerate(value.payload_indexes):
        payload_path(f"config.payload_indexes[{index}].field", key)


def payload_path(field: str, path: str) -> None:
    """A filter key, payload-index field or payload selection Qdrant can read."""
    if not path:
        raise InvalidArgument(field, "is empty")
    wrong = payload_paths.problem(path)
    if wrong is not None:
        raise InvalidArgument(field, f"{path!r} is not a payload path: {wrong}")


def payload_selection(field: str, selection: PayloadSelection) -> None:
    if isinstance(selection, tuple):
        for index, path in enumerate(selection):
            payload_path(f"{field}.include[{index}]", path)


def payload(field: str, point_id: PointId, value: Mapping[str, Any]) -> None:
    """Payload numbers must be finite: JSON has no NaN or infinity, and the engines refuse
    them. ``field`` names the payload; the message names the point and the key."""
    for key, item in value.items():
        _payload_value(field, point_id, _render_key(key), item)


def _payload_value(field: str, point_id: PointId, key_path: str, value: object) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        number = "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
        raise InvalidArgument(
            f"{field}{key_path}",
            f"point {point_id!r}: payload key {key_path.lstrip('.')!r} is {number}; "
            "payload numbers must be finite",
        )
    if isinstance(value, Mapping):
        for key, item in value.items():
            _payload_value(field, point_id, f"{key_path}{_render_key(key)}", item)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _payload_value(field, point_id, f"{key_path}[{index}]", item)


def _render_key(key: str) -> str:
    """``.key`` for a plain key, ``["key"]`` for one that a dotted path could not show."""
    return f".{key}" if payload_paths.is_plain_key(key) else f"[{json.dumps(key)}]"


def points(field: str, batch: Sequence[Point], dimension: int, collection: str) -> list[Point]:
    """The batch with canonical ids; rejects empty or oversized batches, bad vectors and
    non-finite payload numbers."""
    if not batch:
        raise InvalidArgument(field, "is empty")
    if len(batch) > MAX_POINTS_PER_BATCH:
        raise InvalidArgument(
            field, f"has {len(batch)} points, at most {MAX_POINTS_PER_BATCH} per batch"
        )
    checked = []
    for index, point in enumerate(batch):
        canonical = point_id(f"{field}[{index}].id", point.id)
        vector(f"{field}[{index}].vector", point.vector, dimension, collection)
        payload(f"{field}[{index}].payload", canonical, point.payload)
        checked.append(
            point if canonical == point.id else Point(canonical, point.vector, point.payload)
        )
    return checked


def search_queries(
    field: str, queries: Sequence[SearchQuery], dimension: int, collection: str
) -> None:
    if not queries:
        raise InvalidArgument(field, "is empty")
    if len(queries) > MAX_QUERIES_PER_BATCH:
        raise InvalidArgument(
            field, f"has {len(queries)} queries, at most {MAX_QUERIES_PER_BATCH} per call"
        )
    for index, query in enumerate(queries):
        search_query(f"{field}[{index}]", query, dimension, collection)


def search_query(path: str, query: SearchQuery, dimension: int, collection: str) -> None:
    vector(f"{path}.vector", query.vector, dimension, collection)
    if not 1 <= query.limit <= MAX_LIMIT:
        raise InvalidArgument(f"{path}.limit", f"{query.limit} is outside [1, {MAX_LIMIT}]")
    if not 0 <= query.offset <= MAX_OFFSET:
        raise InvalidArgument(f"{path}.offset", f"{query.offset} is outside [0, {MAX_OFFSET}]")
    if not 0 <= query.hnsw_ef <= 4096:
        raise InvalidArgument(f"{path}.params.hnsw_ef", f"{query.hnsw_ef} is outside [0, 4096]")
    if query.score_threshold is not None and not math.isfinite(query.score_threshold):
        raise InvalidArgument(f"{path}.score_threshold", "is NaN or infinite")
    payload_selection(f"{path}.with_payload", query.with_payload)
    if query.filter is not None:
        filter_(f"{path}.filter", query.filter)


def scroll_query(query: ScrollQuery) -> ScrollQuery:
    """The query with a canonical offset id; fields are named as in ScrollRequest."""
    if not 1 <= query.limit <= MAX_LIMIT:
        raise InvalidArgument("limit", f"{query.limit} is outside [1, {MAX_LIMIT}]")
    payload_selection("with_payload", query.with_payload)
    if query.filter is not None:
        filter_("filter", query.filter)
    if query.offset is None:
        return query
    offset = point_id("offset", query.offset)
    return query if offset == query.offset else dataclasses.replace(query, offset=offset)


def filter_(field: str, value: Filter, depth: int = 0) -> None:
    if depth >= MAX_FILTER_DEPTH:
        raise InvalidArgument(field, f"nests deeper than {MAX_FILTER_DEPTH} levels")
    for clause_name, clause in (
        ("must", value.must),
        ("should", value.should),
        ("must_not", value.must_not),
    ):
        for index, condition in enumerate(clause):
            path = f"{field}.{clause_name}[{index}]"
            if isinstance(condition, Filter):
                filter_(path, condition, depth + 1)
            else:
                _condition(path, condition)


def _condition(field: str, condition: FieldCondition) -> None:
    payload_path(f"{field}.key", condition.key)
    if (condition.match is None) == (condition.range is None):
        raise InvalidArgument(
            field, f"condition on {condition.key!r} needs exactly one of match and range"
        )
    if condition.range is not None:
        bounds = (condition.range.gt, condition.range.gte, condition.range.lt, condition.range.lte)
        if all(bound is None for bound in bounds):
            raise InvalidArgument(f"{field}.range", f"range on {condition.key!r} has no bound")
        if not all(bound is None or math.isfinite(bound) for bound in bounds):
            raise InvalidArgument(f"{field}.range", f"range on {condition.key!r} is not finite")
    elif isinstance(condition.match, MatchAny):
        values = condition.match.values
        if not values:
            raise InvalidArgument(f"{field}.match.any", f"any-of on {condition.key!r} is empty")
        if not (
            all(isinstance(v, str) for v in values)
            or all(isinstance(v, int) and not isinstance(v, bool) for v in values)
        ):
            raise InvalidArgument(
                f"{field}.match.any",
                f"any-of on {condition.key!r} must be all strings or all integers",
            )
        for value in values:
            _payload_integer(f"{field}.match.any", condition.key, value)
    elif isinstance(condition.match, MatchValue):
        if not isinstance(condition.match.value, str | int | bool):
            raise InvalidArgument(
                f"{field}.match.value",
                f"match on {condition.key!r} must be a string, an integer or a boolean",
            )
        _payload_integer(f"{field}.match.value", condition.key, condition.match.value)


def _payload_integer(field: str, key: str, value: object) -> None:
    # Qdrant's payload integers are signed 64-bit; the embedded engine cannot even take a
    # larger one as an argument. (The proto's int64 keeps gRPC callers inside already.)
    if (
        isinstance(value, int)
        and not isinstance(value, bool)
        and not _MIN_INT64 <= value <= _MAX_INT64
    ):
        raise InvalidArgument(
            field, f"match on {key!r}: {value} is outside the signed 64-bit integer range"
        )
