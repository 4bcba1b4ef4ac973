"""The inference engine: loaded models, one dynamic batcher per model, and the
worker threads that run ONNX Runtime. It knows nothing of gRPC; the servicer
converts protocol messages to :class:`InferCall` and back.

Text models batch per text: a request of n texts becomes n batcher items, so
the batcher can group texts of similar length from many requests into one
execution (less padding), and rows of one request may run in different
batches. Raw tensor models batch per request (its rows stay together).
ONNX Runtime releases the GIL, so executions run in a thread pool while the
event loop keeps accepting requests and forming the next batch.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
from opentelemetry import trace

from ragserve.batching import (
    Batch,
    BatcherConfig,
    BatchExecuted,
    DynamicBatcher,
    ItemCost,
    ItemDropped,
)
from ragserve.errors import InvalidArgument, NotFound, RagserveError
from ragserve.inference import metrics
from ragserve.inference.config import ModelConfig, TruncationPolicy
from ragserve.inference.raw_model import RawOnnxModel
from ragserve.inference.repository import LoadedModel, ModelRepository, ModelState, RepositoryEntry
from ragserve.inference.statistics import ModelStats
from ragserve.inference.text_embedding import TextEmbeddingModel, TokenizedText
from ragserve.runtime.spans import internal_span

log = logging.getLogger("ragserve.inference.engine")
tracer = trace.get_tracer("ragserve.inference")

# Tokenizing a few texts inline is cheaper than a thread hop; big requests go to a thread.
_INLINE_TOKENIZE_TEXTS = 16

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class InferCall:
    """One inference request in domain terms.

    ``priority`` is the protocol's level: 0 = the model's default, 1 = highest.
    ``timeout_s`` bounds the time in the queue (the gRPC deadline bounds it too).
    ``truncate`` None = the model's configured policy for over-long texts.
    """

    model: str
    inputs: Mapping[str, np.ndarray]
    version: str = ""
    outputs: Sequence[str] = ()
    priority: int = 0
    timeout_s: float | None = None
    truncate: bool | None = None


@dataclass(frozen=True, slots=True)
class InferResult:
    model: str
    version: str
    outputs: dict[str, np.ndarray]


class _BatchMetrics:
    """Feeds batcher events into Prometheus and the model's statistics."""

    def __init__(self, name: str, stats: ModelStats) -> None:
        self.name = name
        self.stats = stats
        # Bound once: a labels() lookup per batch is on the path to every caller's answer.
        self._executions = metrics.EXECUTIONS.labels(name)
        self._inferences = metrics.INFERENCES.labels(name)
        self._batch_size = metrics.BATCH_SIZE.labels(name)
        self._padded_tokens = metrics.BATCH_PADDED_TOKENS.labels(name)
        self._compute = metrics.COMPUTE_SECONDS.labels(name)
        self._queue = metrics.QUEUE_SECONDS.labels(name)

    def on_batch_executed(self, event: BatchExecuted) -> None:
        self._executions.inc()
        self._inferences.inc(event.rows)
        self._batch_size.observe(event.rows)
        self._padded_tokens.observe(event.padded_cost)
        self._compute.observe(event.execution_s)
        for wait in event.queue_waits_s:
            self._queue.observe(wait)
        self.stats.batch_done(event.rows, event.queue_waits_s, event.execution_s)

    def on_item_dropped(self, event: ItemDropped) -> None:
        metrics.DROPPED.labels(self.name, event.reason.value).inc(event.rows)


class ModelRunner:
    """A loaded model with its batcher and worker threads."""

    def __init__(self, model: LoadedModel) -> None:
        self.model = model
        config = model.config
        self.config = config
        self.stats = ModelStats(config.name, model.version)
        self._pending_rows = metrics.PENDING_ROWS.labels(config.name)
        self.succeeded = metrics.REQUESTS.labels(config.name, "success", "")
        batching = config.dynamic_batching
        max_batch = max(config.max_batch_size, 1)
        # Batches executing right now: a batch that overlaps another runs on the
        # model's narrow session when it has one (TextEmbeddingModel.narrow_threads).
        self._executing = 0
        self._executor = ThreadPoolExecutor(
            max_workers=config.instance_count, thread_name_prefix=f"ort-{config.name}"
        )
        self.batcher: DynamicBatcher[Any, Any] = DynamicBatcher(
            self._execute_text if isinstance(model, TextEmbeddingModel) else self._execute_raw,
            BatcherConfig(
                name=config.name,
                max_batch_size=max_batch,
                max_batch_tokens=(batching.max_batch_tokens or None) if batching else None,
                max_queue_delay_s=(batching.max_queue_delay_us / 1e6) if batching else 0.0,
                max_concurrent_batches=config.instance_count,
                priority_levels=batching.priority_levels if batching else 1,
                group_by_length=batching.group_by_length if batching else False,
                max_queue_size=max(batching.max_queue_size, max_batch) if batching else None,
            ),
            cost=self._cost,
            observer=_BatchMetrics(config.name, self.stats),
        )

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        self.batcher.start()
        metrics.MODEL_READY.labels(self.config.name).set(1)
        for provider in self.model.providers[:1]:
            metrics.EXECUTION_PROVIDER.labels(self.config.name, provider).set(1)

    async def close(self) -> None:
        metrics.MODEL_READY.labels(self.config.name).set(0)
        await self.batcher.close(drain=False)
        self._executor.shutdown(wait=True)
        self._pending_rows.set(0)
        for provider in self.model.providers[:1]:
            metrics.EXECUTION_PROVIDER.labels(self.config.name, provider).set(0)

    # -- requests --------------------------------------------------------------------

    def _priority_index(self, level: int) -> int:
        batching = self.config.dynamic_batching
        levels = batching.priority_levels if batching else 1
        if level == 0:
            level = batching.default_priority if batching else 1
        if not 1 <= level <= levels:
            raise InvalidArgument(
                "parameters.priority",
                f"must be 0 (default) or 1 to {levels} for model '{self.config.name}', got {level}",
            )
        return level - 1

    def _deadline(self, timeout_s: float | None) -> float | None:
        batching = self.config.dynamic_batching
        if timeout_s is None and batching and batching.default_timeout_us > 0:
            timeout_s = batching.default_timeout_us / 1e6
        return None if timeout_s is None else time.monotonic() + timeout_s

    def _require_room(self, rows: int) -> None:
        """Refuse a whole request up front rather than queue part of it."""
        self.batcher.require_room(rows)

    async def infer(self, call: InferCall) -> dict[str, np.ndarray]:
        priority = self._priority_index(call.priority)
        deadline = self._deadline(call.timeout_s)
        self._check_requested_outputs(call.outputs)
        if isinstance(self.model, TextEmbeddingModel):
            result = await self._infer_text(self.model, call, priority, deadline)
        else:
            result = await self._infer_raw(self.model, call, priority, deadline)
        self._pending_rows.set(self.batcher.pending_rows)
        if call.outputs:
            return {name: result[name] for name in call.outputs}
        return result

    def _check_requested_outputs(self, outputs: Sequence[str]) -> None:
        for index, name in enumerate(outputs):
            if self.config.output(name) is None:
                known = ", ".join(spec.name for spec in self.config.outputs)
                raise InvalidArgument(
                    f"outputs[{index}]",
                    f"'{name}' is not an output of model '{self.config.name}' (outputs: {known})",
                )

    async def _infer_text(
        self, model: TextEmbeddingModel, call: InferCall, priority: int, deadline: float | None
    ) -> dict[str, np.ndarray]:
        (input_spec,) = self.config.inputs
        (output_spec,) = self.config.outputs
        unknown = [name for name in call.inputs if name != input_spec.name]
        if unknown or input_spec.name not in call.inputs:
            raise InvalidArgument(
                "inputs",
                f"model '{self.config.name}' takes exactly one input '{input_spec.name}' "
                f"(BYTES), got {sorted(call.inputs) or 'none'}",
            )
        texts = model.decode_texts(call.inputs[input_spec.name], field=f"input '{input_spec.name}'")
        policy = None
        if call.truncate is not None:
            policy = TruncationPolicy.TRUNCATE if call.truncate else TruncationPolicy.REFUSE
        self._require_room(len(texts))
        if len(texts) <= _INLINE_TOKENIZE_TEXTS:
            tokenized = model.tokenize(texts, policy, field=f"input '{input_spec.name}'")
        else:
            tokenized = await asyncio.get_running_loop().run_in_executor(
                None, lambda: model.tokenize(texts, policy, field=f"input '{input_spec.name}'")
            )
        # Checked again: the queue may have filled while a large request was tokenized.
        self._require_room(len(tokenized))
        futures = [
            self.batcher.submit_nowait(text, priority=priority, deadline=deadline)
            for text in tokenized
        ]
        if len(futures) == 1:
            # One text (the common call): its future alone; gather would add a task
            # wake-up between the batch's result and this handler.
            return {output_spec.name: (await futures[0])[None, :]}
        rows = await _gather_or_cancel(futures)
        return {output_spec.name: np.stack(rows)}

    async def _infer_raw(
        self, model: RawOnnxModel, call: InferCall, priority: int, deadline: float | None
    ) -> dict[str, np.ndarray]:
        validated = model.validate(call.inputs)
        rows = next(iter(validated.values())).shape[0] if self.config.max_batch_size > 0 else 1
        self._require_room(rows)
        result: dict[str, np.ndarray] = await self.batcher.submit(
            validated, priority=priority, deadline=deadline
        )
        return result

    def _cost(self, item: Any) -> ItemCost:
        if isinstance(item, TokenizedText):
            return ItemCost(rows=1, length=item.length)
        model = self.model
        assert isinstance(model, RawOnnxModel)
        if self.config.max_batch_size == 0:
            return ItemCost(rows=1, length=1)
        rows = int(next(iter(item.values())).shape[0])
        return ItemCost(rows=rows, length=max(1, model.cost(item) // max(rows, 1)))

    # -- execution -------------------------------------------------------------------

    async def _run_in_worker(self, batch: Batch[Any], work: Any) -> T:
        """Run blocking ``work`` in a worker thread under a batch span linked to every request.

        The span starts a trace of its own (the batcher runs each batch in a fresh
        context, with no current span): a batch serves many requests, and the links
        tie it to all of them. Made only when this process exports spans: otherwise
        it would be an empty context of its own, carried nowhere.
        """
        with internal_span(
            tracer,
            "inference.batch",
            lambda: {
                "model": self.config.name,
                "batch.items": batch.size,
                "batch.rows": batch.rows,
                "batch.padded_cost": batch.padded_cost,
            },
            links=lambda: list(batch.links),
        ):
            result: T = await asyncio.get_running_loop().run_in_executor(self._executor, work)
            return result

    async def _execute_text(self, batch: Batch[TokenizedText]) -> Sequence[npt.NDArray[np.float32]]:
        model = self.model
        assert isinstance(model, TextEmbeddingModel)
        items = list(batch.items)
        overlapping = self._executing > 0
        self._executing += 1
        try:
            vectors: npt.NDArray[np.float32] = await self._run_in_worker(
                batch, lambda: model.embed(items, overlapping=overlapping)
            )
        finally:
            self._executing -= 1
        return list(vectors)

    async def _execute_raw(
        self, batch: Batch[Mapping[str, np.ndarray]]
    ) -> Sequence[dict[str, np.ndarray]]:
        model = self.model
        assert isinstance(model, RawOnnxModel)
        items = list(batch.items)

        def run_groups() -> list[dict[str, np.ndarray]]:
            # Requests whose shapes cannot be stacked run as separate executions.
            groups: dict[Any, list[int]] = {}
            for index, item in enumerate(items):
                groups.setdefault(model.batch_key(item), []).append(index)
            results: list[dict[str, np.ndarray] | None] = [None] * len(items)
            for indices in groups.values():
                stacked = model.concat([items[i] for i in indices])
                outputs = model.run(stacked.inputs)
                for index, own in zip(indices, model.split(stacked, outputs), strict=True):
                    results[index] = own
            return [r for r in results if r is not None]

        return await self._run_in_worker(batch, run_groups)


async def _gather_or_cancel(futures: Sequence[Awaitable[T]]) -> list[T]:
    """All results in order; on the first failure (or our cancellation) cancel the rest."""
    tasks = [asyncio.ensure_future(f) for f in futures]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        raise


class InferenceEngine:
    """Models from a repository, each served by a :class:`ModelRunner`."""

    def __init__(self, repository: ModelRepository) -> None:
        self.repository = repository
        self._runners: dict[str, ModelRunner] = {}
        self._load_locks: dict[str, asyncio.Lock] = {}

    def _lock(self, name: str) -> asyncio.Lock:
        return self._load_locks.setdefault(name, asyncio.Lock())

    async def load(self, name: str) -> None:
        """Load (or reload) ``name`` and warm it up in a thread; serve it when ready."""
        async with self._lock(name):
            model = await asyncio.to_thread(self.repository.load, name)
            old = self._runners.get(name)
            if old is not None and old.model is model:
                return
            runner = ModelRunner(model)
            runner.start()
            self._runners[name] = runner
            log.info(
                "model ready",
                extra={"model": name, "version": model.version, "providers": list(model.providers)},
            )
            if old is not None:
                await old.close()

    async def unload(self, name: str) -> None:
        async with self._lock(name):
            runner = self._runners.pop(name, None)
            if runner is None:
                self.repository.status(name)  # NotFound for an unknown model
                return
            await runner.close()
            await asyncio.to_thread(self.repository.unload, name)

    async def load_all(self, names: Sequence[str] = ()) -> list[str]:
        """Load ``names`` (every model on disk when empty); return those loaded."""
        wanted = list(names) or [entry.name for entry in self.repository.index()]
        for name in wanted:
            await self.load(name)
        return wanted

    async def close(self) -> None:
        for name in list(self._runners):
            runner = self._runners.pop(name)
            await runner.close()
        self.repository.close()

    def runner(self, name: str, version: str = "") -> ModelRunner:
        runner = self._runners.get(name)
        if runner is None:
            self.repository.get(name, version)  # raises NotFound / FailedPrecondition
            raise NotFound(f"model '{name}' is not loaded")
        if version and version != runner.model.version:
            raise NotFound(
                f"model '{name}' version '{version}' is not available "
                f"(serving version '{runner.model.version}')"
            )
        return runner

    def is_ready(self, name: str, version: str = "") -> bool:
        try:
            self.runner(name, version)
        except RagserveError:
            return False
        return True

    def config(self, name: str, version: str = "") -> tuple[ModelConfig, str, tuple[str, ...]]:
        """Config, served version and execution providers in use of a ready model."""
        runner = self.runner(name, version)
        return runner.config, runner.model.version, runner.model.providers

    def index(self, ready_only: bool = False) -> list[RepositoryEntry]:
        return self.repository.index(ready_only=ready_only)

    def all_ready(self) -> bool:
        entries = self.repository.index()
        return bool(self._runners) and all(
            entry.state is ModelState.READY for entry in entries if entry.name in self._runners
        )

    def statistics(self, name: str = "", version: str = "") -> list[ModelStats]:
        if name:
            return [self.runner(name, version).stats]
        return [runner.stats for _, runner in sorted(self._runners.items())]

    async def infer(self, call: InferCall) -> InferResult:
        runner = self.runner(call.model, call.version)
        started = time.perf_counter()
        reason = ""
        try:
            with internal_span(tracer, "inference.request", lambda: {"model": call.model}):
                outputs = await runner.infer(call)
            return InferResult(call.model, runner.model.version, outputs)
        except asyncio.CancelledError:
            reason = "Cancelled"
            raise
        except Exception as error:
            # Domain error class names are a small fixed set; anything else is a bug.
            reason = type(error).__name__ if isinstance(error, RagserveError) else "Internal"
            raise
        finally:
            runner.stats.request_done(time.perf_counter() - started, not reason)
            if reason:
                metrics.REQUESTS.labels(call.model, "failure", reason).inc()
            else:
                runner.succeeded.inc()
