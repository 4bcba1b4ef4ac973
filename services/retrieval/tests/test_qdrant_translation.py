"""The shared Qdrant translation (pure): one walk of a domain filter, per-engine classes,
and records and hits read back the same way from either engine."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

from qdrant_client import models as qm

from ragserve.retrieval import qdrant_translation as translation
from ragserve.retrieval.model import (
    FieldCondition,
    Filter,
    MatchAny,
    MatchValue,
    Range,
    Record,
    ScoredPoint,
    SearchQuery,
)
from ragserve.retrieval.server_store import FILTERS


def test_a_nested_filter_becomes_the_engines_filter_clause_by_clause() -> None:
    value = Filter(
        must=(FieldCondition("doc", MatchValue("a")),),
        must_not=(
            Filter(
                should=(
                    FieldCondition("rank", range=Range(gte=2.0)),
                    FieldCondition("tags[]", MatchAny((1, 2))),
                )
            ),
        ),
    )
    assert FILTERS.translate(value) == qm.Filter(
        must=[qm.FieldCondition(key="doc", match=qm.MatchValue(value="a"))],
        must_not=[
            qm.Filter(
                should=[
                    qm.FieldCondition(key="rank", range=qm.Range(gte=2.0)),
                    qm.FieldCondition(key="tags[]", match=qm.MatchAny(any=[1, 2])),
                ]
            )
        ],
    )
    assert FILTERS.translate_optional(Filter()) is None
    assert FILTERS.translate_optional(None) is None


def test_records_and_hits_come_back_in_domain_form() -> None:
    key = uuid.uuid4()
    stored = SimpleNamespace(id=key, payload={"doc": "a"}, vector={"": [1, 0]}, score=0.5)
    assert translation.record_out(stored, True, True) == Record(str(key), {"doc": "a"}, (1.0, 0.0))
    assert translation.record_out(stored, False, False) == Record(str(key), None, None)
    query = SearchQuery((1.0, 0.0), with_payload=("doc",))
    assert translation.hit_out(stored, query) == ScoredPoint(str(key), 0.5, {"doc": "a"}, None)
    assert translation.payload_selection(("doc", "meta.lang")) == ["doc", "meta.lang"]
