"""The proto edge: documented defaults in, every CollectionInfo field out (pure, no servers)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from google.protobuf import struct_pb2

from ragserve.api.common.v1 import common_pb2
from ragserve.api.retrieval.v1 import retrieval_pb2 as pb
from ragserve.errors import InvalidArgument
from ragserve.retrieval import convert, validation
from ragserve.retrieval.model import (
    CollectionInfo,
    CollectionSpec,
    Distance,
    HnswSettings,
    IndexState,
    PayloadFieldType,
    Record,
    ScoredPoint,
    ScrollPage,
)

UUID = "0b7e1a52-3f0e-4c8e-9a43-2f6f0d4b8c11"
PAYLOADS: list[dict[str, Any] | None] = [
    {"doc": "a", "rank": 3, "score": 0.5, "tags": ["x", "y"], "meta": {"n": None, "ok": True}},
    {},
    None,
]


def built(payload: dict[str, Any] | None) -> struct_pb2.Struct | None:
    """A payload as a Struct passed to a constructor (the long way, for comparison)."""
    if payload is None:
        return None
    message = struct_pb2.Struct()
    message.update(payload)
    return message


def test_proto3_zero_values_take_the_documented_defaults() -> None:
    spec = convert.spec_in(pb.CollectionConfig(dimension=4))
    assert spec == CollectionSpec(
        dimension=4, distance=Distance.COSINE, hnsw=HnswSettings(m=16, ef_construct=100)
    )
    query = convert.query_in("query", pb.SearchQuery(vector=[1.0, 0.0]))
    assert (query.limit, query.filter, query.score_threshold, query.with_payload) == (
        10,
        None,
        None,
        True,
    )


def test_collection_info_carries_points_and_indexed_vectors() -> None:
    info = CollectionInfo(
        name="docs",
        spec=CollectionSpec(dimension=8, payload_indexes={"doc": PayloadFieldType.KEYWORD}),
        points_count=120_000,
        indexed_vectors_count=100_000,
        index_state=IndexState.INDEXED,
    )
    message = convert.collection_out(info)
    assert (message.name, message.points_count, message.indexed_vectors_count) == (
        "docs",
        120_000,
        100_000,
    )
    assert message.index_state == pb.INDEX_STATE_INDEXED
    assert [(index.field, index.type) for index in message.config.payload_indexes] == [
        ("doc", pb.PAYLOAD_SCHEMA_TYPE_KEYWORD)
    ]


def test_hits_and_records_filled_in_place_equal_messages_built_whole() -> None:
    hits = [
        ScoredPoint(id=7, score=0.75, payload=PAYLOADS[0], vector=(1.0, 0.5)),
        ScoredPoint(id=UUID, score=0.25, payload=PAYLOADS[1], vector=None),
        ScoredPoint(id=0, score=0.0, payload=PAYLOADS[2], vector=None),
    ]
    expected = [
        pb.ScoredPoint(
            id=common_pb2.PointId(num=7), score=0.75, payload=built(PAYLOADS[0]), vector=[1.0, 0.5]
        ),
        pb.ScoredPoint(id=common_pb2.PointId(uuid=UUID), score=0.25, payload=built(PAYLOADS[1])),
        pb.ScoredPoint(id=common_pb2.PointId(num=0), score=0.0),
    ]
    response = pb.SearchResponse()
    convert.scored_into(response.hits, hits)
    assert response == pb.SearchResponse(hits=expected)
    assert [h.HasField("payload") for h in response.hits] == [True, True, False]
    assert [convert.scored_out(hit) for hit in hits] == expected

    records = [Record(id=hit.id, payload=hit.payload, vector=hit.vector) for hit in hits]
    page = convert.scroll_out(ScrollPage(records, next_offset=UUID))
    assert page == pb.ScrollResponse(
        points=[
            pb.RetrievedPoint(
                id=e.id, payload=e.payload if e.HasField("payload") else None, vector=e.vector
            )
            for e in expected
        ],
        next_offset=common_pb2.PointId(uuid=UUID),
    )
    assert not convert.scroll_out(ScrollPage([], next_offset=None)).HasField("next_offset")


def test_query_vector_comes_in_as_the_fields_float32_values() -> None:
    values = [0.1, -2.5, 3.4028234663852886e38, float("nan"), float("-inf"), 1e-45, 0.0]
    # Other fields around the vector on the wire, before and after it.
    query = pb.SearchQuery(vector=values, limit=3, with_vectors=True, score_threshold=0.5)
    query.with_payload.include.append("k")

    vector = convert.query_in("query", query).vector

    assert isinstance(vector, np.ndarray) and vector.dtype == np.float32
    assert [str(x) for x in vector.tolist()] == [str(x) for x in query.vector]
    assert convert.query_in("query", pb.SearchQuery()).vector.shape == (0,)


@pytest.mark.parametrize(
    ("vector", "reason"),
    [
        ([1.0, float("nan"), 0.0], "contains NaN or infinity"),
        ([1.0, 0.0, float("inf")], "contains NaN or infinity"),
        ([1.0, 0.0], "has 2 dimensions, collection 'docs' expects 3"),
        ([], "has 0 dimensions, collection 'docs' expects 3"),
    ],
)
def test_a_bad_query_vector_names_the_field(vector: list[float], reason: str) -> None:
    query = convert.query_in("query", pb.SearchQuery(vector=vector))
    with pytest.raises(InvalidArgument) as raised:
        validation.search_query("query", query, 3, "docs")
    assert (raised.value.field, raised.value.reason) == ("query.vector", reason)
