"""A large collection of real passages for the query benchmarks, written straight into
retrieval (the orchestrator's Ingest would spend an hour embedding 100k chunks on 2 cores):
each passage becomes a point with the orchestrator's chunk payload layout, its vector the
model's real embedding (benchmarks/real_texts.py). Then the index build that retrieval
starts once the collection passes its threshold is awaited by its log record."""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
from google.protobuf import struct_pb2

from ragserve.api.common.v1 import common_pb2
from ragserve.api.retrieval.v1 import retrieval_pb2 as rpb
from ragserve.testkit.processes import ServiceProcess

UPSERT_BATCH = 1024
# Passages beyond the collection's: outside queries (recall@10) for the benches that want
# them. Part of the cached embedding set's size, so every bench asks for the same set.
HELD_OUT = 500


def real_passages(chunks: int) -> tuple[list[str], np.ndarray]:
    """``chunks + HELD_OUT`` real passages and their embeddings (cached across benches)."""
    from benchmarks import real_texts
    from ragserve.model_setup import default_repository, ensure_models

    repository = default_repository()
    ensure_models(repository, report=lambda _line: None)
    texts = real_texts.passages(chunks + HELD_OUT)
    return texts, real_texts.embeddings(texts, repository)


def passage_point(index: int, text: str, vector: np.ndarray) -> rpb.Point:
    """A real passage as the orchestrator stores a chunk (eight chunks to a document)."""
    payload = struct_pb2.Struct()
    payload.update(
        {
            "document_id": f"docstrings-{index // 8}",
            "content_hash": "docstrings",
            "chunk_index": index % 8,
            "chunk_count": 8,
            "text": text,
            "start": 0,
            "end": len(text),
            "media_type": "text/plain",
            "metadata": {},
        }
    )
    return rpb.Point(
        id=common_pb2.PointId(uuid=str(uuid.uuid5(uuid.NAMESPACE_OID, f"passage-{index}"))),
        vector=vector.tolist(),
        payload=payload,
    )


async def add_passages(
    retrieval: Any, tenant: str, collection: str, texts: list[str], vectors: np.ndarray
) -> None:
    async def batches() -> Any:
        for start in range(0, len(texts), UPSERT_BATCH):
            stop = min(start + UPSERT_BATCH, len(texts))
            yield rpb.UpsertRequest(
                tenant=tenant,
                collection=collection,
                points=[passage_point(i, texts[i], vectors[i]) for i in range(start, stop)],
            )

    await retrieval.Upsert(batches(), timeout=3600)


def wait_for_index(
    retrieval: ServiceProcess, collection: str, points: int, threshold: int, timeout_s: float
) -> str:
    """Retrieval's log line about the collection's index build, once it has finished
    (awaited by notification); "" when the collection is below the index threshold."""
    if threshold <= 0 or points < threshold:
        return ""

    def finished(record: dict[str, Any]) -> bool:
        message = str(record.get("message", ""))
        return (
            message.startswith("index build of")
            and f".{collection} " in message
            and (" done " in message or " failed " in message)
        )

    record = retrieval.wait_for_record(finished, timeout_s=timeout_s)
    return str(record["message"])


async def index_state(retrieval: Any, tenant: str, collection: str) -> str:
    info = await retrieval.DescribeCollection(
        rpb.DescribeCollectionRequest(tenant=tenant, name=collection), timeout=60
    )
    return rpb.IndexState.Name(info.collection.index_state)
