"""What a no-op RPC to the inference service costs right after the client was idle.

At one client a ModelInfer's two network legs follow a ~9 ms model run during which
the client and the service's event loop sleep; a no-op's legs, timed back to back,
follow none. This alternates blocks of ServerLive calls: back to back, after a 9 ms
``time.sleep`` in the client, and after 9 ms of the client busy-waiting (one core kept
busy, as ORT keeps the cores busy). A profiling aid: compare within one run.
Run: ``uv run python -m benchmarks.inference.noop_after_idle [--rounds N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable

import grpc

from ragserve.api.inference.v1 import inference_pb2 as pb
from ragserve.api.inference.v1 import inference_pb2_grpc
from ragserve.testkit.processes import ServiceProcess

GAP_S = 0.009


def _busy_wait() -> None:
    end = time.perf_counter() + GAP_S
    while time.perf_counter() < end:
        pass


async def measure(address: str, rounds: int, block: int = 20) -> dict[str, list[float]]:
    """Milliseconds per call, by what came before it."""
    before: dict[str, Callable[[], None]] = {
        "back to back": lambda: None,
        "after 9 ms asleep": lambda: time.sleep(GAP_S),
        "after 9 ms busy-waiting": _busy_wait,
    }
    samples: dict[str, list[float]] = {name: [] for name in before}
    async with grpc.aio.insecure_channel(address) as channel:
        stub = inference_pb2_grpc.GRPCInferenceServiceStub(channel)
        for _ in range(100):
            await stub.ServerLive(pb.ServerLiveRequest())
        for _ in range(rounds):
            for name, gap in before.items():
                for _ in range(block):
                    gap()
                    started = time.perf_counter()
                    await stub.ServerLive(pb.ServerLiveRequest())
                    samples[name].append((time.perf_counter() - started) * 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=60)
    args = parser.parse_args()
    with ServiceProcess("inference") as service:
        samples = asyncio.run(measure(service.address, args.rounds))
    for name, values in samples.items():
        print(
            f"{name:26} p50 {statistics.median(values):.3f} ms, "
            f"mean {statistics.fmean(values):.3f} ms"
        )


if __name__ == "__main__":
    main()
