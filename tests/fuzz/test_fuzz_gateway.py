"""The gateway as an attacker and a careless client see it: keys, names, documents,
filters, numbers and bytes that are wrong on purpose, against real processes. Every call's
status is judged by ``hostile.Ledger``; the processes' logs are scanned afterwards."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest
from google.protobuf import struct_pb2
from hostile import (
    FUZZ,
    Ledger,
    World,
    bearer,
    drain,
    log_problems,
)
from hypothesis import given
from hypothesis import strategies as st

from ragserve.api.gateway.v1 import gateway_pb2 as pb
from ragserve.api.gateway.v1 import gateway_pb2_grpc as pb_grpc

pytestmark = pytest.mark.slow

INVALID = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND
UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED
DENIED = grpc.StatusCode.PERMISSION_DENIED
OK = grpc.StatusCode.OK
SERVICE = "/ragserve.api.gateway.v1.GatewayService/"
# Names and ids as a careless client writes them: empty, huge, unicode, NUL, control
# characters, path-like, whitespace.
HOSTILE_TEXT = st.one_of(
    st.text(max_size=80),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=60, max_size=20_000),
    st.sampled_from(
        ["", " ", "\x00", "a\x00b", "../etc", "a/b", "_collections", "é", "🚀", "\n", "a" * 65]
    ),
)
NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -0.0]),
)


@pytest.fixture(scope="module")
def ledger(world: World) -> Iterator[Ledger]:
    lines = {p.name: len(p.lines) for p in world.processes}
    record = Ledger()
    yield record
    print(f"gateway fuzz: {record.summary()}")
    for process in world.processes:
        process.check_alive()
    problems = [
        problem for p in world.processes for problem in log_problems(p, lines.get(p.name, 0))
    ]
    assert not problems, "\n".join(problems[:20])
    assert not record.violations, "\n".join(record.violations[:40])


@pytest.fixture(scope="module")
def channel(world: World) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(
        world.gateway.address,
        options=[("grpc.max_send_message_length", 64 * 1024 * 1024)],
    ) as opened:
        yield opened


@pytest.fixture(scope="module")
def stub(channel: grpc.Channel) -> pb_grpc.GatewayServiceStub:
    return pb_grpc.GatewayServiceStub(channel)


@pytest.fixture(scope="module")
def docs(world: World, stub: pb_grpc.GatewayServiceStub) -> str:
    stub.CreateCollection(
        pb.CreateCollectionRequest(
            name="fuzzdocs",
            indexed_metadata=[
                pb.MetadataField(key="topic", type=pb.METADATA_TYPE_KEYWORD),
                pb.MetadataField(key="year", type=pb.METADATA_TYPE_INTEGER),
            ],
        ),
        metadata=bearer(world.acme),
        timeout=60,
    )
    acks = drain(
        stub.Ingest(
            iter(
                [
                    pb.IngestRequest(config=pb.IngestConfig(collection="fuzzdocs")),
                    pb.IngestRequest(
                        document=pb.Document(
                            sequence=1, id="seed", text="Basalt forms when lava cools quickly."
                        )
                    ),
                ]
            ),
            metadata=bearer(world.acme),
            timeout=120,
        )
    )
    assert [a.status for a in acks] == [pb.INGEST_STATUS_STORED], acks
    return "fuzzdocs"


QUERY_UNSERVED = "Query is not served yet"


@pytest.fixture(scope="module")
def query_served(world: World, stub: pb_grpc.GatewayServiceStub, docs: str) -> bool:
    """False while the orchestrator on this branch does not serve Query (wt-query)."""
    try:
        stub.Search(
            pb.SearchRequest(collections=[docs], query="lava"),
            metadata=bearer(world.acme),
            timeout=30,
        )
    except grpc.RpcError as error:
        if QUERY_UNSERVED in (error.details() or ""):  # type: ignore[attr-defined]
            return False
    return True


def _needs_query(served: bool) -> None:
    if not served:
        pytest.skip("the orchestrator on this branch does not serve Query yet")


def _forwarded(served: bool, thunk: Callable[[], Any]) -> Callable[[], Any]:
    """``thunk``, where a call that passed the gateway's validation and reached an
    orchestrator that does not serve Query yet counts as OK: the gateway's part is done."""

    def run() -> Any:
        try:
            return thunk()
        except grpc.RpcError as error:
            if served or QUERY_UNSERVED not in (error.details() or ""):  # type: ignore[attr-defined]
                raise
            return None

    return run


def _expect_refused(ledger: Ledger, before: int) -> None:
    """Fail the example (hypothesis then shrinks it) on a new violation."""
    assert len(ledger.violations) == before, ledger.violations[-1]


# ------------------------------------------------------------------ authentication


def test_hostile_authorization_headers(
    world: World, stub: pb_grpc.GatewayServiceStub, ledger: Ledger, docs: str
) -> None:
    key_id = world.acme.split("_")[1]
    headers = [
        "",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Bearer rsk_",
        "Bearer rsk__",
        "Bearer rsk_zzzz_yyyy",
        f"Bearer rsk_{key_id}_" + "A" * 43,
        f"Bearer rsk_{key_id.upper()}_" + "A" * 43,
        f"Bearer rsk_{key_id}_" + world.acme.split("_", 2)[2][:-1],
        f"Bearer {world.acme} {world.acme}",
        "Bearer " + "A" * 7000,
        "Bearer " + "rsk_" + "f" * 16 + "_" + "A" * 6000,
        "Bearer %s" % ("rsk_" + "0" * 16 + "_" + "-" * 43),
    ]
    for header in headers:
        for case, thunk in (
            (
                "Embed",
                lambda h=header: stub.Embed(
                    pb.EmbedRequest(texts=["x"]), metadata=(("authorization", h),), timeout=10
                ),
            ),
            (
                "ListCollections",
                lambda h=header: stub.ListCollections(
                    pb.ListCollectionsRequest(), metadata=(("authorization", h),), timeout=10
                ),
            ),
            (
                "Ingest",
                lambda h=header: drain(
                    stub.Ingest(
                        iter([pb.IngestRequest(config=pb.IngestConfig(collection=docs))]),
                        metadata=(("authorization", h),),
                        timeout=10,
                    )
                ),
            ),
        ):
            ledger.call(f"auth {case} {header[:40]!r}", thunk, expect=[UNAUTHENTICATED])
    # Lenient but not wrong: the scheme is case-insensitive (RFC 7235) and extra spaces
    # are stripped. (A trailing tab never leaves the client: grpcio refuses the metadata.)
    for header in ("bearer " + world.acme, f"Bearer  {world.acme}"):
        ledger.call(
            f"auth lenient {header[:10]!r}",
            lambda h=header: stub.ListCollections(
                pb.ListCollectionsRequest(), metadata=(("authorization", h),), timeout=10
            ),
            expect=[OK],
        )
    # Past gRPC's 8 KiB metadata limit: refused by the transport, never reaching the service.
    for size in (9_000, 20_000, 200_000):
        ledger.call(
            f"auth header of {size} characters",
            lambda n=size: stub.ListCollections(
                pb.ListCollectionsRequest(),
                metadata=(("authorization", "Bearer " + "A" * n),),
                timeout=10,
            ),
            expect=[UNAUTHENTICATED, grpc.StatusCode.RESOURCE_EXHAUSTED],
        )
    # Two authorization headers, and none at all.
    ledger.call(
        "auth two headers",
        lambda: stub.ListCollections(
            pb.ListCollectionsRequest(),
            metadata=(("authorization", "Bearer x"), ("authorization", f"Bearer {world.acme}")),
            timeout=10,
        ),
        expect=[UNAUTHENTICATED, OK],
    )
    ledger.call(
        "auth none",
        lambda: stub.ListCollections(pb.ListCollectionsRequest(), timeout=10),
        expect=[UNAUTHENTICATED],
    )


def test_keys_used_where_they_do_not_reach(
    world: World,
    stub: pb_grpc.GatewayServiceStub,
    ledger: Ledger,
    docs: str,
    query_served: bool,
) -> None:
    other = bearer(world.other)
    for case, thunk in (
        (
            "GetCollection",
            lambda: stub.GetCollection(
                pb.GetCollectionRequest(name=docs), metadata=other, timeout=10
            ),
        ),
        (
            "DeleteCollection",
            lambda: stub.DeleteCollection(
                pb.DeleteCollectionRequest(name=docs), metadata=other, timeout=10
            ),
        ),
        (
            "DeleteDocument",
            lambda: stub.DeleteDocument(
                pb.DeleteDocumentRequest(collection=docs, document_id="seed"),
                metadata=other,
                timeout=10,
            ),
        ),
        (
            "ListDocuments",
            lambda: stub.ListDocuments(
                pb.ListDocumentsRequest(collection=docs), metadata=other, timeout=10
            ),
        ),
        (
            "Ingest",
            lambda: drain(
                stub.Ingest(
                    iter(
                        [
                            pb.IngestRequest(config=pb.IngestConfig(collection=docs)),
                            pb.IngestRequest(document=pb.Document(sequence=1, id="x", text="y")),
                        ]
                    ),
                    metadata=other,
                    timeout=30,
                )
            ),
        ),
    ):
        ledger.call(f"other tenant {case}", thunk, expect=[NOT_FOUND])
    if query_served:  # otherwise the orchestrator does not serve them yet
        for case, thunk in (
            (
                "Search",
                lambda: stub.Search(
                    pb.SearchRequest(collections=[docs], query="lava"), metadata=other, timeout=30
                ),
            ),
            (
                "Query",
                lambda: drain(
                    stub.Query(
                        pb.QueryRequest(collections=[docs], query="lava"),
                        metadata=other,
                        timeout=30,
                    )
                ),
            ),
        ):
            ledger.call(f"other tenant {case}", thunk, expect=[NOT_FOUND])
    reader = bearer(world.reader)
    for case, thunk in (
        (
            "CreateCollection",
            lambda: stub.CreateCollection(
                pb.CreateCollectionRequest(name="nope"), metadata=reader, timeout=10
            ),
        ),
        (
            "Ingest",
            lambda: drain(
                stub.Ingest(
                    iter([pb.IngestRequest(config=pb.IngestConfig(collection=docs))]),
                    metadata=reader,
                    timeout=10,
                )
            ),
        ),
        (
            "CreateApiKey",
            lambda: stub.CreateApiKey(
                pb.CreateApiKeyRequest(tenant="acme", permissions=[pb.PERMISSION_ADMIN]),
                metadata=reader,
                timeout=10,
            ),
        ),
    ):
        ledger.call(f"read-only {case}", thunk, expect=[DENIED])


# ------------------------------------------------------------------ names and ids


@FUZZ
@given(name=HOSTILE_TEXT)
def test_hostile_collection_names(
    world: World, stub: pb_grpc.GatewayServiceStub, ledger: Ledger, query_served: bool, name: str
) -> None:
    before = len(ledger.violations)
    key = bearer(world.acme)
    expect = [INVALID, NOT_FOUND, OK, grpc.StatusCode.ALREADY_EXISTS]
    ledger.call(
        f"CreateCollection name={name[:40]!r}",
        lambda: stub.CreateCollection(
            pb.CreateCollectionRequest(name=name, model=name[:200]), metadata=key, timeout=30
        ),
        expect=expect,
    )
    ledger.call(
        f"GetCollection name={name[:40]!r}",
        lambda: stub.GetCollection(pb.GetCollectionRequest(name=name), metadata=key, timeout=10),
        expect=expect,
    )
    ledger.call(
        f"ListDocuments name={name[:40]!r}",
        lambda: stub.ListDocuments(
            pb.ListDocumentsRequest(collection=name, page_token=name), metadata=key, timeout=10
        ),
        expect=expect,
    )
    ledger.call(
        f"DeleteDocument id={name[:40]!r}",
        lambda: stub.DeleteDocument(
            pb.DeleteDocumentRequest(collection="fuzzdocs", document_id=name),
            metadata=key,
            timeout=10,
        ),
        expect=expect,
    )
    ledger.call(
        f"Search collections={name[:40]!r}",
        _forwarded(
            query_served,
            lambda: stub.Search(
                pb.SearchRequest(collections=[name], query=name or "q"), metadata=key, timeout=30
            ),
        ),
        expect=expect,
    )
    ledger.call(
        f"Embed model={name[:40]!r}",
        lambda: stub.Embed(pb.EmbedRequest(model=name, texts=[name]), metadata=key, timeout=30),
        expect=expect,
    )
    ledger.call(
        f"CreateApiKey tenant={name[:40]!r}",
        lambda: stub.CreateApiKey(
            pb.CreateApiKeyRequest(tenant=name, permissions=[pb.PERMISSION_READ], description=name),
            metadata=bearer(world.admin),
            timeout=10,
        ),
        expect=expect,
    )
    ledger.call(
        f"RevokeApiKey id={name[:40]!r}",
        lambda: stub.RevokeApiKey(
            pb.RevokeApiKeyRequest(id=name), metadata=bearer(world.admin), timeout=10
        ),
        expect=[INVALID, NOT_FOUND],
    )
    ledger.call(
        f"ListApiKeys token={name[:40]!r}",
        lambda: stub.ListApiKeys(
            pb.ListApiKeysRequest(page_token=name), metadata=bearer(world.admin), timeout=10
        ),
        expect=[INVALID, OK],
    )
    _expect_refused(ledger, before)


# ------------------------------------------------------------------ ingest


def _value(draw_value: Any) -> struct_pb2.Value:
    value = struct_pb2.Value()
    value.number_value = draw_value
    return value


@FUZZ
@given(
    doc_id=HOSTILE_TEXT,
    media_type=st.one_of(
        st.sampled_from(
            [
                "",
                "text/plain; charset=ebcdic-x",
                "text/plain; charset=",
                "application/pdf",
                "text/html",
                "image/png",
                "text/plain;;;",
                "\x00",
            ]
        ),
        st.text(max_size=200),
    ),
    number=NUMBERS,
    key=st.one_of(st.text(max_size=200), st.sampled_from(["topic", "year", "a..b", "$", ""])),
    data=st.binary(max_size=2000),
)
def test_hostile_documents(
    world: World,
    stub: pb_grpc.GatewayServiceStub,
    ledger: Ledger,
    docs: str,
    doc_id: str,
    media_type: str,
    number: float,
    key: str,
    data: bytes,
) -> None:
    before = len(ledger.violations)
    metadata = struct_pb2.Struct()
    metadata.fields[key].CopyFrom(_value(number))
    metadata.fields["topic"].number_value = number  # indexed as keyword: a float is wrong
    documents = [
        pb.Document(sequence=1, id=doc_id, text="Some text.", metadata=metadata),
        pb.Document(sequence=2, id="ok-id", data=data, media_type=media_type),
        pb.Document(sequence=3, id="ok-id2", text=doc_id, media_type=media_type),
    ]
    requests = [pb.IngestRequest(config=pb.IngestConfig(collection=docs))]
    requests += [pb.IngestRequest(document=d) for d in documents]
    acks: list[Any] = []

    def run() -> None:
        acks.extend(stub.Ingest(iter(requests), metadata=bearer(world.acme), timeout=60))

    outcome = ledger.call(
        f"Ingest id={doc_id[:30]!r} media={media_type[:30]!r}", run, expect=[OK, INVALID]
    )
    for ack in acks:
        if ack.status == pb.INGEST_STATUS_FAILED:
            ledger.record(
                f"Ingest ack {ack.sequence} {ack.error.message[:60]!r}",
                OK,
                ack.error.message,
            )
            if ack.error.code in (pb.INGEST_ERROR_CODE_INTERNAL, pb.INGEST_ERROR_CODE_UNAVAILABLE):
                ledger.violations.append(
                    f"Ingest ack for {ack.document_id[:40]!r}: {ack.error.code} "
                    f"{ack.error.message[:200]!r}"
                )
    if outcome.code == OK:
        # Every document sent gets exactly one ack.
        assert sorted(a.sequence for a in acks) == [1, 2, 3], acks
    _expect_refused(ledger, before)


def test_broken_ingest_streams(
    world: World, stub: pb_grpc.GatewayServiceStub, ledger: Ledger, docs: str
) -> None:
    key = bearer(world.acme)
    config = pb.IngestRequest(config=pb.IngestConfig(collection=docs))

    def document(sequence: int, doc_id: str = "d", **fields: Any) -> pb.IngestRequest:
        return pb.IngestRequest(
            document=pb.Document(sequence=sequence, id=doc_id, text="Text.", **fields)
        )

    deep: dict[str, Any] = {}
    cursor = deep
    for _ in range(20):  # 60 messages deep: past the gateway's 8, within protobuf's 100
        cursor["n"] = {}
        cursor = cursor["n"]
    deep_struct = struct_pb2.Struct()
    deep_struct.update(deep)
    big_struct = struct_pb2.Struct()
    big_struct.update({f"k{i}": "v" * 1000 for i in range(100)})
    streams: dict[str, list[pb.IngestRequest]] = {
        "empty stream": [],
        "no config": [document(1)],
        "config twice": [config, config],
        "config after a document": [config, document(1), config],
        "duplicate sequence": [config, document(5, "a"), document(5, "b")],
        "decreasing sequence": [config, document(5, "a"), document(4, "b")],
        "sequence 0": [config, document(0)],
        "empty message": [config, pb.IngestRequest()],
        "empty config": [pb.IngestRequest(config=pb.IngestConfig())],
        "chunking 0": [
            pb.IngestRequest(
                config=pb.IngestConfig(collection=docs, chunking=pb.ChunkingOptions(max_tokens=1))
            )
        ],
        "chunking huge": [
            pb.IngestRequest(
                config=pb.IngestConfig(
                    collection=docs, chunking=pb.ChunkingOptions(max_tokens=4_000_000_000)
                )
            )
        ],
        "overlap over max": [
            pb.IngestRequest(
                config=pb.IngestConfig(
                    collection=docs, chunking=pb.ChunkingOptions(max_tokens=64, overlap_tokens=64)
                )
            )
        ],
        "overlap huge": [
            pb.IngestRequest(
                config=pb.IngestConfig(
                    collection=docs,
                    chunking=pb.ChunkingOptions(max_tokens=64, overlap_tokens=4_000_000_000),
                )
            )
        ],
        "deep metadata": [config, document(1, metadata=deep_struct)],
        "big metadata": [config, document(1, metadata=big_struct)],
        "oversize document": [
            config,
            pb.IngestRequest(
                document=pb.Document(
                    sequence=1, id="big", data=b"x" * (8 * 1024 * 1024 + 1), media_type="text/plain"
                )
            ),
        ],
        "missing collection": [pb.IngestRequest(config=pb.IngestConfig(collection="nope"))],
        "huge sequence": [config, document(2**64 - 1)],
    }
    for case, requests in streams.items():
        ledger.call(
            f"Ingest {case}",
            lambda r=requests: drain(stub.Ingest(iter(r), metadata=key, timeout=60)),
            expect=[OK, INVALID, NOT_FOUND],
        )


def test_ingest_writes_racing_the_end_of_the_stream(
    world: World, stub: pb_grpc.GatewayServiceStub, ledger: Ledger, docs: str
) -> None:
    # The orchestrator ends the stream (NOT_FOUND) while the gateway still forwards the
    # client's documents: the gateway's writes then meet a finished call.
    key = bearer(world.acme)

    def requests() -> Iterator[pb.IngestRequest]:
        yield pb.IngestRequest(config=pb.IngestConfig(collection="missing"))
        for i in range(1, 300):
            yield pb.IngestRequest(document=pb.Document(sequence=i, id=f"d{i}", text="t" * 4000))

    for round_ in range(10):
        ledger.call(
            f"Ingest into a missing collection, still sending {round_}",
            lambda: drain(stub.Ingest(requests(), metadata=key, timeout=60)),
            expect=[NOT_FOUND],
        )

    def over_the_model(collection: str) -> Iterator[pb.IngestRequest]:
        # Within the gateway's bound (8192), over the model's token limit (256).
        chunking = pb.ChunkingOptions(max_tokens=1000)
        yield pb.IngestRequest(config=pb.IngestConfig(collection=collection, chunking=chunking))
        for i in range(1, 300):
            yield pb.IngestRequest(document=pb.Document(sequence=i, id=f"d{i}", text="t" * 4000))

    for round_ in range(10):
        ledger.call(
            f"Ingest chunking over the model's limit, still sending {round_}",
            lambda: drain(stub.Ingest(over_the_model(docs), metadata=key, timeout=60)),
            expect=[INVALID],
        )


def test_ingest_cancelled_and_out_of_time(
    world: World, stub: pb_grpc.GatewayServiceStub, ledger: Ledger, docs: str
) -> None:
    key = bearer(world.acme)
    text = "Glaciers carve valleys. " * 2000

    def requests() -> Iterator[pb.IngestRequest]:
        yield pb.IngestRequest(config=pb.IngestConfig(collection=docs))
        for i in range(1, 40):
            yield pb.IngestRequest(document=pb.Document(sequence=i, id=f"c{i}", text=text + str(i)))

    for round_ in range(3):
        call = stub.Ingest(requests(), metadata=key, timeout=60)
        for _ in call:
            break
        call.cancel()
        ledger.record(f"Ingest cancelled mid-stream {round_}", OK, "")
    for timeout in (0.05, 0.3, 1.0):
        ledger.call(
            f"Ingest deadline {timeout}",
            lambda t=timeout: drain(stub.Ingest(requests(), metadata=key, timeout=t)),
            expect=[OK, grpc.StatusCode.DEADLINE_EXCEEDED],
        )
    # Whatever the cancelled streams left, the collection still answers.
    ledger.call(
        "GetCollection after cancels",
        lambda: stub.GetCollection(pb.GetCollectionRequest(name=docs), metadata=key, timeout=30),
        expect=[OK],
    )


# ------------------------------------------------------------------ query, search, embed


def _condition(key: str, number: float, depth: int) -> pb.Condition:
    condition = pb.Condition(key=key, range=pb.Range(gt=number))
    for _ in range(depth):
        condition = pb.Condition(nested=pb.Filter(must=[condition]))
    return condition


@FUZZ
@given(
    key=st.one_of(
        st.text(max_size=300),
        st.sampled_from(
            ["a[", "a..b", "$", ".", "a[-1]", "\x00", "🚀", "topic", "year", "a" * 129]
        ),
    ),
    number=NUMBERS,
    depth=st.integers(0, 12),
    top_k=st.sampled_from([0, 1, 100, 101, 2**32 - 1]),
    offset=st.sampled_from([0, 1000, 1001, 2**32 - 1]),
    threshold=st.one_of(st.none(), NUMBERS),
    diversity=st.one_of(st.none(), NUMBERS),
    candidates=st.sampled_from([0, 1, 1000, 1001, 2**32 - 1]),
)
def test_hostile_queries(
    world: World,
    stub: pb_grpc.GatewayServiceStub,
    ledger: Ledger,
    docs: str,
    query_served: bool,
    key: str,
    number: float,
    depth: int,
    top_k: int,
    offset: int,
    threshold: float | None,
    diversity: float | None,
    candidates: int,
) -> None:
    before = len(ledger.violations)
    request = pb.SearchRequest(
        collections=[docs],
        query="lava",
        top_k=top_k,
        offset=offset,
        filter=pb.Filter(
            must=[
                _condition(key, number, depth),
                pb.Condition(key=key, match=pb.MatchValue(keyword=key)),
            ]
        ),
    )
    if threshold is not None:
        request.score_threshold = threshold
    expect = [OK, INVALID]
    ledger.call(
        f"Search key={key[:30]!r} n={number} depth={depth}",
        _forwarded(
            query_served, lambda: stub.Search(request, metadata=bearer(world.acme), timeout=30)
        ),
        expect=expect,
    )
    query = pb.QueryRequest(
        collections=[docs],
        query="lava",
        top_k=top_k,
        offset=offset,
        filter=request.filter,
        answer=pb.AnswerOptions(max_answer_tokens=top_k, max_context_chunks=offset),
    )
    if diversity is not None:
        query.diversity.CopyFrom(pb.Diversity(diversity=diversity, candidates=candidates))
    if threshold is not None:
        query.score_threshold = threshold
    ledger.call(
        f"Query key={key[:30]!r} div={diversity}",
        _forwarded(
            query_served, lambda: drain(stub.Query(query, metadata=bearer(world.acme), timeout=30))
        ),
        expect=expect,
    )
    _expect_refused(ledger, before)


def test_hostile_query_shapes(
    world: World,
    stub: pb_grpc.GatewayServiceStub,
    ledger: Ledger,
    docs: str,
    query_served: bool,
) -> None:
    key = bearer(world.acme)
    many = pb.Filter(must=[pb.Condition(key="topic", match=pb.MatchValue(keyword="x"))] * 65)
    cases = {
        "no collections": pb.SearchRequest(query="q"),
        "17 collections": pb.SearchRequest(collections=[f"c{i}" for i in range(17)], query="q"),
        "duplicate collections": pb.SearchRequest(collections=[docs, docs], query="q"),
        "empty query": pb.SearchRequest(collections=[docs]),
        "huge query": pb.SearchRequest(collections=[docs], query="q" * 8193),
        "65 conditions": pb.SearchRequest(collections=[docs], query="q", filter=many),
        "empty condition": pb.SearchRequest(
            collections=[docs], query="q", filter=pb.Filter(must=[pb.Condition(key="topic")])
        ),
        "empty range": pb.SearchRequest(
            collections=[docs],
            query="q",
            filter=pb.Filter(must=[pb.Condition(key="year", range=pb.Range())]),
        ),
        "match_any both": pb.SearchRequest(
            collections=[docs],
            query="q",
            filter=pb.Filter(
                must=[
                    pb.Condition(key="topic", match_any=pb.MatchAny(keywords=["a"], integers=[1]))
                ]
            ),
        ),
        "match_any empty": pb.SearchRequest(
            collections=[docs],
            query="q",
            filter=pb.Filter(must=[pb.Condition(key="topic", match_any=pb.MatchAny())]),
        ),
        "match_any 257": pb.SearchRequest(
            collections=[docs],
            query="q",
            filter=pb.Filter(
                must=[pb.Condition(key="topic", match_any=pb.MatchAny(integers=list(range(257))))]
            ),
        ),
        "keyword 1025": pb.SearchRequest(
            collections=[docs],
            query="q",
            filter=pb.Filter(
                must=[pb.Condition(key="topic", match=pb.MatchValue(keyword="k" * 1025))]
            ),
        ),
        "empty match": pb.SearchRequest(
            collections=[docs],
            query="q",
            filter=pb.Filter(must=[pb.Condition(key="topic", match=pb.MatchValue())]),
        ),
        "type mismatch": pb.SearchRequest(
            collections=[docs],
            query="q",
            filter=pb.Filter(must=[pb.Condition(key="year", match=pb.MatchValue(keyword="x"))]),
        ),
        "unindexed key": pb.SearchRequest(
            collections=[docs],
            query="q",
            filter=pb.Filter(
                must=[pb.Condition(key="nothere", match=pb.MatchValue(integer=-(2**63)))]
            ),
        ),
    }
    for case, request in cases.items():
        ledger.call(
            f"Search {case}",
            _forwarded(query_served, lambda r=request: stub.Search(r, metadata=key, timeout=30)),
            expect=[OK, INVALID, NOT_FOUND],
        )
        query = pb.QueryRequest(
            collections=request.collections,
            query=request.query,
            filter=request.filter,
            answer=pb.AnswerOptions(generator=99),
        )
        ledger.call(
            f"Query {case}",
            _forwarded(
                query_served, lambda q=query: drain(stub.Query(q, metadata=key, timeout=30))
            ),
            expect=[OK, INVALID, NOT_FOUND],
        )
    for case, request in {
        "no texts": pb.EmbedRequest(),
        "257 texts": pb.EmbedRequest(texts=["t"] * 257),
        "empty text": pb.EmbedRequest(texts=[""]),
        "long text": pb.EmbedRequest(texts=["t" * 16385]),
        "refused long": pb.EmbedRequest(texts=["word " * 3000], truncation=pb.TRUNCATION_REFUSE),
        "truncation 99": pb.EmbedRequest(texts=["t"], truncation=99),
        "unknown model": pb.EmbedRequest(texts=["t"], model="no-such-model"),
    }.items():
        ledger.call(
            f"Embed {case}",
            lambda r=request: stub.Embed(r, metadata=key, timeout=30),
            expect=[OK, INVALID, NOT_FOUND],
        )


def test_hostile_paging_and_keys(
    world: World, stub: pb_grpc.GatewayServiceStub, ledger: Ledger, docs: str
) -> None:
    key, admin = bearer(world.acme), bearer(world.admin)
    for token in ["", "x", "\x00", "🚀" * 10, "A" * 257, "eyJvIjotMX0", "-1", "99999999999"]:
        for size in (0, 1, 1000, 1001, 2**32 - 1):
            ledger.call(
                f"ListCollections {token[:20]!r} {size}",
                lambda t=token, s=size: stub.ListCollections(
                    pb.ListCollectionsRequest(page_size=s, page_token=t), metadata=key, timeout=10
                ),
                expect=[OK, INVALID],
            )
            ledger.call(
                f"ListDocuments {token[:20]!r} {size}",
                lambda t=token, s=size: stub.ListDocuments(
                    pb.ListDocumentsRequest(collection=docs, page_size=s, page_token=t),
                    metadata=key,
                    timeout=10,
                ),
                expect=[OK, INVALID],
            )
            ledger.call(
                f"ListApiKeys {token[:20]!r} {size}",
                lambda t=token, s=size: stub.ListApiKeys(
                    pb.ListApiKeysRequest(page_size=s, page_token=t), metadata=admin, timeout=10
                ),
                expect=[OK, INVALID],
            )
    from google.protobuf import duration_pb2

    for case, request in {
        "no permissions": pb.CreateApiKeyRequest(tenant="t"),
        "permission 99": pb.CreateApiKeyRequest(tenant="t", permissions=[99]),
        "unspecified": pb.CreateApiKeyRequest(tenant="t", permissions=[0]),
        "negative ttl": pb.CreateApiKeyRequest(
            tenant="t", permissions=[1], ttl=duration_pb2.Duration(seconds=-5)
        ),
        "huge ttl": pb.CreateApiKeyRequest(
            tenant="t", permissions=[1], ttl=duration_pb2.Duration(seconds=315_576_000_000)
        ),
        "bad nanos": pb.CreateApiKeyRequest(
            tenant="t", permissions=[1], ttl=duration_pb2.Duration(seconds=1, nanos=-5)
        ),
        "long description": pb.CreateApiKeyRequest(
            tenant="t", permissions=[1], description="d" * 10_000
        ),
    }.items():
        ledger.call(
            f"CreateApiKey {case}",
            lambda r=request: stub.CreateApiKey(r, metadata=admin, timeout=10),
            expect=[OK, INVALID],
        )
    for timeout in (10_000.0, 200_000.0):
        ledger.call(
            f"Embed deadline {timeout}",
            lambda t=timeout: stub.Embed(pb.EmbedRequest(texts=["t"]), metadata=key, timeout=t),
            expect=[INVALID],
        )


# ------------------------------------------------------------------ bytes on the wire

METHODS = [
    "CreateCollection",
    "GetCollection",
    "ListCollections",
    "DeleteCollection",
    "DeleteDocument",
    "ListDocuments",
    "Search",
    "Embed",
    "CreateApiKey",
    "ListApiKeys",
    "RevokeApiKey",
]
GARBAGE = [
    b"\x0a\x02\xff\xfe",  # field 1, a string of invalid UTF-8
    b"\x0a\x05ab",  # truncated length
    b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",  # an overlong varint tag
    b"\x07",  # wire type 7 does not exist
    b"\x12\x80\x80\x80\x80\x10",  # a length far past the message
    bytes(range(256)),
]


@FUZZ
@given(
    payload=st.one_of(st.sampled_from(GARBAGE), st.binary(max_size=400)),
    method=st.sampled_from(METHODS),
)
def test_garbage_bytes(
    world: World, channel: grpc.Channel, ledger: Ledger, payload: bytes, method: str
) -> None:
    before = len(ledger.violations)
    call = channel.unary_unary(SERVICE + method)
    ledger.call(
        f"raw {method} {payload[:20]!r}",
        lambda: call(payload, metadata=bearer(world.admin), timeout=10),
    )
    _expect_refused(ledger, before)


def test_nesting_past_the_limit(world: World, channel: grpc.Channel, ledger: Ledger) -> None:
    # Filter.must[0].nested.must[0]... 120 deep, built by hand: protobuf's parser stops at 100.
    body = b""
    for _ in range(120):
        condition = b"\x2a" + _varint(len(body)) + body  # Condition.nested (field 5)
        body = b"\x0a" + _varint(len(condition)) + condition  # Filter.must (field 1)
    request = b"\x0a\x08fuzzdocs\x12\x01q\x22" + _varint(len(body)) + body
    call = channel.unary_unary(SERVICE + "Search")
    ledger.call(
        "raw Search nested 120",
        lambda: call(request, metadata=bearer(world.acme), timeout=10),
        expect=[INVALID],
    )


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)
