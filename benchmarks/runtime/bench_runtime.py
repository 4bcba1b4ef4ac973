"""What the shared runtime adds to every RPC: a no-op call, bare grpc.aio vs the stack.

Each configuration runs a server in a process of its own (spawned, so nothing
configured by one leaks into another) with one no-op unary method on bytes;
this process calls it from a synchronous client, one call at a time, with a
deadline as real clients send. Configurations are measured in interleaved
rounds and the median of the rounds' p50s is reported, so a noisy neighbour
moves every row alike. The server's log goes to /dev/null (the access log is
still formatted and written).

Rows: bare ``grpc.aio`` (no interceptor), without and with a ``traceparent``
header from the client (metadata costs gRPC itself: rows that send one compare
with the second); OpenTelemetry's own server
interceptor alone with no exporter (what every call paid for tracing before
the runtime stopped installing it when nothing exports); the runtime's stack
as services run it (no exporter); the same with the access log off (its
share); with a ``traceparent`` on each call (the caller's trace adopted); with
spans exported (an SDK provider and a batch processor whose exporter drops).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import time
from collections.abc import Sequence
from multiprocessing.queues import Queue
from pathlib import Path
from typing import Any

import grpc

DOCS = Path(__file__).resolve().parents[2] / "docs" / "bench" / "runtime.md"
SERVICE = "ragserve.bench.Noop"
METHOD = f"/{SERVICE}/Call"
TRACEPARENT = (("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),)

# name → (label, server set-up, client sends a traceparent). Rows whose client sends a
# traceparent compare with the bare server receiving one: metadata costs gRPC itself.
CONFIGURATIONS: dict[str, tuple[str, str, bool]] = {
    "bare": ("bare grpc.aio, no interceptor", "bare", False),
    "bare_traced": ("bare grpc.aio, caller sends traceparent", "bare", True),
    "otel": ("OpenTelemetry server interceptor alone, no exporter", "otel", False),
    "runtime": ("ragserve runtime stack, no exporter (as deployed)", "runtime", False),
    "quiet": ("ragserve runtime stack, access log off", "quiet", False),
    "traced": ("ragserve runtime stack, caller sends traceparent", "runtime", True),
    "exporting": ("ragserve runtime stack, spans exported", "exporting", True),
}


def _identity(data: bytes) -> bytes:
    return data


def _interceptors(setup: str) -> list[Any]:
    if setup == "bare":
        return []
    if setup == "otel":
        from opentelemetry.instrumentation.grpc import aio_server_interceptor, filters

        return [aio_server_interceptor(filter_=filters.negate(filters.health_check()))]  # type: ignore[no-untyped-call]
    from ragserve.runtime.server import shared_interceptors

    return shared_interceptors()


def _configure(setup: str) -> None:
    import logging

    from ragserve.runtime.logs import configure_logging

    configure_logging("bench")
    if setup == "quiet":
        logging.getLogger("ragserve.access").setLevel(logging.WARNING)
    if setup == "exporting":
        from opentelemetry import trace
        from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
        from opentelemetry.sdk.trace.export import (
            BatchSpanProcessor,
            SpanExporter,
            SpanExportResult,
        )

        class Dropping(SpanExporter):
            def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
                return SpanExportResult.SUCCESS

        provider = TracerProvider()
        provider.add_span_processor(BatchSpanProcessor(Dropping()))
        trace.set_tracer_provider(provider)


async def _serve(setup: str, ports: Queue[int]) -> None:
    _configure(setup)
    server = grpc.aio.server(interceptors=_interceptors(setup))

    async def call(request: bytes, context: Any) -> bytes:
        return b""

    handler = grpc.unary_unary_rpc_method_handler(call, _identity, _identity)
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(SERVICE, {"Call": handler}),)
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    ports.put(port)
    await server.wait_for_termination()


def _server_main(setup: str, ports: Queue[int]) -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115 - lives as long as the process
    from ragserve.runtime.event_loop import run_on_suite_loop

    # On the loop the services run on, so a hop's cost over it is the service's own.
    run_on_suite_loop(_serve(setup, ports))


def measure(name: str, calls: int, warmup: int) -> list[float]:
    """Latencies (ms) of ``calls`` no-op calls to a fresh server set up as ``name``."""
    _, setup, traced = CONFIGURATIONS[name]
    context = multiprocessing.get_context("spawn")
    ports: Queue[int] = context.Queue()
    process = context.Process(target=_server_main, args=(setup, ports), daemon=True)
    process.start()
    try:
        port = ports.get(timeout=60)
        metadata = TRACEPARENT if traced else None
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            call = channel.unary_unary(
                METHOD, request_serializer=_identity, response_deserializer=_identity
            )
            for _ in range(warmup):
                call(b"", timeout=10, metadata=metadata)
            latencies = []
            for _ in range(calls):
                started = time.perf_counter()
                call(b"", timeout=10, metadata=metadata)
                latencies.append((time.perf_counter() - started) * 1000)
        return latencies
    finally:
        process.kill()
        process.join()


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=3000, help="per configuration and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--only", nargs="*", choices=sorted(CONFIGURATIONS), default=None)
    args = parser.parse_args()
    names = args.only or list(CONFIGURATIONS)
    for baseline in ("bare_traced", "bare"):
        if baseline not in names:
            names.insert(0, baseline)
    p50s: dict[str, list[float]] = {name: [] for name in names}
    p99s: dict[str, list[float]] = {name: [] for name in names}
    for round_number in range(args.rounds):
        for name in names:
            latencies = measure(name, args.calls, args.warmup)
            p50s[name].append(statistics.median(latencies))
            p99s[name].append(percentile(latencies, 0.99))
            print(f"round {round_number + 1}: {name} p50 {p50s[name][-1]:.3f} ms", flush=True)
    baselines = {
        traced: statistics.median(p50s["bare_traced" if traced else "bare"])
        for traced in (False, True)
    }
    lines = [
        "# Runtime benchmark: the cost of the shared server stack per call",
        "",
        "`make bench` → `benchmarks/runtime/bench_runtime.py`. A no-op unary RPC (bytes in, bytes",
        "out) to a server in its own process, from a synchronous client in this one, one call at a",
        f"time with a deadline; {args.calls} calls per configuration in each of {args.rounds}",
        "interleaved rounds after a warm-up; the median over rounds of each round's p50 and p99.",
        "",
        "| configuration | p50 ms | p99 ms | p50 over bare (same metadata), ms |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name in names:
        p50 = statistics.median(p50s[name])
        p99 = statistics.median(p99s[name])
        bare_p50 = baselines[CONFIGURATIONS[name][2]]
        lines.append(
            f"| {CONFIGURATIONS[name][0]} | {p50:.3f} | {p99:.3f} | {p50 - bare_p50:+.3f} |"
        )
    lines += [
        "",
        "Target: the deployed stack within 0.15 ms p50 of bare grpc.aio.",
    ]
    table = "\n".join(lines) + "\n"
    if args.only is None:
        DOCS.parent.mkdir(parents=True, exist_ok=True)
        DOCS.write_text(table)
    print(table)


if __name__ == "__main__":
    main()
