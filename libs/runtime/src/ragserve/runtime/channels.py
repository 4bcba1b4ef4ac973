"""Client channels between services.

Every channel gets: trace propagation (the trace continues in the callee),
deadline propagation (an outbound call never outlives the inbound call it
serves), keepalive, message-size limits, ``round_robin`` load balancing over
every address a name resolves to (headless Services on Kubernetes), and a
retry policy for UNAVAILABLE with exponential backoff.

When this process exports spans, OpenTelemetry's client interceptors make a
CLIENT span per call. When it does not, no span is made: the one interceptor
that caps the deadline also writes the current trace context (the caller's,
adopted by the server side) into the call's metadata, the work of four
OpenTelemetry interceptors per call reduced to a header.
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


class CallContextInterceptor(
    _UnaryUnary,
    _UnaryStream,
    _StreamUnary,
    _StreamStream,
):
    """Caps each outbound call's timeout at the inbound call's remaining deadline and,
    with ``propagate_trace``, carries the current trace context in its metadata."""

    def __init__(self, *, propagate_trace: bool) -> None:
        self._propagate_trace = propagate_trace

    def _details(self, details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        timeout = _bounded_timeout(details.timeout)
        headers = _trace_headers() if self._propagate_trace else []
        if timeout == details.timeout and not headers:
            return details
        metadata = details.metadata
        if headers:
            metadata = grpc.aio.Metadata(*(metadata or ()), *headers)
        return grpc.aio.ClientCallDetails(
            method=details.method,
            timeout=timeout,
            metadata=metadata,
            credentials=details.credentials,
            wait_for_ready=details.wait_for_ready,
        )

    async def intercept_unary_unary(
        self, continuation: Any, client_call_details: Any, request: Any
    ) -> Any:
        return _cancel_with_task(await continuation(self._details(client_call_details), request))

    async def intercept_unary_stream(
        self, continuation: Any, client_call_details: Any, request: Any
    ) -> Any:
        return await continuation(self._details(client_call_details), request)

    async def intercept_stream_unary(
        self, continuation: Any, client_call_details: Any, request_iterator: Any
    ) -> Any:
        return _cancel_with_task(
            await continuation(self._details(client_call_details), request_iterator)
        )

    async def intercept_stream_stream(
        self, continuation: Any, client_call_details: Any, request_iterator: Any
    ) -> Any:
        return await continuation(self._details(client_call_details), request_iterator)


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
    spans = trace and exporting()
    interceptors: list[Any] = [CallContextInterceptor(propagate_trace=trace and not spans)]
    if spans:
        tracing = aio_client_interceptors()  # type: ignore[no-untyped-call]
        interceptors = [*tracing, *interceptors]
    return grpc.aio.insecure_channel(
        target,
        options=channel_options(max_message_bytes, retry) + list(extra_options),
        interceptors=interceptors,
    )
