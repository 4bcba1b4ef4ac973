"""Per-stage timestamps inside an inference process (a profiling aid, never imported by
the service).

``install()`` wraps what one ModelInfer passes through and stamps each step with
``perf_counter_ns`` (CLOCK_MONOTONIC on Linux, the same clock in every process, so the
client's send and receive stamps line up with these): request decoding, the runtime's
per-call layer, the servicer's conversion, tokenizing, the batcher's submit, the batch
task starting, the executor thread starting, ONNX Runtime's run, the result back on the
event loop, the handler resuming, the response conversion and serialising. Stamps are
keyed by the request's ``id``, which :mod:`benchmarks.inference.profile_inference` sets;
it drives one call at a time, so marks made where no id is at hand (the batch, the
worker thread, the serialiser) belong to the call in flight. Loaded into a service
started by the profiler through a ``sitecustomize`` module on ``PYTHONPATH``; at exit the
records are written as JSON to ``$RAGSERVE_STAGE_TIMES``.
"""

from __future__ import annotations

import atexit
import functools
import gc
import json
import os
import threading
import time
from collections.abc import Callable
from typing import Any

# One dict of stamps per call, in arrival order (one call at a time; see the module doc).
CALLS: list[dict[str, Any]] = []
_current: dict[str, Any] = {}
_lock = threading.Lock()


def mark(stage: str) -> None:
    now = time.perf_counter_ns()
    with _lock:
        _current.setdefault(stage, now)


_gc_started = 0


def _on_gc(phase: str, info: dict[str, int]) -> None:
    """Time the garbage collector's passes into the call in flight (``gc ns``, ``gc passes``)."""
    global _gc_started
    now = time.perf_counter_ns()
    if phase == "start":
        _gc_started = now
        return
    with _lock:
        _current["gc ns"] = _current.get("gc ns", 0) + now - _gc_started
        _current["gc passes"] = _current.get("gc passes", 0) + 1


def _sync(before: str, after: str, function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def timed(*args: Any, **kwargs: Any) -> Any:
        mark(before)
        try:
            return function(*args, **kwargs)
        finally:
            mark(after)

    return timed


class _TimedSession:
    """An ONNX Runtime session whose ``run`` is stamped (and which session ran)."""

    def __init__(self, session: Any, name: str) -> None:
        self._session = session
        self._name = name

    def run(self, *args: Any, **kwargs: Any) -> Any:
        mark("ort start")
        mark(f"session {self._name}")
        try:
            return self._session.run(*args, **kwargs)
        finally:
            mark("ort end")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


def time_sessions(model: Any) -> None:
    """Stamp ``run`` of a TextEmbeddingModel's sessions (wide and narrow)."""
    if model._session is not None:
        model._session = _TimedSession(model._session, "wide")
    if model._narrow_session is not None:
        model._narrow_session = _TimedSession(model._narrow_session, "narrow")


def _deserializer(function: Callable[[bytes], Any]) -> Callable[[bytes], Any]:
    """The first step of every call: it opens the call's record."""

    def timed(data: bytes) -> Any:
        global _current
        started = time.perf_counter_ns()
        request = function(data)
        with _lock:
            _current = {"deserialize start": started, "deserialize end": time.perf_counter_ns()}
            CALLS.append(_current)
        return request

    return timed


def _serializer(function: Callable[[Any], bytes]) -> Callable[[Any], bytes]:
    def timed(message: Any) -> bytes:
        mark("serialize start")
        try:
            return function(message)
        finally:
            mark("serialize end")

    return timed


def install() -> None:
    import grpc

    from ragserve.inference import engine, onnx_session, servicer, text_embedding
    from ragserve.runtime import interceptors

    original_handler = grpc.unary_unary_rpc_method_handler

    def handler(
        behaviour: Any, request_deserializer: Any = None, response_serializer: Any = None
    ) -> Any:
        return original_handler(
            behaviour,
            request_deserializer=_deserializer(request_deserializer)
            if request_deserializer
            else None,
            response_serializer=_serializer(response_serializer) if response_serializer else None,
        )

    grpc.unary_unary_rpc_method_handler = handler  # type: ignore[assignment]

    original_call_init = interceptors._Call.__init__
    original_call_end = interceptors._Call.end

    def call_init(self: Any, *args: Any, **kwargs: Any) -> None:
        mark("layer begin start")
        original_call_init(self, *args, **kwargs)
        mark("layer begin end")

    interceptors._Call.__init__ = call_init  # type: ignore[method-assign]
    interceptors._Call.end = _sync("layer end start", "layer end end", original_call_end)  # type: ignore[method-assign]

    original_infer = servicer.InferenceServicer.ModelInfer

    async def model_infer(self: Any, request: Any, context: Any) -> Any:
        mark("handler start")
        with _lock:
            _current["id"] = request.id
        try:
            return await original_infer(self, request, context)
        finally:
            mark("handler end")

    servicer.InferenceServicer.ModelInfer = model_infer  # type: ignore[method-assign]
    servicer.InferenceServicer.ServerLive = _async_marked(servicer.InferenceServicer.ServerLive)  # type: ignore[method-assign]

    servicer.to_call = _sync("to_call start", "to_call end", servicer.to_call)
    servicer.to_response = _sync("to_response start", "to_response end", servicer.to_response)

    # An experiment: ONNX Runtime session config entries ("key=value;key=value").
    entries = os.environ.get("RAGSERVE_STAGE_ORT_CONFIG", "")
    if entries:
        original_options = onnx_session.session_options

        def session_options(config: Any) -> Any:
            options = original_options(config)
            for entry in entries.split(";"):
                key, _, value = entry.partition("=")
                options.add_session_config_entry(key, value)
            return options

        onnx_session.session_options = session_options

    model_class = text_embedding.TextEmbeddingModel
    model_class.tokenize = _sync("tokenize start", "tokenize end", model_class.tokenize)  # type: ignore[method-assign]
    model_class.embed = _sync("embed start", "embed end", model_class.embed)  # type: ignore[method-assign]
    original_model_init = model_class.__init__

    def model_init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_model_init(self, *args, **kwargs)
        time_sessions(self)

    model_class.__init__ = model_init  # type: ignore[method-assign]

    from ragserve.batching import batcher

    dynamic = batcher.DynamicBatcher
    dynamic.submit_nowait = _sync("submit start", "submit end", dynamic.submit_nowait)  # type: ignore[method-assign]
    original_run_batch = dynamic._run_batch

    async def run_batch(self: Any) -> None:
        mark("batch task start")
        await original_run_batch(self)

    dynamic._run_batch = run_batch  # type: ignore[method-assign]

    original_run_in_worker = engine.ModelRunner._run_in_worker

    async def run_in_worker(self: Any, batch: Any, work: Any) -> Any:
        mark("executor submit")
        try:
            return await original_run_in_worker(self, batch, work)
        finally:
            mark("back on loop")

    engine.ModelRunner._run_in_worker = run_in_worker  # type: ignore[method-assign]

    gc.callbacks.append(_on_gc)

    def dump() -> None:
        path = os.environ.get("RAGSERVE_STAGE_TIMES")
        if path:
            with _lock, open(path, "w", encoding="utf-8") as file:
                json.dump(CALLS, file)

    atexit.register(dump)


def _async_marked(function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    async def marked(*args: Any, **kwargs: Any) -> Any:
        mark("handler start")
        try:
            return await function(*args, **kwargs)
        finally:
            mark("handler end")

    return marked
