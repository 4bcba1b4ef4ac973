"""Domain objects of the retrieval service: collections, points, filters, searches, snapshots.

These are plain, immutable values that cross every boundary inside the service (servicer →
core → backend, and the pipe to the embedded engine's worker process, so they must pickle).
They know nothing of gRPC or of Qdrant's own types; each backend translates them at its edge.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

#: A point id: an unsigned 64-bit integer or a UUID in canonical lowercase hyphenated form.
PointId: TypeAlias = int | str
#: A JSON-like payload object.
Payload: TypeAlias = Mapping[str, Any]


class Distance(enum.Enum):
    COSINE = "cosine"
    DOT = "dot"
    EUCLID = "euclid"


class PayloadFieldType(enum.Enum):
    """Type of a payload index; filters on indexed fields are fast at any collection size."""

    KEYWORD = "keyword"
    INTEGER = "integer"
    FLOAT = "float"
    BOOL = "bool"
    TEXT = "text"
    DATETIME = "datetime"
    UUID = "uuid"


@dataclass(frozen=True)
class HnswSettings:
    """HNSW graph parameters, used once a collection is large enough to be indexed."""

    m: int = 16
    ef_construct: int = 100
    # Points below which the collection is searched exactly and not indexed (0 = the
    # service's default, RAGSERVE_RETRIEVAL_INDEX_THRESHOLD).
    full_scan_threshold: int = 0


@dataclass(frozen=True)
class CollectionSpec:
    """What a collection is created with. ``payload_indexes`` maps a field path to its type."""

    dimension: int
    distance: Distance = Distance.COSINE
    hnsw: HnswSettings = field(default_factory=HnswSettings)
    on_disk: bool = False
    payload_indexes: Mapping[str, PayloadFieldType] = field(default_factory=dict)


class IndexState(enum.Enum):
    """How searches of a collection are answered.

    EXACT: every vector is scored (small collections; exact results).
    INDEXING: exact search is answering while an HNSW index is being built in the background.
    INDEXED: an HNSW index answers, plus exact scoring of points added since it was built.
    """

    EXACT = "exact"
    INDEXING = "indexing"
    INDEXED = "indexed"


@dataclass(frozen=True)
class CollectionInfo:
    """A collection as its tenant sees it (``name`` never carries the tenant)."""

    name: str
    spec: CollectionSpec
    points_count: int
    indexed_vectors_count: int
    index_state: IndexState


#: A vector: a tuple of floats, or a float32 numpy array (cheaper for bulk loads).
Vector: TypeAlias = tuple[float, ...] | npt.NDArray[np.float32]


@dataclass(frozen=True)
class Point:
    id: PointId
    vector: Vector
    payload: Payload = field(default_factory=dict)


@dataclass(frozen=True)
class Record:
    """A stored point; ``vector`` is None unless asked for."""

    id: PointId
    payload: Payload | None
    vector: tuple[float, ...] | None = None


@dataclass(frozen=True)
class ScoredPoint:
    id: PointId
    score: float
    payload: Payload | None
    vector: tuple[float, ...] | None = None


# ---------------------------------------------------------------------------- filters


@dataclass(frozen=True)
class MatchValue:
    """The field equals ``value`` (for an array field: one of its elements does)."""

    value: str | int | bool


@dataclass(frozen=True)
class MatchAny:
    """The field equals one of ``values`` (all strings or all integers)."""

    values: tuple[str, ...] | tuple[int, ...]


@dataclass(frozen=True)
class Range:
    """Numeric range; at least one bound is set."""

    gt: float | None = None
    gte: float | None = None
    lt: float | None = None
    lte: float | None = None


@dataclass(frozen=True)
class FieldCondition:
    """A condition on one payload field: exactly one of ``match`` and ``range`` is set."""

    key: str
    match: MatchValue | MatchAny | None = None
    range: Range | None = None


@dataclass(frozen=True)
class Filter:
    """Boolean filter: all of ``must``, at least one of ``should`` (if any), none of ``must_not``.

    Conditions may be nested filters.
    """

    must: tuple[Condition, ...] = ()
    should: tuple[Condition, ...] = ()
    must_not: tuple[Condition, ...] = ()

    def is_empty(self) -> bool:
        return not (self.must or self.should or self.must_not)


Condition: TypeAlias = FieldCondition | Filter

#: Which payload to return: True (all), False (none), or the field names to include.
PayloadSelection: TypeAlias = bool | tuple[str, ...]


@dataclass(frozen=True)
class SearchQuery:
    """One nearest-neighbour query. Results are sorted best first (highest score; for
    euclid the score is the distance and smaller is better)."""

    vector: Vector
    limit: int = 10
    filter: Filter | None = None
    score_threshold: float | None = None
    with_payload: PayloadSelection = True
    with_vectors: bool = False
    offset: int = 0
    # Search-time HNSW beam width (0 = the service default) and forcing exact search.
    hnsw_ef: int = 0
    exact: bool = False


@dataclass(frozen=True)
class ScrollQuery:
    """One page of the points matching ``filter``, in point-id order (unsigned integers
    first, then UUIDs), starting at ``offset`` (inclusive; None = the first point)."""

    limit: int = 10
    filter: Filter | None = None
    offset: PointId | None = None
    with_payload: PayloadSelection = True
    with_vectors: bool = False


@dataclass(frozen=True)
class ScrollPage:
    """``next_offset``: the id the next page starts at; None when this page is the last."""

    records: list[Record]
    next_offset: PointId | None


@dataclass(frozen=True)
class WriteResult:
    """What a write did.

    ``points_count``: the collection's points right after the write, where the backend
    knows it without another round trip (None otherwise); it feeds the points gauge.
    ``matched``: the points a delete by filter matched (0 for other writes).
    """

    points_count: int | None
    matched: int = 0


# ---------------------------------------------------------------------------- snapshots


@dataclass(frozen=True)
class SnapshotInfo:
    name: str
    collection: str
    created_at_unix_s: float
    size_bytes: int
