"""Domain ↔ Qdrant translation, shared by both backends.

Qdrant Edge (``qdrant_edge``) and qdrant-client (``qdrant_client.models``) describe the same
things — filters, field conditions, payload selections, point ids, records and hits — with
different Python classes. What a translation means (an empty filter is no filter, which
clause holds which conditions, how stored ids and vectors come back) is written here once;
each backend supplies only its constructors, as a ``FilterBuilder`` subclass a few lines long.
Both engines' records and hits carry ``id``, ``payload``, ``vector`` (and ``score``), so
reading them back needs no per-backend code at all.
"""

from __future__ import annotations

import abc
import uuid
from typing import Any, cast

import numpy as np

from ragserve.errors import InvalidArgument
from ragserve.retrieval.model import (
    Condition,
    FieldCondition,
    Filter,
    MatchAny,
    MatchValue,
    PayloadSelection,
    PointId,
    Range,
    Record,
    ScoredPoint,
    ScrollPage,
    ScrollQuery,
    SearchQuery,
    Vector,
)


class FilterBuilder(abc.ABC):
    """Builds one engine's filter objects; ``translate`` walks the domain filter once for all."""

    @abc.abstractmethod
    def filter(
        self, must: list[Any] | None, should: list[Any] | None, must_not: list[Any] | None
    ) -> Any:
        """The engine's boolean filter; a clause with no conditions is None."""

    @abc.abstractmethod
    def match_value(self, key: str, value: str | int | bool) -> Any: ...

    @abc.abstractmethod
    def match_any(self, key: str, values: list[str] | list[int]) -> Any: ...

    @abc.abstractmethod
    def range(self, key: str, bounds: Range) -> Any: ...

    def translate(self, value: Filter) -> Any:
        return self.filter(
            [self._condition(c) for c in value.must] or None,
            [self._condition(c) for c in value.should] or None,
            [self._condition(c) for c in value.must_not] or None,
        )

    def translate_optional(self, value: Filter | None) -> Any | None:
        """None for no filter and for an empty one: both match every point."""
        return self.translate(value) if value is not None and not value.is_empty() else None

    def _condition(self, condition: Condition) -> Any:
        if isinstance(condition, Filter):
            return self.translate(condition)
        return self._field_condition(condition)

    def _field_condition(self, condition: FieldCondition) -> Any:
        if condition.range is not None:
            return self.range(condition.key, condition.range)
        if isinstance(condition.match, MatchAny):
            values = cast(list[str] | list[int], list(condition.match.values))
            return self.match_any(condition.key, values)
        if isinstance(condition.match, MatchValue):
            return self.match_value(condition.key, condition.match.value)
        # The core validates conditions first; this guards a caller that skipped it.
        raise InvalidArgument(
            "filter", f"condition on {condition.key!r} has neither match nor range"
        )


def vector_in(value: Vector) -> list[float]:
    """A vector as both engines take it: a list of Python floats (an array's ``tolist``;
    a list of numpy scalars is slower to read for the embedded engine, 23 against 11 µs)."""
    return value.tolist() if isinstance(value, np.ndarray) else list(value)


def payload_selection(value: PayloadSelection) -> bool | list[str]:
    """Both engines take True, False or a list of payload paths."""
    return list(value) if isinstance(value, tuple) else value


def point_id_out(value: Any) -> PointId:
    """A stored id in the canonical domain form (engines may hand back ``uuid.UUID`` objects
    or UUID strings in another spelling)."""
    return value if isinstance(value, int) else str(uuid.UUID(str(value)))


def vector_out(value: Any) -> tuple[float, ...] | None:
    if isinstance(value, dict):  # named vectors: ours is the unnamed default
        value = value.get("")
    return tuple(float(component) for component in value) if value is not None else None


def _payload_out(payload: Any, selection: PayloadSelection) -> dict[str, Any] | None:
    return dict(payload) if selection is not False and payload is not None else None


def record_out(record: Any, with_payload: PayloadSelection, with_vectors: bool) -> Record:
    return Record(
        id=point_id_out(record.id),
        payload=_payload_out(record.payload, with_payload),
        vector=vector_out(record.vector) if with_vectors else None,
    )


def scroll_page_out(records: Any, next_offset: Any, query: ScrollQuery) -> ScrollPage:
    """Both engines' scroll returns ``(records, next_offset)``; ``next_offset`` is the id of
    the first point past the page (None at the end), which the next page starts at."""
    return ScrollPage(
        [record_out(record, query.with_payload, query.with_vectors) for record in records],
        point_id_out(next_offset) if next_offset is not None else None,
    )


def hit_out(hit: Any, query: SearchQuery) -> ScoredPoint:
    return ScoredPoint(
        id=point_id_out(hit.id),
        score=float(hit.score),
        payload=_payload_out(hit.payload, query.with_payload),
        vector=vector_out(hit.vector) if query.with_vectors else None,
    )
