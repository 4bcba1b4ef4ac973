"""Client channels between services.

Every channel gets: trace propagation (the trace continues in the callee),
deadline propagation (an outbound call never outlives the inbound call it
serves), keepalive, message-size limits, ``round_robin`` load balancing over
every address a name resolves to (headless Services on Kubernetes), and a
retry policy for UNAVAILABLE with exponential backoff.

When this process exports spans, OpenTelemetry's client interceptors make a
CLIENT span per call, and one more interceptor caps the deadline. When it does
not, no span is made and there is no interceptor at all: the channel's
multi-callables are wrapped (:class:`_CallContextChannel`) to cap the timeout
and write the current trace context (the caller's, adopted by the server side)
into the call's metadata. A grpc.aio client interceptor runs each call through
a task of its own and an intercepted-call object (~0.1 ms a call here,
``benchmarks/runtime/bench_hops.py``); the wrapper is a function call.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import grpc
from opentelemetry import propagate
from opentelemetry import trace as otel_trace
from opentelemetry.instrumentation.grpc import aio_client_interceptors

from ragserve.runtime import deadlines
from ragserve.runtime.server_tracing import exporting

if TYPE_CHECKING:
    _UnaryUnary = grpc.aio.UnaryUnaryClientInterceptor[Any, Any]
    _UnaryStream = grpc.aio.UnaryStreamClientInterceptor[Any, Any]
    _StreamUnary = grpc.aio.StreamUnaryClientInterceptor[Any, Any]
    _StreamStream = grpc.aio.StreamStreamClientInterceptor[Any, Any]
else:
    _UnaryUnary = grpc.aio.UnaryUnaryClientInterceptor
    _UnaryStream = grpc.aio.UnaryStreamClientInterceptor
    _StreamUnary = grpc.aio.StreamUnaryClientInterceptor
    _StreamStream = grpc.aio.StreamStreamClientInterceptor

DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024

RETRY_SERVICE_CONFIG: dict[str, Any] = {
    "loadBalancingConfig": [{"round_robin": {}}],
    "methodConfig": [
        {
            "name": [{}],
            "retryPolicy": {
                "maxAttempts": 4,
                "initialBackoff": "0.05s",
                "maxBackoff": "1s",
                "backoffMultiplier": 2,
                "retryableStatusCodes": ["UNAVAILABLE"],
            },
        }
    ],
}


def _bounded_timeout(timeout: float | None) -> float | None:
    remaining = deadlines.remaining()
    if remaining is None:
        return timeout
    remaining = max(remaining, 0.0)
    return remaining if timeout is None else min(timeout, remaining)


def _trace_headers() -> list[tuple[str, str]]:
    if not otel_trace.get_current_span().get_span_context().is_valid:
        return []
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return list(carrier.items())


def _cancel_with_task(call: Any) -> Any:
    """Cancel the RPC ``call`` if the interceptor task it was made in ends cancelled.

    OpenTelemetry's aio client interceptor awaits a unary call's ``code()`` inside gRPC's
    interceptor task; cancelling the caller cancels that task but not the RPC, which
    went on running in the callee. This interceptor runs innermost, where the real call
    is at hand, so a caller that goes away cancels the call below it."""
    task = asyncio.current_task()
    if task is not None:
        task.add_done_callback(lambda done: call.cancel() if done.cancelled() else None)
    return call


class _CallContext:
    """Caps each outbound call's timeout at the inbound call's remaining deadline and,
    with ``propagate_trace``, carries the current trace context in its metadata."""

    def __init__(self, *, propagate_trace: bool) -> None:
        self._propagate_trace = propagate_trace

    def _details(self, details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        timeout, metadata = _call_context(details.timeout, details.metadata, self._propagate_trace)
        if timeout == details.timeout and metadata is details.metadata:
            return details
        return grpc.aio.ClientCallDetails(
            method=details.method,
            timeout=timeout,
            metadata=metadata,
            credentials=details.credentials,
            wait_for_ready=details.wait_for_ready,
        )


# One class per call kind: grpc.aio files an interceptor object under the first kind it
# implements only, so one object implementing all four would see unary-unary calls alone.
class _UnaryUnaryContext(_CallContext, _UnaryUnary):
    async def intercept_unary_unary(
        self, continuation: Any, client_call_details: Any, request: Any
    ) -> Any:
        return _cancel_with_task(await continuation(self._details(client_call_details), request))


class _UnaryStreamContext(_CallContext, _UnaryStream):
    async def intercept_unary_stream(
        self, continuation: Any, client_call_details: Any, request: Any
    ) -> Any:
        return await continuation(self._details(client_call_details), request)


class _StreamUnaryContext(_CallContext, _StreamUnary):
    async def intercept_stream_unary(
        self, continuation: Any, client_call_details: Any, request_iterator: Any
    ) -> Any:
        return _cancel_with_task(
            await continuation(self._details(client_call_details), request_iterator)
        )


class _StreamStreamContext(_CallContext, _StreamStream):
    async def intercept_stream_stream(
        self, continuation: Any, client_call_details: Any, request_iterator: Any
    ) -> Any:
        return await continuation(self._details(client_call_details), request_iterator)


def call_context_interceptors(*, propagate_trace: bool) -> list[Any]:
    """The deadline cap (and trace header) as interceptors, one per call kind."""
    return [
        kind(propagate_trace=propagate_trace)
        for kind in (
            _UnaryUnaryContext,
            _UnaryStreamContext,
            _StreamUnaryContext,
            _StreamStreamContext,
        )
    ]


def _call_context(
    timeout: float | None, metadata: Any, propagate_trace: bool
) -> tuple[float | None, Any]:
    """The timeout capped at the inbound deadline and, with ``propagate_trace``, the
    metadata with the trace headers."""
    timeout = _bounded_timeout(timeout)
    headers = _trace_headers() if propagate_trace else None
    if headers:
        metadata = grpc.aio.Metadata(*(metadata or ()), *headers)
    return timeout, metadata


class _UnaryRequest:
    """A unary-request multi-callable (unary-unary, unary-stream) with the call's context.
    Cancelling the task that awaits a call cancels the RPC: grpc.aio does that itself for a
    call made without interceptors."""

    __slots__ = ("_inner", "_propagate_trace")

    def __init__(self, inner: Any, propagate_trace: bool) -> None:
        self._inner = inner
        self._propagate_trace = propagate_trace

    def __call__(
        self, request: Any, *, timeout: float | None = None, metadata: Any = None, **kw: Any
    ) -> Any:
        timeout, metadata = _call_context(timeout, metadata, self._propagate_trace)
        return self._inner(request, timeout=timeout, metadata=metadata, **kw)


class _StreamRequest:
    """A request-streaming multi-callable (stream-unary, stream-stream) with the context."""

    __slots__ = ("_inner", "_propagate_trace")

    def __init__(self, inner: Any, propagate_trace: bool) -> None:
        self._inner = inner
        self._propagate_trace = propagate_trace

    def __call__(
        self,
        request_iterator: Any = None,
        *,
        timeout: float | None = None,
        metadata: Any = None,
        **kw: Any,
    ) -> Any:
        timeout, metadata = _call_context(timeout, metadata, self._propagate_trace)
        return self._inner(request_iterator, timeout=timeout, metadata=metadata, **kw)


class _CallContextChannel(grpc.aio.Channel):
    """A channel whose calls carry the inbound deadline and (``propagate_trace``) the trace
    context, without interceptors (used when no spans are exported)."""

    def __init__(self, inner: grpc.aio.Channel, *, propagate_trace: bool) -> None:
        self._inner = inner
        self._propagate_trace = propagate_trace

    async def __aenter__(self) -> _CallContextChannel:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._inner.close(None)

    async def close(self, grace: float | None = None) -> None:
        await self._inner.close(grace)

    def get_state(self, try_to_connect: bool = False) -> grpc.ChannelConnectivity:
        return self._inner.get_state(try_to_connect)

    async def wait_for_state_change(self, last_observed_state: grpc.ChannelConnectivity) -> None:
        await self._inner.wait_for_state_change(last_observed_state)

    async def channel_ready(self) -> None:
        await self._inner.channel_ready()

    def unary_unary(self, method: str, *args: Any, **kw: Any) -> Any:
        return _UnaryRequest(self._inner.unary_unary(method, *args, **kw), self._propagate_trace)

    def unary_stream(self, method: str, *args: Any, **kw: Any) -> Any:
        return _UnaryRequest(self._inner.unary_stream(method, *args, **kw), self._propagate_trace)

    def stream_unary(self, method: str, *args: Any, **kw: Any) -> Any:
        return _StreamRequest(self._inner.stream_unary(method, *args, **kw), self._propagate_trace)

    def stream_stream(self, method: str, *args: Any, **kw: Any) -> Any:
        return _StreamRequest(self._inner.stream_stream(method, *args, **kw), self._propagate_trace)


def channel_options(
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES, retry: bool = True
) -> list[tuple[str, Any]]:
    options: list[tuple[str, Any]] = [
        ("grpc.max_send_message_length", max_message_bytes),
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.keepalive_time_ms", 30_000),
        ("grpc.keepalive_timeout_ms", 10_000),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.max_pings_without_data", 0),
        ("grpc.enable_retries", 1 if retry else 0),
    ]
    if retry:
        options.append(("grpc.service_config", json.dumps(RETRY_SERVICE_CONFIG)))
    return options


def create_channel(
    target: str,
    *,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    retry: bool = True,
    trace: bool = True,
    extra_options: Sequence[tuple[str, Any]] = (),
) -> grpc.aio.Channel:
    """An insecure aio channel to another ragserve service (inside the mesh).

    ``retry=False`` for callers that fail over themselves (the failure must reach
    them at once); ``extra_options`` are appended to the shared channel options;
    ``trace=False``: the callee does not continue the caller's trace.
    """
    options = channel_options(max_message_bytes, retry) + list(extra_options)
    if not (trace and exporting()):
        return _CallContextChannel(
            grpc.aio.insecure_channel(target, options=options), propagate_trace=trace
        )
    interceptors: list[Any] = [
        *aio_client_interceptors(),  # type: ignore[no-untyped-call]
        *call_context_interceptors(propagate_trace=False),
    ]
    return grpc.aio.insecure_channel(target, options=options, interceptors=interceptors)
