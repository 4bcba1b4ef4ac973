"""Inference service vs in-process ONNX Runtime, same model, threads and texts.

Baseline: ``TextEmbeddingModel`` in this process (tokenize + ONNX + pool +
normalise, intra-op threads as configured), one text at a time and in batches
sorted by length; its best throughput is the ceiling a service on this machine
is measured against. Service: ``python -m ragserve.inference`` as its own
process, driven over gRPC by 1, 8 and 64 concurrent clients sending one text
per request (the batcher forms the batches). Both run in this one invocation,
one after the other, on the same machine; compare ratios, not absolutes.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import grpc
import numpy as np

from benchmarks.texts import make_texts
from ragserve.api.inference.v1 import inference_pb2 as pb
from ragserve.api.inference.v1 import inference_pb2_grpc
from ragserve.inference.codec import encode_bytes_tensor
from ragserve.inference.config import load_model_config
from ragserve.inference.served_model import ModelFiles
from ragserve.inference.text_embedding import TextEmbeddingModel
from ragserve.model_setup import default_repository, ensure_models
from ragserve.testkit.processes import ServiceProcess

MODEL = "all-minilm-l6-v2"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "bench" / "inference.md"


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def in_process(
    texts: list[str], seconds: float, threads: int, batch_sizes: Sequence[int]
) -> dict[str, tuple[float, float, float]]:
    """{label: (embeddings/s, p50 ms, p99 ms per call)} with ``threads`` intra-op threads."""
    repository = default_repository()
    config = replace(load_model_config(repository / MODEL), intra_op_threads=threads)
    files = ModelFiles(repository / MODEL, "1")
    model = TextEmbeddingModel.load(config, files)
    model.warm_up()
    results: dict[str, tuple[float, float, float]] = {}
    for batch_size in batch_sizes:
        ordered = sorted(texts, key=len) if batch_size > 1 else texts
        latencies: list[float] = []
        done = 0
        started = time.perf_counter()
        index = 0
        while time.perf_counter() - started < seconds:
            batch = [ordered[(index + i) % len(ordered)] for i in range(batch_size)]
            index += batch_size
            t0 = time.perf_counter()
            model.embed(model.tokenize(batch))
            latencies.append((time.perf_counter() - t0) * 1000)
            done += batch_size
        elapsed = time.perf_counter() - started
        label = f"{threads} thread{'s' if threads > 1 else ''}, " + (
            "1 text" if batch_size == 1 else f"batches of {batch_size}, sorted by length"
        )
        results[label] = (done / elapsed, statistics.median(latencies), percentile(latencies, 0.99))
    model.close()
    return results


def request(text: str) -> pb.ModelInferRequest:
    message = pb.ModelInferRequest(model_name=MODEL)
    message.inputs.add(name="text", datatype="BYTES", shape=[1])
    message.raw_input_contents.append(encode_bytes_tensor(np.array([text], dtype=np.object_)))
    return message


async def drive(
    address: str, texts: list[str], clients: int, seconds: float
) -> tuple[float, float, float]:
    """Closed loop: each client sends one text, waits, sends the next."""
    requests = [request(text) for text in texts]
    latencies: list[float] = []
    async with grpc.aio.insecure_channel(address) as channel:
        stub = inference_pb2_grpc.GRPCInferenceServiceStub(channel)
        for warm in requests[:16]:
            await stub.ModelInfer(warm)
        stop_at = time.perf_counter() + seconds

        async def client(offset: int) -> int:
            count = 0
            while time.perf_counter() < stop_at:
                t0 = time.perf_counter()
                await stub.ModelInfer(requests[(offset + count * clients) % len(requests)])
                latencies.append((time.perf_counter() - t0) * 1000)
                count += 1
            return count

        started = time.perf_counter()
        counts = await asyncio.gather(*(client(i) for i in range(clients)))
        elapsed = time.perf_counter() - started
    return sum(counts) / elapsed, statistics.median(latencies), percentile(latencies, 0.99)


async def noop_p50(address: str, calls: int = 500) -> float:
    """p50 of a no-op RPC (ServerLive): the floor a Python gRPC round trip costs here."""
    latencies: list[float] = []
    async with grpc.aio.insecure_channel(address) as channel:
        stub = inference_pb2_grpc.GRPCInferenceServiceStub(channel)
        for _ in range(50):
            await stub.ServerLive(pb.ServerLiveRequest())
        for _ in range(calls):
            t0 = time.perf_counter()
            await stub.ServerLive(pb.ServerLiveRequest())
            latencies.append((time.perf_counter() - t0) * 1000)
    return statistics.median(latencies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=8.0, help="per measurement")
    parser.add_argument("--texts", type=int, default=512)
    args = parser.parse_args()
    ensure_models(default_repository(), report=lambda _l: None)
    texts = make_texts(args.texts)

    served = load_model_config(default_repository() / MODEL)
    baseline = in_process(texts, args.seconds, 2, (1, 8, 16, 32, 64))
    baseline.update(in_process(texts, args.seconds, 1, (1, 8, 16)))
    best_label, (best_rate, _, _) = max(baseline.items(), key=lambda item: item[1][0])
    threads = served.intra_op_threads
    single_label = f"{threads} thread{'s' if threads > 1 else ''}, 1 text"
    single_p50 = baseline[single_label][1]

    service_rows: dict[int, tuple[float, float, float]] = {}
    with ServiceProcess("inference") as service:
        floor = asyncio.run(noop_p50(service.address))
        for clients in (1, 8, 64):
            service_rows[clients] = asyncio.run(
                drive(service.address, texts, clients, args.seconds)
            )

    lines = [
        "# Inference benchmark",
        "",
        "`make bench` → `benchmarks/inference/bench_inference.py`. all-minilm-l6-v2 (ONNX, int8 weights",
        f"dequantised to fp32), CPU execution provider, {len(texts)} generated texts of 8–56 words;",
        "in-process ONNX Runtime (tokenize + run + pool + normalise, 1 or 2 intra-op threads) and the",
        "service measured one after the other in one run, "
        f"{args.seconds:.0f} s each. The service runs the model's config: {served.intra_op_threads} intra-op",
        f"thread(s) × {served.instance_count} instance(s), token budget "
        f"{served.dynamic_batching.max_batch_tokens if served.dynamic_batching else 0}; its clients send one",
        "text per request (closed loop) from the benchmark process.",
        "",
        "| setup | embeddings/s | p50 ms | p99 ms | × best in-process |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for label, (rate, p50, p99) in baseline.items():
        lines.append(
            f"| in-process ORT, {label} | {rate:.1f} | {p50:.2f} | {p99:.2f} | {rate / best_rate:.2f} |"
        )
    for clients, (rate, p50, p99) in service_rows.items():
        lines.append(
            f"| service, {clients} concurrent client{'s' if clients > 1 else ''} | {rate:.1f} | {p50:.2f} | {p99:.2f} | {rate / best_rate:.2f} |"
        )
    saturation = max(rate for rate, _, _ in service_rows.values())
    added = service_rows[1][1] - single_p50
    lines += [
        "",
        f"- Throughput at saturation: **{saturation / best_rate:.2f}×** in-process ORT at its best batch size "
        f"({best_label}); target ≥ 0.95×.",
        f"- Added p50 latency at one client: **{added:+.2f} ms** (service {service_rows[1][1]:.2f} ms vs "
        f"in-process {single_p50:.2f} ms for one text with the same threads); target ≤ 1 ms. "
        f"For scale: a no-op RPC (ServerLive) round trip to the same service takes {floor:.2f} ms p50 "
        "here, client stack included.",
        "- The client runs on the same 2 cores as the service, so the service's share of the machine",
        "  is smaller than the in-process baseline's.",
    ]
    table = "\n".join(lines) + "\n"
    DOCS.parent.mkdir(parents=True, exist_ok=True)
    DOCS.write_text(table)
    print(table)


if __name__ == "__main__":
    main()
