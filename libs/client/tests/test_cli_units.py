"""The CLI's pure parts: the launcher's plan, and how sources and results are printed."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragserve.client.cli.launcher import LocalSuite, SuiteError, installed
from ragserve.client.cli.query_command import query_record, source_label
from ragserve.client.types import (
    AnswerDelta,
    ChunkSource,
    Citation,
    Hit,
    QueryDone,
    QueryHits,
    QueryResult,
    QueryStarted,
    StageTiming,
)


def hit(document: str, page: int = 0, headings: tuple[str, ...] = ()) -> Hit:
    return Hit(
        "docs", document, 3, "text", 0.81234, "text/plain", ChunkSource(0, 4, page, headings), {}
    )


def test_source_label_names_document_chunk_and_page_or_headings() -> None:
    assert source_label(hit("a.txt")) == "a.txt · chunk 3"
    assert source_label(hit("b.pdf", page=2)) == "b.pdf · chunk 3 · page 2"
    assert source_label(hit("c.md", headings=("Cats", "Food"))) == "c.md · chunk 3 · Cats › Food"


def test_query_record_holds_answer_sources_timings_and_trace() -> None:
    result = QueryResult()
    for event in (
        QueryStarted("ab" * 16),
        QueryHits((hit("a.txt"), hit("b.pdf", page=1))),
        AnswerDelta("Fish."),
        Citation(1, 0, 5, 10, 20),
        QueryDone((StageTiming("search", "docs", 1.25),), 4.5, "extractive", 3, 0, 0),
    ):
        result.add(event)
    record = query_record("q", result)
    assert record["answer"] == "Fish."
    assert [s["document"] for s in record["sources"]] == ["b.pdf"]  # cited hits only
    assert [h["document"] for h in record["hits"]] == ["a.txt", "b.pdf"]
    assert record["timings_ms"] == [{"stage": "search", "collection": "docs", "ms": 1.25}]
    assert record["trace_id"] == "ab" * 16


def test_plan_uses_the_ports_and_redis_the_environment_names(tmp_path: Path) -> None:
    env = {
        "RAGSERVE_GATEWAY_PORT": "6000",
        "RAGSERVE_GATEWAY_METRICS_PORT": "6001",
        "RAGSERVE_REDIS_URL": "redis://elsewhere:7000/0",
    }
    suite = LocalSuite(tmp_path, environ=env)
    service_env = suite.plan()
    names = [part.name for part in suite.parts]
    assert "redis" not in names  # a Redis of the user's own
    assert service_env["RAGSERVE_GATEWAY_REDIS_URL"] == "redis://elsewhere:7000/0"
    if installed("gateway"):
        gateway = next(p for p in suite.parts if p.name == "gateway")
        assert (gateway.address, gateway.metrics_port) == ("127.0.0.1:6000", 6001)
    assert service_env["RAGSERVE_GATEWAY_BOOTSTRAP_KEY_FILE"] == str(
        tmp_path / "gateway" / "admin.key"
    )
    assert service_env["RAGSERVE_RETRIEVAL_DATA_DIR"] == str(tmp_path / "retrieval")


def test_plan_refuses_port_zero_and_junk(tmp_path: Path) -> None:
    if not installed("gateway"):
        pytest.skip("the gateway is not installed here")
    with pytest.raises(
        SuiteError, match="RAGSERVE_GATEWAY_PORT=0: the local suite needs fixed ports"
    ):
        LocalSuite(tmp_path, environ={"RAGSERVE_GATEWAY_PORT": "0"}).plan()
    with pytest.raises(SuiteError, match="is not a port number"):
        LocalSuite(tmp_path, environ={"RAGSERVE_GATEWAY_PORT": "http"}).plan()
