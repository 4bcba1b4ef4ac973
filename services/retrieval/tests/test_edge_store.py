"""The embedded backend's own guarantees: persistence across close and SIGKILL, the worker
restarted after it dies, leftovers of interrupted work cleaned at start-up, and index
builds that run beside serving and lose no write."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path

import numpy as np
import pytest

from ragserve.errors import Unavailable
from ragserve.retrieval.core import RetrievalCore
from ragserve.retrieval.edge_engine import CALIBRATION_SAMPLES
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


# Both exact and HNSW search of a few hundred 8-d vectors take microseconds: calibration
# judges by recall alone here (require_faster is measured in the benchmark instead).
ANY_SPEED = WorkerSettings(index_threshold=0, require_faster=False)


def stored_calibration(data_dir: Path, physical: str) -> dict[str, object]:
    metadata = json.loads((data_dir / "collections" / physical / "collection.json").read_text())
    calibration = metadata["calibration"]
    assert isinstance(calibration, dict)
    return calibration


async def test_index_build_runs_beside_serving_and_replays_writes(tmp_path: Path) -> None:
    core = await open_core(tmp_path, ANY_SPEED)
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
        # The 500 points copied for the build, less those held out to calibrate it (put
        # back afterwards beside the index, like the writes replayed since).
        assert info.indexed_vectors_count == 500 - CALIBRATION_SAMPLES
        described = await core.describe_collection(TENANT, "docs")
        assert described.indexed_vectors_count == info.indexed_vectors_count
        hits = await core.search(TENANT, "docs", SearchQuery(late[5].vector, limit=1))
        assert (hits[0].id, hits[0].score) == (505, pytest.approx(1.0, abs=1e-5))
        # Held-out points (every 8th of the first 256 ids) are back and found.
        early = batch(0, 300)
        for point_id in (8, 248):
            hits = await core.search(TENANT, "docs", SearchQuery(early[point_id].vector, limit=1))
            assert (hits[0].id, hits[0].payload) == (point_id, early[point_id].payload)
        assert await core.retrieve(TENANT, "docs", [0, 1]) == []
    finally:
        await core.close()
    # The index is searched with the ef its calibration chose, which outlives a restart.
    calibration = stored_calibration(tmp_path, "acme.docs")
    # (8-d data: the graph is near perfect, so the smallest beams already reach the target.)
    assert calibration["search_ef"] in (32, 64)
    assert isinstance(calibration["recall"], float) and calibration["recall"] >= 0.95
    assert calibration["samples"] == CALIBRATION_SAMPLES
    # The built generation is the live one after a restart, and the old one is gone.
    core = await open_core(tmp_path, ANY_SPEED)
    try:
        info = await core.describe_collection(TENANT, "docs")
        assert (info.points_count, info.index_state) == (518, IndexState.INDEXED)
        shards = sorted(p.name for p in (tmp_path / "collections" / "acme.docs").glob("shard-*"))
        assert shards == ["shard-2"]
    finally:
        await core.close()


async def test_an_index_that_misses_the_recall_target_is_not_searched(tmp_path: Path) -> None:
    # No ef can reach a recall above 1: calibration must keep exact search.
    unreachable = WorkerSettings(index_threshold=0, require_faster=False, min_recall=1.01)
    core = await open_core(tmp_path, unreachable)
    store = core.store
    assert isinstance(store, EdgeStore)
    try:
        spec = CollectionSpec(
            dimension=DIMENSION, hnsw=HnswSettings(m=16, ef_construct=64, full_scan_threshold=200)
        )
        await core.create_collection(TENANT, "docs", spec)
        points = batch(0, 250)
        await core.upsert(TENANT, "docs", points)
        info = await store.wait_for_index(f"{TENANT}.docs")
        # Built, but searches never go through it, so the proto's count of vectors
        # reachable through the index is 0.
        assert (info.index_state, info.points_count, info.indexed_vectors_count) == (
            IndexState.EXACT,
            250,
            0,
        )
        calibration = stored_calibration(tmp_path, "acme.docs")
        assert (calibration["search_ef"], calibration["samples"]) == (0, 32)
        hits = await core.search(TENANT, "docs", SearchQuery(points[42].vector, limit=1))
        assert (hits[0].id, hits[0].score) == (42, pytest.approx(1.0, abs=1e-5))
    finally:
        await core.close()
