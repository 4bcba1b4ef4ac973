"""How each backend names what went wrong: the caller's mistake is INVALID_ARGUMENT naming
the field, an outage is Unavailable, a failure only a bug explains is ``VectorStoreFault``
(INTERNAL at the edge) — and the engine's own words never reach the caller."""

from __future__ import annotations

import errno
from pathlib import Path

import httpx
import pytest
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from ragserve.errors import InvalidArgument, NotFound, Unavailable
from ragserve.retrieval import edge_engine, server_store
from ragserve.retrieval.edge_store import EdgeStore
from ragserve.retrieval.edge_worker import decode_error, encode_error
from ragserve.retrieval.model import (
    CollectionSpec,
    FieldCondition,
    Filter,
    MatchValue,
    PayloadFieldType,
    Point,
)
from ragserve.retrieval.store import VectorStoreFault

# qdrant-client warns that it cannot check the version of a server that is not there.
pytestmark = pytest.mark.filterwarnings("ignore:Failed to obtain server version")


def test_edge_engine_errors_by_class() -> None:
    path = edge_engine.translate_error(ValueError("invalid JSON path a.."), "filter")
    assert isinstance(path, InvalidArgument)
    assert (path.field, path.reason) == ("filter", "is not a valid payload path")
    full = edge_engine.translate_error(
        Exception("Service runtime error: No space left on device (os error 28)"), "points"
    )
    assert isinstance(full, Unavailable)
    assert full.message == "embedded vector store cannot use its storage now"
    bug = edge_engine.translate_error(TypeError("failed to extract enum Helper"), "ids")
    assert isinstance(bug, VectorStoreFault)


def test_worker_errors_cross_the_pipe_by_class() -> None:
    invalid = decode_error(encode_error(InvalidArgument("filter", "is not a valid payload path")))
    assert isinstance(invalid, InvalidArgument) and invalid.field == "filter"
    disk = decode_error(encode_error(OSError(errno.ENOSPC, "No space left on device", "/data/x")))
    assert isinstance(disk, Unavailable)
    assert disk.message == "embedded vector store cannot use its storage now (ENOSPC)"
    bug = decode_error(encode_error(KeyError("generation")))
    assert isinstance(bug, VectorStoreFault)
    assert str(bug) == "KeyError: 'generation'"


def test_server_errors_by_class() -> None:
    rejected = server_store.translate_error(
        UnexpectedResponse(
            400, "Bad Request", b'{"status":{"error":"Wrong input"}}', httpx.Headers()
        ),
        "acme.docs",
        "filter",
    )
    assert isinstance(rejected, InvalidArgument)
    assert rejected.message == "filter: rejected by the vector store as invalid"
    missing = server_store.translate_error(
        UnexpectedResponse(404, "Not Found", b"", httpx.Headers()), "acme.docs"
    )
    assert isinstance(missing, NotFound) and missing.message == "collection 'docs' does not exist"
    down = server_store.translate_error(
        ResponseHandlingException(httpx.ConnectError("[Errno 111] Connection refused")),
        "acme.docs",
    )
    assert isinstance(down, Unavailable)
    assert down.message == "qdrant server unavailable (ResponseHandlingException)"
    bug = server_store.translate_error(ValueError("Wrong input: vector name"), "acme.docs")
    assert isinstance(bug, VectorStoreFault)


async def test_an_unreachable_server_is_unavailable() -> None:
    store = server_store.ServerStore.connect("http://127.0.0.1:9", timeout_s=5)
    try:
        with pytest.raises(Unavailable, match=r"^qdrant server unavailable \("):
            await store.start()
    finally:
        await store.close()


async def test_edge_rejections_reach_the_caller_as_such_and_failed_creates_leave_nothing(
    tmp_path: Path,
) -> None:
    # The backend is called directly, without the core's validation: its own mapping is
    # the safety net under test.
    store = EdgeStore(tmp_path)
    await store.start()
    try:
        bad_index = CollectionSpec(dimension=4, payload_indexes={"a[": PayloadFieldType.KEYWORD})
        with pytest.raises(InvalidArgument) as caught:
            await store.create_collection("acme.docs", bad_index)
        assert (caught.value.field, caught.value.reason) == (
            "config.payload_indexes",
            "is not a valid payload path",
        )
        assert list((tmp_path / "collections").iterdir()) == []
        await store.create_collection("acme.docs", CollectionSpec(dimension=4))
        with pytest.raises(InvalidArgument) as caught:
            await store.count("acme.docs", Filter(must=(FieldCondition("a..b", MatchValue(1)),)))
        assert (caught.value.field, caught.value.reason) == (
            "filter",
            "is not a valid payload path",
        )
        with pytest.raises(VectorStoreFault):  # an id the core would have refused
            await store.upsert("acme.docs", [Point(2**64, (1.0, 0.0, 0.0, 0.0))])
        assert await store.list_collections() == ["acme.docs"]  # the worker goes on serving
        assert await store.count("acme.docs", None) == 0
    finally:
        await store.close()
