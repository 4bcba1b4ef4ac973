"""The orchestrator's domain values: what the servicer converts protos to and from."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from typing import Any


class MetadataType(StrEnum):
    KEYWORD = "keyword"
    INTEGER = "integer"
    FLOAT = "float"
    BOOL = "bool"


@dataclass(frozen=True, slots=True)
class IndexedField:
    """A document metadata key indexed for filtering, with the type its values must have."""

    key: str
    type: MetadataType


@dataclass(frozen=True, slots=True)
class CollectionRecord:
    """What the orchestrator remembers of a collection: the model it is bound to."""

    name: str
    model: str
    dimension: int
    indexed: tuple[IndexedField, ...] = ()
    # Seconds since the epoch.
    created_at: float = 0.0


@dataclass(frozen=True, slots=True)
class CollectionView:
    record: CollectionRecord
    chunks_count: int
    documents_count: int


@dataclass(frozen=True, slots=True)
class ChunkingOptions:
    # 0: the default.
    max_tokens: int = 0
    # None: the default.
    overlap_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class IngestConfig:
    tenant: str
    collection: str
    chunking: ChunkingOptions = field(default_factory=ChunkingOptions)
    # 0 high, 1 normal, 2 low (passed on to the router).
    priority: int = 1


@dataclass(frozen=True, slots=True)
class DocumentInput:
    """A document as sent. ``content`` is the text's UTF-8 or the raw bytes; ``metadata``
    is the Struct as Python values (numbers as floats, possibly not finite: validated)."""

    id: str
    content: bytes
    media_type: str
    metadata: Mapping[str, Any]
    # False when the request carried no content at all.
    has_content: bool = True


@dataclass(frozen=True, slots=True)
class IngestItem:
    sequence: int
    # None when the request carried no document.
    document: DocumentInput | None


class AckStatus(Enum):
    STORED = "stored"
    UNCHANGED = "unchanged"
    FAILED = "failed"


class FailureCode(Enum):
    INVALID_ARGUMENT = "invalid_argument"
    UNPARSABLE = "unparsable"
    UNAVAILABLE = "unavailable"
    RESOURCE_EXHAUSTED = "resource_exhausted"
    DEADLINE_EXCEEDED = "deadline_exceeded"
    FAILED_PRECONDITION = "failed_precondition"
    INTERNAL = "internal"


@dataclass(frozen=True, slots=True)
class Failure:
    code: FailureCode
    message: str
    retryable: bool
    retry_delay_s: float | None = None


@dataclass(frozen=True, slots=True)
class Ack:
    """The one acknowledgement a document gets."""

    sequence: int
    collection: str
    document_id: str
    status: AckStatus
    chunks: int = 0
    content_hash: str = ""
    failure: Failure | None = None


@dataclass(frozen=True, slots=True)
class DocumentInfo:
    id: str
    chunks: int
    content_hash: str
    # Seconds since the epoch.
    ingested_at: float
    media_type: str
    metadata: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class DocumentPage:
    documents: Sequence[DocumentInfo]
    # Empty on the last page.
    next_page_token: str
