"""Public <-> internal conversion and the public limits: pure functions, no servers."""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf import struct_pb2
from google.protobuf.struct_pb2 import Struct

from ragserve.api.common.v1 import common_pb2
from ragserve.api.gateway.v1 import gateway_pb2 as pb
from ragserve.api.orchestrator.v1 import orchestrator_pb2 as orch
from ragserve.errors import InvalidArgument
from ragserve.gateway import convert, validation


def _filter() -> pb.Filter:
    return pb.Filter(
        must=[
            pb.Condition(key="lang", match=pb.MatchValue(keyword="en")),
            pb.Condition(key="year", range=pb.Range(gte=2020, lt=2025)),
        ],
        should=[pb.Condition(key="tag", match_any=pb.MatchAny(keywords=["a", "b"]))],
        must_not=[
            pb.Condition(
                nested=pb.Filter(
                    must=[pb.Condition(key="draft", match=pb.MatchValue(boolean=True))]
                )
            )
        ],
    )


def test_a_filter_converts_field_for_field() -> None:
    public = _filter()
    internal = convert.filter_in(public)
    # Same shape on both sides: the conversion loses and invents nothing.
    assert common_pb2.Filter.FromString(public.SerializeToString()) == internal


def test_a_query_carries_the_tenant_from_the_key_and_every_option() -> None:
    request = pb.QueryRequest(
        collections=["a", "b"],
        query="q",
        top_k=7,
        offset=3,
        filter=_filter(),
        score_threshold=0.25,
        diversity=pb.Diversity(diversity=0.5, candidates=40),
        answer=pb.AnswerOptions(
            generator=pb.GENERATOR_CHAT, max_answer_tokens=100, max_context_chunks=4
        ),
        allow_partial_results=True,
    )
    internal = convert.query_in("acme", request)
    assert (internal.tenant, list(internal.collections), internal.top_k, internal.offset) == (
        "acme",
        ["a", "b"],
        7,
        3,
    )
    assert internal.score_threshold == 0.25 and internal.allow_partial_results
    assert (internal.mmr.diversity, internal.mmr.candidates) == (0.5, 40)
    assert internal.answer.generator == orch.GENERATOR_CHAT
    assert not convert.query_in("acme", pb.SearchRequest(collections=["a"], query="q")).HasField(
        "answer"
    )


def test_query_events_keep_no_internal_flags() -> None:
    done = orch.QueryResponse(
        done=orch.DoneEvent(
            timings=[orch.StageTiming(stage=orch.STAGE_MMR, duration_ms=1.5)],
            usage=orch.Usage(embedding_tokens=3),
            embedding_cached=True,
            generator=orch.GENERATOR_EXTRACTIVE,
        )
    )
    public = convert.query_event_out(done, 12.0)
    assert public is not None
    assert public.done.timings[0].stage == pb.STAGE_DIVERSITY
    assert (public.done.total_ms, public.done.usage.embedding_tokens) == (12.0, 3)
    assert "embedding_cached" not in pb.QueryDone.DESCRIPTOR.fields_by_name
    hit = orch.Hit(
        collection="c", document_id="d", chunk_index=2, text="t", score=0.5, start=10, end=20,
        page=3, heading_path=["A", "B"], media_type="application/pdf",
    )  # fmt: skip
    out = convert.hit_out(hit)
    assert (out.source.char_start, out.source.char_end, out.source.page) == (10, 20, 3)
    assert list(out.source.heading_path) == ["A", "B"]


def test_a_hits_event_is_copied_field_by_field() -> None:
    metadata = Struct()
    metadata.update({"lang": "en", "year": 2024})
    hits = [
        orch.Hit(
            collection="c", document_id=f"d{n}", chunk_index=n, text=f"t{n}", score=0.5 - n / 10,
            start=n, end=n + 5, page=n, heading_path=["A", f"B{n}"], media_type="text/html",
            metadata=metadata if n else None,
        )
        for n in range(3)
    ]  # fmt: skip
    public = convert.query_event_out(orch.QueryResponse(hits=orch.HitsEvent(hits=hits)), 1.0)
    expected = [
        pb.Hit(
            collection="c", document_id=f"d{n}", chunk_index=n, text=f"t{n}", score=0.5 - n / 10,
            media_type="text/html", metadata=metadata if n else None,
            source=pb.ChunkSource(char_start=n, char_end=n + 5, page=n, heading_path=["A", f"B{n}"]),
        )
        for n in range(3)
    ]  # fmt: skip
    assert public == pb.QueryResponse(hits=pb.QueryHits(hits=expected))
    assert not public.hits.hits[0].HasField("metadata")


def _invalid(check: Any, *args: Any) -> str:
    with pytest.raises(InvalidArgument) as raised:
        check(*args)
    return raised.value.message


def test_filter_shape_limits() -> None:
    deep = pb.Filter(must=[pb.Condition(key="k", match=pb.MatchValue(integer=1))])
    for _ in range(4):
        deep = pb.Filter(must=[pb.Condition(nested=deep)])
    assert _invalid(validation.filter_shape, "filter", deep) == (
        "filter.must[0].nested.must[0].nested.must[0].nested.must[0].nested: "
        "nested deeper than 4 levels"
    )
    wide = pb.Filter(
        must=[pb.Condition(key="k", match=pb.MatchValue(integer=i)) for i in range(65)]
    )
    assert _invalid(validation.filter_shape, "filter", wide) == (
        "filter.must[64]: more than 64 conditions in all"
    )
    both = pb.Filter(
        should=[pb.Condition(key="k", match_any=pb.MatchAny(keywords=["a"], integers=[1]))]
    )
    assert _invalid(validation.filter_shape, "filter", both) == (
        "filter.should[0].match_any: set keywords or integers (one of them)"
    )


def test_document_limits() -> None:
    metadata = struct_pb2.Struct()
    metadata.update({"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": 1}}}}}}}}})
    doc = pb.Document(sequence=2, id="d", text="x", metadata=metadata)
    assert _invalid(validation.document, "document", doc, 0) == (
        "document.metadata: nested 9 deep; at most 8"
    )
    pdf_as_text = pb.Document(sequence=2, id="d", text="x", media_type="application/pdf")
    assert _invalid(validation.document, "document", pdf_as_text, 0) == (
        "document.data: application/pdf content goes in data (bytes)"
    )
    charset = pb.Document(sequence=2, id="d", text="x", media_type="text/plain; charset=utf-8")
    assert validation.document("document", charset, 1) == 1
    huge = pb.Document(sequence=1, id="d", data=b"x" * (8 * 1024 * 1024 + 1))
    assert _invalid(validation.document, "document", huge, 0) == (
        "document.data: 8388609 bytes; at most 8388608 (8 MiB)"
    )


def test_an_echoed_value_is_cut_short() -> None:
    message = _invalid(validation.name, "name", "x" * 10_000)
    assert len(message) < 200 and message.startswith("name: 'xxxx")
