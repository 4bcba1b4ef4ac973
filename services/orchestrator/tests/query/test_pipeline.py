"""The pipeline's control flow over in-memory ports: ordering of events, partial results,
errors, deadlines, cancellation and generator fallback (no servers: pure logic)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import pytest

from ragserve.errors import DeadlineExceeded, FailedPrecondition, NotFound, Unavailable
from ragserve.orchestrator.query.extractive import ExtractiveGenerator
from ragserve.orchestrator.query.model import (
    AnswerDelta,
    AnswerOptions,
    Citation,
    FinalEvent,
    GeneratorKind,
    Hit,
    HitsEvent,
    MmrOptions,
    QueryEmbedding,
    QueryEvent,
    QueryRequest,
    QueryWarning,
    SearchSpec,
    Stage,
    WarningKind,
)
from ragserve.orchestrator.query.pipeline import QueryPipeline
from ragserve.orchestrator.query.ports import AnswerPiece, GenerationUsage, GeneratorFailed


class Embedder:
    def __init__(self) -> None:
        self.error: Exception | None = None

    async def embed_query(
        self, tenant: str, model: str, text: str, priority: int
    ) -> QueryEmbedding:
        if self.error is not None:
            raise self.error
        return QueryEmbedding(np.ones(2, dtype=np.float32), "1", cached=True, tokens=4)


@dataclass
class Searcher:
    hits: dict[str, list[Hit]]
    errors: dict[str, Exception] = field(default_factory=dict)
    blocked: set[str] = field(default_factory=set)
    specs: list[tuple[str, SearchSpec]] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    entered: asyncio.Event = field(default_factory=asyncio.Event)

    async def search(self, tenant: str, collection: str, spec: SearchSpec) -> list[Hit]:
        self.specs.append((collection, spec))
        if collection in self.blocked:
            self.entered.set()
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                self.cancelled.append(collection)
                raise
        if collection in self.errors:
            raise self.errors[collection]
        if collection not in self.hits:
            raise NotFound(f"collection {collection!r} does not exist")
        found = self.hits[collection][: spec.limit]
        return [h for h in found if spec.score_threshold is None or h.score >= spec.score_threshold]


class Models:
    def __init__(self, models: dict[str, str]) -> None:
        self.models = models

    async def model_of(self, tenant: str, collection: str) -> str:
        return self.models.get(collection, "m")


def hit(
    collection: str, point: str, score: float, text: str = "", vector: Sequence[float] = (1, 0)
) -> Hit:
    return Hit(
        collection=collection,
        point_id=point,
        document_id=f"doc-{point}",
        chunk_index=0,
        text=text or f"Text about {point}.",
        score=score,
        vector=np.asarray(vector, dtype=np.float32),
    )


class FailingChat:
    kind = GeneratorKind.CHAT

    def __init__(self, after_deltas: int = 0) -> None:
        self.after_deltas = after_deltas

    async def generate(
        self, question: str, hits: Sequence[Hit], options: AnswerOptions
    ) -> AsyncIterator[AnswerPiece]:
        for _ in range(self.after_deltas):
            yield AnswerDelta("partial ")
        yield GenerationUsage(5, self.after_deltas)
        raise GeneratorFailed(self.kind, "the chat generator (m at http://x)", "HTTP 500")


def pipeline(
    searcher: Searcher,
    embedder: Embedder | None = None,
    chat: object = None,
    models: dict[str, str] | None = None,
) -> QueryPipeline:
    generators: dict[GeneratorKind, object] = {GeneratorKind.EXTRACTIVE: ExtractiveGenerator()}
    if chat is not None:
        generators[GeneratorKind.CHAT] = chat
    return QueryPipeline(embedder or Embedder(), searcher, Models(models or {}), generators)  # type: ignore[arg-type]


async def events(p: QueryPipeline, request: QueryRequest) -> list[QueryEvent]:
    return [event async for event in p.run(request)]


SEARCHER_HITS = {
    "a": [hit("a", "a1", 0.9, "Alpha waves are fast."), hit("a", "a2", 0.4)],
    "b": [hit("b", "b1", 0.7, "Beta waves are slow."), hit("b", "b2", 0.6)],
}


async def test_hits_are_merged_paged_and_answered_then_timed() -> None:
    searcher = Searcher(dict(SEARCHER_HITS))
    request = QueryRequest(
        "t", ("a", "b"), "which waves are fast", top_k=2, offset=1, answer=AnswerOptions()
    )
    out = await events(pipeline(searcher), request)
    assert isinstance(out[0], HitsEvent)
    assert [h.point_id for h in out[0].hits] == ["b1", "b2"]
    assert all(h.vector is None for h in out[0].hits)
    assert {spec.limit for _, spec in searcher.specs} == {3}  # offset + top_k per collection
    assert not any(spec.with_vectors for _, spec in searcher.specs)
    assert isinstance(out[1], AnswerDelta) and isinstance(out[2], Citation)
    final = out[-1]
    assert isinstance(final, FinalEvent)
    stages = [(t.stage, t.collection) for t in final.timings]
    assert stages[0] == (Stage.EMBED, "")
    assert sorted(stages[1:3]) == [(Stage.SEARCH, "a"), (Stage.SEARCH, "b")]
    assert stages[3:] == [(Stage.MERGE, ""), (Stage.GENERATE, "")]
    assert final.embedding_cached and final.usage.embedding_tokens == 4
    assert final.generator is GeneratorKind.EXTRACTIVE
    assert final.total_ms >= sum(t.duration_ms for t in final.timings if t.stage is Stage.MERGE)


async def test_threshold_and_mmr_fetch_candidates_with_vectors() -> None:
    searcher = Searcher(
        {
            "a": [
                hit("a", "1", 0.9, vector=(1, 0)),
                hit("a", "2", 0.89, vector=(1, 0.01)),
                hit("a", "3", 0.7, vector=(0, 1)),
                hit("a", "4", 0.2, vector=(0, 1)),
            ]
        }
    )
    request = QueryRequest(
        "t", ("a",), "q", top_k=2, score_threshold=0.5, mmr=MmrOptions(0.5, candidates=10)
    )
    out = await events(pipeline(searcher), request)
    assert searcher.specs[0][1].with_vectors and searcher.specs[0][1].limit == 10
    assert searcher.specs[0][1].score_threshold == 0.5
    assert isinstance(out[0], HitsEvent)
    assert [h.point_id for h in out[0].hits] == ["1", "3"]
    final = out[-1]
    assert isinstance(final, FinalEvent)
    assert Stage.MMR in [t.stage for t in final.timings]
    assert final.generator is None


async def test_partial_results_warn_and_answer_from_the_rest() -> None:
    searcher = Searcher(dict(SEARCHER_HITS), errors={"b": Unavailable("vector store down")})
    request = QueryRequest("t", ("a", "b"), "q", allow_partial=True)
    out = await events(pipeline(searcher), request)
    warning = out[0]
    assert warning == QueryWarning(
        WarningKind.COLLECTION_FAILED, "b", "collection 'b' left out: vector store down"
    )
    assert isinstance(out[1], HitsEvent) and {h.collection for h in out[1].hits} == {"a"}


async def test_without_partial_results_one_failure_fails_and_cancels_the_rest() -> None:
    searcher = Searcher(dict(SEARCHER_HITS), errors={"b": Unavailable("vector store down")})
    searcher.blocked = {"a"}
    with pytest.raises(Unavailable, match="vector store down"):
        await events(pipeline(searcher), QueryRequest("t", ("a", "b"), "q"))
    assert searcher.cancelled == ["a"]


async def test_every_collection_failing_fails_even_with_partial_results() -> None:
    searcher = Searcher({}, errors={"a": Unavailable("x"), "b": Unavailable("y")})
    with pytest.raises(Unavailable, match="x"):
        await events(pipeline(searcher), QueryRequest("t", ("a", "b"), "q", allow_partial=True))


async def test_a_missing_collection_is_not_found_even_with_partial_results() -> None:
    searcher = Searcher(dict(SEARCHER_HITS))
    request = QueryRequest("t", ("a", "nope"), "q", allow_partial=True)
    with pytest.raises(NotFound, match="collection 'nope' does not exist"):
        await events(pipeline(searcher), request)


async def test_collections_of_different_models_are_refused() -> None:
    p = pipeline(Searcher(dict(SEARCHER_HITS)), models={"a": "m1", "b": "m2"})
    with pytest.raises(FailedPrecondition, match="'a' uses 'm1', 'b' uses 'm2'"):
        await events(p, QueryRequest("t", ("a", "b"), "q"))


async def test_embedding_failure_propagates() -> None:
    embedder = Embedder()
    embedder.error = Unavailable("no provider of model 'm' is available")
    with pytest.raises(Unavailable, match="model 'm'"):
        await events(pipeline(Searcher({}), embedder), QueryRequest("t", ("a",), "q"))


async def test_deadline_cancels_the_calls_below_and_names_the_stage() -> None:
    searcher = Searcher(dict(SEARCHER_HITS), blocked={"a"})
    request = QueryRequest("t", ("a", "b"), "q", deadline=time.monotonic() + 0.2)
    with pytest.raises(DeadlineExceeded, match="while searching 'a', 'b'"):
        await events(pipeline(searcher), request)
    assert searcher.cancelled == ["a"]


async def test_a_reader_that_goes_away_cancels_the_calls_below() -> None:
    searcher = Searcher(dict(SEARCHER_HITS), blocked={"a"})
    stream = pipeline(searcher).run(QueryRequest("t", ("a",), "q"))
    reader = asyncio.create_task(anext(stream))  # type: ignore[arg-type]
    await searcher.entered.wait()
    reader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reader
    await stream.aclose()  # type: ignore[attr-defined]
    assert searcher.cancelled == ["a"]


async def test_a_failing_chat_generator_falls_back_to_extractive_with_a_warning() -> None:
    request = QueryRequest(
        "t", ("a",), "alpha waves", answer=AnswerOptions(generator=GeneratorKind.CHAT)
    )
    out = await events(pipeline(Searcher(dict(SEARCHER_HITS)), chat=FailingChat()), request)
    warning = out[1]
    assert isinstance(warning, QueryWarning)
    assert warning.kind is WarningKind.GENERATOR_FAILED and warning.source == "chat"
    assert warning.message == (
        "the chat generator (m at http://x) failed: HTTP 500; answered extractively instead"
    )
    assert out[2] == AnswerDelta("Alpha waves are fast.")
    final = out[-1]
    assert isinstance(final, FinalEvent)
    assert final.generator is GeneratorKind.EXTRACTIVE and final.usage.prompt_tokens == 5


async def test_a_chat_failure_after_text_went_out_cuts_the_answer_short() -> None:
    request = QueryRequest("t", ("a",), "alpha", answer=AnswerOptions(generator=GeneratorKind.CHAT))
    out = await events(pipeline(Searcher(dict(SEARCHER_HITS)), chat=FailingChat(2)), request)
    kinds = [type(e).__name__ for e in out]
    assert kinds == ["HitsEvent", "AnswerDelta", "AnswerDelta", "QueryWarning", "FinalEvent"]
    warning = out[3]
    assert isinstance(warning, QueryWarning) and warning.message.endswith("cut short")


async def test_an_unconfigured_chat_generator_answers_extractively() -> None:
    request = QueryRequest("t", ("a",), "alpha", answer=AnswerOptions(generator=GeneratorKind.CHAT))
    out = await events(pipeline(Searcher(dict(SEARCHER_HITS))), request)
    assert isinstance(out[1], QueryWarning)
    assert out[1].message == "the chat generator is not configured; answered extractively"
