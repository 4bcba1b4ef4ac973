"""The orchestrator called directly, as a careless internal client would (it trusts the
tenant, but must still refuse what it cannot do with a status naming the field): hostile
tenants, names, ids, documents, metadata numbers, chunking, broken streams, cancellations,
deadlines and undecodable bytes. Judged by ``hostile.Ledger``; logs scanned afterwards."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from google.protobuf import struct_pb2
from hostile import FUZZ, Ledger, World, drain, log_problems
from hypothesis import given
from hypothesis import strategies as st

from ragserve.api.orchestrator.v1 import orchestrator_pb2 as pb
from ragserve.api.orchestrator.v1 import orchestrator_pb2_grpc as pb_grpc

pytestmark = pytest.mark.slow

INVALID = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND
OK = grpc.StatusCode.OK
EXISTS = grpc.StatusCode.ALREADY_EXISTS
MODEL = "all-minilm-l6-v2"
TENANT = "fuzz"
SERVICE = "/ragserve.api.orchestrator.v1.OrchestratorService/"
HOSTILE_TEXT = st.one_of(
    st.text(max_size=80),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=60, max_size=20_000),
    st.sampled_from(
        ["", " ", "\x00", "a\x00b", "../etc", "a/b", "_collections", "é", "🚀", "\n", "a" * 65]
    ),
)
NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -0.0, 2.0**63]),
)


@pytest.fixture(scope="module")
def ledger(world: World) -> Iterator[Ledger]:
    lines = {p.name: len(p.lines) for p in world.processes}
    record = Ledger()
    yield record
    print(f"orchestrator fuzz: {record.summary()}")
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
        world.suite.orchestrator.address,
        options=[("grpc.max_send_message_length", 64 * 1024 * 1024)],
    ) as opened:
        yield opened


@pytest.fixture(scope="module")
def stub(channel: grpc.Channel) -> pb_grpc.OrchestratorServiceStub:
    return pb_grpc.OrchestratorServiceStub(channel)


@pytest.fixture(scope="module")
def coll(stub: pb_grpc.OrchestratorServiceStub) -> str:
    stub.CreateCollection(
        pb.CreateCollectionRequest(
            tenant=TENANT,
            name="fz",
            model=MODEL,
            indexed_metadata=[
                pb.IndexedMetadataField(key="topic", type=pb.METADATA_TYPE_KEYWORD),
                pb.IndexedMetadataField(key="year", type=pb.METADATA_TYPE_INTEGER),
                pb.IndexedMetadataField(key="score", type=pb.METADATA_TYPE_FLOAT),
                pb.IndexedMetadataField(key="flag", type=pb.METADATA_TYPE_BOOL),
            ],
        ),
        timeout=60,
    )
    return "fz"


def _config(collection: str, tenant: str = TENANT, **chunking: Any) -> pb.IngestRequest:
    return pb.IngestRequest(
        config=pb.IngestConfig(
            tenant=tenant, collection=collection, chunking=pb.ChunkingOptions(**chunking)
        )
    )


def _item(sequence: int, doc_id: str = "d", **fields: Any) -> pb.IngestRequest:
    fields.setdefault("text", "Text.")
    return pb.IngestRequest(
        item=pb.IngestItem(sequence=sequence, document=pb.Document(id=doc_id, **fields))
    )


def _check_acks(ledger: Ledger, case: str, acks: list[Any]) -> None:
    for ack in acks:
        if ack.status == pb.INGEST_STATUS_FAILED:
            ledger.record(f"{case} ack {ack.sequence}", OK, ack.error.message)
            if ack.error.code in (pb.INGEST_ERROR_CODE_INTERNAL, pb.INGEST_ERROR_CODE_UNAVAILABLE):
                ledger.violations.append(
                    f"{case} ack {ack.document_id[:40]!r}: {ack.error.code} "
                    f"{ack.error.message[:200]!r}"
                )


@FUZZ
@given(tenant=HOSTILE_TEXT, name=HOSTILE_TEXT)
def test_hostile_tenants_and_names(
    stub: pb_grpc.OrchestratorServiceStub, ledger: Ledger, coll: str, tenant: str, name: str
) -> None:
    before = len(ledger.violations)
    expect = [INVALID, NOT_FOUND, OK, EXISTS]
    ledger.call(
        f"CreateCollection tenant={tenant[:30]!r} name={name[:30]!r}",
        lambda: stub.CreateCollection(
            pb.CreateCollectionRequest(tenant=tenant, name=name, model=name[:300]), timeout=30
        ),
        expect=expect,
    )
    for case, thunk in (
        (
            "GetCollection",
            lambda: stub.GetCollection(
                pb.GetCollectionRequest(tenant=tenant, name=name), timeout=10
            ),
        ),
        (
            "ListCollections",
            lambda: stub.ListCollections(pb.ListCollectionsRequest(tenant=tenant), timeout=10),
        ),
        (
            "DeleteDocument",
            lambda: stub.DeleteDocument(
                pb.DeleteDocumentRequest(tenant=TENANT, collection=coll, document_id=name),
                timeout=10,
            ),
        ),
        (
            "DeleteDocument tenant",
            lambda: stub.DeleteDocument(
                pb.DeleteDocumentRequest(tenant=tenant, collection=name, document_id="x"),
                timeout=10,
            ),
        ),
        (
            "ListDocuments",
            lambda: stub.ListDocuments(
                pb.ListDocumentsRequest(tenant=tenant, collection=name, page_token=name), timeout=10
            ),
        ),
        (
            "ListDocuments token",
            lambda: stub.ListDocuments(
                pb.ListDocumentsRequest(tenant=TENANT, collection=coll, page_token=name), timeout=10
            ),
        ),
        (
            "Ingest config",
            lambda: drain(stub.Ingest(iter([_config(name, tenant), _item(1)]), timeout=30)),
        ),
    ):
        ledger.call(f"{case} tenant={tenant[:30]!r} name={name[:30]!r}", thunk, expect=expect)
    assert len(ledger.violations) == before, ledger.violations[-1]


@FUZZ
@given(
    doc_id=HOSTILE_TEXT,
    media_type=st.one_of(
        st.sampled_from(
            [
                "",
                "text/plain; charset=ebcdic-x",
                "text/plain; charset=",
                "text/plain; charset=utf-16",
                "application/pdf",
                "text/html",
                "text/markdown",
                "image/png",
                "text/plain;;;",
                "\x00",
                "TEXT/PLAIN",
            ]
        ),
        st.text(max_size=200),
    ),
    number=NUMBERS,
    key=st.one_of(
        st.text(max_size=200),
        st.sampled_from(["topic", "year", "score", "flag", "a..b", "$", "", "a[", "🚀"]),
    ),
    data=st.binary(max_size=3000),
)
def test_hostile_documents(
    stub: pb_grpc.OrchestratorServiceStub,
    ledger: Ledger,
    coll: str,
    doc_id: str,
    media_type: str,
    number: float,
    key: str,
    data: bytes,
) -> None:
    before = len(ledger.violations)
    metadata = struct_pb2.Struct()
    metadata.fields[key].number_value = number
    for indexed in ("topic", "year", "score", "flag"):
        metadata.fields[indexed].number_value = number
    requests = [
        _config(coll),
        _item(1, doc_id, metadata=metadata),
        _item(2, "ok-data", text=None, data=data, media_type=media_type),
        _item(3, "ok-text", text=doc_id, media_type=media_type),
    ]
    acks: list[Any] = []
    case = f"Ingest id={doc_id[:30]!r} media={media_type[:30]!r} n={number}"
    outcome = ledger.call(
        case, lambda: acks.extend(stub.Ingest(iter(requests), timeout=60)), expect=[OK]
    )
    _check_acks(ledger, case, acks)
    if outcome.code == OK:
        assert sorted(a.sequence for a in acks) == [1, 2, 3], acks
    assert len(ledger.violations) == before, ledger.violations[-1]


def test_broken_ingest_streams(
    stub: pb_grpc.OrchestratorServiceStub, ledger: Ledger, coll: str
) -> None:
    deep: dict[str, Any] = {}
    cursor = deep
    for _ in range(20):
        cursor["n"] = {}
        cursor = cursor["n"]
    deep_struct = struct_pb2.Struct()
    deep_struct.update(deep)
    big_struct = struct_pb2.Struct()
    big_struct.update({f"k{i}": "v" * 1000 for i in range(100)})
    streams: dict[str, list[pb.IngestRequest]] = {
        "empty stream": [],
        "no config": [_item(1)],
        "config twice": [_config(coll), _config(coll)],
        "config after a document": [_config(coll), _item(1), _config(coll)],
        "duplicate sequence": [_config(coll), _item(5, "a"), _item(5, "b")],
        "decreasing sequence": [_config(coll), _item(5, "a"), _item(4, "b")],
        "sequence 0": [_config(coll), _item(0)],
        "empty message": [_config(coll), pb.IngestRequest()],
        "empty item": [_config(coll), pb.IngestRequest(item=pb.IngestItem(sequence=1))],
        "empty config": [pb.IngestRequest(config=pb.IngestConfig())],
        "no tenant": [_config(coll, tenant=""), _item(1)],
        "chunking 1": [_config(coll, max_tokens=1), _item(1)],
        "chunking huge": [_config(coll, max_tokens=4_000_000_000), _item(1)],
        "overlap = max": [_config(coll, max_tokens=64, overlap_tokens=64), _item(1)],
        "overlap huge": [_config(coll, max_tokens=64, overlap_tokens=4_000_000_000), _item(1)],
        "priority 99": [
            pb.IngestRequest(config=pb.IngestConfig(tenant=TENANT, collection=coll, priority=99)),
            _item(1),
        ],
        "deep metadata": [_config(coll), _item(1, metadata=deep_struct)],
        "big metadata": [_config(coll), _item(1, metadata=big_struct)],
        "oversize document": [
            _config(coll),
            _item(1, "big", text=None, data=b"x" * (8 * 1024 * 1024 + 1), media_type="text/plain"),
        ],
        "empty document": [_config(coll), _item(1, "empty", text="")],
        "whitespace document": [_config(coll), _item(1, "ws", text=" \n\t " * 100)],
        "NUL document": [_config(coll), _item(1, "nul", text="\x00" * 1000)],
        "control document": [_config(coll), _item(1, "ctl", text="".join(map(chr, range(32))))],
        "missing collection": [_config("nope"), _item(1)],
        "huge sequence": [_config(coll), _item(2**64 - 1)],
        "same id twice": [
            _config(coll),
            _item(1, "twin", text="one"),
            _item(2, "twin", text="two"),
        ],
    }
    for case, requests in streams.items():
        acks: list[Any] = []
        ledger.call(
            f"Ingest {case}",
            lambda r=requests, a=acks: a.extend(stub.Ingest(iter(r), timeout=60)),
            expect=[OK, INVALID, NOT_FOUND],
        )
        _check_acks(ledger, f"Ingest {case}", acks)


def test_ingest_into_a_missing_collection_while_still_sending(
    stub: pb_grpc.OrchestratorServiceStub, ledger: Ledger
) -> None:
    def requests() -> Iterator[pb.IngestRequest]:
        yield _config("missing")
        for i in range(1, 300):
            yield _item(i, f"d{i}", text="t" * 4000)

    for round_ in range(10):
        ledger.call(
            f"Ingest into a missing collection, still sending {round_}",
            lambda: drain(stub.Ingest(requests(), timeout=60)),
            expect=[NOT_FOUND],
        )


def test_ingest_cancelled_and_out_of_time(
    world: World, stub: pb_grpc.OrchestratorServiceStub, ledger: Ledger, coll: str
) -> None:
    text = "Glaciers carve valleys. " * 2000

    def requests() -> Iterator[pb.IngestRequest]:
        yield _config(coll)
        for i in range(1, 40):
            yield _item(i, f"c{i}", text=text + str(i))

    for round_ in range(3):
        call = stub.Ingest(requests(), timeout=60)
        for _ in call:
            break
        call.cancel()
        ledger.record(f"Ingest cancelled mid-stream {round_}", OK, "")
    for timeout in (0.05, 0.3, 1.0):
        ledger.call(
            f"Ingest deadline {timeout}",
            lambda t=timeout: drain(stub.Ingest(requests(), timeout=t)),
            expect=[OK, grpc.StatusCode.DEADLINE_EXCEEDED],
        )
    # Nothing told STORED is lost: a resend of the ones acked comes back UNCHANGED.
    stored: list[int] = []
    for ack in stub.Ingest(iter([_config(coll), _item(1, "keep", text="Keep me.")]), timeout=60):
        stored.append(ack.status)
    again = list(stub.Ingest(iter([_config(coll), _item(1, "keep", text="Keep me.")]), timeout=60))
    assert [a.status for a in again] == [pb.INGEST_STATUS_UNCHANGED], again
    ledger.call(
        "GetCollection after cancels",
        lambda: stub.GetCollection(pb.GetCollectionRequest(tenant=TENANT, name=coll), timeout=30),
        expect=[OK],
    )


def test_hostile_collection_definitions(
    stub: pb_grpc.OrchestratorServiceStub, ledger: Ledger
) -> None:
    def create(name: str, fields: list[pb.IndexedMetadataField], model: str = MODEL) -> Any:
        return lambda: stub.CreateCollection(
            pb.CreateCollectionRequest(
                tenant=TENANT, name=name, model=model, indexed_metadata=fields
            ),
            timeout=30,
        )

    for case, thunk in {
        "no model": create("m0", [], ""),
        "unknown model": create("m1", [], "no-such-model"),
        "huge model": create("m2", [], "m" * 100_000),
        "key empty": create("m3", [pb.IndexedMetadataField(key="", type=1)]),
        "key path": create("m4", [pb.IndexedMetadataField(key="a..b", type=1)]),
        "key NUL": create("m5", [pb.IndexedMetadataField(key="a\x00", type=1)]),
        "key emoji": create("m6", [pb.IndexedMetadataField(key="🚀", type=1)]),
        "type 0": create("m7", [pb.IndexedMetadataField(key="k", type=0)]),
        "type 99": create("m8", [pb.IndexedMetadataField(key="k", type=99)]),
        "key twice": create("m9", [pb.IndexedMetadataField(key="k", type=1)] * 2),
        "1000 keys": create(
            "m10", [pb.IndexedMetadataField(key=f"k{i}", type=1) for i in range(1000)]
        ),
    }.items():
        ledger.call(f"CreateCollection {case}", thunk, expect=[INVALID, NOT_FOUND, OK])
    for size in (0, 1, 2**32 - 1):
        ledger.call(
            f"ListDocuments page_size {size}",
            lambda s=size: stub.ListDocuments(
                pb.ListDocumentsRequest(tenant=TENANT, collection="fz", page_size=s), timeout=30
            ),
            expect=[OK, INVALID],
        )


GARBAGE = [
    b"\x0a\x02\xff\xfe",
    b"\x0a\x05ab",
    b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",
    b"\x07",
    b"\x12\x80\x80\x80\x80\x10",
    bytes(range(256)),
]
METHODS = [
    "CreateCollection",
    "GetCollection",
    "ListCollections",
    "DeleteCollection",
    "DeleteDocument",
    "ListDocuments",
]


@FUZZ
@given(
    payload=st.one_of(st.sampled_from(GARBAGE), st.binary(max_size=400)),
    method=st.sampled_from(METHODS),
)
def test_garbage_bytes(channel: grpc.Channel, ledger: Ledger, payload: bytes, method: str) -> None:
    before = len(ledger.violations)
    call = channel.unary_unary(SERVICE + method)
    ledger.call(f"raw {method} {payload[:20]!r}", lambda: call(payload, timeout=10))
    stream = channel.stream_stream(SERVICE + "Ingest")
    ledger.call(f"raw Ingest {payload[:20]!r}", lambda: drain(stream(iter([payload]), timeout=10)))
    assert len(ledger.violations) == before, ledger.violations[-1]
