import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from ragserve.api.common.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class MetadataType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    METADATA_TYPE_UNSPECIFIED: _ClassVar[MetadataType]
    METADATA_TYPE_KEYWORD: _ClassVar[MetadataType]
    METADATA_TYPE_INTEGER: _ClassVar[MetadataType]
    METADATA_TYPE_FLOAT: _ClassVar[MetadataType]
    METADATA_TYPE_BOOL: _ClassVar[MetadataType]

class IngestStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INGEST_STATUS_UNSPECIFIED: _ClassVar[IngestStatus]
    INGEST_STATUS_STORED: _ClassVar[IngestStatus]
    INGEST_STATUS_UNCHANGED: _ClassVar[IngestStatus]
    INGEST_STATUS_FAILED: _ClassVar[IngestStatus]

class IngestErrorCode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INGEST_ERROR_CODE_UNSPECIFIED: _ClassVar[IngestErrorCode]
    INGEST_ERROR_CODE_INVALID_ARGUMENT: _ClassVar[IngestErrorCode]
    INGEST_ERROR_CODE_UNPARSABLE: _ClassVar[IngestErrorCode]
    INGEST_ERROR_CODE_UNAVAILABLE: _ClassVar[IngestErrorCode]
    INGEST_ERROR_CODE_RESOURCE_EXHAUSTED: _ClassVar[IngestErrorCode]
    INGEST_ERROR_CODE_DEADLINE_EXCEEDED: _ClassVar[IngestErrorCode]
    INGEST_ERROR_CODE_FAILED_PRECONDITION: _ClassVar[IngestErrorCode]
    INGEST_ERROR_CODE_INTERNAL: _ClassVar[IngestErrorCode]

class Generator(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    GENERATOR_UNSPECIFIED: _ClassVar[Generator]
    GENERATOR_EXTRACTIVE: _ClassVar[Generator]
    GENERATOR_CHAT: _ClassVar[Generator]

class WarningCode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WARNING_CODE_UNSPECIFIED: _ClassVar[WarningCode]
    WARNING_CODE_COLLECTION_FAILED: _ClassVar[WarningCode]
    WARNING_CODE_GENERATOR_FAILED: _ClassVar[WarningCode]
    WARNING_CODE_ANSWER_TRUNCATED: _ClassVar[WarningCode]

class Stage(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STAGE_UNSPECIFIED: _ClassVar[Stage]
    STAGE_EMBED: _ClassVar[Stage]
    STAGE_SEARCH: _ClassVar[Stage]
    STAGE_MERGE: _ClassVar[Stage]
    STAGE_MMR: _ClassVar[Stage]
    STAGE_GENERATE: _ClassVar[Stage]
METADATA_TYPE_UNSPECIFIED: MetadataType
METADATA_TYPE_KEYWORD: MetadataType
METADATA_TYPE_INTEGER: MetadataType
METADATA_TYPE_FLOAT: MetadataType
METADATA_TYPE_BOOL: MetadataType
INGEST_STATUS_UNSPECIFIED: IngestStatus
INGEST_STATUS_STORED: IngestStatus
INGEST_STATUS_UNCHANGED: IngestStatus
INGEST_STATUS_FAILED: IngestStatus
INGEST_ERROR_CODE_UNSPECIFIED: IngestErrorCode
INGEST_ERROR_CODE_INVALID_ARGUMENT: IngestErrorCode
INGEST_ERROR_CODE_UNPARSABLE: IngestErrorCode
INGEST_ERROR_CODE_UNAVAILABLE: IngestErrorCode
INGEST_ERROR_CODE_RESOURCE_EXHAUSTED: IngestErrorCode
INGEST_ERROR_CODE_DEADLINE_EXCEEDED: IngestErrorCode
INGEST_ERROR_CODE_FAILED_PRECONDITION: IngestErrorCode
INGEST_ERROR_CODE_INTERNAL: IngestErrorCode
GENERATOR_UNSPECIFIED: Generator
GENERATOR_EXTRACTIVE: Generator
GENERATOR_CHAT: Generator
WARNING_CODE_UNSPECIFIED: WarningCode
WARNING_CODE_COLLECTION_FAILED: WarningCode
WARNING_CODE_GENERATOR_FAILED: WarningCode
WARNING_CODE_ANSWER_TRUNCATED: WarningCode
STAGE_UNSPECIFIED: Stage
STAGE_EMBED: Stage
STAGE_SEARCH: Stage
STAGE_MERGE: Stage
STAGE_MMR: Stage
STAGE_GENERATE: Stage

class IndexedMetadataField(_message.Message):
    __slots__ = ("key", "type")
    KEY_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    key: str
    type: MetadataType
    def __init__(self, key: _Optional[str] = ..., type: _Optional[_Union[MetadataType, str]] = ...) -> None: ...

class CollectionSummary(_message.Message):
    __slots__ = ("name", "model", "dimension", "chunks_count", "indexed_metadata", "documents_count", "created_at")
    NAME_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_COUNT_FIELD_NUMBER: _ClassVar[int]
    INDEXED_METADATA_FIELD_NUMBER: _ClassVar[int]
    DOCUMENTS_COUNT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    name: str
    model: str
    dimension: int
    chunks_count: int
    indexed_metadata: _containers.RepeatedCompositeFieldContainer[IndexedMetadataField]
    documents_count: int
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., model: _Optional[str] = ..., dimension: _Optional[int] = ..., chunks_count: _Optional[int] = ..., indexed_metadata: _Optional[_Iterable[_Union[IndexedMetadataField, _Mapping]]] = ..., documents_count: _Optional[int] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateCollectionRequest(_message.Message):
    __slots__ = ("tenant", "name", "model", "indexed_metadata")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    INDEXED_METADATA_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    name: str
    model: str
    indexed_metadata: _containers.RepeatedCompositeFieldContainer[IndexedMetadataField]
    def __init__(self, tenant: _Optional[str] = ..., name: _Optional[str] = ..., model: _Optional[str] = ..., indexed_metadata: _Optional[_Iterable[_Union[IndexedMetadataField, _Mapping]]] = ...) -> None: ...

class CreateCollectionResponse(_message.Message):
    __slots__ = ("collection",)
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    collection: CollectionSummary
    def __init__(self, collection: _Optional[_Union[CollectionSummary, _Mapping]] = ...) -> None: ...

class GetCollectionRequest(_message.Message):
    __slots__ = ("tenant", "name")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    name: str
    def __init__(self, tenant: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class GetCollectionResponse(_message.Message):
    __slots__ = ("collection",)
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    collection: CollectionSummary
    def __init__(self, collection: _Optional[_Union[CollectionSummary, _Mapping]] = ...) -> None: ...

class ListCollectionsRequest(_message.Message):
    __slots__ = ("tenant",)
    TENANT_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    def __init__(self, tenant: _Optional[str] = ...) -> None: ...

class ListCollectionsResponse(_message.Message):
    __slots__ = ("collections",)
    COLLECTIONS_FIELD_NUMBER: _ClassVar[int]
    collections: _containers.RepeatedCompositeFieldContainer[CollectionSummary]
    def __init__(self, collections: _Optional[_Iterable[_Union[CollectionSummary, _Mapping]]] = ...) -> None: ...

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

class Document(_message.Message):
    __slots__ = ("id", "text", "data", "media_type", "metadata")
    ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    MEDIA_TYPE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    id: str
    text: str
    data: bytes
    media_type: str
    metadata: _struct_pb2.Struct
    def __init__(self, id: _Optional[str] = ..., text: _Optional[str] = ..., data: _Optional[bytes] = ..., media_type: _Optional[str] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class ChunkingOptions(_message.Message):
    __slots__ = ("max_tokens", "overlap_tokens")
    MAX_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OVERLAP_TOKENS_FIELD_NUMBER: _ClassVar[int]
    max_tokens: int
    overlap_tokens: int
    def __init__(self, max_tokens: _Optional[int] = ..., overlap_tokens: _Optional[int] = ...) -> None: ...

class IngestConfig(_message.Message):
    __slots__ = ("tenant", "collection", "chunking", "priority")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    CHUNKING_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    collection: str
    chunking: ChunkingOptions
    priority: _common_pb2.Priority
    def __init__(self, tenant: _Optional[str] = ..., collection: _Optional[str] = ..., chunking: _Optional[_Union[ChunkingOptions, _Mapping]] = ..., priority: _Optional[_Union[_common_pb2.Priority, str]] = ...) -> None: ...

class IngestItem(_message.Message):
    __slots__ = ("sequence", "document")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    document: Document
    def __init__(self, sequence: _Optional[int] = ..., document: _Optional[_Union[Document, _Mapping]] = ...) -> None: ...

class IngestRequest(_message.Message):
    __slots__ = ("config", "item")
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    ITEM_FIELD_NUMBER: _ClassVar[int]
    config: IngestConfig
    item: IngestItem
    def __init__(self, config: _Optional[_Union[IngestConfig, _Mapping]] = ..., item: _Optional[_Union[IngestItem, _Mapping]] = ...) -> None: ...

class IngestError(_message.Message):
    __slots__ = ("code", "message", "retryable", "retry_delay")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    RETRYABLE_FIELD_NUMBER: _ClassVar[int]
    RETRY_DELAY_FIELD_NUMBER: _ClassVar[int]
    code: IngestErrorCode
    message: str
    retryable: bool
    retry_delay: _duration_pb2.Duration
    def __init__(self, code: _Optional[_Union[IngestErrorCode, str]] = ..., message: _Optional[str] = ..., retryable: _Optional[bool] = ..., retry_delay: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class IngestResponse(_message.Message):
    __slots__ = ("sequence", "collection", "document_id", "status", "chunks", "content_hash", "error")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_FIELD_NUMBER: _ClassVar[int]
    CONTENT_HASH_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    collection: str
    document_id: str
    status: IngestStatus
    chunks: int
    content_hash: str
    error: IngestError
    def __init__(self, sequence: _Optional[int] = ..., collection: _Optional[str] = ..., document_id: _Optional[str] = ..., status: _Optional[_Union[IngestStatus, str]] = ..., chunks: _Optional[int] = ..., content_hash: _Optional[str] = ..., error: _Optional[_Union[IngestError, _Mapping]] = ...) -> None: ...

class DeleteDocumentRequest(_message.Message):
    __slots__ = ("tenant", "collection", "document_id")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_ID_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    collection: str
    document_id: str
    def __init__(self, tenant: _Optional[str] = ..., collection: _Optional[str] = ..., document_id: _Optional[str] = ...) -> None: ...

class DeleteDocumentResponse(_message.Message):
    __slots__ = ("chunks_deleted",)
    CHUNKS_DELETED_FIELD_NUMBER: _ClassVar[int]
    chunks_deleted: int
    def __init__(self, chunks_deleted: _Optional[int] = ...) -> None: ...

class ListDocumentsRequest(_message.Message):
    __slots__ = ("tenant", "collection", "page_size", "page_token")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    collection: str
    page_size: int
    page_token: str
    def __init__(self, tenant: _Optional[str] = ..., collection: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class DocumentInfo(_message.Message):
    __slots__ = ("id", "chunks", "content_hash", "ingested_at", "media_type", "metadata")
    ID_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_FIELD_NUMBER: _ClassVar[int]
    CONTENT_HASH_FIELD_NUMBER: _ClassVar[int]
    INGESTED_AT_FIELD_NUMBER: _ClassVar[int]
    MEDIA_TYPE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    id: str
    chunks: int
    content_hash: str
    ingested_at: _timestamp_pb2.Timestamp
    media_type: str
    metadata: _struct_pb2.Struct
    def __init__(self, id: _Optional[str] = ..., chunks: _Optional[int] = ..., content_hash: _Optional[str] = ..., ingested_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., media_type: _Optional[str] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class ListDocumentsResponse(_message.Message):
    __slots__ = ("documents", "next_page_token")
    DOCUMENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    documents: _containers.RepeatedCompositeFieldContainer[DocumentInfo]
    next_page_token: str
    def __init__(self, documents: _Optional[_Iterable[_Union[DocumentInfo, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class MmrOptions(_message.Message):
    __slots__ = ("diversity", "candidates")
    DIVERSITY_FIELD_NUMBER: _ClassVar[int]
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    diversity: float
    candidates: int
    def __init__(self, diversity: _Optional[float] = ..., candidates: _Optional[int] = ...) -> None: ...

class AnswerOptions(_message.Message):
    __slots__ = ("generator", "max_answer_tokens", "max_context_chunks")
    GENERATOR_FIELD_NUMBER: _ClassVar[int]
    MAX_ANSWER_TOKENS_FIELD_NUMBER: _ClassVar[int]
    MAX_CONTEXT_CHUNKS_FIELD_NUMBER: _ClassVar[int]
    generator: Generator
    max_answer_tokens: int
    max_context_chunks: int
    def __init__(self, generator: _Optional[_Union[Generator, str]] = ..., max_answer_tokens: _Optional[int] = ..., max_context_chunks: _Optional[int] = ...) -> None: ...

class QueryRequest(_message.Message):
    __slots__ = ("tenant", "collections", "query", "top_k", "offset", "filter", "score_threshold", "mmr", "answer", "allow_partial_results", "priority")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    COLLECTIONS_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    TOP_K_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    SCORE_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    MMR_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    ALLOW_PARTIAL_RESULTS_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    collections: _containers.RepeatedScalarFieldContainer[str]
    query: str
    top_k: int
    offset: int
    filter: _common_pb2.Filter
    score_threshold: float
    mmr: MmrOptions
    answer: AnswerOptions
    allow_partial_results: bool
    priority: _common_pb2.Priority
    def __init__(self, tenant: _Optional[str] = ..., collections: _Optional[_Iterable[str]] = ..., query: _Optional[str] = ..., top_k: _Optional[int] = ..., offset: _Optional[int] = ..., filter: _Optional[_Union[_common_pb2.Filter, _Mapping]] = ..., score_threshold: _Optional[float] = ..., mmr: _Optional[_Union[MmrOptions, _Mapping]] = ..., answer: _Optional[_Union[AnswerOptions, _Mapping]] = ..., allow_partial_results: _Optional[bool] = ..., priority: _Optional[_Union[_common_pb2.Priority, str]] = ...) -> None: ...

class StartEvent(_message.Message):
    __slots__ = ("trace_id",)
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    trace_id: str
    def __init__(self, trace_id: _Optional[str] = ...) -> None: ...

class Hit(_message.Message):
    __slots__ = ("collection", "document_id", "chunk_index", "text", "score", "metadata", "start", "end", "page", "heading_path", "media_type")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_ID_FIELD_NUMBER: _ClassVar[int]
    CHUNK_INDEX_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    HEADING_PATH_FIELD_NUMBER: _ClassVar[int]
    MEDIA_TYPE_FIELD_NUMBER: _ClassVar[int]
    collection: str
    document_id: str
    chunk_index: int
    text: str
    score: float
    metadata: _struct_pb2.Struct
    start: int
    end: int
    page: int
    heading_path: _containers.RepeatedScalarFieldContainer[str]
    media_type: str
    def __init__(self, collection: _Optional[str] = ..., document_id: _Optional[str] = ..., chunk_index: _Optional[int] = ..., text: _Optional[str] = ..., score: _Optional[float] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., start: _Optional[int] = ..., end: _Optional[int] = ..., page: _Optional[int] = ..., heading_path: _Optional[_Iterable[str]] = ..., media_type: _Optional[str] = ...) -> None: ...

class HitsEvent(_message.Message):
    __slots__ = ("hits",)
    HITS_FIELD_NUMBER: _ClassVar[int]
    hits: _containers.RepeatedCompositeFieldContainer[Hit]
    def __init__(self, hits: _Optional[_Iterable[_Union[Hit, _Mapping]]] = ...) -> None: ...

class AnswerDeltaEvent(_message.Message):
    __slots__ = ("text_delta",)
    TEXT_DELTA_FIELD_NUMBER: _ClassVar[int]
    text_delta: str
    def __init__(self, text_delta: _Optional[str] = ...) -> None: ...

class CitationEvent(_message.Message):
    __slots__ = ("hit_index", "answer_start", "answer_end", "source_start", "source_end")
    HIT_INDEX_FIELD_NUMBER: _ClassVar[int]
    ANSWER_START_FIELD_NUMBER: _ClassVar[int]
    ANSWER_END_FIELD_NUMBER: _ClassVar[int]
    SOURCE_START_FIELD_NUMBER: _ClassVar[int]
    SOURCE_END_FIELD_NUMBER: _ClassVar[int]
    hit_index: int
    answer_start: int
    answer_end: int
    source_start: int
    source_end: int
    def __init__(self, hit_index: _Optional[int] = ..., answer_start: _Optional[int] = ..., answer_end: _Optional[int] = ..., source_start: _Optional[int] = ..., source_end: _Optional[int] = ...) -> None: ...

class WarningEvent(_message.Message):
    __slots__ = ("code", "subject", "message")
    CODE_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: WarningCode
    subject: str
    message: str
    def __init__(self, code: _Optional[_Union[WarningCode, str]] = ..., subject: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class StageTiming(_message.Message):
    __slots__ = ("stage", "collection", "duration_ms")
    STAGE_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    stage: Stage
    collection: str
    duration_ms: float
    def __init__(self, stage: _Optional[_Union[Stage, str]] = ..., collection: _Optional[str] = ..., duration_ms: _Optional[float] = ...) -> None: ...

class Usage(_message.Message):
    __slots__ = ("embedding_tokens", "prompt_tokens", "completion_tokens")
    EMBEDDING_TOKENS_FIELD_NUMBER: _ClassVar[int]
    PROMPT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    COMPLETION_TOKENS_FIELD_NUMBER: _ClassVar[int]
    embedding_tokens: int
    prompt_tokens: int
    completion_tokens: int
    def __init__(self, embedding_tokens: _Optional[int] = ..., prompt_tokens: _Optional[int] = ..., completion_tokens: _Optional[int] = ...) -> None: ...

class DoneEvent(_message.Message):
    __slots__ = ("timings", "usage", "embedding_cached", "generator", "total_ms")
    TIMINGS_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    EMBEDDING_CACHED_FIELD_NUMBER: _ClassVar[int]
    GENERATOR_FIELD_NUMBER: _ClassVar[int]
    TOTAL_MS_FIELD_NUMBER: _ClassVar[int]
    timings: _containers.RepeatedCompositeFieldContainer[StageTiming]
    usage: Usage
    embedding_cached: bool
    generator: Generator
    total_ms: float
    def __init__(self, timings: _Optional[_Iterable[_Union[StageTiming, _Mapping]]] = ..., usage: _Optional[_Union[Usage, _Mapping]] = ..., embedding_cached: _Optional[bool] = ..., generator: _Optional[_Union[Generator, str]] = ..., total_ms: _Optional[float] = ...) -> None: ...

class QueryResponse(_message.Message):
    __slots__ = ("start", "hits", "answer", "citation", "warning", "done")
    START_FIELD_NUMBER: _ClassVar[int]
    HITS_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    CITATION_FIELD_NUMBER: _ClassVar[int]
    WARNING_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    start: StartEvent
    hits: HitsEvent
    answer: AnswerDeltaEvent
    citation: CitationEvent
    warning: WarningEvent
    done: DoneEvent
    def __init__(self, start: _Optional[_Union[StartEvent, _Mapping]] = ..., hits: _Optional[_Union[HitsEvent, _Mapping]] = ..., answer: _Optional[_Union[AnswerDeltaEvent, _Mapping]] = ..., citation: _Optional[_Union[CitationEvent, _Mapping]] = ..., warning: _Optional[_Union[WarningEvent, _Mapping]] = ..., done: _Optional[_Union[DoneEvent, _Mapping]] = ...) -> None: ...
