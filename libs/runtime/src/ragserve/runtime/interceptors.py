"""The server's per-call stack, in one wrapping layer.

Every RPC of a service (health and reflection excepted) goes through
:class:`RuntimeInterceptor`, which wraps each method's behaviour once and caches
it. The wrapper, per call and in this order: makes the caller's trace current
(and starts a SERVER span when spans are exported), publishes the inbound
deadline (:mod:`ragserve.runtime.deadlines`), counts the call (RED metrics),
runs the behaviour, maps what it raised through the error table, then records
the final status code in the metrics, the span and one JSON access-log line.

One layer instead of one interceptor per job: each grpc.aio interceptor adds a
coroutine hop per call, a handler rebuilt per call and a context-manager
generator, which together doubled the cost of a no-op RPC
(``benchmarks/runtime``).

Response streams are driven here with ``context.write`` rather than handed to
grpc as a generator: when a call ends early (its deadline passes, the client
cancels) grpc cancels the call's task while it writes, and would leave the
servicer's generator to be closed by the garbage collector in another task,
where its clean-up ran outside the call's context. Here the generator is closed
in the call's own task before the call is counted.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

import grpc
from opentelemetry import trace

from ragserve import errors
from ragserve.runtime import deadlines, request_decoding
from ragserve.runtime.errors import status_for
from ragserve.runtime.logs import log_access
from ragserve.runtime.request_decoding import UndecodableRequest
from ragserve.runtime.rpc_metrics import RPC_METRICS
from ragserve.runtime.server_tracing import ServerTracing

if TYPE_CHECKING:
    ServerInterceptorBase = grpc.aio.ServerInterceptor[Any, Any]
    Handler = grpc.RpcMethodHandler[Any, Any]
else:
    ServerInterceptorBase = grpc.aio.ServerInterceptor
    Handler = grpc.RpcMethodHandler

error_log = logging.getLogger("ragserve.errors")

HEALTH_SERVICE = "grpc.health.v1.Health"
REFLECTION_PREFIX = "grpc.reflection."

_OK = grpc.StatusCode.OK
_DEADLINE_CANCEL_MARGIN_S = 0.02
# What grpc.aio raises when core fails one of a call's batches (a read, a write, the
# status): on a server, the call has ended there (the client cancelled, its deadline
# passed or its connection closed). Not in grpc's public API or type stubs.
_BATCH_FAILED: type[Exception] = grpc._cython.cygrpc.ExecuteBatchError  # type: ignore[attr-defined]


def split_method(full_method: str) -> tuple[str, str]:
    """``/pkg.Service/Method`` → (``pkg.Service``, ``Method``)."""
    _, service, method = full_method.split("/", 2)
    return service, method


def is_infrastructure(full_method: str) -> bool:
    """Health checks and reflection: not logged, counted or traced."""
    service, _ = split_method(full_method)
    return service == HEALTH_SERVICE or service.startswith(REFLECTION_PREFIX)


def current_trace_id() -> str:
    span_context = trace.get_current_span().get_span_context()
    return format(span_context.trace_id, "032x") if span_context.is_valid else ""


class _Method:
    """What every call of one method shares: its names and metric children."""

    __slots__ = ("full_name", "method", "metrics", "service")

    def __init__(self, full_name: str) -> None:
        self.full_name = full_name
        self.service, self.method = split_method(full_name)
        self.metrics = RPC_METRICS.method(self.service, self.method)


class _Call:
    """One call in flight: begun when it arrives, ended once with its final code."""

    __slots__ = (
        "code",
        "deadline",
        "details",
        "ended",
        "error",
        "method",
        "peer",
        "span",
        "started",
    )

    def __init__(self, method: _Method, context: Any, tracing: ServerTracing) -> None:
        self.method = method
        self.started = time.perf_counter()
        # Read while the call is alive: peer() reaches into gRPC core's call object,
        # which a cancelled stream may already have released when the call ends
        # (reading it then crashed the process with SIGSEGV).
        self.peer: str = context.peer()
        self.code: grpc.StatusCode | None = None
        self.details = ""
        self.error: BaseException | None = None
        self.ended = False
        self.span = tracing.begin(
            method.full_name, method.service, method.method, context.invocation_metadata()
        )
        # Set in this call's own task (grpc.aio runs each call in one) and never reset:
        # the value ends with the task, and nothing can reset it from another context.
        self.deadline = deadlines.publish(context.time_remaining())
        method.metrics.begin()

    async def fail(self, error: BaseException, context: Any) -> None:
        """Settle the final code for ``error``; abort with it when the table maps it."""
        self.error = error
        late = self._past_deadline()
        if isinstance(error, errors.RagserveError):
            mapped = status_for(error)
            self.code, self.details = mapped.code, mapped.message
            if mapped.trailing_metadata:
                context.set_trailing_metadata(mapped.trailing_metadata)
            # Recorded first: abort sends the status at once, and a caller that reads the
            # metrics once its call failed must find it counted.
            self.end(context)
            await context.abort(mapped.code, mapped.message)
        elif isinstance(error, asyncio.CancelledError | GeneratorExit | _BATCH_FAILED) or (
            isinstance(error, Exception) and late
        ):
            # The client went away, or its deadline passed: grpc cancels the call's task,
            # or a write it was doing fails first with grpc's own batch error. (A client's
            # cancel is known by that error alone: grpc.aio's context.cancelled() only
            # reports a CANCELLED status the servicer set itself.)
            self.code = grpc.StatusCode.DEADLINE_EXCEEDED if late else grpc.StatusCode.CANCELLED
        elif isinstance(error, grpc.aio.AbortError):
            code = context.code()
            self.code = code if isinstance(code, grpc.StatusCode) else grpc.StatusCode.UNKNOWN
            self.details = context.details() or ""
        elif isinstance(error, Exception):
            self.code = grpc.StatusCode.INTERNAL
            trace_id = current_trace_id()
            self.details = f"internal error ({type(error).__name__}); trace id {trace_id or 'none'}"
            error_log.exception(
                "unhandled error in %s",
                self.method.full_name,
                extra={"rpc.method": self.method.full_name},
            )
            self.end(context)
            await context.abort(grpc.StatusCode.INTERNAL, self.details)

    def _past_deadline(self) -> bool:
        # The client's own timer may cancel a little before this side's deadline
        # (gRPC rounds the deadline up on the way): a margin tells the two apart.
        return (
            self.deadline is not None
            and time.monotonic() >= self.deadline - _DEADLINE_CANCEL_MARGIN_S
        )

    def end(self, context: Any) -> None:
        """Record the call once: metrics, span, access line."""
        if self.ended:
            return
        self.ended = True
        code = self.code
        if code is None:
            set_code = context.code()
            code = set_code if isinstance(set_code, grpc.StatusCode) else _OK
        elapsed = time.perf_counter() - self.started
        self.method.metrics.end(code, elapsed)
        if self.span is not None:
            ServerTracing.end(self.span, code, self.details, self.error)
        log_access(
            {
                "rpc.method": self.method.full_name,
                "rpc.code": code.name,
                "rpc.duration_ms": round(elapsed * 1000, 3),
                "net.peer": self.peer,
            }
        )


Behaviour = Callable[..., Any]


class RuntimeInterceptor(ServerInterceptorBase):
    """Wraps every service method once (see the module doc); the wrapped handler is cached."""

    def __init__(self, tracing: ServerTracing) -> None:
        self._tracing = tracing
        self._wrapped: dict[str, tuple[Handler, Handler]] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler:
        handler = await continuation(handler_call_details)
        full_method: str = handler_call_details.method
        cached = self._wrapped.get(full_method)
        if cached is not None and cached[0] is handler:
            return cached[1]
        if handler is None or is_infrastructure(full_method):
            return handler
        wrapped = self._wrap(handler, _Method(full_method))
        self._wrapped[full_method] = (handler, wrapped)
        return wrapped

    def _wrap(self, handler: Handler, method: _Method) -> Handler:
        h: Any = handler
        request_deserializer = request_decoding.guard(
            h.request_deserializer, streaming=h.request_streaming
        )
        common = {
            "request_deserializer": request_deserializer,
            "response_serializer": h.response_serializer,
        }
        if h.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                self._unary_response(h.unary_unary, method), **common
            )
        if h.stream_unary:
            return grpc.stream_unary_rpc_method_handler(
                self._unary_response(h.stream_unary, method), **common
            )
        if h.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                self._stream_response(h.unary_stream, method), **common
            )
        return grpc.stream_stream_rpc_method_handler(
            self._stream_response(h.stream_stream, method), **common
        )

    def _unary_response(self, behaviour: Behaviour, method: _Method) -> Behaviour:
        tracing = self._tracing

        async def unary_response(request: Any, context: Any) -> Any:
            call = _Call(method, context, tracing)
            try:
                if request.__class__ is UndecodableRequest:
                    raise request.error
                return await behaviour(request, context)
            except BaseException as error:
                await call.fail(error, context)
                raise
            finally:
                call.end(context)

        return unary_response

    def _stream_response(self, behaviour: Behaviour, method: _Method) -> Behaviour:
        tracing = self._tracing
        generates = inspect.isasyncgenfunction(behaviour)

        async def stream_response(request: Any, context: Any) -> None:
            call = _Call(method, context, tracing)
            try:
                if request.__class__ is UndecodableRequest:
                    raise request.error
                if generates:
                    await _write_all(behaviour(request, context), context)
                else:
                    await behaviour(request, context)  # the reader/writer API
            except BaseException as error:
                await call.fail(error, context)
                raise
            finally:
                call.end(context)

        return stream_response


async def _write_all(responses: AsyncIterator[Any], context: Any) -> None:
    try:
        async for response in responses:
            await context.write(response)
    finally:
        # A no-op when the generator finished or raised; when a write was cancelled,
        # this runs the servicer's clean-up now, in this task.
        await responses.aclose()  # type: ignore[attr-defined]
