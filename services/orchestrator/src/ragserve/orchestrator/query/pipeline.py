"""The query pipeline: embed → search the collections concurrently → merge →
threshold → MMR → page → hits event → answer → final event.

The pipeline runs in its own task that feeds a small queue the caller reads, so:
- the whole query runs under its deadline (``asyncio.timeout_at``), and when it
  passes every call in flight below (router, retrieval, generator) is cancelled
  and the caller gets DeadlineExceeded naming the stage;
- a caller that stops reading (a client that cancels) cancels that task, and with
  it every call in flight below;
- a slow reader slows the pipeline down (the queue is bounded).
The task is created in the caller's context, so trace context and the inbound
deadline reach every outbound call.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence

from opentelemetry import trace

from ragserve.errors import (
    DeadlineExceeded,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    RagserveError,
)
from ragserve.orchestrator.query import ranking
from ragserve.orchestrator.query.model import (
    AnswerDelta,
    FinalEvent,
    GeneratorKind,
    Hit,
    HitsEvent,
    QueryEvent,
    QueryRequest,
    QueryWarning,
    SearchSpec,
    Stage,
    StageTiming,
    Usage,
    WarningKind,
)
from ragserve.orchestrator.query.ports import (
    AnswerGenerator,
    AnswerTruncated,
    CollectionModels,
    CollectionSearcher,
    GenerationUsage,
    GeneratorFailed,
    QueryEmbedder,
)

tracer = trace.get_tracer("ragserve.orchestrator.query")

Emit = Callable[[QueryEvent], Awaitable[None]]


class _End:
    """Queue sentinel: the pipeline finished."""


# Events buffered between the pipeline and a slow reader.
_QUEUE_EVENTS = 32


class _Run:
    """The mutable record of one query while it runs."""

    def __init__(self, request: QueryRequest) -> None:
        self.request = request
        self.stage = "resolving collections"
        self.timings: list[StageTiming] = []
        self.embedding_cached = False
        self.embedding_tokens = 0
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.generator: GeneratorKind | None = None
        # Set at the first answer delta: a generator failing after it cannot fall back.
        self.answer_started = False
        self.started = time.perf_counter()

    def timed(self, stage: Stage, started: float, collection: str = "") -> None:
        self.timings.append(
            StageTiming(stage, (time.perf_counter() - started) * 1000.0, collection)
        )


class QueryPipeline:
    def __init__(
        self,
        embedder: QueryEmbedder,
        searcher: CollectionSearcher,
        models: CollectionModels,
        generators: Mapping[GeneratorKind, AnswerGenerator],
    ) -> None:
        if GeneratorKind.EXTRACTIVE not in generators:
            raise ValueError("the extractive generator is the fallback and must be given")
        self.embedder = embedder
        self.searcher = searcher
        self.models = models
        self.generators = dict(generators)

    async def run(self, request: QueryRequest) -> AsyncIterator[QueryEvent]:
        """The query's events; raises the domain error that ended it, if any."""
        queue: asyncio.Queue[QueryEvent | _End | BaseException] = asyncio.Queue(_QUEUE_EVENTS)
        producer = asyncio.create_task(self._produce(request, queue))
        try:
            while True:
                item = await queue.get()
                if isinstance(item, _End):
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            if not producer.done():
                producer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await producer

    async def _produce(
        self, request: QueryRequest, queue: asyncio.Queue[QueryEvent | _End | BaseException]
    ) -> None:
        run = _Run(request)
        try:
            if request.deadline is None:
                await self._execute(run, queue.put)
            else:
                async with asyncio.timeout_at(request.deadline):
                    await self._execute(run, queue.put)
        except TimeoutError:
            await queue.put(DeadlineExceeded(f"the query's deadline passed while {run.stage}"))
        except Exception as error:
            await queue.put(error)
        else:
            await queue.put(_End())

    async def _execute(self, run: _Run, emit: Emit) -> None:
        request = run.request
        model = await self._model(request)
        run.stage = f"embedding the query with model {model!r}"
        started = time.perf_counter()
        embedding = await self.embedder.embed_query(
            request.tenant, model, request.text, request.priority
        )
        run.timed(Stage.EMBED, started)
        run.embedding_cached = embedding.cached
        run.embedding_tokens = embedding.tokens

        page_end = request.offset + request.top_k
        limit = max(page_end, request.mmr.candidates) if request.mmr else page_end
        spec = SearchSpec(
            vector=embedding.vector,
            limit=limit,
            filter=request.filter,
            score_threshold=request.score_threshold,
            with_vectors=request.mmr is not None,
        )
        run.stage = "searching " + ", ".join(repr(c) for c in _unique(request.collections))
        results = await self._search_all(run, spec, emit)

        started = time.perf_counter()
        merged = ranking.above_threshold(ranking.merge_by_score(results), request.score_threshold)
        run.timed(Stage.MERGE, started)
        if request.mmr is not None:
            run.stage = "selecting hits by MMR"
            started = time.perf_counter()
            merged = ranking.mmr_select(merged, page_end, request.mmr.diversity)
            run.timed(Stage.MMR, started)
        hits = tuple(
            dataclasses.replace(hit, vector=None)
            for hit in ranking.page(merged, request.offset, request.top_k)
        )
        await emit(HitsEvent(hits))

        if request.answer is not None and hits:
            run.stage = "generating the answer"
            started = time.perf_counter()
            await self._answer(run, hits, emit)
            run.timed(Stage.GENERATE, started)
        await emit(
            FinalEvent(
                timings=tuple(run.timings),
                usage=Usage(run.embedding_tokens, run.prompt_tokens, run.completion_tokens),
                embedding_cached=run.embedding_cached,
                generator=run.generator,
                total_ms=(time.perf_counter() - run.started) * 1000.0,
            )
        )

    async def _model(self, request: QueryRequest) -> str:
        collections = _unique(request.collections)
        models = await asyncio.gather(
            *(self.models.model_of(request.tenant, name) for name in collections)
        )
        distinct = dict(zip(collections, models, strict=True))
        if len(set(models)) > 1:
            listed = ", ".join(f"{name!r} uses {model!r}" for name, model in distinct.items())
            raise FailedPrecondition(
                f"the collections must all use one embedding model; {listed}"[:500]
            )
        return models[0]

    async def _search_one(self, run: _Run, collection: str, spec: SearchSpec) -> list[Hit]:
        started = time.perf_counter()
        hits = await self.searcher.search(run.request.tenant, collection, spec)
        run.timed(Stage.SEARCH, started, collection)
        return hits

    async def _search_all(self, run: _Run, spec: SearchSpec, emit: Emit) -> list[list[Hit]]:
        """Every collection searched at once; hits per collection, in request order.

        Without partial results the first failure cancels the other searches and is
        raised. With them, a failed collection becomes a warning, unless it does not
        exist (NOT_FOUND stays an error) or every collection failed."""
        collections = _unique(run.request.collections)
        tasks = [
            asyncio.create_task(self._search_one(run, name, spec), name=f"search {name}")
            for name in collections
        ]
        partial = run.request.allow_partial and len(tasks) > 1
        try:
            await asyncio.wait(
                tasks, return_when=asyncio.ALL_COMPLETED if partial else asyncio.FIRST_EXCEPTION
            )
            failures = {
                name: error
                for name, task in zip(collections, tasks, strict=True)
                if task.done() and (error := task.exception()) is not None
            }
            for error in failures.values():
                if not partial or isinstance(error, NotFound | InvalidArgument):
                    raise error
                if not isinstance(error, RagserveError):
                    raise error  # a bug, not a collection that is down
            if len(failures) == len(tasks):
                raise next(iter(failures.values()))
            for name, error in failures.items():
                await emit(
                    QueryWarning(
                        WarningKind.COLLECTION_FAILED,
                        name,
                        f"collection {name!r} left out: {error}"[:500],
                    )
                )
            return [task.result() for task in tasks if task.exception() is None]
        finally:
            pending = [task for task in tasks if not task.done()]
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)

    async def _answer(self, run: _Run, hits: Sequence[Hit], emit: Emit) -> None:
        request = run.request
        assert request.answer is not None
        fallback = self.generators[GeneratorKind.EXTRACTIVE]
        generator = self.generators.get(request.answer.generator)
        if generator is None:
            await emit(
                QueryWarning(
                    WarningKind.GENERATOR_FAILED,
                    request.answer.generator.value,
                    f"the {request.answer.generator.value} generator is not configured; "
                    "answered extractively",
                )
            )
            generator = fallback
        try:
            await self._generate(run, generator, hits, emit)
        except GeneratorFailed as failure:
            if generator is fallback:
                raise
            subject = failure.kind.value
            if run.answer_started:
                # Part of the answer went out: appending another answer would garble it.
                message = f"{failure}; the answer is cut short"
                await emit(QueryWarning(WarningKind.GENERATOR_FAILED, subject, message[:1000]))
                run.generator = generator.kind
                return
            message = f"{failure}; answered extractively instead"
            await emit(QueryWarning(WarningKind.GENERATOR_FAILED, subject, message[:1000]))
            await self._generate(run, fallback, hits, emit)

    async def _generate(
        self, run: _Run, generator: AnswerGenerator, hits: Sequence[Hit], emit: Emit
    ) -> None:
        answer = run.request.answer
        assert answer is not None
        with tracer.start_as_current_span(
            f"generate {generator.kind.value}",
            attributes={"ragserve.generator": generator.kind.value},
        ):
            async for piece in generator.generate(run.request.text, hits, answer):
                if isinstance(piece, GenerationUsage):
                    run.prompt_tokens += piece.prompt_tokens
                    run.completion_tokens += piece.completion_tokens
                elif isinstance(piece, AnswerTruncated):
                    await emit(
                        QueryWarning(
                            WarningKind.ANSWER_TRUNCATED,
                            generator.kind.value,
                            f"the answer stopped at max_answer_tokens ({answer.max_tokens})",
                        )
                    )
                else:
                    if isinstance(piece, AnswerDelta):
                        run.answer_started = True
                    await emit(piece)
        run.generator = generator.kind


def _unique(names: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(names))
