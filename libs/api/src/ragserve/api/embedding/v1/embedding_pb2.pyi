from ragserve.api.common.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class BreakerState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BREAKER_STATE_UNSPECIFIED: _ClassVar[BreakerState]
    BREAKER_STATE_CLOSED: _ClassVar[BreakerState]
    BREAKER_STATE_OPEN: _ClassVar[BreakerState]
    BREAKER_STATE_HALF_OPEN: _ClassVar[BreakerState]
BREAKER_STATE_UNSPECIFIED: BreakerState
BREAKER_STATE_CLOSED: BreakerState
BREAKER_STATE_OPEN: BreakerState
BREAKER_STATE_HALF_OPEN: BreakerState

class EmbedRequest(_message.Message):
    __slots__ = ("tenant", "model", "texts", "priority", "truncation", "bypass_cache")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    TEXTS_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    TRUNCATION_FIELD_NUMBER: _ClassVar[int]
    BYPASS_CACHE_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    model: str
    texts: _containers.RepeatedScalarFieldContainer[str]
    priority: _common_pb2.Priority
    truncation: _common_pb2.Truncation
    bypass_cache: bool
    def __init__(self, tenant: _Optional[str] = ..., model: _Optional[str] = ..., texts: _Optional[_Iterable[str]] = ..., priority: _Optional[_Union[_common_pb2.Priority, str]] = ..., truncation: _Optional[_Union[_common_pb2.Truncation, str]] = ..., bypass_cache: _Optional[bool] = ...) -> None: ...

class Embedding(_message.Message):
    __slots__ = ("vector", "provider", "cached", "tokens", "cost_usd", "tokens_estimated")
    VECTOR_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    CACHED_FIELD_NUMBER: _ClassVar[int]
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    COST_USD_FIELD_NUMBER: _ClassVar[int]
    TOKENS_ESTIMATED_FIELD_NUMBER: _ClassVar[int]
    vector: _containers.RepeatedScalarFieldContainer[float]
    provider: str
    cached: bool
    tokens: int
    cost_usd: float
    tokens_estimated: bool
    def __init__(self, vector: _Optional[_Iterable[float]] = ..., provider: _Optional[str] = ..., cached: _Optional[bool] = ..., tokens: _Optional[int] = ..., cost_usd: _Optional[float] = ..., tokens_estimated: _Optional[bool] = ...) -> None: ...

class EmbedResponse(_message.Message):
    __slots__ = ("model", "model_version", "dimension", "embeddings", "total_cost_usd")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    EMBEDDINGS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_COST_USD_FIELD_NUMBER: _ClassVar[int]
    model: str
    model_version: str
    dimension: int
    embeddings: _containers.RepeatedCompositeFieldContainer[Embedding]
    total_cost_usd: float
    def __init__(self, model: _Optional[str] = ..., model_version: _Optional[str] = ..., dimension: _Optional[int] = ..., embeddings: _Optional[_Iterable[_Union[Embedding, _Mapping]]] = ..., total_cost_usd: _Optional[float] = ...) -> None: ...

class EmbedStreamRequest(_message.Message):
    __slots__ = ("tenant", "model", "batch_id", "texts", "priority", "truncation")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    TEXTS_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    TRUNCATION_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    model: str
    batch_id: str
    texts: _containers.RepeatedScalarFieldContainer[str]
    priority: _common_pb2.Priority
    truncation: _common_pb2.Truncation
    def __init__(self, tenant: _Optional[str] = ..., model: _Optional[str] = ..., batch_id: _Optional[str] = ..., texts: _Optional[_Iterable[str]] = ..., priority: _Optional[_Union[_common_pb2.Priority, str]] = ..., truncation: _Optional[_Union[_common_pb2.Truncation, str]] = ...) -> None: ...

class EmbedStreamResponse(_message.Message):
    __slots__ = ("batch_id", "model_version", "embeddings", "total_cost_usd")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    EMBEDDINGS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_COST_USD_FIELD_NUMBER: _ClassVar[int]
    batch_id: str
    model_version: str
    embeddings: _containers.RepeatedCompositeFieldContainer[Embedding]
    total_cost_usd: float
    def __init__(self, batch_id: _Optional[str] = ..., model_version: _Optional[str] = ..., embeddings: _Optional[_Iterable[_Union[Embedding, _Mapping]]] = ..., total_cost_usd: _Optional[float] = ...) -> None: ...

class ListModelsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ModelInfo(_message.Message):
    __slots__ = ("id", "version", "dimension", "normalized", "max_tokens", "providers")
    ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    NORMALIZED_FIELD_NUMBER: _ClassVar[int]
    MAX_TOKENS_FIELD_NUMBER: _ClassVar[int]
    PROVIDERS_FIELD_NUMBER: _ClassVar[int]
    id: str
    version: str
    dimension: int
    normalized: bool
    max_tokens: int
    providers: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, id: _Optional[str] = ..., version: _Optional[str] = ..., dimension: _Optional[int] = ..., normalized: _Optional[bool] = ..., max_tokens: _Optional[int] = ..., providers: _Optional[_Iterable[str]] = ...) -> None: ...

class ListModelsResponse(_message.Message):
    __slots__ = ("models",)
    MODELS_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[ModelInfo]
    def __init__(self, models: _Optional[_Iterable[_Union[ModelInfo, _Mapping]]] = ...) -> None: ...

class GetProviderStatusRequest(_message.Message):
    __slots__ = ("model",)
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: str
    def __init__(self, model: _Optional[str] = ...) -> None: ...

class ProviderStatus(_message.Message):
    __slots__ = ("id", "model", "kind", "breaker", "latency_ms", "error_rate", "in_flight", "price_per_1k_tokens", "retry_in_s", "external", "throttled_for_s", "calls")
    ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    BREAKER_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    ERROR_RATE_FIELD_NUMBER: _ClassVar[int]
    IN_FLIGHT_FIELD_NUMBER: _ClassVar[int]
    PRICE_PER_1K_TOKENS_FIELD_NUMBER: _ClassVar[int]
    RETRY_IN_S_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_FIELD_NUMBER: _ClassVar[int]
    THROTTLED_FOR_S_FIELD_NUMBER: _ClassVar[int]
    CALLS_FIELD_NUMBER: _ClassVar[int]
    id: str
    model: str
    kind: str
    breaker: BreakerState
    latency_ms: float
    error_rate: float
    in_flight: int
    price_per_1k_tokens: float
    retry_in_s: float
    external: bool
    throttled_for_s: float
    calls: int
    def __init__(self, id: _Optional[str] = ..., model: _Optional[str] = ..., kind: _Optional[str] = ..., breaker: _Optional[_Union[BreakerState, str]] = ..., latency_ms: _Optional[float] = ..., error_rate: _Optional[float] = ..., in_flight: _Optional[int] = ..., price_per_1k_tokens: _Optional[float] = ..., retry_in_s: _Optional[float] = ..., external: _Optional[bool] = ..., throttled_for_s: _Optional[float] = ..., calls: _Optional[int] = ...) -> None: ...

class GetProviderStatusResponse(_message.Message):
    __slots__ = ("providers", "cache_available", "cache_detail")
    PROVIDERS_FIELD_NUMBER: _ClassVar[int]
    CACHE_AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    CACHE_DETAIL_FIELD_NUMBER: _ClassVar[int]
    providers: _containers.RepeatedCompositeFieldContainer[ProviderStatus]
    cache_available: bool
    cache_detail: str
    def __init__(self, providers: _Optional[_Iterable[_Union[ProviderStatus, _Mapping]]] = ..., cache_available: _Optional[bool] = ..., cache_detail: _Optional[str] = ...) -> None: ...

class GetTokenizerRequest(_message.Message):
    __slots__ = ("model",)
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: str
    def __init__(self, model: _Optional[str] = ...) -> None: ...

class GetTokenizerResponse(_message.Message):
    __slots__ = ("model", "model_version", "dimension", "max_tokens", "tokenizer_json")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    MAX_TOKENS_FIELD_NUMBER: _ClassVar[int]
    TOKENIZER_JSON_FIELD_NUMBER: _ClassVar[int]
    model: str
    model_version: str
    dimension: int
    max_tokens: int
    tokenizer_json: str
    def __init__(self, model: _Optional[str] = ..., model_version: _Optional[str] = ..., dimension: _Optional[int] = ..., max_tokens: _Optional[int] = ..., tokenizer_json: _Optional[str] = ...) -> None: ...
