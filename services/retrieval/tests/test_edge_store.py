"""The embedded backend's own guarantees: persistence across close and SIGKILL, the worker
restarted after it dies, leftovers of interrupted work cleaned at start-up, and index
builds that run beside serving and lose no write."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import numpy as np
import pytest

from ragserve.errors import Unavailable
from ragserve.retrieval.core import RetrievalCore
from ragserve.retrieval.edge_store import EdgeStore
from ragserve.retrieval.edge_worker import WorkerSettings
from ragserve.retrieval.model import (
    CollectionSpec,
    FieldCondition,
    Filter,
    HnswSettings,
    IndexState,
    MatchValue,
    PayloadFieldType,
    Point,
    SearchQuery,
)

DIMENSION = 8
TENANT = "acme"
SPEC = CollectionSpec(dimension=DIMENSION, payload_indexes={"doc": PayloadFieldType.KEYWORD})


def batch(start: int, count: int) -> list[Point]:
    rng = np.random.default_rng(start)
    vectors = rng.normal(size=(count, DIMENSION)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return [
        Point(start + i, tuple(float(x) for x in vectors[i]), {"doc": f"doc-{(start + i) % 3}"})
        for i in range(count)
    ]


async def open_core(data_dir: Path, settings: WorkerSettings | None = None) -> RetrievalCore:
    core = RetrievalCore(EdgeStore(data_dir, settings), "edge")
    await core.start()
    return core


async def test_acknowledged_points_survive_close_and_reopen(tmp_path: Path) -> None:
    core = await open_core(tmp_path)
    await core.create_collection(TENANT, "docs", SPEC)
    points = batch(0, 50)
    await core.upsert(TENANT, "docs", points)
    await core.close()

    core = await open_core(tmp_path)
    try:
        assert await core.count(TENANT, "docs") == 50
        hits = await core.search(TENANT, "docs", SearchQuery(points[17].vector, limit=1))
        assert (hits[0].id, hits[0].payload) == (17, {"doc": "doc-2"})
        assert (await core.describe_collection(TENANT, "docs")).spec == SPEC
    finally:
        await core.close()


async def test_sigkilled_worker_restarts_and_keeps_every_acknowledged_point(
    tmp_path: Path,
) -> None:
    core = await open_core(tmp_path)
    store = core.store
    assert isinstance(store, EdgeStore)
    try:
        await core.create_collection(TENANT, "docs", SPEC)
        for start in range(0, 300, 100):
            await core.upsert(TENANT, "docs", batch(start, 100))
        restarts, pid = store.restarts, store.worker_pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)  # no flush, no close: only the WAL saves us
        await store.wait_restarted(restarts, timeout_s=30)
        assert store.worker_pid != pid
        assert await core.count(TENANT, "docs") == 300
        doc1 = Filter(must=(FieldCondition("doc", MatchValue("doc-1")),))
        assert await core.count(TENANT, "docs", doc1) == 100
    finally:
        await core.close()


async def test_requests_in_flight_when_the_worker_dies_fail_with_unavailable(
    tmp_path: Path,
) -> None:
    core = await open_core(tmp_path)
    store = core.store
    assert isinstance(store, EdgeStore)
    try:
        await core.create_collection(TENANT, "docs", SPEC)
        await core.upsert(TENANT, "docs", batch(0, 10))
        restarts, pid = store.restarts, store.worker_pid
        assert pid is not None
        # Stop the worker so the request is certainly in flight, then kill it.
        os.kill(pid, signal.SIGSTOP)
        pending = asyncio.ensure_future(core.count(TENANT, "docs"))
        await asyncio.sleep(0)  # let the request leave
        os.kill(pid, signal.SIGKILL)
        # Either the reply never comes (exit code -9) or the send meets a closed pipe.
        with pytest.raises(
            Unavailable, match=rf"embedded vector store worker {pid} .*restarting it"
        ):
            await pending
        await store.wait_restarted(restarts, timeout_s=30)
        assert await core.count(TENANT, "docs") == 10
    finally:
        await core.close()


async def test_leftovers_of_interrupted_work_are_removed_at_start_up(tmp_path: Path) -> None:
    core = await open_core(tmp_path)
    await core.create_collection(TENANT, "docs", SPEC)
    await core.upsert(TENANT, "docs", batch(0, 5))
    await core.close()
    collection = tmp_path / "collections" / f"{TENANT}.docs"
    leftovers = [
        collection / "shard-1" / "temp_segments",  # an optimize() that was killed
        collection / "shard-2",  # an index build that never went live
        tmp_path / "collections" / "acme.half.partial",  # a creation cut short
    ]
    for path in leftovers:
        path.mkdir(parents=True)
    core = await open_core(tmp_path)
    try:
        assert [path.exists() for path in leftovers] == [False, False, False]
        assert await core.count(TENANT, "docs") == 5
    finally:
        await core.close()


async def test_index_build_runs_beside_serving_and_replays_writes(tmp_path: Path) -> None:
    core = await open_core(tmp_path, WorkerSettings(index_threshold=0))
    store = core.store
    assert isinstance(store, EdgeStore)
    try:
        spec = CollectionSpec(
            dimension=DIMENSION, hnsw=HnswSettings(m=16, ef_construct=64, full_scan_threshold=400)
        )
        await core.create_collection(TENANT, "docs", spec)
        await core.upsert(TENANT, "docs", batch(0, 300))
        assert (await core.describe_collection(TENANT, "docs")).index_state == IndexState.EXACT
        await core.upsert(TENANT, "docs", batch(300, 200))  # crosses 400: a build starts
        assert (await core.describe_collection(TENANT, "docs")).index_state == IndexState.INDEXING
        # Served during the build, from the live shard, exactly; these writes must be replayed.
        late = batch(500, 20)
        await core.upsert(TENANT, "docs", late)
        await core.delete_points(TENANT, "docs", [0, 1])
        hits = await core.search(TENANT, "docs", SearchQuery(late[3].vector, limit=1))
        assert hits[0].id == 503
        info = await store.wait_for_index(f"{TENANT}.docs")
        assert info.index_state == IndexState.INDEXED
        assert info.points_count == 518
        assert info.indexed_vectors_count >= 500
        hits = await core.search(TENANT, "docs", SearchQuery(late[5].vector, limit=1))
        assert (hits[0].id, hits[0].score) == (505, pytest.approx(1.0, abs=1e-5))
        assert await core.retrieve(TENANT, "docs", [0, 1]) == []
    finally:
        await core.close()
    # The built generation is the live one after a restart, and the old one is gone.
    core = await open_core(tmp_path, WorkerSettings(index_threshold=0))
    try:
        info = await core.describe_collection(TENANT, "docs")
        assert (info.points_count, info.index_state) == (518, IndexState.INDEXED)
        shards = sorted(p.name for p in (tmp_path / "collections" / "acme.docs").glob("shard-*"))
        assert shards == ["shard-2"]
    finally:
        await core.close()
