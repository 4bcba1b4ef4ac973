"""Per-stage timers inside a gateway process (a profiling aid, never imported by the gateway).

``install()`` wraps the functions a gateway call passes through with
``perf_counter_ns`` timers: the runtime's per-call wrapper (span, deadline, metrics,
access log), the key check, the rate limit, validation, conversion, the upstream
call (time waiting for the orchestrator) and the writes of a response stream. It is
loaded into a gateway started by :mod:`benchmarks.gateway.profile_gateway` through a
``sitecustomize`` module on ``PYTHONPATH``. SIGUSR1 clears the samples (after the
warm-up); at exit they are written as JSON to ``$RAGSERVE_STAGE_TIMES`` and, with
``$RAGSERVE_STAGE_CPROFILE`` set, a cProfile of the measured part is written there.
"""

from __future__ import annotations

import atexit
import cProfile
import functools
import json
import logging
import os
import signal
import time
from collections.abc import Callable
from typing import Any

SAMPLES: dict[str, list[int]] = {}
_profile: cProfile.Profile | None = None


def _record(stage: str, started: int) -> None:
    SAMPLES.setdefault(stage, []).append(time.perf_counter_ns() - started)


def _sync(stage: str, function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter_ns()
        try:
            return function(*args, **kwargs)
        finally:
            _record(stage, started)

    return timed


class _TimedContext:
    """A servicer context whose ``send_initial_metadata`` is timed."""

    def __init__(self, context: Any) -> None:
        self._context = context

    async def send_initial_metadata(self, metadata: Any) -> None:
        started = time.perf_counter_ns()
        try:
            await self._context.send_initial_metadata(metadata)
        finally:
            _record("send initial metadata", started)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)


def _handler(stage: str, function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    async def timed(self: Any, request: Any, context: Any) -> Any:
        started = time.perf_counter_ns()
        try:
            return await function(self, request, _TimedContext(context))
        finally:
            _record(stage, started)

    return timed


def _async(stage: str, function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    async def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter_ns()
        try:
            return await function(*args, **kwargs)
        finally:
            _record(stage, started)

    return timed


def _handler_stream(stage: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """A servicer's stream handler: time from its start to its end."""

    @functools.wraps(function)
    async def timed(self: Any, request: Any, context: Any) -> Any:
        started = time.perf_counter_ns()
        try:
            async for item in function(self, request, _TimedContext(context)):
                yield item
        finally:
            _record(stage, started)

    return timed


class _TimedStream:
    """An upstream response stream whose waits for the next message are timed."""

    def __init__(self, call: Any, stage: str) -> None:
        self._call = call
        self._iterator: Any = None
        self._stage = stage
        self._waited = 0

    def __aiter__(self) -> _TimedStream:
        self._iterator = self._call.__aiter__()
        return self

    async def __anext__(self) -> Any:
        started = time.perf_counter_ns()
        try:
            return await self._iterator.__anext__()
        except StopAsyncIteration:
            SAMPLES.setdefault(self._stage, []).append(
                self._waited + time.perf_counter_ns() - started
            )
            raise
        finally:
            self._waited += time.perf_counter_ns() - started

    def __getattr__(self, name: str) -> Any:
        return getattr(self._call, name)


class _TimedStub:
    def __init__(self, stub: Any) -> None:
        self._stub = stub

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._stub, name)
        stage = f"upstream {name}"
        if name in ("Query",):

            def stream(*args: Any, **kwargs: Any) -> Any:
                started = time.perf_counter_ns()
                call = method(*args, **kwargs)
                _record(f"upstream {name} (open)", started)
                return _TimedStream(call, stage)

            return stream
        if name == "Ingest":
            return method
        return _async(stage, method)


def _plain_orchestrator_stub(original: Any) -> Any:
    """An experiment: the orchestrator over a channel without client interceptors, each
    call given the deadline and trace context by hand (what the runtime's interceptor
    does), to price grpc.aio's interceptor machinery."""
    import grpc
    from opentelemetry import propagate

    from ragserve.api.orchestrator.v1 import orchestrator_pb2_grpc as orch_grpc
    from ragserve.runtime import deadlines
    from ragserve.runtime.channels import channel_options
    from ragserve.runtime.settings import service_address

    channel = grpc.aio.insecure_channel(
        service_address("orchestrator", 50052), options=channel_options()
    )
    stub = orch_grpc.OrchestratorServiceStub(channel)

    class Stub:
        def __getattr__(self, name: str) -> Any:
            if name not in ("Query", "GetCollection"):
                return getattr(original, name)
            method = getattr(stub, name)

            def call(request: Any, **kwargs: Any) -> Any:
                carrier: dict[str, str] = {}
                propagate.inject(carrier)
                return method(
                    request, timeout=deadlines.remaining(), metadata=tuple(carrier.items())
                )

            return call

    return Stub()


def install() -> None:
    from ragserve.gateway import auth, convert, core, rate_limit, servicer, validation
    from ragserve.runtime import interceptors, server_tracing
    from ragserve.runtime.logs import ACCESS_LOGGER

    auth.Authenticator.authenticate = _async("auth", auth.Authenticator.authenticate)  # type: ignore[method-assign]
    rate_limit.RateLimiter.acquire = _async("rate limit", rate_limit.RateLimiter.acquire)  # type: ignore[method-assign]
    core.GatewayCore.admit = _async("admit (auth+limit)", core.GatewayCore.admit)  # type: ignore[method-assign]
    validation.query = _sync("validation", validation.query)
    validation.name = _sync("validation", validation.name)
    convert.query_in = _sync("convert in", convert.query_in)
    convert.query_event_out = _sync("convert out (per event)", convert.query_event_out)
    convert.collection_out = _sync("convert out (per event)", convert.collection_out)
    servicer.deadline_for = _sync("deadline policy", servicer.deadline_for)  # type: ignore[attr-defined]
    servicer.current_trace_id = _sync("trace id", servicer.current_trace_id)  # type: ignore[attr-defined]
    servicer.GatewayServicer.GetCollection = _handler(  # type: ignore[method-assign]
        "handler GetCollection", servicer.GatewayServicer.GetCollection
    )
    servicer.GatewayServicer.Query = _handler_stream(  # type: ignore[method-assign]
        "handler Query", servicer.GatewayServicer.Query
    )
    # The runtime's wrapper around each call, in the gateway's process.
    interceptors._Call.__init__ = _sync("runtime call begin", interceptors._Call.__init__)  # type: ignore[method-assign]
    interceptors._Call.end = _sync("runtime call end", interceptors._Call.end)  # type: ignore[method-assign]
    interceptors._write_all = _async("runtime stream writes", interceptors._write_all)
    server_tracing.ServerTracing.begin = _sync(  # type: ignore[method-assign]
        "server span begin", server_tracing.ServerTracing.begin
    )

    original_init = servicer.GatewayServicer.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        if os.environ.get("RAGSERVE_STAGE_PLAIN_CHANNEL"):
            self.orchestrator = _plain_orchestrator_stub(self.orchestrator)
        self.orchestrator = _TimedStub(self.orchestrator)

    servicer.GatewayServicer.__init__ = init  # type: ignore[method-assign]

    def reset(*_: Any) -> None:
        global _profile
        SAMPLES.clear()
        if os.environ.get("RAGSERVE_STAGE_CPROFILE"):
            if _profile is not None:
                _profile.disable()
            _profile = cProfile.Profile()
            _profile.enable()

    if os.environ.get("RAGSERVE_STAGE_NO_ACCESS_LOG"):
        # An experiment: what the access-log line (handed to the log thread) costs a call.
        logging.getLogger(ACCESS_LOGGER).setLevel(logging.WARNING)
    signal.signal(signal.SIGUSR1, reset)
    atexit.register(_dump)


def _dump() -> None:
    path = os.environ.get("RAGSERVE_STAGE_TIMES")
    if path:
        with open(path, "w") as handle:
            json.dump(SAMPLES, handle)
    profile_path = os.environ.get("RAGSERVE_STAGE_CPROFILE")
    if profile_path and _profile is not None:
        _profile.disable()
        _profile.dump_stats(profile_path)
