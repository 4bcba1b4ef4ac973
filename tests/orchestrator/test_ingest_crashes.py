"""Crashes in the middle of an ingest stream. SIGKILL the orchestrator: every acked document
is in retrieval, and resending from the last contiguous ack duplicates nothing. SIGKILL
retrieval: no document is acked whose chunks are not durable."""

from __future__ import annotations

from collections.abc import Callable

import grpc
import pytest
from orchestrator_suite import (
    Suite,
    count_points,
    create_collection,
    orchestrator_process,
    requests_of,
    retrieval_process,
    text_document,
    wait_health,
)

from ragserve.api.orchestrator.v1 import orchestrator_pb2 as pb
from ragserve.api.orchestrator.v1 import orchestrator_pb2_grpc

pytestmark = pytest.mark.slow

DOCUMENTS = 48
KILL_AFTER_ACKS = 6


def _documents(tag: str) -> list[pb.Document]:
    return [
        text_document(
            f"{tag}-{i:03d}",
            " ".join(
                f"Document {i} of {tag}, sentence {j}: a fact about item {i * 7 + j}."
                for j in range(12 + i % 9)
            ),
        )
        for i in range(DOCUMENTS)
    ]


def _contiguous(acked: set[int]) -> int:
    highest = 0
    while highest + 1 in acked:
        highest += 1
    return highest


async def _ingest_until_killed(
    stub: orchestrator_pb2_grpc.OrchestratorServiceStub,
    collection: str,
    documents: list[pb.Document],
    kill: Callable[[], None],
) -> tuple[dict[int, pb.IngestResponse], grpc.StatusCode | None]:
    """Streams every document; after KILL_AFTER_ACKS acks calls ``kill()``; returns the
    acks received and the stream's final status (None when it completed)."""
    acks: dict[int, pb.IngestResponse] = {}
    numbered = list(enumerate(documents, start=1))
    try:
        async for ack in stub.Ingest(requests_of(collection, numbered), timeout=120):
            acks[ack.sequence] = ack
            if len(acks) == KILL_AFTER_ACKS:
                kill()
    except grpc.aio.AioRpcError as error:
        return acks, error.code()
    return acks, None


async def test_sigkill_of_the_orchestrator_mid_stream_then_resume_loses_and_duplicates_nothing(
    suite: Suite,
) -> None:
    orchestrator = orchestrator_process(suite.router.address, suite.retrieval.address)
    orchestrator.start(timeout_s=60)
    try:
        documents = _documents("crash")
        async with grpc.aio.insecure_channel(orchestrator.address) as channel:
            stub = orchestrator_pb2_grpc.OrchestratorServiceStub(channel)
            await create_collection(stub, "crash")
            acks, status = await _ingest_until_killed(stub, "crash", documents, orchestrator.kill)
        assert status == grpc.StatusCode.UNAVAILABLE
        assert KILL_AFTER_ACKS <= len(acks) < DOCUMENTS
        async with suite.retrieval_channel() as retrieval:
            for ack in acks.values():
                assert ack.status == pb.INGEST_STATUS_STORED, ack
                assert await count_points(retrieval, "crash", document_id=ack.document_id) == (
                    ack.chunks
                )

        orchestrator.start(timeout_s=60)
        resume_after = _contiguous(set(acks))
        async with grpc.aio.insecure_channel(orchestrator.address) as channel:
            stub = orchestrator_pb2_grpc.OrchestratorServiceStub(channel)
            rest = list(enumerate(documents, start=1))[resume_after:]
            resumed = {
                ack.sequence: ack
                async for ack in stub.Ingest(requests_of("crash", rest), timeout=120)
            }
        assert sorted(resumed) == list(range(resume_after + 1, DOCUMENTS + 1))
        final = {**acks, **resumed}
        for sequence, ack in resumed.items():
            if sequence in acks:
                assert ack.status == pb.INGEST_STATUS_UNCHANGED, ack
                assert ack.content_hash == acks[sequence].content_hash
            else:
                # Never acked: written now, or found complete if it was written before
                # the kill without its ack getting out.
                assert ack.status in (pb.INGEST_STATUS_STORED, pb.INGEST_STATUS_UNCHANGED), ack
        async with suite.retrieval_channel() as retrieval:
            for ack in final.values():
                assert await count_points(retrieval, "crash", document_id=ack.document_id) == (
                    ack.chunks
                )
            total = await count_points(retrieval, "crash")
        assert total == sum(ack.chunks for ack in final.values())
    finally:
        orchestrator.kill()


async def test_sigkill_of_retrieval_mid_stream_acks_only_durable_documents(suite: Suite) -> None:
    async with suite.channel() as channel:
        stub = orchestrator_pb2_grpc.OrchestratorServiceStub(channel)
        await create_collection(stub, "outage")
        port = suite.retrieval.grpc_port
        acks, status = await _ingest_until_killed(
            stub, "outage", _documents("outage"), suite.retrieval.kill
        )
    # The orchestrator cannot work without retrieval: it says so in its health.
    await wait_health(suite.orchestrator.address, serving=False)
    # The stream itself survives: documents after the kill fail one by one.
    assert status is None
    assert sorted(acks) == list(range(1, DOCUMENTS + 1))
    failed = [a for a in acks.values() if a.status == pb.INGEST_STATUS_FAILED]
    stored = [a for a in acks.values() if a.status == pb.INGEST_STATUS_STORED]
    assert len(stored) >= KILL_AFTER_ACKS and failed
    for ack in failed:
        assert ack.error.code in (
            pb.INGEST_ERROR_CODE_UNAVAILABLE,
            pb.INGEST_ERROR_CODE_DEADLINE_EXCEEDED,
        ), ack
        assert ack.error.retryable

    # Same data directory, same port: the orchestrator's channel finds it again.
    restarted = retrieval_process(suite.data_dir / "retrieval", port)
    restarted.start(timeout_s=60)
    suite.started.append(restarted)
    suite.retrieval = restarted
    await wait_health(suite.orchestrator.address, serving=True)
    async with suite.retrieval_channel() as retrieval:
        for ack in stored:
            assert await count_points(retrieval, "outage", document_id=ack.document_id) == (
                ack.chunks
            ), ack
