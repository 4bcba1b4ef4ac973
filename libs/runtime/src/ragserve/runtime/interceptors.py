"""Server interceptors, one job each, composed in ``grpc.aio.server``.

Each wraps the behaviour of every RPC (all four cardinalities) in a per-call
scope (:meth:`CallScopeInterceptor.scope`): the scope sees the call start, the
exception that ends it (if any) and may replace that exception. Order, outer
to inner: tracing (OpenTelemetry's own), access log, metrics, deadline, errors
— so the log and metrics see the status code the error table chose.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any

import grpc
from opentelemetry import trace
from prometheus_client import Counter, Gauge, Histogram

from ragserve import errors
from ragserve.runtime import deadlines
from ragserve.runtime.errors import status_for

if TYPE_CHECKING:
    ServerInterceptorBase = grpc.aio.ServerInterceptor[Any, Any]
    Handler = grpc.RpcMethodHandler[Any, Any]
else:
    ServerInterceptorBase = grpc.aio.ServerInterceptor
    Handler = grpc.RpcMethodHandler

log = logging.getLogger("ragserve.access")
error_log = logging.getLogger("ragserve.errors")

HEALTH_SERVICE = "grpc.health.v1.Health"
REFLECTION_PREFIX = "grpc.reflection."


def split_method(full_method: str) -> tuple[str, str]:
    """``/pkg.Service/Method`` → (``pkg.Service``, ``Method``)."""
    _, service, method = full_method.split("/", 2)
    return service, method


def is_infrastructure(full_method: str) -> bool:
    """Health checks and reflection: not logged, not traced."""
    service, _ = split_method(full_method)
    return service == HEALTH_SERVICE or service.startswith(REFLECTION_PREFIX)


def final_code(
    context: grpc.aio.ServicerContext[Any, Any], error: BaseException | None
) -> grpc.StatusCode:
    """The status code a call ended with, as the client will see it."""
    # GeneratorExit: a response stream closed because its client went away.
    if isinstance(error, asyncio.CancelledError | GeneratorExit):
        return grpc.StatusCode.CANCELLED
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return code
    if error is None:
        return grpc.StatusCode.OK
    return grpc.StatusCode.UNKNOWN


class CallScopeInterceptor(ServerInterceptorBase):
    """Base: wraps each RPC's behaviour in :meth:`scope`."""

    def scope(
        self, full_method: str, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AbstractAsyncContextManager[None]:
        raise NotImplementedError

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler:
        handler = await continuation(handler_call_details)
        method: str = handler_call_details.method
        if handler is None or is_infrastructure(method):
            return handler
        return _wrap_handler(handler, method, self.scope)


def _wrap_handler(
    handler: Handler,
    method: str,
    scope: Callable[[str, Any], AbstractAsyncContextManager[None]],
) -> Handler:
    def unary_response(behaviour: Callable[..., Any]) -> Callable[..., Any]:
        async def wrapped(request: Any, context: Any) -> Any:
            async with scope(method, context):
                return await behaviour(request, context)

        return wrapped

    def stream_response(behaviour: Callable[..., Any]) -> Callable[..., Any]:
        async def wrapped(request: Any, context: Any) -> AsyncIterator[Any]:
            async with scope(method, context):
                async for response in behaviour(request, context):
                    yield response

        return wrapped

    h: Any = handler
    common = {
        "request_deserializer": h.request_deserializer,
        "response_serializer": h.response_serializer,
    }
    if h.unary_unary:
        return grpc.unary_unary_rpc_method_handler(unary_response(h.unary_unary), **common)
    if h.stream_unary:
        return grpc.stream_unary_rpc_method_handler(unary_response(h.stream_unary), **common)
    if h.unary_stream:
        return grpc.unary_stream_rpc_method_handler(stream_response(h.unary_stream), **common)
    return grpc.stream_stream_rpc_method_handler(stream_response(h.stream_stream), **common)


def current_trace_id() -> str:
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else ""


class ErrorInterceptor(CallScopeInterceptor):
    """Maps domain errors through the error table; anything else is INTERNAL and logged."""

    @asynccontextmanager
    async def scope(self, full_method: str, context: Any) -> AsyncIterator[None]:
        try:
            yield
        except errors.RagserveError as error:
            mapped = status_for(error)
            if mapped.trailing_metadata:
                context.set_trailing_metadata(mapped.trailing_metadata)
            await context.abort(mapped.code, mapped.message)
        except (asyncio.CancelledError, grpc.aio.AbortError, GeneratorExit):
            raise
        except Exception as error:
            trace_id = current_trace_id()
            error_log.exception(
                "unhandled error in %s", full_method, extra={"rpc.method": full_method}
            )
            await context.abort(
                grpc.StatusCode.INTERNAL,
                f"internal error ({type(error).__name__}); trace id {trace_id or 'none'}",
            )


class DeadlineInterceptor(CallScopeInterceptor):
    """Makes the inbound deadline visible to cores and outbound calls (see deadlines)."""

    @asynccontextmanager
    async def scope(self, full_method: str, context: Any) -> AsyncIterator[None]:
        token = deadlines.set_from_time_remaining(context.time_remaining())
        try:
            yield
        finally:
            deadlines.reset(token)


RPC_STARTED = Counter(
    "grpc_server_started_total",
    "RPCs started on the server.",
    ["grpc_service", "grpc_method"],
)
RPC_HANDLED = Counter(
    "grpc_server_handled_total",
    "RPCs completed on the server, by status code.",
    ["grpc_service", "grpc_method", "grpc_code"],
)
RPC_DURATION = Histogram(
    "grpc_server_handling_seconds",
    "Time from the start of an RPC to its status, in seconds.",
    ["grpc_service", "grpc_method"],
    # 2: the bound of the API latency SLO (deploy/slo/slos.yaml).
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 2.5, 5, 10, 30),
)
RPC_IN_FLIGHT = Gauge(
    "grpc_server_in_flight",
    "RPCs being served now.",
    ["grpc_service", "grpc_method"],
)


class MetricsInterceptor(CallScopeInterceptor):
    """RED metrics per RPC: rate (started/handled), errors (by code), duration."""

    @asynccontextmanager
    async def scope(self, full_method: str, context: Any) -> AsyncIterator[None]:
        service, method = split_method(full_method)
        RPC_STARTED.labels(service, method).inc()
        in_flight = RPC_IN_FLIGHT.labels(service, method)
        in_flight.inc()
        started = time.perf_counter()
        error: BaseException | None = None
        try:
            yield
        except BaseException as raised:
            error = raised
            raise
        finally:
            in_flight.dec()
            RPC_DURATION.labels(service, method).observe(time.perf_counter() - started)
            RPC_HANDLED.labels(service, method, final_code(context, error).name).inc()


class AccessLogInterceptor(CallScopeInterceptor):
    """One JSON log line per RPC with its code, duration, peer and trace id."""

    @asynccontextmanager
    async def scope(self, full_method: str, context: Any) -> AsyncIterator[None]:
        started = time.perf_counter()
        # Read while the call is alive: peer() reaches into gRPC core's call object,
        # which a cancelled stream may already have released by the time its
        # generator is closed (reading it then crashed the process with SIGSEGV).
        peer = context.peer()
        error: BaseException | None = None
        try:
            yield
        except BaseException as raised:
            error = raised
            raise
        finally:
            code = final_code(context, error)
            log.info(
                "rpc",
                extra={
                    "rpc.method": full_method,
                    "rpc.code": code.name,
                    "rpc.duration_ms": round((time.perf_counter() - started) * 1000, 3),
                    "net.peer": peer,
                },
            )
