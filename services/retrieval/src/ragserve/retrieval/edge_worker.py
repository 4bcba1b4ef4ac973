"""The embedded store's worker process: owns every shard under one data directory.

Qdrant Edge holds the GIL for the whole of each call, so it runs here, never in the gRPC
server's process. The worker is single-threaded and handles one request at a time, in
arrival order; this is what makes a snapshot consistent (no write can interleave with the
copy) and what makes an index swap atomic for callers.

Index builds never stall serving: a collection that reaches ``index_threshold`` points is
flushed and copied into a new shard generation, and a throw-away builder process
(``ragserve.retrieval.edge_index_builder``) runs
``optimize()`` on the copy while this process keeps answering from the live shard with
exact search. Writes that arrive meanwhile are applied to the live shard and remembered;
when the builder exits, the worker opens the built shard, replays those writes, flushes,
and switches ``collection.json`` to the new generation (the commit point), then drops the
old shard. The builder also reports how the index should be searched (its calibration:
an ef, or exact search where HNSW is not both accurate and faster on the collection's own
data); that choice is committed with the generation. A crash at any step leaves either the old or the new generation live, never a
mix, and the loser is removed at start-up.

Protocol over the pipe (pickled tuples): request ``(request_id, operation, args)``; reply
``(request_id, True, result)`` or ``(request_id, False, (error_class_name, field, message))``.
The first message the worker sends is ``(0, True, "ready")``, or an error reply if it
could not open the store.
"""

from __future__ import annotations

import errno
import json
import logging
import multiprocessing.connection
import pickle
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ragserve.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    RagserveError,
    Unavailable,
)
from ragserve.retrieval import edge_engine, edge_layout
from ragserve.retrieval.edge_layout import PARTIAL, TRASH, Layout, Metadata
from ragserve.retrieval.model import (
    CollectionInfo,
    CollectionSpec,
    Filter,
    IndexState,
    PayloadSelection,
    Point,
    PointId,
    Record,
    ScoredPoint,
    ScrollPage,
    ScrollQuery,
    SearchQuery,
    SnapshotInfo,
    WriteResult,
)
from ragserve.retrieval.names import collection_of
from ragserve.retrieval.search_calibration import Calibration
from ragserve.retrieval.specs import spec_to_json
from ragserve.retrieval.store import VectorStoreFault
from ragserve.runtime.logs import configure_logging, stop_logging

logger = logging.getLogger("ragserve.retrieval.edge_worker")

_SNAPSHOT_NAME_LENGTH = 64


@dataclass(frozen=True)
class WorkerSettings:
    """``index_threshold``: points at which a collection gets an HNSW index (0 = never),
    unless its spec sets its own (``hnsw.full_scan_threshold``).
    ``reindex_fraction``: unindexed share of points that triggers a rebuild.
    ``hnsw_ef``: candidates examined per HNSW search of an index built before calibration
    existed (newer ones use their calibrated ef).
    ``min_recall``: recall@10 an index must reach on its calibration sample to be searched.
    ``require_faster``: it must also beat exact search there (tests on tiny data turn this
    off, since both take microseconds)."""

    index_threshold: int = 200_000
    reindex_fraction: float = 0.2
    hnsw_ef: int = 512
    min_recall: float = 0.95
    require_faster: bool = True


@dataclass
class _Build:
    process: subprocess.Popen[bytes]
    generation: int
    started_at: float
    # Writes applied to the live shard after the copy was taken, in order.
    replay: list[tuple[str, Any]] = field(default_factory=list)


@dataclass
class _Collection:
    physical: str
    spec: CollectionSpec
    generation: int
    shard: edge_engine.EdgeShardHandle
    # Whether the live shard has an HNSW index (set at open and when a build goes live).
    indexed: bool = False
    # How that index is searched (search_calibration); None: built before calibration.
    calibration: Calibration | None = None
    build: _Build | None = None
    # Points count at which the last build failed, so a failing build is not retried per write.
    failed_build_at: int | None = None


_ERRORS: dict[str, type[RagserveError]] = {
    kind.__name__: kind for kind in (AlreadyExists, NotFound, Unavailable, FailedPrecondition)
}


def encode_error(exc: BaseException) -> tuple[str, str, str]:
    """(kind, field, message) of an operation's failure, for the pipe.

    Domain errors travel as they are. An OSError is the data directory failing (full,
    read-only, gone): an outage, Unavailable. Anything else is a bug in the worker or in
    its use of the engine (the request was validated before it came here): it travels as a
    ``VectorStoreFault``, which the service answers with INTERNAL."""
    if isinstance(exc, InvalidArgument):
        return ("InvalidArgument", exc.field, exc.reason)
    if isinstance(exc, RagserveError) and type(exc).__name__ in _ERRORS:
        return (type(exc).__name__, "", exc.message)
    if isinstance(exc, OSError):
        reason = errno.errorcode.get(exc.errno or 0, "I/O error")
        return ("Unavailable", "", f"embedded vector store cannot use its storage now ({reason})")
    return (VectorStoreFault.__name__, "", f"{type(exc).__name__}: {exc}")


def decode_error(encoded: tuple[str, str, str]) -> RagserveError | VectorStoreFault:
    kind, field_name, message = encoded
    if kind == "InvalidArgument":
        return InvalidArgument(field_name, message)
    if kind == VectorStoreFault.__name__:
        return VectorStoreFault(message)
    return _ERRORS.get(kind, Unavailable)(message)


def _reply(connection: multiprocessing.connection.Connection, reply: tuple[int, bool, Any]) -> None:
    # Connection.send's framing with a plain pickle: its ForkingPickler copies a dispatch
    # table per message for reducers (sockets, connections) that replies never carry.
    connection.send_bytes(pickle.dumps(reply, pickle.HIGHEST_PROTOCOL))


class EdgeWorker:
    """The worker's state and operations; ``serve`` is its loop."""

    def __init__(self, data_dir: Path, settings: WorkerSettings) -> None:
        self.layout = Layout(data_dir)
        self.settings = settings
        self.collections: dict[str, _Collection] = {}

    # ------------------------------------------------------------------ lifecycle

    def open(self) -> None:
        self.layout.ensure()
        for path in self.layout.clean():
            logger.warning("removed leftover %s", path)
        for physical in self.layout.collection_names():
            metadata = edge_layout.read_metadata(self.layout.collection_dir(physical))
            shard_dir = self.layout.shard_dir(physical, metadata.generation)
            for path in edge_engine.remove_temp_segments(shard_dir):
                logger.warning("removed interrupted index build %s", path)
            shard = edge_engine.EdgeShardHandle.open(shard_dir, metadata.spec)
            self.collections[physical] = _Collection(
                physical,
                metadata.spec,
                metadata.generation,
                shard,
                indexed=shard.counts()[1] > 0,
                calibration=metadata.calibration,
            )

    def close(self) -> None:
        for collection in self.collections.values():
            self._abandon_build(collection)
            collection.shard.flush()
            collection.shard.close()
        self.collections.clear()

    def serve(self, connection: multiprocessing.connection.Connection) -> None:
        operations: dict[str, Callable[..., Any]] = {
            "ping": lambda: "pong",
            "create": self.create,
            "describe": self.describe,
            "list": self.list_collections,
            "delete": self.delete,
            "upsert": self.upsert,
            "delete_ids": self.delete_ids,
            "delete_filter": self.delete_filter,
            "count": self.count,
            "retrieve": self.retrieve,
            "scroll": self.scroll,
            "search": self.search,
            "snapshot_create": self.snapshot_create,
            "snapshot_list": self.snapshot_list,
            "snapshot_restore": self.snapshot_restore,
            "snapshot_delete": self.snapshot_delete,
            "wait_for_index": self.wait_for_index,
        }
        while True:
            # A builder's stdout reaches end-of-file when the builder exits.
            builds = {
                c.build.process.stdout.fileno(): c
                for c in self.collections.values()
                if c.build is not None and c.build.process.stdout is not None
            }
            # Without a build only a request can arrive: block in the read itself rather
            # than set up a selector per request (a build starts only from a request).
            if builds:
                ready = multiprocessing.connection.wait([connection, *builds])
                for descriptor, collection in builds.items():
                    if descriptor in ready:
                        self._finish_build(collection)
                if connection not in ready:
                    continue
            try:
                request_id, operation, args = connection.recv()
            except EOFError:
                return
            if operation == "close":
                self.close()
                _reply(connection, (request_id, True, None))
                return
            try:
                result = operations[operation](*args)
                reply: tuple[int, bool, Any] = (request_id, True, result)
            except Exception as exc:  # reported to the caller; the worker keeps serving
                if not isinstance(exc, RagserveError):
                    logger.exception("operation %s failed", operation)
                reply = (request_id, False, encode_error(exc))
            _reply(connection, reply)

    # ------------------------------------------------------------------ collections

    def _get(self, physical: str) -> _Collection:
        collection = self.collections.get(physical)
        if collection is None:
            raise NotFound(f"collection {collection_of(physical)!r} does not exist")
        return collection

    def create(self, physical: str, spec: CollectionSpec) -> None:
        if physical in self.collections:
            raise AlreadyExists(f"collection {collection_of(physical)!r} already exists")
        final = self.layout.collection_dir(physical)
        staging = final.with_name(final.name + PARTIAL)
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        try:
            handle = edge_engine.EdgeShardHandle.create(staging / "shard-1", spec)
            handle.close()
            edge_layout.write_metadata(staging, Metadata(spec, 1))
            staging.rename(final)
        except BaseException:
            # Start-up would remove it too; a long-running worker must not keep it until then.
            shutil.rmtree(staging, ignore_errors=True)
            raise
        shard = edge_engine.EdgeShardHandle.open(self.layout.shard_dir(physical, 1), spec)
        self.collections[physical] = _Collection(physical, spec, 1, shard)

    def describe(self, physical: str) -> CollectionInfo:
        collection = self._get(physical)
        points, indexed = collection.shard.counts()
        if collection.build is not None:
            state = IndexState.INDEXING
        elif collection.indexed and self._default_ef(collection) > 0:
            state = IndexState.INDEXED
        else:
            # Including an index that calibration found worse than exact search: the
            # proto counts only vectors that searches reach through the index.
            state, indexed = IndexState.EXACT, 0
        return CollectionInfo(physical, collection.spec, points, indexed, state)

    def list_collections(self) -> list[str]:
        return sorted(self.collections)

    def delete(self, physical: str) -> None:
        collection = self._get(physical)
        self._abandon_build(collection)
        collection.shard.close()
        del self.collections[physical]
        self.layout.trash(self.layout.collection_dir(physical))

    # ------------------------------------------------------------------ points

    def upsert(self, physical: str, points: Sequence[Point]) -> WriteResult:
        collection = self._get(physical)
        collection.shard.upsert(points)
        self._remember(collection, "upsert", points)
        # One info() per write serves both the build trigger and the caller's points gauge.
        total, indexed = collection.shard.counts()
        try:
            self._maybe_build(collection, total, indexed)
        except Exception:  # the points are stored; exact search goes on serving them
            logger.exception("could not start the index build of %s", physical)
            collection.failed_build_at = total
        return WriteResult(total)

    def delete_ids(self, physical: str, ids: Sequence[PointId]) -> WriteResult:
        collection = self._get(physical)
        collection.shard.delete(ids)
        self._remember(collection, "delete_ids", ids)
        return WriteResult(collection.shard.counts()[0])

    def delete_filter(self, physical: str, value: Filter) -> WriteResult:
        collection = self._get(physical)
        matched = collection.shard.delete_by_filter(value)
        self._remember(collection, "delete_filter", value)
        return WriteResult(collection.shard.counts()[0], matched)

    def count(self, physical: str, value: Filter | None) -> int:
        return self._get(physical).shard.count(value)

    def retrieve(
        self,
        physical: str,
        ids: Sequence[PointId],
        with_payload: PayloadSelection,
        with_vectors: bool,
    ) -> list[Record]:
        return self._get(physical).shard.retrieve(ids, with_payload, with_vectors)

    def scroll(self, physical: str, query: ScrollQuery) -> ScrollPage:
        return self._get(physical).shard.scroll(query)

    def search(self, physical: str, queries: Sequence[SearchQuery]) -> list[list[ScoredPoint]]:
        collection = self._get(physical)
        # Until a built index is live, every vector is scored: exact results, and at the
        # sizes below the threshold, fast enough (see docs/retrieval.md for the numbers).
        return collection.shard.search(
            queries, indexed=collection.indexed, default_ef=self._default_ef(collection)
        )

    def _default_ef(self, collection: _Collection) -> int:
        """Beam width for queries that set none; 0 means they are answered exactly."""
        if collection.calibration is None:
            return self.settings.hnsw_ef
        return collection.calibration.search_ef

    # ------------------------------------------------------------------ index builds

    def _remember(self, collection: _Collection, operation: str, args: Any) -> None:
        if collection.build is not None:
            collection.build.replay.append((operation, args))

    def _maybe_build(self, collection: _Collection, points: int, indexed: int) -> None:
        threshold = collection.spec.hnsw.full_scan_threshold or self.settings.index_threshold
        if threshold <= 0 or collection.build is not None:
            return
        if points < threshold or points - indexed < max(1, points * self.settings.reindex_fraction):
            return
        if collection.failed_build_at is not None and points < 2 * collection.failed_build_at:
            return
        self._start_build(collection)

    def _start_build(self, collection: _Collection) -> None:
        generation = collection.generation + 1
        target = self.layout.shard_dir(collection.physical, generation)
        shutil.rmtree(target, ignore_errors=True)
        collection.shard.flush()
        edge_layout.copy_tree(collection.shard.path, target)
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ragserve.retrieval.edge_index_builder",
                str(target),
                json.dumps(spec_to_json(collection.spec)),
                json.dumps(
                    {
                        "min_recall": self.settings.min_recall,
                        "require_faster": self.settings.require_faster,
                    }
                ),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
        )
        collection.build = _Build(process, generation, time.monotonic())
        logger.info("index build of %s started (generation %d)", collection.physical, generation)

    def _finish_build(self, collection: _Collection) -> None:
        build = collection.build
        assert build is not None
        build.process.wait()
        output = b""
        if build.process.stdout is not None:
            output = build.process.stdout.read()
            build.process.stdout.close()
        collection.build = None
        target = self.layout.shard_dir(collection.physical, build.generation)
        calibration = _parse_calibration(output) if build.process.returncode == 0 else None
        if calibration is None:
            logger.error(
                "index build of %s failed (exit code %s, output %r); exact search continues",
                collection.physical,
                build.process.returncode,
                output[-200:],
            )
            shutil.rmtree(target, ignore_errors=True)
            collection.failed_build_at = collection.shard.counts()[0]
            return
        built = edge_engine.EdgeShardHandle.open(target, collection.spec)
        for operation, args in build.replay:
            if operation == "upsert":
                built.upsert(args)
            elif operation == "delete_ids":
                built.delete(args)
            else:
                built.delete_by_filter(args)
        built.flush()
        edge_layout.write_metadata(
            self.layout.collection_dir(collection.physical),
            Metadata(collection.spec, build.generation, calibration),
        )
        old = collection.shard
        collection.shard, collection.generation = built, build.generation
        collection.indexed = built.counts()[1] > 0
        collection.calibration = calibration
        old.close()
        shutil.rmtree(old.path, ignore_errors=True)
        logger.info(
            "index build of %s done in %.1f s, %d writes replayed; searched %s "
            "(sample recall@10 %.3f; %.2f ms exact, %.2f ms HNSW per query)",
            collection.physical,
            time.monotonic() - build.started_at,
            len(build.replay),
            f"with HNSW ef {calibration.search_ef}" if calibration.search_ef else "exactly",
            calibration.recall,
            calibration.exact_ms,
            calibration.hnsw_ms,
        )

    def _abandon_build(self, collection: _Collection) -> None:
        if collection.build is None:
            return
        collection.build.process.kill()
        collection.build.process.wait()
        if collection.build.process.stdout is not None:
            collection.build.process.stdout.close()
        shutil.rmtree(
            self.layout.shard_dir(collection.physical, collection.build.generation),
            ignore_errors=True,
        )
        collection.build = None

    def wait_for_index(self, physical: str) -> CollectionInfo:
        """Blocks until the collection's build (if any) is live: for tests and benchmarks."""
        collection = self._get(physical)
        if collection.build is not None:
            collection.build.process.wait()
            self._finish_build(collection)
        return self.describe(physical)

    # ------------------------------------------------------------------ snapshots

    def snapshot_create(self, physical: str) -> SnapshotInfo:
        collection = self._get(physical)
        name = f"snap-{time.time_ns() // 1_000_000}-{secrets.token_hex(3)}"
        final = self.layout.snapshot_dir(physical, name)
        staging = final.with_name(name + PARTIAL)
        staging.mkdir(parents=True)
        # Single-threaded worker: no write can land between the flush and the end of the copy.
        collection.shard.flush()
        edge_layout.copy_tree(collection.shard.path, staging / "shard")
        edge_layout.write_metadata(staging, Metadata(collection.spec, 0, collection.calibration))
        staging.rename(final)
        return self._snapshot_info(physical, final)

    def snapshot_list(self, physical: str) -> list[SnapshotInfo]:
        directory = self.layout.snapshots / physical
        if not directory.is_dir():
            return []
        return [
            self._snapshot_info(physical, path)
            for path in sorted(directory.iterdir())
            if path.is_dir() and not path.name.endswith((PARTIAL, TRASH))
        ]

    def snapshot_restore(self, physical: str, snapshot: str) -> None:
        source = self._existing_snapshot(physical, snapshot)
        metadata = edge_layout.read_metadata(source)
        final = self.layout.collection_dir(physical)
        staging = final.with_name(final.name + PARTIAL)
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        edge_layout.copy_tree(source / "shard", staging / "shard-1")
        edge_layout.write_metadata(staging, Metadata(metadata.spec, 1, metadata.calibration))
        existing = self.collections.pop(physical, None)
        if existing is not None:
            self._abandon_build(existing)
            existing.shard.close()
            self.layout.trash(final)
        staging.rename(final)
        shard = edge_engine.EdgeShardHandle.open(self.layout.shard_dir(physical, 1), metadata.spec)
        self.collections[physical] = _Collection(
            physical,
            metadata.spec,
            1,
            shard,
            indexed=shard.counts()[1] > 0,
            calibration=metadata.calibration,
        )

    def snapshot_delete(self, physical: str, snapshot: str) -> None:
        """Works whether or not the collection still exists: snapshots outlive it."""
        self.layout.trash(self._existing_snapshot(physical, snapshot))

    def _existing_snapshot(self, physical: str, snapshot: str) -> Path:
        # Names we made are [A-Za-z0-9-_]; checking that keeps '..' and '/' out of paths.
        if (
            not snapshot
            or len(snapshot) > _SNAPSHOT_NAME_LENGTH
            or not all(c.isalnum() or c in "-_" for c in snapshot)
        ):
            raise InvalidArgument("snapshot", f"{snapshot!r} is not a snapshot name")
        path = self.layout.snapshot_dir(physical, snapshot)
        if not path.is_dir():
            raise NotFound(
                f"snapshot {snapshot!r} of collection {collection_of(physical)!r} does not exist"
            )
        return path

    def _snapshot_info(self, physical: str, path: Path) -> SnapshotInfo:
        return SnapshotInfo(
            name=path.name,
            collection=physical,
            created_at_unix_s=(path / edge_layout.METADATA).stat().st_mtime,
            size_bytes=edge_layout.directory_size(path),
        )


def _parse_calibration(output: bytes) -> Calibration | None:
    """The builder's last stdout line; None if it is missing or not a calibration."""
    lines = output.decode("utf-8", "replace").strip().splitlines()
    try:
        return Calibration.from_json(json.loads(lines[-1]))
    except (IndexError, ValueError, KeyError, TypeError):
        return None


def worker_main(
    connection: multiprocessing.connection.Connection, data_dir: str, settings: WorkerSettings
) -> None:
    """Entry point of the worker process (started with the ``spawn`` method)."""
    # The same JSON lines as the service's own, so its log readers see the worker's records.
    configure_logging("retrieval")
    worker = EdgeWorker(Path(data_dir), settings)
    try:
        worker.open()
    except Exception as exc:
        logger.exception("cannot open the embedded store at %s", data_dir)
        connection.send(
            (0, False, encode_error(Unavailable(f"cannot open the embedded store: {exc}")))
        )
        return
    connection.send((0, True, "ready"))
    try:
        worker.serve(connection)
    finally:
        worker.close()
        stop_logging()


__all__ = ["EdgeWorker", "WorkerSettings", "decode_error", "encode_error", "worker_main"]
