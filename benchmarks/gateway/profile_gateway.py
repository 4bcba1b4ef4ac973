"""Where a gateway call's time goes: per-stage timers in the gateway, both paths in one run.

Starts the suite as :mod:`benchmarks.gateway.bench_gateway` does, at a small size, and
a gateway with :mod:`benchmarks.gateway.stage_timers` loaded. A client process (the
parent reads every service's log lines) alternates, call by call: Query through the
gateway, Query straight to the orchestrator, GetCollection through the gateway,
GetCollection direct. Prints the p50 of each path and what the gateway adds, then the
median of each stage the gateway timed (µs per call, or per event for conversion).
A profiling aid for a noisy machine: read differences within one run, not absolutes.
Run: ``uv run python -m benchmarks.gateway.profile_gateway [--baseline REV] [--cprofile FILE]``;
``--baseline REV`` starts a second gateway from that revision's code, alternated call by call
with this one (a before/after from one run).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import signal
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc

from benchmarks.gateway.bench_gateway import COLLECTION, TENANT, _result, bench_key, fill
from benchmarks.stage_hooks import sources_at, stamped_env, write_hook
from ragserve.api.gateway.v1 import gateway_pb2 as pb
from ragserve.api.gateway.v1 import gateway_pb2_grpc as pb_grpc
from ragserve.api.orchestrator.v1 import orchestrator_pb2 as orch
from ragserve.api.orchestrator.v1 import orchestrator_pb2_grpc as orch_grpc
from ragserve.testkit.gateway import bearer, gateway_env
from ragserve.testkit.processes import ServiceProcess
from ragserve.testkit.suite import start_suite

QUERY = "how do glaciers shape mountain valleys over thousands of years"


async def alternate(
    gateways: dict[str, str], orchestrator: str, key: str, count: int, pids: list[int]
) -> dict[str, list[float]]:
    """Per path (``<RPC> <gateway name>`` or ``<RPC> direct``), each call's milliseconds."""
    async with grpc.aio.insecure_channel(orchestrator) as orchestrator_channel:
        channels = {name: grpc.aio.insecure_channel(address) for name, address in gateways.items()}
        internal = orch_grpc.OrchestratorServiceStub(orchestrator_channel)
        metadata = bearer(key)
        query = pb.QueryRequest(collections=[COLLECTION], query=QUERY, top_k=5)
        get = pb.GetCollectionRequest(name=COLLECTION)

        def through(public: Any) -> dict[str, Callable[[], Awaitable[None]]]:
            async def query_gateway() -> None:
                async for _ in public.Query(query, metadata=metadata, timeout=30):
                    pass

            async def get_gateway() -> None:
                await public.GetCollection(get, metadata=metadata, timeout=30)

            return {"Query": query_gateway, "GetCollection": get_gateway}

        async def query_direct() -> None:
            request = orch.QueryRequest(
                tenant=TENANT, collections=[COLLECTION], query=QUERY, top_k=5
            )
            async for _ in internal.Query(request, timeout=30):
                pass

        async def get_direct() -> None:
            await internal.GetCollection(
                orch.GetCollectionRequest(tenant=TENANT, name=COLLECTION), timeout=30
            )

        paths: dict[str, Callable[[], Awaitable[None]]] = {}
        for rpc, direct in (("Query", query_direct), ("GetCollection", get_direct)):
            for name, channel in channels.items():
                paths[f"{rpc} {name}"] = through(pb_grpc.GatewayServiceStub(channel))[rpc]
            paths[f"{rpc} direct"] = direct
        try:
            for _ in range(30):
                for call in paths.values():
                    await call()
            for pid in pids:
                os.kill(pid, signal.SIGUSR1)  # the gateways' samples start now
            samples: dict[str, list[float]] = {name: [] for name in paths}
            for _ in range(count):
                for name, call in paths.items():
                    started = time.perf_counter()
                    await call()
                    samples[name].append((time.perf_counter() - started) * 1000)
        finally:
            for channel in channels.values():
                await channel.close(None)
        return samples


def _child(args: tuple[dict[str, str], str, str, int, list[int]], queue: Any) -> None:
    queue.put(asyncio.run(alternate(*args)))


def report(samples: dict[str, list[float]], stages: dict[str, dict[str, list[int]]]) -> str:
    p50 = {name: statistics.median(values) for name, values in samples.items()}
    lines = ["| path | p50 ms |", "| --- | --- |"]
    lines += [f"| {name} | {value:.3f} |" for name, value in p50.items()]
    for rpc in ("Query", "GetCollection"):
        for name in stages:
            added = p50[f"{rpc} {name}"] - p50[f"{rpc} direct"]
            lines.append(f"| {rpc}: {name} adds | {added:+.3f} |")
    names = list(stages)
    lines += [
        "",
        "| gateway stage (p50 µs; calls) | " + " | ".join(names) + " |",
        "| --- |" + " --- |" * len(names),
    ]
    for stage in sorted({stage for timed in stages.values() for stage in timed}):
        cells = []
        for name in names:
            values = stages[name].get(stage)
            cells.append(
                f"{statistics.median(values) / 1000:.1f}; {len(values)}" if values else "-"
            )
        lines.append(f"| {stage} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chunks", type=int, default=200)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument(
        "--baseline",
        metavar="REV",
        help="also start a gateway from this git revision's code and alternate with it",
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an environment variable for this tree's gateway only (e.g. an experiment)",
    )
    parser.add_argument("--cprofile", type=Path, help="write a cProfile of the gateway here")
    parser.add_argument(
        "--plain-channel",
        action="store_true",
        help="experiment: the gateway calls the orchestrator without client interceptors",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
        state = Path(tmp)
        hook = write_hook(state / "hook", "benchmarks.gateway.stage_timers")
        sources: dict[str, list[Path]] = {"gateway": []}
        if args.baseline:
            (state / "baseline").mkdir()
            sources = {
                f"baseline {args.baseline}": sources_at(
                    args.baseline, ["services/gateway/src"], state / "baseline"
                ),
                "gateway": [],
            }
        suite = start_suite(state / "retrieval")
        gateways: dict[str, ServiceProcess] = {}
        try:
            for name, source in sources.items():
                env = gateway_env(
                    state, suite.redis.url, requests_per_s="1000000", texts_per_s="1000000"
                )
                env["RAGSERVE_ORCHESTRATOR_ADDR"] = suite.orchestrator.address
                env["RAGSERVE_EMBEDDING_ROUTER_ADDR"] = suite.router.address
                env.update(stamped_env(hook, state / f"stages-{len(gateways)}.json", source))
                if args.plain_channel:
                    env["RAGSERVE_STAGE_PLAIN_CHANNEL"] = "1"
                if not source:
                    env.update(item.split("=", 1) for item in args.env)
                if args.cprofile and not source:
                    env["RAGSERVE_STAGE_CPROFILE"] = str(args.cprofile.resolve())
                gateways[name] = ServiceProcess("gateway", env).start()
            first = next(iter(gateways.values()))
            key = bench_key(first.address, state)
            # Small: below retrieval's index threshold, searched exactly.
            asyncio.run(fill(first.address, suite.retrieval, key, args.chunks, 0))
            context = multiprocessing.get_context("spawn")
            queue: Any = context.Queue()
            pids = [g.process.pid for g in gateways.values() if g.process is not None]
            child = context.Process(
                target=_child,
                args=(
                    (
                        {name: g.address for name, g in gateways.items()},
                        suite.orchestrator.address,
                        key,
                        args.queries,
                        pids,
                    ),
                    queue,
                ),
            )
            child.start()
            samples = _result(queue, child)
            stages = {}
            for index, (name, gateway) in enumerate(gateways.items()):
                gateway.stop()
                stages[name] = json.loads((state / f"stages-{index}.json").read_text())
        finally:
            for gateway in gateways.values():
                gateway.kill()
            suite.stop()
    print(report(samples, stages))


if __name__ == "__main__":
    main()
