"""The embedded backend: a ``VectorStore`` whose engine runs in a worker process we own.

The service side never touches Qdrant Edge: requests go to the worker over a socket, tagged
with an id, and the replies resolve the matching futures; both ends of that are served by
the event loop (:mod:`edge_channel`). Requests are pipelined (many in flight; the worker
answers in order).

If the worker dies (crash, SIGKILL, OOM), every request in flight fails with Unavailable,
the worker is started again (with backoff), and calls made meanwhile wait for it up to
``restart_wait_s`` before failing with Unavailable too. Acknowledged writes survive: the
engine's WAL is on disk before the worker replies.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import multiprocessing
from collections.abc import Callable, Sequence
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from ragserve.errors import Unavailable
from ragserve.retrieval.edge_channel import WorkerChannel
from ragserve.retrieval.edge_worker import WorkerSettings, decode_error, worker_main
from ragserve.retrieval.model import (
    CollectionInfo,
    CollectionSpec,
    Filter,
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

logger = logging.getLogger("ragserve.retrieval.edge_store")


class _Worker:
    """One incarnation of the worker process and its channel."""

    def __init__(self, process: BaseProcess) -> None:
        self.process = process
        self.channel: WorkerChannel | None = None
        self.pending: dict[int, asyncio.Future[Any]] = {}
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.lost = False


class EdgeStore:
    def __init__(
        self,
        data_dir: Path,
        settings: WorkerSettings | None = None,
        *,
        start_timeout_s: float = 120.0,
        restart_wait_s: float = 30.0,
    ) -> None:
        self._data_dir = data_dir
        self._settings = settings or WorkerSettings()
        self._start_timeout_s = start_timeout_s
        self._restart_wait_s = restart_wait_s
        self._context = multiprocessing.get_context("spawn")
        self._ids = itertools.count(1)
        self._worker: _Worker | None = None
        self._alive = asyncio.Event()
        self._closing = False
        self._restarts = 0
        self._restart_task: asyncio.Task[None] | None = None
        self._next_restart: asyncio.Future[None] | None = None
        self._listeners: list[Callable[[bool], None]] = []

    @property
    def worker_pid(self) -> int | None:
        return self._worker.process.pid if self._worker is not None else None

    @property
    def restarts(self) -> int:
        return self._restarts

    async def start(self) -> None:
        self._data_dir.mkdir(parents=True, exist_ok=True)
        self._next_restart = asyncio.get_running_loop().create_future()
        await self._spawn()

    async def close(self) -> None:
        self._closing = True
        if self._restart_task is not None:
            self._restart_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._restart_task
        worker = self._worker
        if worker is not None and not worker.lost:
            with contextlib.suppress(Unavailable):
                await asyncio.wait_for(self._call_on(worker, "close"), self._start_timeout_s)
        if worker is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._reap, worker.process)
            if worker.channel is not None:
                worker.channel.close()

    async def ready(self) -> bool:
        return self._alive.is_set()

    def watch_availability(self, listener: Callable[[bool], None]) -> None:
        """``listener(False)`` when a serving worker is lost, ``listener(True)`` when a
        restarted one is serving; called on the event loop, in that order."""
        self._listeners.append(listener)

    def _announce(self, available: bool) -> None:
        for listener in self._listeners:
            try:
                listener(available)
            except Exception:  # a listener's bug must not stop the restart
                logger.exception("availability listener failed")

    async def wait_restarted(self, previous_restarts: int, timeout_s: float) -> None:
        """Waits until the worker has been restarted more than ``previous_restarts`` times."""
        async with asyncio.timeout(timeout_s):
            while self._restarts <= previous_restarts:
                assert self._next_restart is not None
                await asyncio.shield(self._next_restart)

    # ------------------------------------------------------------------ process management

    async def _spawn(self) -> None:
        mine, child = WorkerChannel.pair()
        process = self._context.Process(
            target=worker_main,
            args=(child, str(self._data_dir), self._settings),
            name="ragserve-retrieval-edge",
            daemon=True,
        )
        try:
            process.start()
        finally:
            child.close()
        worker = _Worker(process)
        self._worker = worker
        worker.channel = await WorkerChannel.open(
            mine,
            lambda message: self._deliver(worker, message),
            lambda: self._lost(worker),
        )
        try:
            await asyncio.wait_for(asyncio.shield(worker.ready), self._start_timeout_s)
        except TimeoutError:
            process.kill()
            raise Unavailable(
                f"embedded vector store did not start within {self._start_timeout_s} s"
            ) from None
        self._alive.set()
        # Tests find the worker to kill through this line's worker_pid.
        logger.info(
            "embedded vector store worker %s serving %s",
            process.pid,
            self._data_dir,
            extra={"event": "edge_worker_serving", "worker_pid": process.pid},
        )

    def _deliver(self, worker: _Worker, message: tuple[int, bool, Any]) -> None:
        request_id, ok, body = message
        if request_id == 0:
            if not worker.ready.done():
                if ok:
                    worker.ready.set_result(None)
                else:
                    worker.ready.set_exception(decode_error(body))
            return
        future = worker.pending.pop(request_id, None)
        if future is None or future.done():
            return  # the caller gave up (cancelled or timed out)
        if ok:
            future.set_result(body)
        else:
            future.set_exception(decode_error(body))

    def _lost(self, worker: _Worker) -> None:
        worker.lost = True
        if worker is not self._worker:
            return
        # A worker that never became ready is retried by whoever was waiting for it.
        was_serving = worker.ready.done() and worker.ready.exception() is None
        self._alive.clear()
        exitcode = worker.process.exitcode
        error = Unavailable(
            f"embedded vector store worker {worker.process.pid} exited"
            f"{'' if exitcode is None else f' (exit code {exitcode})'}; restarting it"
        )
        for future in worker.pending.values():
            if not future.done():
                future.set_exception(error)
        worker.pending.clear()
        if not worker.ready.done():
            worker.ready.set_exception(error)
        if was_serving and not self._closing:
            logger.error("%s", error.message)
            self._announce(False)
            self._restart_task = asyncio.get_running_loop().create_task(self._restart(worker))

    async def _restart(self, dead: _Worker) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self._reap, dead.process)
        delay = 0.1
        while not self._closing:
            try:
                await self._spawn()
                self._restarts += 1
                assert self._next_restart is not None
                self._next_restart.set_result(None)
                self._next_restart = asyncio.get_running_loop().create_future()
                self._announce(True)
                return
            except Unavailable as exc:
                logger.error("restarting the embedded vector store failed: %s", exc.message)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    @staticmethod
    def _reap(process: BaseProcess) -> None:
        process.join(timeout=30)
        if process.is_alive():
            process.kill()
            process.join()

    # ------------------------------------------------------------------ requests

    async def _call(self, operation: str, *args: Any) -> Any:
        if not self._alive.is_set():
            if self._closing:
                raise Unavailable("embedded vector store is closed")
            try:
                await asyncio.wait_for(self._alive.wait(), self._restart_wait_s)
            except TimeoutError:
                raise Unavailable(
                    f"embedded vector store is not running (waited {self._restart_wait_s} s)"
                ) from None
        assert self._worker is not None
        return await self._call_on(self._worker, operation, *args)

    async def _call_on(self, worker: _Worker, operation: str, *args: Any) -> Any:
        if worker.lost:
            raise Unavailable("embedded vector store worker is restarting")
        request_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        worker.pending[request_id] = future
        try:
            assert worker.channel is not None
            await worker.channel.send((request_id, operation, args))
        except OSError as exc:
            # The worker died under us; its channel reports it and a restart follows.
            worker.pending.pop(request_id, None)
            if future.done():
                future.exception()  # already failed by _lost: consumed here, raised below
            else:
                future.cancel()
            raise Unavailable(
                f"embedded vector store worker {worker.process.pid} is unreachable ({exc}); "
                "restarting it"
            ) from None
        try:
            return await future
        finally:
            worker.pending.pop(request_id, None)

    # ------------------------------------------------------------------ VectorStore

    async def create_collection(self, name: str, spec: CollectionSpec) -> None:
        await self._call("create", name, spec)

    async def describe_collection(self, name: str) -> CollectionInfo:
        info: CollectionInfo = await self._call("describe", name)
        return info

    async def list_collections(self) -> list[str]:
        names: list[str] = await self._call("list")
        return names

    async def delete_collection(self, name: str) -> None:
        await self._call("delete", name)

    async def upsert(self, name: str, points: Sequence[Point]) -> WriteResult:
        result: WriteResult = await self._call("upsert", name, list(points))
        return result

    async def delete_points(self, name: str, ids: Sequence[PointId]) -> WriteResult:
        result: WriteResult = await self._call("delete_ids", name, list(ids))
        return result

    async def delete_by_filter(self, name: str, filter: Filter) -> WriteResult:
        result: WriteResult = await self._call("delete_filter", name, filter)
        return result

    async def count(self, name: str, filter: Filter | None) -> int:
        counted: int = await self._call("count", name, filter)
        return counted

    async def retrieve(
        self,
        name: str,
        ids: Sequence[PointId],
        with_payload: PayloadSelection,
        with_vectors: bool,
    ) -> list[Record]:
        records: list[Record] = await self._call(
            "retrieve", name, list(ids), with_payload, with_vectors
        )
        return records

    async def scroll(self, name: str, query: ScrollQuery) -> ScrollPage:
        page: ScrollPage = await self._call("scroll", name, query)
        return page

    async def search(self, name: str, queries: Sequence[SearchQuery]) -> list[list[ScoredPoint]]:
        results: list[list[ScoredPoint]] = await self._call("search", name, list(queries))
        return results

    async def create_snapshot(self, name: str) -> SnapshotInfo:
        info: SnapshotInfo = await self._call("snapshot_create", name)
        return info

    async def list_snapshots(self, name: str) -> list[SnapshotInfo]:
        snapshots: list[SnapshotInfo] = await self._call("snapshot_list", name)
        return snapshots

    async def restore_snapshot(self, name: str, snapshot: str) -> None:
        await self._call("snapshot_restore", name, snapshot)

    async def delete_snapshot(self, name: str, snapshot: str) -> None:
        await self._call("snapshot_delete", name, snapshot)

    async def wait_for_index(self, name: str) -> CollectionInfo:
        """Blocks until a running index build of ``name`` is live (tests and benchmarks)."""
        info: CollectionInfo = await self._call("wait_for_index", name)
        return info
