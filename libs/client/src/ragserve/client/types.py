"""Typed results of the SDK: plain dataclasses, no protobuf messages."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Permission(StrEnum):
    READ = "read"
    WRITE = "write"
    ADMIN = "admin"


class IngestStatus(StrEnum):
    STORED = "stored"
    UNCHANGED = "unchanged"
    FAILED = "failed"


@dataclass(frozen=True)
class Collection:
    name: str
    model: str
    dimension: int
    documents: int
    chunks: int
    created_at: datetime | None


@dataclass(frozen=True)
class DocumentInfo:
    id: str
    chunks: int
    content_hash: str
    media_type: str
    ingested_at: datetime | None
    metadata: dict[str, Any]


@dataclass(frozen=True)
class ApiKey:
    id: str
    tenant: str
    permissions: tuple[Permission, ...]
    description: str
    created_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class CreatedKey:
    """A new key; ``secret`` is shown once and cannot be read back from the gateway."""

    key: ApiKey
    secret: str


@dataclass(frozen=True)
class ChunkSource:
    char_start: int
    char_end: int
    # 1-based PDF page; 0 = not a paged document.
    page: int
    # Headings above the chunk, outermost first.
    heading_path: tuple[str, ...]


@dataclass(frozen=True)
class Hit:
    collection: str
    document_id: str
    chunk_index: int
    text: str
    score: float
    media_type: str
    source: ChunkSource
    metadata: dict[str, Any]


@dataclass(frozen=True)
class StageTiming:
    # "embed", "search", "merge", "diversity", "generate".
    stage: str
    # Set for "search": the collection searched.
    collection: str
    duration_ms: float


# ---- query events, in the order a stream sends them


@dataclass(frozen=True)
class QueryStarted:
    trace_id: str


@dataclass(frozen=True)
class QueryHits:
    hits: tuple[Hit, ...]


@dataclass(frozen=True)
class AnswerDelta:
    text: str


@dataclass(frozen=True)
class Citation:
    # Index of the supporting hit in the QueryHits event.
    hit_index: int
    answer_start: int
    answer_end: int
    source_start: int
    source_end: int


@dataclass(frozen=True)
class QueryWarning:
    # "collection_failed", "generator_failed", "answer_truncated".
    code: str
    subject: str
    message: str


@dataclass(frozen=True)
class QueryDone:
    timings: tuple[StageTiming, ...]
    total_ms: float
    # "extractive", "chat", or "" without an answer.
    generator: str
    embedding_tokens: int
    prompt_tokens: int
    completion_tokens: int


QueryEvent = QueryStarted | QueryHits | AnswerDelta | Citation | QueryWarning | QueryDone


@dataclass
class QueryResult:
    """A whole query stream gathered: what :meth:`Client.ask` returns."""

    trace_id: str = ""
    hits: list[Hit] = field(default_factory=list)
    answer: str = ""
    citations: list[Citation] = field(default_factory=list)
    warnings: list[QueryWarning] = field(default_factory=list)
    done: QueryDone | None = None

    @classmethod
    def of(cls, events: Iterable[QueryEvent]) -> QueryResult:
        result = cls()
        for event in events:
            result.add(event)
        return result

    def add(self, event: QueryEvent) -> None:
        if isinstance(event, QueryStarted):
            self.trace_id = event.trace_id
        elif isinstance(event, QueryHits):
            self.hits.extend(event.hits)
        elif isinstance(event, AnswerDelta):
            self.answer += event.text
        elif isinstance(event, Citation):
            self.citations.append(event)
        elif isinstance(event, QueryWarning):
            self.warnings.append(event)
        else:
            self.done = event

    def cited_hits(self) -> list[Hit]:
        """The hits the answer cites, in order of first citation (all hits without citations)."""
        indexes: list[int] = []
        for citation in self.citations:
            if citation.hit_index not in indexes and citation.hit_index < len(self.hits):
                indexes.append(citation.hit_index)
        return [self.hits[i] for i in indexes] if indexes else list(self.hits)


# ---- ingest


@dataclass(frozen=True)
class IngestAck:
    """The outcome of one document."""

    sequence: int
    document_id: str
    status: IngestStatus
    chunks: int
    # Bytes of the document's content as sent.
    size: int
    # Set when FAILED: the error code ("unparsable", "invalid_argument", ...) and why.
    error_code: str = ""
    error: str = ""
    retryable: bool = False
    # False when the document was not sent: the collection already had it, unchanged.
    sent: bool = True


@dataclass
class IngestSummary:
    collection: str
    acks: list[IngestAck] = field(default_factory=list)
    # Streams opened: more than one when a lost stream was resumed.
    streams: int = 0

    def count(self, status: IngestStatus) -> int:
        return sum(1 for ack in self.acks if ack.status is status)

    @property
    def stored(self) -> int:
        return self.count(IngestStatus.STORED)

    @property
    def unchanged(self) -> int:
        return self.count(IngestStatus.UNCHANGED)

    @property
    def failed(self) -> list[IngestAck]:
        return [ack for ack in self.acks if ack.status is IngestStatus.FAILED]
