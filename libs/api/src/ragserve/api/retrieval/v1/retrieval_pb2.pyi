from google.protobuf import struct_pb2 as _struct_pb2
from ragserve.api.common.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Distance(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DISTANCE_UNSPECIFIED: _ClassVar[Distance]
    DISTANCE_COSINE: _ClassVar[Distance]
    DISTANCE_DOT: _ClassVar[Distance]
    DISTANCE_EUCLID: _ClassVar[Distance]

class PayloadSchemaType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PAYLOAD_SCHEMA_TYPE_UNSPECIFIED: _ClassVar[PayloadSchemaType]
    PAYLOAD_SCHEMA_TYPE_KEYWORD: _ClassVar[PayloadSchemaType]
    PAYLOAD_SCHEMA_TYPE_INTEGER: _ClassVar[PayloadSchemaType]
    PAYLOAD_SCHEMA_TYPE_FLOAT: _ClassVar[PayloadSchemaType]
    PAYLOAD_SCHEMA_TYPE_BOOL: _ClassVar[PayloadSchemaType]

class IndexState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INDEX_STATE_UNSPECIFIED: _ClassVar[IndexState]
    INDEX_STATE_EXACT: _ClassVar[IndexState]
    INDEX_STATE_INDEXING: _ClassVar[IndexState]
    INDEX_STATE_INDEXED: _ClassVar[IndexState]
DISTANCE_UNSPECIFIED: Distance
DISTANCE_COSINE: Distance
DISTANCE_DOT: Distance
DISTANCE_EUCLID: Distance
PAYLOAD_SCHEMA_TYPE_UNSPECIFIED: PayloadSchemaType
PAYLOAD_SCHEMA_TYPE_KEYWORD: PayloadSchemaType
PAYLOAD_SCHEMA_TYPE_INTEGER: PayloadSchemaType
PAYLOAD_SCHEMA_TYPE_FLOAT: PayloadSchemaType
PAYLOAD_SCHEMA_TYPE_BOOL: PayloadSchemaType
INDEX_STATE_UNSPECIFIED: IndexState
INDEX_STATE_EXACT: IndexState
INDEX_STATE_INDEXING: IndexState
INDEX_STATE_INDEXED: IndexState

class PayloadIndex(_message.Message):
    __slots__ = ("field", "type")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    field: str
    type: PayloadSchemaType
    def __init__(self, field: _Optional[str] = ..., type: _Optional[_Union[PayloadSchemaType, str]] = ...) -> None: ...

class HnswConfig(_message.Message):
    __slots__ = ("m", "ef_construct", "full_scan_threshold")
    M_FIELD_NUMBER: _ClassVar[int]
    EF_CONSTRUCT_FIELD_NUMBER: _ClassVar[int]
    FULL_SCAN_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    m: int
    ef_construct: int
    full_scan_threshold: int
    def __init__(self, m: _Optional[int] = ..., ef_construct: _Optional[int] = ..., full_scan_threshold: _Optional[int] = ...) -> None: ...

class CollectionConfig(_message.Message):
    __slots__ = ("dimension", "distance", "hnsw", "on_disk", "payload_indexes")
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    DISTANCE_FIELD_NUMBER: _ClassVar[int]
    HNSW_FIELD_NUMBER: _ClassVar[int]
    ON_DISK_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_INDEXES_FIELD_NUMBER: _ClassVar[int]
    dimension: int
    distance: Distance
    hnsw: HnswConfig
    on_disk: bool
    payload_indexes: _containers.RepeatedCompositeFieldContainer[PayloadIndex]
    def __init__(self, dimension: _Optional[int] = ..., distance: _Optional[_Union[Distance, str]] = ..., hnsw: _Optional[_Union[HnswConfig, _Mapping]] = ..., on_disk: _Optional[bool] = ..., payload_indexes: _Optional[_Iterable[_Union[PayloadIndex, _Mapping]]] = ...) -> None: ...

class CollectionInfo(_message.Message):
    __slots__ = ("name", "config", "points_count", "index_state", "indexed_vectors_count")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    POINTS_COUNT_FIELD_NUMBER: _ClassVar[int]
    INDEX_STATE_FIELD_NUMBER: _ClassVar[int]
    INDEXED_VECTORS_COUNT_FIELD_NUMBER: _ClassVar[int]
    name: str
    config: CollectionConfig
    points_count: int
    index_state: IndexState
    indexed_vectors_count: int
    def __init__(self, name: _Optional[str] = ..., config: _Optional[_Union[CollectionConfig, _Mapping]] = ..., points_count: _Optional[int] = ..., index_state: _Optional[_Union[IndexState, str]] = ..., indexed_vectors_count: _Optional[int] = ...) -> None: ...

class CreateCollectionRequest(_message.Message):
    __slots__ = ("tenant", "name", "config")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    name: str
    config: CollectionConfig
    def __init__(self, tenant: _Optional[str] = ..., name: _Optional[str] = ..., config: _Optional[_Union[CollectionConfig, _Mapping]] = ...) -> None: ...

class CreateCollectionResponse(_message.Message):
    __slots__ = ("collection",)
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    collection: CollectionInfo
    def __init__(self, collection: _Optional[_Union[CollectionInfo, _Mapping]] = ...) -> None: ...

class DescribeCollectionRequest(_message.Message):
    __slots__ = ("tenant", "name")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    name: str
    def __init__(self, tenant: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class DescribeCollectionResponse(_message.Message):
    __slots__ = ("collection",)
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    collection: CollectionInfo
    def __init__(self, collection: _Optional[_Union[CollectionInfo, _Mapping]] = ...) -> None: ...

class ListCollectionsRequest(_message.Message):
    __slots__ = ("tenant",)
    TENANT_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    def __init__(self, tenant: _Optional[str] = ...) -> None: ...

class ListCollectionsResponse(_message.Message):
    __slots__ = ("collections",)
    COLLECTIONS_FIELD_NUMBER: _ClassVar[int]
    collections: _containers.RepeatedCompositeFieldContainer[CollectionInfo]
    def __init__(self, collections: _Optional[_Iterable[_Union[CollectionInfo, _Mapping]]] = ...) -> None: ...

class DeleteCollectionRequest(_message.Message):
    __slots__ = ("tenant", "name")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    name: str
    def __init__(self, tenant: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class DeleteCollectionResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Point(_message.Message):
    __slots__ = ("id", "vector", "payload")
    ID_FIELD_NUMBER: _ClassVar[int]
    VECTOR_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    id: _common_pb2.PointId
    vector: _containers.RepeatedScalarFieldContainer[float]
    payload: _struct_pb2.Struct
    def __init__(self, id: _Optional[_Union[_common_pb2.PointId, _Mapping]] = ..., vector: _Optional[_Iterable[float]] = ..., payload: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class UpsertRequest(_message.Message):
    __slots__ = ("tenant", "collection", "points")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    collection: str
    points: _containers.RepeatedCompositeFieldContainer[Point]
    def __init__(self, tenant: _Optional[str] = ..., collection: _Optional[str] = ..., points: _Optional[_Iterable[_Union[Point, _Mapping]]] = ...) -> None: ...

class UpsertResponse(_message.Message):
    __slots__ = ("points_upserted", "batches")
    POINTS_UPSERTED_FIELD_NUMBER: _ClassVar[int]
    BATCHES_FIELD_NUMBER: _ClassVar[int]
    points_upserted: int
    batches: int
    def __init__(self, points_upserted: _Optional[int] = ..., batches: _Optional[int] = ...) -> None: ...

class PointIdList(_message.Message):
    __slots__ = ("ids",)
    IDS_FIELD_NUMBER: _ClassVar[int]
    ids: _containers.RepeatedCompositeFieldContainer[_common_pb2.PointId]
    def __init__(self, ids: _Optional[_Iterable[_Union[_common_pb2.PointId, _Mapping]]] = ...) -> None: ...

class DeletePointsRequest(_message.Message):
    __slots__ = ("tenant", "collection", "ids", "filter")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    IDS_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    collection: str
    ids: PointIdList
    filter: _common_pb2.Filter
    def __init__(self, tenant: _Optional[str] = ..., collection: _Optional[str] = ..., ids: _Optional[_Union[PointIdList, _Mapping]] = ..., filter: _Optional[_Union[_common_pb2.Filter, _Mapping]] = ...) -> None: ...

class DeletePointsResponse(_message.Message):
    __slots__ = ("matched",)
    MATCHED_FIELD_NUMBER: _ClassVar[int]
    matched: int
    def __init__(self, matched: _Optional[int] = ...) -> None: ...

class CountPointsRequest(_message.Message):
    __slots__ = ("tenant", "collection", "filter")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    collection: str
    filter: _common_pb2.Filter
    def __init__(self, tenant: _Optional[str] = ..., collection: _Optional[str] = ..., filter: _Optional[_Union[_common_pb2.Filter, _Mapping]] = ...) -> None: ...

class CountPointsResponse(_message.Message):
    __slots__ = ("count",)
    COUNT_FIELD_NUMBER: _ClassVar[int]
    count: int
    def __init__(self, count: _Optional[int] = ...) -> None: ...

class GetPointsRequest(_message.Message):
    __slots__ = ("tenant", "collection", "ids", "with_payload", "with_vectors")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    IDS_FIELD_NUMBER: _ClassVar[int]
    WITH_PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    WITH_VECTORS_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    collection: str
    ids: _containers.RepeatedCompositeFieldContainer[_common_pb2.PointId]
    with_payload: PayloadSelector
    with_vectors: bool
    def __init__(self, tenant: _Optional[str] = ..., collection: _Optional[str] = ..., ids: _Optional[_Iterable[_Union[_common_pb2.PointId, _Mapping]]] = ..., with_payload: _Optional[_Union[PayloadSelector, _Mapping]] = ..., with_vectors: _Optional[bool] = ...) -> None: ...

class RetrievedPoint(_message.Message):
    __slots__ = ("id", "payload", "vector")
    ID_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    VECTOR_FIELD_NUMBER: _ClassVar[int]
    id: _common_pb2.PointId
    payload: _struct_pb2.Struct
    vector: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, id: _Optional[_Union[_common_pb2.PointId, _Mapping]] = ..., payload: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., vector: _Optional[_Iterable[float]] = ...) -> None: ...

class GetPointsResponse(_message.Message):
    __slots__ = ("points",)
    POINTS_FIELD_NUMBER: _ClassVar[int]
    points: _containers.RepeatedCompositeFieldContainer[RetrievedPoint]
    def __init__(self, points: _Optional[_Iterable[_Union[RetrievedPoint, _Mapping]]] = ...) -> None: ...

class ScrollRequest(_message.Message):
    __slots__ = ("tenant", "collection", "filter", "limit", "offset", "with_payload", "with_vectors")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    WITH_PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    WITH_VECTORS_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    collection: str
    filter: _common_pb2.Filter
    limit: int
    offset: _common_pb2.PointId
    with_payload: PayloadSelector
    with_vectors: bool
    def __init__(self, tenant: _Optional[str] = ..., collection: _Optional[str] = ..., filter: _Optional[_Union[_common_pb2.Filter, _Mapping]] = ..., limit: _Optional[int] = ..., offset: _Optional[_Union[_common_pb2.PointId, _Mapping]] = ..., with_payload: _Optional[_Union[PayloadSelector, _Mapping]] = ..., with_vectors: _Optional[bool] = ...) -> None: ...

class ScrollResponse(_message.Message):
    __slots__ = ("points", "next_offset")
    POINTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_OFFSET_FIELD_NUMBER: _ClassVar[int]
    points: _containers.RepeatedCompositeFieldContainer[RetrievedPoint]
    next_offset: _common_pb2.PointId
    def __init__(self, points: _Optional[_Iterable[_Union[RetrievedPoint, _Mapping]]] = ..., next_offset: _Optional[_Union[_common_pb2.PointId, _Mapping]] = ...) -> None: ...

class PayloadSelector(_message.Message):
    __slots__ = ("exclude_all", "include")
    EXCLUDE_ALL_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_FIELD_NUMBER: _ClassVar[int]
    exclude_all: bool
    include: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, exclude_all: _Optional[bool] = ..., include: _Optional[_Iterable[str]] = ...) -> None: ...

class SearchParams(_message.Message):
    __slots__ = ("hnsw_ef", "exact")
    HNSW_EF_FIELD_NUMBER: _ClassVar[int]
    EXACT_FIELD_NUMBER: _ClassVar[int]
    hnsw_ef: int
    exact: bool
    def __init__(self, hnsw_ef: _Optional[int] = ..., exact: _Optional[bool] = ...) -> None: ...

class SearchQuery(_message.Message):
    __slots__ = ("vector", "limit", "filter", "score_threshold", "with_payload", "with_vectors", "params", "offset")
    VECTOR_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    SCORE_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    WITH_PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    WITH_VECTORS_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    vector: _containers.RepeatedScalarFieldContainer[float]
    limit: int
    filter: _common_pb2.Filter
    score_threshold: float
    with_payload: PayloadSelector
    with_vectors: bool
    params: SearchParams
    offset: int
    def __init__(self, vector: _Optional[_Iterable[float]] = ..., limit: _Optional[int] = ..., filter: _Optional[_Union[_common_pb2.Filter, _Mapping]] = ..., score_threshold: _Optional[float] = ..., with_payload: _Optional[_Union[PayloadSelector, _Mapping]] = ..., with_vectors: _Optional[bool] = ..., params: _Optional[_Union[SearchParams, _Mapping]] = ..., offset: _Optional[int] = ...) -> None: ...

class ScoredPoint(_message.Message):
    __slots__ = ("id", "score", "payload", "vector")
    ID_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    VECTOR_FIELD_NUMBER: _ClassVar[int]
    id: _common_pb2.PointId
    score: float
    payload: _struct_pb2.Struct
    vector: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, id: _Optional[_Union[_common_pb2.PointId, _Mapping]] = ..., score: _Optional[float] = ..., payload: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., vector: _Optional[_Iterable[float]] = ...) -> None: ...

class SearchRequest(_message.Message):
    __slots__ = ("tenant", "collection", "query")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    collection: str
    query: SearchQuery
    def __init__(self, tenant: _Optional[str] = ..., collection: _Optional[str] = ..., query: _Optional[_Union[SearchQuery, _Mapping]] = ...) -> None: ...

class SearchResponse(_message.Message):
    __slots__ = ("hits",)
    HITS_FIELD_NUMBER: _ClassVar[int]
    hits: _containers.RepeatedCompositeFieldContainer[ScoredPoint]
    def __init__(self, hits: _Optional[_Iterable[_Union[ScoredPoint, _Mapping]]] = ...) -> None: ...

class SearchBatchRequest(_message.Message):
    __slots__ = ("tenant", "collection", "queries")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    QUERIES_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    collection: str
    queries: _containers.RepeatedCompositeFieldContainer[SearchQuery]
    def __init__(self, tenant: _Optional[str] = ..., collection: _Optional[str] = ..., queries: _Optional[_Iterable[_Union[SearchQuery, _Mapping]]] = ...) -> None: ...

class SearchResult(_message.Message):
    __slots__ = ("hits",)
    HITS_FIELD_NUMBER: _ClassVar[int]
    hits: _containers.RepeatedCompositeFieldContainer[ScoredPoint]
    def __init__(self, hits: _Optional[_Iterable[_Union[ScoredPoint, _Mapping]]] = ...) -> None: ...

class SearchBatchResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[SearchResult]
    def __init__(self, results: _Optional[_Iterable[_Union[SearchResult, _Mapping]]] = ...) -> None: ...

class SnapshotInfo(_message.Message):
    __slots__ = ("name", "created_at", "size_bytes")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    name: str
    created_at: float
    size_bytes: int
    def __init__(self, name: _Optional[str] = ..., created_at: _Optional[float] = ..., size_bytes: _Optional[int] = ...) -> None: ...

class CreateSnapshotRequest(_message.Message):
    __slots__ = ("tenant", "collection")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    collection: str
    def __init__(self, tenant: _Optional[str] = ..., collection: _Optional[str] = ...) -> None: ...

class CreateSnapshotResponse(_message.Message):
    __slots__ = ("snapshot",)
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    snapshot: SnapshotInfo
    def __init__(self, snapshot: _Optional[_Union[SnapshotInfo, _Mapping]] = ...) -> None: ...

class ListSnapshotsRequest(_message.Message):
    __slots__ = ("tenant", "collection")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    collection: str
    def __init__(self, tenant: _Optional[str] = ..., collection: _Optional[str] = ...) -> None: ...

class ListSnapshotsResponse(_message.Message):
    __slots__ = ("snapshots",)
    SNAPSHOTS_FIELD_NUMBER: _ClassVar[int]
    snapshots: _containers.RepeatedCompositeFieldContainer[SnapshotInfo]
    def __init__(self, snapshots: _Optional[_Iterable[_Union[SnapshotInfo, _Mapping]]] = ...) -> None: ...

class RestoreSnapshotRequest(_message.Message):
    __slots__ = ("tenant", "collection", "snapshot")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    collection: str
    snapshot: str
    def __init__(self, tenant: _Optional[str] = ..., collection: _Optional[str] = ..., snapshot: _Optional[str] = ...) -> None: ...

class RestoreSnapshotResponse(_message.Message):
    __slots__ = ("collection",)
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    collection: CollectionInfo
    def __init__(self, collection: _Optional[_Union[CollectionInfo, _Mapping]] = ...) -> None: ...

class DeleteSnapshotRequest(_message.Message):
    __slots__ = ("tenant", "collection", "snapshot")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    collection: str
    snapshot: str
    def __init__(self, tenant: _Optional[str] = ..., collection: _Optional[str] = ..., snapshot: _Optional[str] = ...) -> None: ...

class DeleteSnapshotResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
