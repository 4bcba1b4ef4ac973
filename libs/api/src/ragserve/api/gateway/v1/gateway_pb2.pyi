from ragserve.api.common.v1 import common_pb2 as _common_pb2
from ragserve.api.embedding.v1 import embedding_pb2 as _embedding_pb2
from ragserve.api.orchestrator.v1 import orchestrator_pb2 as _orchestrator_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CreateCollectionRequest(_message.Message):
    __slots__ = ("name", "model", "indexed_metadata")
    NAME_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    INDEXED_METADATA_FIELD_NUMBER: _ClassVar[int]
    name: str
    model: str
    indexed_metadata: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., model: _Optional[str] = ..., indexed_metadata: _Optional[_Iterable[str]] = ...) -> None: ...

class CreateCollectionResponse(_message.Message):
    __slots__ = ("collection",)
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    collection: _orchestrator_pb2.CollectionSummary
    def __init__(self, collection: _Optional[_Union[_orchestrator_pb2.CollectionSummary, _Mapping]] = ...) -> None: ...

class ListCollectionsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListCollectionsResponse(_message.Message):
    __slots__ = ("collections",)
    COLLECTIONS_FIELD_NUMBER: _ClassVar[int]
    collections: _containers.RepeatedCompositeFieldContainer[_orchestrator_pb2.CollectionSummary]
    def __init__(self, collections: _Optional[_Iterable[_Union[_orchestrator_pb2.CollectionSummary, _Mapping]]] = ...) -> None: ...

class DeleteCollectionRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DeleteCollectionResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class IngestRequest(_message.Message):
    __slots__ = ("collection", "document", "chunking")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    CHUNKING_FIELD_NUMBER: _ClassVar[int]
    collection: str
    document: _orchestrator_pb2.Document
    chunking: _orchestrator_pb2.ChunkingOptions
    def __init__(self, collection: _Optional[str] = ..., document: _Optional[_Union[_orchestrator_pb2.Document, _Mapping]] = ..., chunking: _Optional[_Union[_orchestrator_pb2.ChunkingOptions, _Mapping]] = ...) -> None: ...

class IngestResponse(_message.Message):
    __slots__ = ("ack",)
    ACK_FIELD_NUMBER: _ClassVar[int]
    ack: _orchestrator_pb2.IngestResponse
    def __init__(self, ack: _Optional[_Union[_orchestrator_pb2.IngestResponse, _Mapping]] = ...) -> None: ...

class DeleteDocumentRequest(_message.Message):
    __slots__ = ("collection", "document_id")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_ID_FIELD_NUMBER: _ClassVar[int]
    collection: str
    document_id: str
    def __init__(self, collection: _Optional[str] = ..., document_id: _Optional[str] = ...) -> None: ...

class DeleteDocumentResponse(_message.Message):
    __slots__ = ("chunks_deleted",)
    CHUNKS_DELETED_FIELD_NUMBER: _ClassVar[int]
    chunks_deleted: int
    def __init__(self, chunks_deleted: _Optional[int] = ...) -> None: ...

class QueryRequest(_message.Message):
    __slots__ = ("collections", "query", "top_k", "filter", "rerank", "generate_answer")
    COLLECTIONS_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    TOP_K_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    RERANK_FIELD_NUMBER: _ClassVar[int]
    GENERATE_ANSWER_FIELD_NUMBER: _ClassVar[int]
    collections: _containers.RepeatedScalarFieldContainer[str]
    query: str
    top_k: int
    filter: _common_pb2.Filter
    rerank: bool
    generate_answer: bool
    def __init__(self, collections: _Optional[_Iterable[str]] = ..., query: _Optional[str] = ..., top_k: _Optional[int] = ..., filter: _Optional[_Union[_common_pb2.Filter, _Mapping]] = ..., rerank: _Optional[bool] = ..., generate_answer: _Optional[bool] = ...) -> None: ...

class QueryResponse(_message.Message):
    __slots__ = ("event",)
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: _orchestrator_pb2.QueryResponse
    def __init__(self, event: _Optional[_Union[_orchestrator_pb2.QueryResponse, _Mapping]] = ...) -> None: ...

class EmbedRequest(_message.Message):
    __slots__ = ("model", "texts", "truncation")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    TEXTS_FIELD_NUMBER: _ClassVar[int]
    TRUNCATION_FIELD_NUMBER: _ClassVar[int]
    model: str
    texts: _containers.RepeatedScalarFieldContainer[str]
    truncation: _common_pb2.Truncation
    def __init__(self, model: _Optional[str] = ..., texts: _Optional[_Iterable[str]] = ..., truncation: _Optional[_Union[_common_pb2.Truncation, str]] = ...) -> None: ...

class EmbedResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: _embedding_pb2.EmbedResponse
    def __init__(self, result: _Optional[_Union[_embedding_pb2.EmbedResponse, _Mapping]] = ...) -> None: ...
