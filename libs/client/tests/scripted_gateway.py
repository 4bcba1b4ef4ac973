"""A scripted gateway in process: a real grpc server whose answers each test sets.

It stands in for the gateway only in the SDK's unit tests (how the client maps
statuses, retries and resumes); the CLI tests under tests/cli run the real suite.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf import any_pb2, duration_pb2, struct_pb2, timestamp_pb2
from google.rpc import error_details_pb2, status_pb2

from ragserve.api.gateway.v1 import gateway_pb2 as pb
from ragserve.api.gateway.v1 import gateway_pb2_grpc as pb_grpc

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"


def rich_status(
    code: grpc.StatusCode,
    message: str,
    *,
    retry_delay_s: float | None = None,
    field_name: str | None = None,
    retry_after_ms: int | None = None,
) -> tuple[grpc.StatusCode, str, tuple[tuple[str, str | bytes], ...]]:
    """(code, message, trailers) as the gateway's error table sends them."""
    details = []
    trailers: list[tuple[str, str | bytes]] = []
    if retry_delay_s is not None:
        delay = duration_pb2.Duration()
        delay.FromNanoseconds(int(retry_delay_s * 1e9))
        packed = any_pb2.Any()
        packed.Pack(error_details_pb2.RetryInfo(retry_delay=delay))
        details.append(packed)
    if field_name is not None:
        packed = any_pb2.Any()
        packed.Pack(
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(
                        field=field_name, description=message
                    )
                ]
            )
        )
        details.append(packed)
    if details:
        status = status_pb2.Status(code=code.value[0], message=message, details=details)
        trailers.append(("grpc-status-details-bin", status.SerializeToString()))
    if retry_after_ms is not None:
        trailers.append(("retry-after-ms", str(retry_after_ms)))
    return code, message, tuple(trailers)


Failure = tuple[grpc.StatusCode, str, tuple[tuple[str, str | bytes], ...]]


@dataclass
class Script:
    """What the scripted gateway does; every call is recorded."""

    # Per unary RPC name: failures to return first, in order, before succeeding.
    failures: dict[str, list[Failure]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    # Query: failures before the stream starts, and an optional failure after `started`.
    query_fail_after_start: Failure | None = None
    # Ingest: called once per stream with the documents' sequences received so far
    # and the document; returns an IngestResponse, or a Failure to end the stream.
    ingest: Callable[[int, pb.Document], pb.IngestResponse | Failure] | None = None
    ingest_streams: list[list[int]] = field(default_factory=list)
    # Every request received, by RPC (an ingest stream's config only), and the
    # `authorization` metadata of each call.
    requests: list[tuple[str, Any]] = field(default_factory=list)
    authorizations: list[str] = field(default_factory=list)
    # Query: when set, the stream stops after `started` until the client cancels the
    # call; `query_cancelled` is set once the server sees the call end.
    query_hold: bool = False
    query_cancelled: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_failure(self, rpc: str) -> Failure | None:
        with self.lock:
            self.calls.append(rpc)
            queue = self.failures.get(rpc) or []
            return queue.pop(0) if queue else None

    def requests_of(self, rpc: str) -> list[Any]:
        return [request for name, request in self.requests if name == rpc]


def _abort(context: grpc.ServicerContext, failure: Failure) -> None:
    code, message, trailers = failure
    context.set_trailing_metadata(trailers)
    context.abort(code, message)


class ScriptedGateway(pb_grpc.GatewayServiceServicer):
    def __init__(self, script: Script) -> None:
        self.script = script

    def _start(self, rpc: str, context: grpc.ServicerContext, request: Any = None) -> None:
        context.send_initial_metadata((("x-trace-id", TRACE_ID),))
        with self.script.lock:
            self.script.requests.append((rpc, request))
            self.script.authorizations.extend(
                str(value) for key, value in context.invocation_metadata() if key == "authorization"
            )
        failure = self.script.next_failure(rpc)
        if failure is not None:
            _abort(context, failure)

    def CreateCollection(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._start("CreateCollection", context, request)
        return pb.CreateCollectionResponse(
            collection=pb.Collection(name=request.name, model="m", dimension=3)
        )

    def GetCollection(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._start("GetCollection", context, request)
        return pb.GetCollectionResponse(
            collection=pb.Collection(
                name=request.name,
                model="m",
                dimension=3,
                documents_count=2,
                chunks_count=7,
                created_at=timestamp_pb2.Timestamp(seconds=1_700_000_000),
            )
        )

    def ListCollections(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._start("ListCollections", context, request)
        if request.page_token == "":
            return pb.ListCollectionsResponse(
                collections=[pb.Collection(name="a")], next_page_token="p2"
            )
        return pb.ListCollectionsResponse(collections=[pb.Collection(name="b")])

    def DeleteCollection(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._start("DeleteCollection", context, request)
        return pb.DeleteCollectionResponse()

    def ListDocuments(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._start("ListDocuments", context, request)
        if request.page_token == "":
            return pb.ListDocumentsResponse(
                documents=[pb.DocumentInfo(id="a.md", chunks=2, media_type="text/markdown")],
                next_page_token="p2",
            )
        metadata = struct_pb2.Struct()
        metadata.update({"topic": "cats"})
        return pb.ListDocumentsResponse(
            documents=[pb.DocumentInfo(id="b.txt", chunks=1, content_hash="h", metadata=metadata)]
        )

    def DeleteDocument(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._start("DeleteDocument", context, request)
        return pb.DeleteDocumentResponse(chunks_deleted=4)

    def Search(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._start("Search", context, request)
        return pb.SearchResponse(hits=[pb.Hit(document_id="d.md", chunk_index=1, score=0.5)])

    def Embed(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._start("Embed", context, request)
        return pb.EmbedResponse(
            model=request.model,
            embeddings=[pb.Embedding(values=[float(len(t)), 0.5]) for t in request.texts],
        )

    def CreateApiKey(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._start("CreateApiKey", context, request)
        key = pb.ApiKey(
            id="key1",
            tenant=request.tenant,
            permissions=request.permissions,
            description=request.description,
        )
        if request.HasField("ttl"):
            key.expires_at.FromSeconds(1_700_000_000 + request.ttl.seconds)
        return pb.CreateApiKeyResponse(key=key, secret="rsk_secret")

    def ListApiKeys(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._start("ListApiKeys", context, request)
        if request.page_token == "":
            return pb.ListApiKeysResponse(keys=[pb.ApiKey(id="k1")], next_page_token="p2")
        return pb.ListApiKeysResponse(keys=[pb.ApiKey(id="k2", permissions=[pb.PERMISSION_READ])])

    def RevokeApiKey(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._start("RevokeApiKey", context, request)
        key = pb.ApiKey(id=request.id)
        key.revoked_at.FromSeconds(1_700_000_000)
        return pb.RevokeApiKeyResponse(key=key)

    def Query(self, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        self._start("Query", context, request)
        context.add_callback(self.script.query_cancelled.set)
        yield pb.QueryResponse(started=pb.QueryStarted(trace_id=TRACE_ID))
        if self.script.query_hold:
            # Waits on the call's own end (the client's cancel), not on time.
            self.script.query_cancelled.wait(30)
            return
        if self.script.query_fail_after_start is not None:
            _abort(context, self.script.query_fail_after_start)
        yield pb.QueryResponse(
            hits=pb.QueryHits(
                hits=[
                    pb.Hit(
                        document_id="d.md",
                        chunk_index=2,
                        text="cats eat fish",
                        score=0.9,
                        source=pb.ChunkSource(heading_path=["Cats", "Food"]),
                    )
                ]
            )
        )
        yield pb.QueryResponse(answer=pb.AnswerDelta(text="Cats eat "))
        yield pb.QueryResponse(answer=pb.AnswerDelta(text="fish."))
        yield pb.QueryResponse(citation=pb.Citation(hit_index=0, answer_start=0, answer_end=14))
        yield pb.QueryResponse(
            done=pb.QueryDone(
                timings=[pb.StageTiming(stage=pb.STAGE_EMBED, duration_ms=1.5)], total_ms=3.0
            )
        )

    def Ingest(
        self, request_iterator: Iterator[Any], context: grpc.ServicerContext
    ) -> Iterator[Any]:
        first = next(request_iterator)
        self._start("Ingest", context, first)
        assert first.WhichOneof("request") == "config"
        received: list[int] = []
        with self.script.lock:
            self.script.ingest_streams.append(received)
        assert self.script.ingest is not None
        for request in request_iterator:
            document = request.document
            received.append(document.sequence)
            outcome = self.script.ingest(len(received), document)
            if isinstance(outcome, tuple):
                # End the stream with the status by returning (not abort(), which raises
                # inside the response generator while the client may still be writing).
                code, message, trailers = outcome
                context.set_trailing_metadata(trailers)
                context.set_code(code)
                context.set_details(message)
                return
            yield outcome


@dataclass
class Gateway:
    address: str
    script: Script


def start_gateway(script: Script) -> tuple[grpc.Server, Gateway]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    pb_grpc.add_GatewayServiceServicer_to_server(ScriptedGateway(script), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, Gateway(f"127.0.0.1:{port}", script)
