"""The proto edge: documented defaults in, every CollectionInfo field out (pure, no servers)."""

from __future__ import annotations

from ragserve.api.retrieval.v1 import retrieval_pb2 as pb
from ragserve.retrieval import convert
from ragserve.retrieval.model import (
    CollectionInfo,
    CollectionSpec,
    Distance,
    HnswSettings,
    IndexState,
    PayloadFieldType,
)


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
