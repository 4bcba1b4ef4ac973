"""The public gRPC API: every call is admitted, validated, converted and forwarded.

Each handler does the same steps in the same order, before any work:
``x-trace-id`` in the initial metadata (so even a refused call can be looked
up), the RPC's deadline (default, or INVALID_ARGUMENT above its maximum), the
key (UNAUTHENTICATED / PERMISSION_DENIED / RESOURCE_EXHAUSTED), the request's
limits (INVALID_ARGUMENT naming the field); then the internal call with the
tenant from the key, and the answer converted back. Domain errors propagate to
the runtime's error table; internal services' errors are translated at the edge.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from typing import Any

import grpc

from ragserve.api.embedding.v1 import embedding_pb2_grpc as emb_grpc
from ragserve.api.gateway.v1 import gateway_pb2 as pb
from ragserve.api.gateway.v1 import gateway_pb2_grpc as pb_grpc
from ragserve.api.orchestrator.v1 import orchestrator_pb2 as orch
from ragserve.api.orchestrator.v1 import orchestrator_pb2_grpc as orch_grpc
from ragserve.errors import InvalidArgument
from ragserve.gateway import convert, validation
from ragserve.gateway.auth import Principal
from ragserve.gateway.core import GatewayCore
from ragserve.gateway.key_admin import KeyAdmin
from ragserve.gateway.policy import deadline_for
from ragserve.gateway.tracing import start_trace
from ragserve.gateway.upstream_errors import translate
from ragserve.runtime import deadlines
from ragserve.runtime.interceptors import current_trace_id

Context = grpc.aio.ServicerContext[Any, Any]

TRACE_ID_KEY = "x-trace-id"
# What a stream call's read() returns at the end (not in grpc's type stubs).
_EOF = grpc.aio.EOF  # type: ignore[attr-defined]
ORCHESTRATOR = "orchestrator"
ROUTER = "embedding router"


def _authorization(context: Context) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key == "authorization":
            return value if isinstance(value, str) else value.decode(errors="replace")
    return None


def _encode_token(last: str) -> str:
    return base64.urlsafe_b64encode(last.encode()).decode().rstrip("=")


def _decode_token(token: str) -> str:
    if not token:
        return ""
    try:
        return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidArgument("page_token", "not a token this API returned") from None


@contextmanager
def _upstream(service: str) -> Iterator[None]:
    try:
        yield
    except grpc.aio.AioRpcError as error:
        raise translate(error, service) from None


# How long the Ingest writer waits for the orchestrator to accept a stream's config
# before it forwards documents anyway (seconds).
CONFIG_ACCEPT_WAIT_S = 10.0


# The initial metadata send of the call this task serves (see GatewayServicer._call).
_SENDING: ContextVar[asyncio.Future[None]] = ContextVar("gateway_initial_metadata")


async def _initial_metadata_sent() -> None:
    """Awaited by a stream handler before its first message: grpc sends a message's own
    initial metadata unless the trace id's is already out."""
    await _SENDING.get()


class UpstreamEnded(Exception):
    """The orchestrator ended the ingest stream while a write to it was in flight."""


class UpstreamWrites:
    """The writes of an ingest stream to the orchestrator, stopped the moment the call ends.

    grpc.aio (grpc/grpc#36066): when the call's status arrives while a write is in flight,
    the failed write replaces the received status with ``INTERNAL: Internal error from
    Core``, and the reader would report that instead of the orchestrator's own status. The
    call's done callback runs as the status is set, before the write fails: it cancels the
    writer task then, and the write ends as :class:`UpstreamEnded`.
    """

    def __init__(self, call: Any) -> None:
        self.call = call
        self._in_flight = False

    def stop_when_the_call_ends(self, writer: asyncio.Task[None]) -> None:
        self.call.add_done_callback(lambda _call: writer.cancel() if self._in_flight else None)

    async def write(self, message: Any) -> None:
        self._in_flight = True
        try:
            await self.call.write(message)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if not self.call.done() or task is None or task.cancelling() > 1:
                raise  # cancelled from elsewhere (the client went away): not ours to keep
            task.uncancel()
            raise UpstreamEnded from None
        finally:
            self._in_flight = False


class AckTracker:
    """``acked_through`` of an ingest stream: the highest sequence at and below which
    every document sent got an ack that settles it (not a retryable failure)."""

    def __init__(self) -> None:
        self._sent: deque[int] = deque()
        self._settled: set[int] = set()
        self.through = 0

    def sent(self, sequence: int) -> None:
        self._sent.append(sequence)

    def acked(self, sequence: int, settles: bool) -> int:
        if settles:
            self._settled.add(sequence)
        while self._sent and self._sent[0] in self._settled:
            self.through = self._sent.popleft()
            self._settled.discard(self.through)
        return self.through


class GatewayServicer(pb_grpc.GatewayServiceServicer):
    def __init__(
        self,
        core: GatewayCore,
        keys: KeyAdmin,
        orchestrator: orch_grpc.OrchestratorServiceAsyncStub,
        router: emb_grpc.EmbeddingRouterServiceAsyncStub,
        default_model: str,
    ) -> None:
        self.core = core
        self.keys = keys
        self.orchestrator = orchestrator
        self.router = router
        self.default_model = default_model

    @asynccontextmanager
    async def _call(
        self, rpc: str, context: Context, *, texts: int = 0
    ) -> AsyncIterator[Principal]:
        """Trace id out first, then the key, then the deadline every call below inherits.

        The trace id's initial metadata is sent while the key is checked and the call
        goes on (both mostly wait: on Redis, on the service below); it is awaited before
        any answer: a unary answer is written after this block ends, which awaits it, and
        a stream handler awaits :func:`_initial_metadata_sent` before its first message.
        """
        # The runtime's SERVER span when spans are exported; otherwise a trace of our own.
        trace_id = current_trace_id() or start_trace()
        sending = asyncio.ensure_future(context.send_initial_metadata(((TRACE_ID_KEY, trace_id),)))
        try:
            principal = await self.core.admit(rpc, _authorization(context), texts=texts)
            # The runtime published the inbound deadline for this call's task; the gateway
            # narrows it to the RPC's default when the client set none.
            deadlines.publish(deadline_for(rpc, context.time_remaining()))
            _SENDING.set(sending)
            yield principal
        except BaseException:
            # The refusal or failure is what the caller hears; a failed send only means
            # it left.
            await asyncio.gather(sending, return_exceptions=True)
            raise
        await sending

    # ------------------------------------------------------------ collections

    async def CreateCollection(self, request: Any, context: Context) -> Any:
        async with self._call("CreateCollection", context) as principal:
            validation.create_collection(request)
            with _upstream(ORCHESTRATOR):
                response = await self.orchestrator.CreateCollection(
                    convert.create_collection_in(principal.tenant, request, self.default_model)
                )
            return pb.CreateCollectionResponse(
                collection=convert.collection_out(response.collection)
            )

    async def GetCollection(self, request: Any, context: Context) -> Any:
        async with self._call("GetCollection", context) as principal:
            validation.name("name", request.name)
            with _upstream(ORCHESTRATOR):
                response = await self.orchestrator.GetCollection(
                    orch.GetCollectionRequest(tenant=principal.tenant, name=request.name)
                )
            return pb.GetCollectionResponse(collection=convert.collection_out(response.collection))

    async def ListCollections(self, request: Any, context: Context) -> Any:
        async with self._call("ListCollections", context) as principal:
            page_size = validation.page("", request.page_size, request.page_token)
            after = _decode_token(request.page_token)
            with _upstream(ORCHESTRATOR):
                response = await self.orchestrator.ListCollections(
                    orch.ListCollectionsRequest(tenant=principal.tenant)
                )
            # The orchestrator lists every collection of the tenant; pages are cut here.
            rest = sorted((c for c in response.collections if c.name > after), key=lambda c: c.name)
            page = rest[:page_size]
            return pb.ListCollectionsResponse(
                collections=[convert.collection_out(c) for c in page],
                next_page_token=_encode_token(page[-1].name) if len(rest) > page_size else "",
            )

    async def DeleteCollection(self, request: Any, context: Context) -> Any:
        async with self._call("DeleteCollection", context) as principal:
            validation.name("name", request.name)
            with _upstream(ORCHESTRATOR):
                await self.orchestrator.DeleteCollection(
                    orch.DeleteCollectionRequest(tenant=principal.tenant, name=request.name)
                )
            return pb.DeleteCollectionResponse()

    # ------------------------------------------------------------ documents

    async def Ingest(
        self, request_iterator: AsyncIterator[Any], context: Context
    ) -> AsyncIterator[Any]:
        async with self._call("Ingest", context) as principal:
            first = await anext(aiter(request_iterator), None)
            if first is None or first.WhichOneof("request") != "config":
                raise InvalidArgument("config", "the first message of a stream is its config")
            validation.ingest_config(first.config)
            # Written and read concurrently: acks flow back while documents still go out.
            open_stream: Any = self.orchestrator.Ingest
            call = open_stream()
            await _initial_metadata_sent()
            tracker = AckTracker()
            writes = UpstreamWrites(call)
            writer = asyncio.create_task(
                self._forward_documents(principal, first.config, request_iterator, writes, tracker)
            )
            writes.stop_when_the_call_ends(writer)
            try:
                while True:
                    with _upstream(ORCHESTRATOR):
                        ack = await call.read()
                    if ack is _EOF:
                        break
                    yield convert.ingest_ack_out(
                        ack, tracker.acked(ack.sequence, convert.ack_settles(ack))
                    )
                # A client that broke the protocol: its documents sent before the break
                # were acked above; now the stream ends with the writer's error.
                await writer
            finally:
                writer.cancel()
                # Awaited, not just cancelled: an error the writer met after the reader's
                # (which is the one reported) is retrieved here, never logged by asyncio as
                # "Task exception was never retrieved".
                await asyncio.gather(writer, return_exceptions=True)
                call.cancel()

    async def _forward_documents(
        self,
        principal: Principal,
        config: pb.IngestConfig,
        requests: AsyncIterator[Any],
        writes: UpstreamWrites,
        tracker: AckTracker,
    ) -> None:
        call = writes.call
        try:
            await writes.write(convert.ingest_config_in(principal.tenant, config))
            # The orchestrator's initial metadata means "config accepted" (the collection
            # exists, the chunking fits its model). Documents go out only after it: a write
            # in flight when a refused config ends the stream would make grpcio's aio client
            # report INTERNAL instead of the orchestrator's status (grpc/grpc#36066).
            # Bounded: an orchestrator older than that signal sends its initial metadata
            # only with the first ack, which needs a document (rolling upgrades).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(call.initial_metadata(), CONFIG_ACCEPT_WAIT_S)
            if call.done():
                return  # refused: the reader reports why
            previous = 0
            index = 1
            async for request in requests:
                field = f"requests[{index}]"
                if request.WhichOneof("request") != "document":
                    raise InvalidArgument(f"{field}.config", "only the first message is a config")
                size = validation.document(f"{field}.document", request.document, previous)
                previous = request.document.sequence
                await self.core.pace_ingest(principal, size)
                tracker.sent(previous)
                await writes.write(convert.ingest_document_in(request.document))
                index += 1
        except (grpc.aio.AioRpcError, asyncio.InvalidStateError, UpstreamEnded):
            # The orchestrator ended the stream (grpcio says so with InvalidStateError when
            # the call finished before this write): the reader reports why.
            return
        finally:
            # Also after an error: the orchestrator acks what it got, then ends its stream.
            with contextlib.suppress(
                grpc.aio.AioRpcError, grpc.aio.UsageError, asyncio.InvalidStateError
            ):
                await call.done_writing()

    async def DeleteDocument(self, request: Any, context: Context) -> Any:
        async with self._call("DeleteDocument", context) as principal:
            validation.delete_document(request)
            with _upstream(ORCHESTRATOR):
                response = await self.orchestrator.DeleteDocument(
                    orch.DeleteDocumentRequest(
                        tenant=principal.tenant,
                        collection=request.collection,
                        document_id=request.document_id,
                    )
                )
            return pb.DeleteDocumentResponse(chunks_deleted=response.chunks_deleted)

    async def ListDocuments(self, request: Any, context: Context) -> Any:
        async with self._call("ListDocuments", context) as principal:
            page_size = validation.list_documents(request)
            with _upstream(ORCHESTRATOR):
                response = await self.orchestrator.ListDocuments(
                    orch.ListDocumentsRequest(
                        tenant=principal.tenant,
                        collection=request.collection,
                        page_size=page_size,
                        page_token=request.page_token,
                    )
                )
            return pb.ListDocumentsResponse(
                documents=[convert.document_info_out(d) for d in response.documents],
                next_page_token=response.next_page_token,
            )

    # ------------------------------------------------------------ query and search

    async def Query(self, request: Any, context: Context) -> AsyncIterator[Any]:
        started = time.perf_counter()
        async with self._call("Query", context, texts=1) as principal:
            validation.query(request)
            call = self.orchestrator.Query(convert.query_in(principal.tenant, request))
            try:
                await _initial_metadata_sent()  # while the call goes out
                with _upstream(ORCHESTRATOR):
                    async for event in call:
                        public = convert.query_event_out(
                            event, (time.perf_counter() - started) * 1000.0
                        )
                        if public is not None:
                            yield public
            finally:
                # A client that went away cancels the work below it.
                call.cancel()

    async def Search(self, request: Any, context: Context) -> Any:
        async with self._call("Search", context, texts=1) as principal:
            validation.search(request)
            response = pb.SearchResponse()
            with _upstream(ORCHESTRATOR):
                # A query without answer options: the hits event is all that comes.
                async for event in self.orchestrator.Query(
                    convert.query_in(principal.tenant, request)
                ):
                    if event.WhichOneof("event") == "hits":
                        del response.hits[:]
                        convert.hits_out(event.hits.hits, response.hits)
            return response

    # ------------------------------------------------------------ embeddings

    async def Embed(self, request: Any, context: Context) -> Any:
        # Charged before validation, capped: a huge bad request still costs its texts.
        texts = min(len(request.texts), validation.MAX_EMBED_TEXTS)
        async with self._call("Embed", context, texts=texts) as principal:
            validation.embed(request)
            with _upstream(ROUTER):
                response = await self.router.Embed(convert.embed_in(principal.tenant, request))
            return convert.embed_out(response)

    # ------------------------------------------------------------ API keys

    async def CreateApiKey(self, request: Any, context: Context) -> Any:
        async with self._call("CreateApiKey", context):
            validation.create_api_key(request)
            record, key = await self.keys.create(
                request.tenant,
                frozenset(convert.PERMISSIONS_IN[p] for p in request.permissions),
                description=request.description,
                ttl_s=request.ttl.ToTimedelta().total_seconds()
                if request.HasField("ttl")
                else None,
            )
            return pb.CreateApiKeyResponse(key=convert.api_key_out(record), secret=key)

    async def ListApiKeys(self, request: Any, context: Context) -> Any:
        async with self._call("ListApiKeys", context):
            page_size = validation.list_api_keys(request)
            page = await self.keys.list(
                request.tenant,
                include_revoked=request.include_revoked,
                after_id=_decode_token(request.page_token),
                limit=page_size,
            )
            return pb.ListApiKeysResponse(
                keys=[convert.api_key_out(r) for r in page.keys],
                next_page_token=_encode_token(page.last_id) if page.last_id else "",
            )

    async def RevokeApiKey(self, request: Any, context: Context) -> Any:
        async with self._call("RevokeApiKey", context):
            validation.key_id("id", request.id)
            record = await self.keys.revoke(request.id)
            return pb.RevokeApiKeyResponse(key=convert.api_key_out(record))


def register(server: grpc.aio.Server, servicer: GatewayServicer) -> list[str]:
    pb_grpc.add_GatewayServiceServicer_to_server(servicer, server)
    return [pb.DESCRIPTOR.services_by_name["GatewayService"].full_name]
