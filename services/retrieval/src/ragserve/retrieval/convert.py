"""Proto ↔ domain conversions for the retrieval API; the servicer's edge.

Conventions where proto3 cannot say "unset": ``limit`` 0 means 10; ``hnsw.m`` 0 means 16
and ``ef_construct`` 0 means 100; distance UNSPECIFIED means cosine. Payloads travel as
``google.protobuf.Struct``, whose numbers are all doubles: integral numbers come back to
integers on the way in, so an integer field matches an integer filter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, struct_pb2

from ragserve.api.common.v1 import common_pb2
from ragserve.api.retrieval.v1 import retrieval_pb2 as pb
from ragserve.errors import InvalidArgument
from ragserve.retrieval.model import (
    CollectionInfo,
    CollectionSpec,
    Condition,
    Distance,
    FieldCondition,
    Filter,
    HnswSettings,
    IndexState,
    MatchAny,
    MatchValue,
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
)

DEFAULT_LIMIT = 10

_DISTANCE_IN = {
    pb.DISTANCE_UNSPECIFIED: Distance.COSINE,
    pb.DISTANCE_COSINE: Distance.COSINE,
    pb.DISTANCE_DOT: Distance.DOT,
    pb.DISTANCE_EUCLID: Distance.EUCLID,
}
_DISTANCE_OUT = {
    Distance.COSINE: pb.DISTANCE_COSINE,
    Distance.DOT: pb.DISTANCE_DOT,
    Distance.EUCLID: pb.DISTANCE_EUCLID,
}
_FIELD_TYPE_IN = {
    pb.PAYLOAD_SCHEMA_TYPE_KEYWORD: PayloadFieldType.KEYWORD,
    pb.PAYLOAD_SCHEMA_TYPE_INTEGER: PayloadFieldType.INTEGER,
    pb.PAYLOAD_SCHEMA_TYPE_FLOAT: PayloadFieldType.FLOAT,
    pb.PAYLOAD_SCHEMA_TYPE_BOOL: PayloadFieldType.BOOL,
}
_FIELD_TYPE_OUT = {value: key for key, value in _FIELD_TYPE_IN.items()}
_INDEX_STATE_OUT = {
    IndexState.EXACT: pb.INDEX_STATE_EXACT,
    IndexState.INDEXING: pb.INDEX_STATE_INDEXING,
    IndexState.INDEXED: pb.INDEX_STATE_INDEXED,
}


def _packed_vector_class(owner: Any) -> Any:
    """A message whose only field is ``owner``'s ``vector`` field, typed ``bytes``.

    A packed ``repeated float`` is one length-delimited record of little-endian float32s,
    which is what a ``bytes`` field of the same number reads; protobuf (upb) always writes
    repeated floats packed. So parsing a query's bytes as this message yields its vector's
    float32s in one copy; iterating the repeated field made 384 Python floats (~17 µs, the
    most a Search spent converting its request), which the worker then unpickled one by one.
    """
    field = owner.DESCRIPTOR.fields_by_name["vector"]
    file = descriptor_pb2.FileDescriptorProto(
        name=f"ragserve/retrieval/packed_{owner.DESCRIPTOR.name}.proto",
        package="ragserve.retrieval.internal",
        syntax="proto3",
    )
    message = file.message_type.add(name="PackedVector")
    message.field.add(
        name="vector",
        number=field.number,
        type=descriptor_pb2.FieldDescriptorProto.TYPE_BYTES,
        label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL,
    )
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(file.SerializeToString())
    return message_factory.GetMessageClass(
        pool.FindMessageTypeByName("ragserve.retrieval.internal.PackedVector")
    )


_PACKED_QUERY = _packed_vector_class(pb.SearchQuery)
_FLOAT32_LE = np.dtype("<f4")


def _query_vector_in(message: Any) -> npt.NDArray[np.float32]:
    """The query's vector as a (read-only) float32 array: the same values as the field."""
    packed = _PACKED_QUERY.FromString(message.SerializeToString())
    return np.frombuffer(packed.vector, dtype=_FLOAT32_LE)


# ---------------------------------------------------------------------------- in


def spec_in(config: Any) -> CollectionSpec:
    indexes: dict[str, PayloadFieldType] = {}
    for index, payload_index in enumerate(config.payload_indexes):
        kind = _FIELD_TYPE_IN.get(payload_index.type)
        if kind is None:
            raise InvalidArgument(
                f"config.payload_indexes[{index}].type", "must be keyword, integer, float or bool"
            )
        indexes[payload_index.field] = kind
    distance = _DISTANCE_IN.get(config.distance)
    if distance is None:
        raise InvalidArgument("config.distance", f"unknown distance {config.distance}")
    return CollectionSpec(
        dimension=config.dimension,
        distance=distance,
        hnsw=HnswSettings(
            m=config.hnsw.m or 16,
            ef_construct=config.hnsw.ef_construct or 100,
            full_scan_threshold=config.hnsw.full_scan_threshold,
        ),
        on_disk=config.on_disk,
        payload_indexes=indexes,
    )


def point_id_in(field: str, message: Any) -> object:
    kind = message.WhichOneof("kind")
    if kind == "num":
        return int(message.num)
    if kind == "uuid":
        return str(message.uuid)
    raise InvalidArgument(field, "is empty: set num or uuid")


def payload_in(message: struct_pb2.Struct) -> dict[str, Any]:
    """The payload as plain Python values. Numbers arrive as doubles; integral ones become
    ints. Non-finite numbers pass through: the core rejects them naming the point and key
    (``json_format.MessageToDict`` would raise a bare ValueError instead)."""
    return {key: _value_in(value) for key, value in message.fields.items()}


def _value_in(value: struct_pb2.Value) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "number_value":
        number = value.number_value
        return int(number) if number.is_integer() and abs(number) < 2**53 else number
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "struct_value":
        return payload_in(value.struct_value)
    if kind == "list_value":
        return [_value_in(item) for item in value.list_value.values]
    return None  # null_value, or a Value with nothing set


def points_in(field: str, messages: Any) -> list[Point]:
    return [
        Point(
            id=point_id_in(f"{field}[{index}].id", message.id),  # type: ignore[arg-type]
            vector=tuple(message.vector),
            payload=payload_in(message.payload),
        )
        for index, message in enumerate(messages)
    ]


def filter_in(field: str, message: Any) -> Filter:
    return Filter(
        must=tuple(_condition_in(f"{field}.must[{i}]", c) for i, c in enumerate(message.must)),
        should=tuple(
            _condition_in(f"{field}.should[{i}]", c) for i, c in enumerate(message.should)
        ),
        must_not=tuple(
            _condition_in(f"{field}.must_not[{i}]", c) for i, c in enumerate(message.must_not)
        ),
    )


def _condition_in(field: str, message: Any) -> Condition:
    kind = message.WhichOneof("condition")
    if kind == "nested":
        return filter_in(f"{field}.nested", message.nested)
    if kind == "match":
        value_kind = message.match.WhichOneof("value")
        if value_kind is None:
            raise InvalidArgument(f"{field}.match", "set keyword, integer or boolean")
        return FieldCondition(message.key, MatchValue(getattr(message.match, value_kind)))
    if kind == "match_any":
        keywords, integers = tuple(message.match_any.keywords), tuple(message.match_any.integers)
        if keywords and integers:
            raise InvalidArgument(f"{field}.match_any", "set keywords or integers, not both")
        return FieldCondition(message.key, MatchAny(keywords or integers))
    if kind == "range":
        bounds = message.range
        return FieldCondition(
            message.key,
            range=Range(
                gt=bounds.gt if bounds.HasField("gt") else None,
                gte=bounds.gte if bounds.HasField("gte") else None,
                lt=bounds.lt if bounds.HasField("lt") else None,
                lte=bounds.lte if bounds.HasField("lte") else None,
            ),
        )
    raise InvalidArgument(field, "set one of match, match_any, range or nested")


def optional_filter_in(field: str, owner: Any) -> Filter | None:
    return filter_in(field, owner.filter) if owner.HasField("filter") else None


def payload_selection_in(owner: Any) -> PayloadSelection:
    if not owner.HasField("with_payload"):
        return True
    selector = owner.with_payload
    if selector.exclude_all:
        return False
    return tuple(selector.include) if selector.include else True


def query_in(field: str, message: Any) -> SearchQuery:
    return SearchQuery(
        vector=_query_vector_in(message),
        limit=message.limit or DEFAULT_LIMIT,
        filter=optional_filter_in(f"{field}.filter", message),
        score_threshold=message.score_threshold if message.HasField("score_threshold") else None,
        with_payload=payload_selection_in(message),
        with_vectors=message.with_vectors,
        offset=message.offset,
        hnsw_ef=message.params.hnsw_ef,
        exact=message.params.exact,
    )


def scroll_in(message: Any) -> ScrollQuery:
    return ScrollQuery(
        limit=message.limit or DEFAULT_LIMIT,
        filter=optional_filter_in("filter", message),
        offset=point_id_in("offset", message.offset)  # type: ignore[arg-type]
        if message.HasField("offset")
        else None,
        with_payload=payload_selection_in(message),
        with_vectors=message.with_vectors,
    )


# ---------------------------------------------------------------------------- out


def point_id_out(value: PointId) -> Any:
    if isinstance(value, int):
        return common_pb2.PointId(num=value)
    return common_pb2.PointId(uuid=value)


def payload_out(payload: Mapping[str, Any] | None) -> struct_pb2.Struct | None:
    if payload is None:
        return None
    message = struct_pb2.Struct()
    message.update(dict(payload))
    return message


def collection_out(info: CollectionInfo) -> Any:
    spec = info.spec
    return pb.CollectionInfo(
        name=info.name,
        config=pb.CollectionConfig(
            dimension=spec.dimension,
            distance=_DISTANCE_OUT[spec.distance],
            hnsw=pb.HnswConfig(
                m=spec.hnsw.m,
                ef_construct=spec.hnsw.ef_construct,
                full_scan_threshold=spec.hnsw.full_scan_threshold,
            ),
            on_disk=spec.on_disk,
            payload_indexes=[
                pb.PayloadIndex(field=key, type=_FIELD_TYPE_OUT[kind])
                for key, kind in spec.payload_indexes.items()
                if kind in _FIELD_TYPE_OUT
            ],
        ),
        points_count=info.points_count,
        indexed_vectors_count=info.indexed_vectors_count,
        index_state=_INDEX_STATE_OUT[info.index_state],
    )


# Answers are filled in place (``hits.add()``, ``payload.update``) rather than built as
# messages and passed to their parent: a message passed to a constructor is copied, so a hit's
# Struct was built once and copied twice (into its ScoredPoint, that into the response), which
# cost a ten-hit answer with payloads ~40% of its conversion time.


def _fill_point(
    target: Any, point_id: PointId, payload: Mapping[str, Any] | None, vector: Any
) -> None:
    """Set a ScoredPoint's or RetrievedPoint's id, payload and vector."""
    if isinstance(point_id, int):
        target.id.num = point_id
    else:
        target.id.uuid = point_id
    if payload is not None:
        target.payload.SetInParent()  # present even when empty, as a Struct passed in was
        target.payload.update(payload)
    if vector:
        target.vector.extend(vector)


def scored_into(hits: Any, found: Sequence[ScoredPoint]) -> None:
    """Append ``found`` to the repeated ScoredPoint field ``hits``."""
    for hit in found:
        target = hits.add(score=hit.score)
        _fill_point(target, hit.id, hit.payload, hit.vector)


def scored_out(hit: ScoredPoint) -> Any:
    target = pb.ScoredPoint(score=hit.score)
    _fill_point(target, hit.id, hit.payload, hit.vector)
    return target


def records_into(points: Any, records: Sequence[Record]) -> None:
    """Append ``records`` to the repeated RetrievedPoint field ``points``."""
    for record in records:
        _fill_point(points.add(), record.id, record.payload, record.vector)


def record_out(record: Record) -> Any:
    target = pb.RetrievedPoint()
    _fill_point(target, record.id, record.payload, record.vector)
    return target


def scroll_out(page: ScrollPage) -> Any:
    response = pb.ScrollResponse()
    records_into(response.points, page.records)
    if page.next_offset is not None:
        response.next_offset.CopyFrom(point_id_out(page.next_offset))
    return response


def snapshot_out(info: SnapshotInfo) -> Any:
    return pb.SnapshotInfo(
        name=info.name, created_at=info.created_at_unix_s, size_bytes=info.size_bytes
    )
