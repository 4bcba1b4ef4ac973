"""Query protos ↔ domain objects, at the servicer's edge (limits checked on the way in)."""

from __future__ import annotations

from typing import Any

from ragserve.api.common.v1 import common_pb2
from ragserve.api.orchestrator.v1 import orchestrator_pb2 as pb
from ragserve.errors import InvalidArgument
from ragserve.orchestrator.query import validation as check
from ragserve.orchestrator.query.model import (
    AnswerDelta,
    AnswerOptions,
    Citation,
    FinalEvent,
    GeneratorKind,
    Hit,
    HitsEvent,
    MmrOptions,
    QueryEvent,
    QueryRequest,
    QueryWarning,
    Stage,
    WarningKind,
)

_GENERATOR_IN = {
    pb.GENERATOR_UNSPECIFIED: GeneratorKind.EXTRACTIVE,
    pb.GENERATOR_EXTRACTIVE: GeneratorKind.EXTRACTIVE,
    pb.GENERATOR_CHAT: GeneratorKind.CHAT,
}
_GENERATOR_OUT = {
    GeneratorKind.EXTRACTIVE: pb.GENERATOR_EXTRACTIVE,
    GeneratorKind.CHAT: pb.GENERATOR_CHAT,
}
_STAGE_OUT = {
    Stage.EMBED: pb.STAGE_EMBED,
    Stage.SEARCH: pb.STAGE_SEARCH,
    Stage.MERGE: pb.STAGE_MERGE,
    Stage.MMR: pb.STAGE_MMR,
    Stage.GENERATE: pb.STAGE_GENERATE,
}
_WARNING_OUT = {
    WarningKind.COLLECTION_FAILED: pb.WARNING_CODE_COLLECTION_FAILED,
    WarningKind.GENERATOR_FAILED: pb.WARNING_CODE_GENERATOR_FAILED,
    WarningKind.ANSWER_TRUNCATED: pb.WARNING_CODE_ANSWER_TRUNCATED,
}
_PRIORITIES = frozenset(common_pb2.Priority.values())
_MAX_WARNING_CHARS = 1024


def _mmr_in(request: Any, top_k: int) -> MmrOptions | None:
    if not request.HasField("mmr"):
        return None
    diversity = check.unit_interval("mmr.diversity", request.mmr.diversity)
    candidates = request.mmr.candidates or min(
        check.CANDIDATES_PER_HIT * top_k, check.MAX_CANDIDATES
    )
    check.bounded("mmr.candidates", candidates, top_k, check.MAX_CANDIDATES)
    return MmrOptions(diversity=diversity, candidates=candidates)


def _answer_in(request: Any) -> AnswerOptions | None:
    if not request.HasField("answer"):
        return None
    answer = request.answer
    generator = _GENERATOR_IN.get(answer.generator)
    if generator is None:
        raise InvalidArgument("answer.generator", f"unknown value {answer.generator}")
    return AnswerOptions(
        generator=generator,
        max_tokens=check.bounded(
            "answer.max_answer_tokens",
            answer.max_answer_tokens,
            1,
            check.MAX_ANSWER_TOKENS,
            check.DEFAULT_ANSWER_TOKENS,
        ),
        max_context_chunks=check.bounded(
            "answer.max_context_chunks",
            answer.max_context_chunks,
            1,
            check.MAX_CONTEXT_CHUNKS,
            check.DEFAULT_CONTEXT_CHUNKS,
        ),
    )


def request_in(request: Any, deadline: float | None) -> QueryRequest:
    """The domain request; InvalidArgument naming the first field that breaks a limit."""
    tenant = check.tenant(request.tenant)
    collections = check.collections(list(request.collections))
    text = check.query_text(request.query)
    top_k = check.bounded("top_k", request.top_k, 1, check.MAX_TOP_K, check.DEFAULT_TOP_K)
    offset = check.bounded("offset", request.offset, 0, check.MAX_OFFSET)
    threshold = None
    if request.HasField("score_threshold"):
        threshold = check.unit_interval("score_threshold", request.score_threshold, low=-1.0)
    if request.priority not in _PRIORITIES:
        raise InvalidArgument("priority", f"unknown value {request.priority}")
    return QueryRequest(
        tenant=tenant,
        collections=collections,
        text=text,
        top_k=top_k,
        filter=check.metadata_filter(request.filter) if request.HasField("filter") else None,
        score_threshold=threshold,
        mmr=_mmr_in(request, top_k),
        answer=_answer_in(request),
        offset=offset,
        allow_partial=request.allow_partial_results,
        priority=request.priority,
        deadline=deadline,
    )


def start_out(trace_id: str) -> pb.QueryResponse:
    return pb.QueryResponse(start=pb.StartEvent(trace_id=trace_id))


def hit_out(hit: Hit, message: pb.Hit | None = None) -> pb.Hit:
    """``hit`` as a message; filled in place when ``message`` is given (a repeated field's
    new element: building one and copying it in costs the copy)."""
    message = pb.Hit() if message is None else message
    message.collection = hit.collection
    message.document_id = hit.document_id
    message.chunk_index = hit.chunk_index
    message.text = hit.text
    message.score = hit.score
    message.start = hit.location.start
    message.end = hit.location.end
    message.page = hit.location.page or 0
    message.heading_path.extend(hit.location.heading_path)
    message.media_type = hit.media_type
    if hit.metadata:
        message.metadata.update(hit.metadata)
    return message


def event_out(event: QueryEvent) -> pb.QueryResponse:
    if isinstance(event, HitsEvent):
        response = pb.QueryResponse(hits=pb.HitsEvent())
        for hit in event.hits:
            hit_out(hit, response.hits.hits.add())
        return response
    if isinstance(event, AnswerDelta):
        return pb.QueryResponse(answer=pb.AnswerDeltaEvent(text_delta=event.text))
    if isinstance(event, Citation):
        return pb.QueryResponse(
            citation=pb.CitationEvent(
                hit_index=event.hit_index,
                answer_start=event.answer_start,
                answer_end=event.answer_end,
                source_start=event.document_start,
                source_end=event.document_end,
            )
        )
    if isinstance(event, QueryWarning):
        return pb.QueryResponse(
            warning=pb.WarningEvent(
                code=_WARNING_OUT[event.kind],
                subject=event.source,
                message=event.message[:_MAX_WARNING_CHARS],
            )
        )
    return pb.QueryResponse(done=_done_out(event))


def _done_out(event: FinalEvent) -> pb.DoneEvent:
    return pb.DoneEvent(
        timings=[
            pb.StageTiming(
                stage=_STAGE_OUT[t.stage], collection=t.collection, duration_ms=t.duration_ms
            )
            for t in event.timings
        ],
        usage=pb.Usage(
            embedding_tokens=event.usage.embedding_tokens,
            prompt_tokens=event.usage.prompt_tokens,
            completion_tokens=event.usage.completion_tokens,
        ),
        embedding_cached=event.embedding_cached,
        generator=_GENERATOR_OUT[event.generator] if event.generator else pb.GENERATOR_UNSPECIFIED,
        total_ms=event.total_ms,
    )
