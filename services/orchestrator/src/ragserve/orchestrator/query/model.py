"""Domain objects of a query: the request, the hits and the events streamed back."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float32]


class GeneratorKind(enum.Enum):
    EXTRACTIVE = "extractive"
    CHAT = "chat"


@dataclass(frozen=True)
class MmrOptions:
    """Maximal marginal relevance: ``diversity`` 0 = pure relevance, 1 = pure novelty."""

    diversity: float
    # Hits fetched per collection (with their vectors) to choose from; the pipeline
    # fetches at least up to the page end.
    candidates: int


@dataclass(frozen=True)
class AnswerOptions:
    generator: GeneratorKind = GeneratorKind.EXTRACTIVE
    # Upper bound of the answer's length in tokens (chat) or characters / 4 (extractive).
    max_tokens: int = 512
    # Hits given to the generator, best first.
    max_context_chunks: int = 5


@dataclass(frozen=True)
class QueryRequest:
    tenant: str
    collections: tuple[str, ...]
    text: str
    top_k: int = 5
    # Opaque to the pipeline: handed to the searcher as given (a retrieval filter).
    filter: Any = None
    # Hits scoring below it are dropped (cosine similarity, higher is nearer).
    score_threshold: float | None = None
    mmr: MmrOptions | None = None
    # None: hits only, no answer.
    answer: AnswerOptions | None = None
    # Hits to skip first (paging), counted after merge, threshold and MMR.
    offset: int = 0
    # One of several collections failing gives a warning instead of an error.
    allow_partial: bool = False
    priority: int = 0
    # Absolute time.monotonic() deadline of the whole query; None: no deadline.
    deadline: float | None = None


@dataclass(frozen=True)
class ChunkLocation:
    """Where a chunk came from in its document's extracted text."""

    # Character offsets [start, end) in the document's extracted text.
    start: int = 0
    end: int = 0
    # 1-based PDF page; None where the document has no pages.
    page: int | None = None
    # Enclosing headings, outermost first (Markdown / HTML).
    heading_path: tuple[str, ...] = ()


@dataclass(frozen=True)
class Hit:
    collection: str
    point_id: str
    document_id: str
    chunk_index: int
    text: str
    score: float
    location: ChunkLocation = ChunkLocation()
    metadata: Mapping[str, Any] = field(default_factory=dict)
    # The document's media type (text/markdown, application/pdf, ...).
    media_type: str = ""
    # Only when MMR needed it; never sent to the client.
    vector: Vector | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class QueryEmbedding:
    vector: Vector
    model_version: str = ""
    cached: bool = False
    tokens: int = 0


@dataclass(frozen=True)
class SearchSpec:
    """One collection's search, as the pipeline asks for it."""

    vector: Vector
    limit: int
    filter: Any = None
    score_threshold: float | None = None
    with_vectors: bool = False


# ---- events, in the order a query streams them ----


@dataclass(frozen=True)
class HitsEvent:
    hits: tuple[Hit, ...]


@dataclass(frozen=True)
class AnswerDelta:
    text: str


@dataclass(frozen=True)
class Citation:
    """The answer span [answer_start, answer_end) is supported by ``hits[hit_index]``.

    ``chunk_start``/``chunk_end`` locate the supporting text inside the hit's chunk
    text; the document offsets add the chunk's own start in its document.
    """

    hit_index: int
    answer_start: int
    answer_end: int
    chunk_start: int
    chunk_end: int
    document_start: int
    document_end: int


class WarningKind(enum.Enum):
    # A collection failed; the answer comes from the others.
    COLLECTION_FAILED = "collection_failed"
    # The requested generator failed; the answer comes from the extractive one.
    GENERATOR_FAILED = "generator_failed"
    # The answer stopped at its token limit.
    ANSWER_TRUNCATED = "answer_truncated"


@dataclass(frozen=True)
class QueryWarning:
    kind: WarningKind
    # The collection or generator named by the warning.
    source: str
    message: str


class Stage(enum.Enum):
    EMBED = "embed"
    SEARCH = "search"
    MERGE = "merge"
    MMR = "mmr"
    GENERATE = "generate"


@dataclass(frozen=True)
class StageTiming:
    stage: Stage
    duration_ms: float
    # The collection searched (SEARCH only).
    collection: str = ""


@dataclass(frozen=True)
class Usage:
    embedding_tokens: int = 0
    # Tokens in / out of a chat generator (0 when none ran).
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass(frozen=True)
class FinalEvent:
    timings: tuple[StageTiming, ...]
    usage: Usage
    embedding_cached: bool
    # The generator that produced the answer (None when none was asked for).
    generator: GeneratorKind | None = None
    # Milliseconds from the start of the query to this event.
    total_ms: float = 0.0


QueryEvent = HitsEvent | AnswerDelta | Citation | QueryWarning | FinalEvent
