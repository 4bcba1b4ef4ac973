"""Where one client's ModelInfer goes: stage stamps in the service, in-process ORT alongside.

Starts ``python -m ragserve.inference`` (one or more variants) with
:mod:`benchmarks.inference.stage_timers` loaded, loads the same model in this process (2
intra-op threads, as ``bench_inference`` does), and alternates blocks of calls: ``--block``
in-process embeds (tokenize + embed, as the benchmark times them), then ``--block``
ModelInfer calls of one text to each variant, then as many no-op ServerLive calls. Blocks
of back-to-back calls keep each side's conditions those of the benchmark's closed loop;
alternating them makes the machine's drift fall on every side alike. Prints, per variant,
the median of each stage between the service's stamps (client send and receive stamps
from this process share the clock) and the p50s to compare: in-process one text, the
service's call, the no-op round trip, and ORT's run inside the service vs in process.
A profiling aid: read differences within one run, not absolutes.

Run: ``uv run python -m benchmarks.inference.profile_inference [--calls N]
[--variant NAME:KEY=VALUE,...] [--env NAME:VAR=VALUE] [--baseline REV]``.
``--variant`` starts one more service whose model config has those keys overridden
(e.g. ``nospin:intra_op_spinning=false``); ``--env`` adds an environment variable to
a variant, starting it if new (``service`` is the unmodified one; e.g.
``stop:RAGSERVE_STAGE_ORT_CONFIG=session.force_spinning_stop=1`` for ONNX Runtime session
config entries, see :mod:`benchmarks.inference.stage_timers`); ``--baseline REV`` adds a
variant running that revision's inference service and batching code.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import grpc

from benchmarks.inference.bench_inference import MODEL, InProcess, request
from benchmarks.stage_hooks import sources_at, stamped_env, write_hook
from benchmarks.texts import make_texts
from ragserve.api.inference.v1 import inference_pb2 as pb
from ragserve.api.inference.v1 import inference_pb2_grpc
from ragserve.model_setup import default_repository, ensure_models
from ragserve.testkit.processes import ServiceProcess

# (label, from stamp, to stamp) in the order a ModelInfer passes them.
STAGES: tuple[tuple[str, str, str], ...] = (
    ("client send → request bytes decoded (inbound)", "client send", "deserialize start"),
    ("request protobuf decode", "deserialize start", "deserialize end"),
    ("decoded → per-call layer", "deserialize end", "layer begin start"),
    ("per-call layer: begin", "layer begin start", "layer begin end"),
    ("layer → servicer handler", "layer begin end", "handler start"),
    ("handler → to_call", "handler start", "to_call start"),
    ("to_call (envelope + tensor decode)", "to_call start", "to_call end"),
    ("engine.infer → tokenize", "to_call end", "tokenize start"),
    ("tokenize", "tokenize start", "tokenize end"),
    ("tokenized → submit", "tokenize end", "submit start"),
    ("batcher submit", "submit start", "submit end"),
    ("submit → batch task runs", "submit end", "batch task start"),
    ("batch task → executor submit", "batch task start", "executor submit"),
    ("executor hand-off (worker thread wakes)", "executor submit", "embed start"),
    ("padding / feeds", "embed start", "ort start"),
    ("ORT run", "ort start", "ort end"),
    ("pooling / normalise", "ort end", "embed end"),
    ("worker → back on the loop", "embed end", "back on loop"),
    ("loop → handler resumes", "back on loop", "to_response start"),
    ("to_response", "to_response start", "to_response end"),
    ("→ handler returns", "to_response end", "handler end"),
    ("handler → per-call layer end", "handler end", "layer end start"),
    ("per-call layer: end", "layer end start", "layer end end"),
    ("layer end → serialise", "layer end end", "serialize start"),
    ("response protobuf encode", "serialize start", "serialize end"),
    ("serialised → client has the answer (outbound)", "serialize end", "client recv"),
)
NOOP_STAGES: tuple[tuple[str, str, str], ...] = (
    ("inbound", "client send", "deserialize start"),
    ("in the service (decode → encoded)", "deserialize start", "serialize end"),
    ("outbound", "serialize end", "client recv"),
)


class _StampedSession:
    """The in-process model's session, its run timed (for ORT in process vs in the service)."""

    def __init__(self, session: Any, runs: list[float]) -> None:
        self._session = session
        self._runs = runs

    def run(self, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter_ns()
        try:
            return self._session.run(*args, **kwargs)
        finally:
            self._runs.append((time.perf_counter_ns() - started) / 1e3)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


def _repository(into: Path, overrides: dict[str, Any]) -> Path:
    """A model repository whose model config has ``overrides``; files linked to the real one."""
    source = default_repository()
    into.mkdir(parents=True)
    for model in source.iterdir():
        if model.is_dir() and model.name != MODEL:
            (into / model.name).symlink_to(model.resolve())
    target = into / MODEL
    target.mkdir()
    for entry in (source / MODEL).iterdir():
        if entry.name != "config.json":
            (target / entry.name).symlink_to(entry.resolve())
    config = json.loads((source / MODEL / "config.json").read_text())
    config.update(overrides)
    (target / "config.json").write_text(json.dumps(config))
    return into


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


async def alternate(
    model: InProcess, addresses: dict[str, str], texts: list[str], calls: int, block: int
) -> tuple[list[float], dict[str, dict[str, tuple[int, int]]], dict[str, list[tuple[int, int]]]]:
    """In-process ms per call; per variant, each ModelInfer's (send, recv) ns by id and
    each no-op's (send, recv) ns in order."""
    inproc: list[float] = []
    infers: dict[str, dict[str, tuple[int, int]]] = {name: {} for name in addresses}
    noops: dict[str, list[tuple[int, int]]] = {name: [] for name in addresses}
    channels = {name: grpc.aio.insecure_channel(address) for name, address in addresses.items()}
    try:
        stubs = {
            name: inference_pb2_grpc.GRPCInferenceServiceStub(channel)
            for name, channel in channels.items()
        }
        for stub in stubs.values():
            for text in texts[:16]:
                await stub.ModelInfer(request(text))
        index = 0
        for round_number in range(max(1, calls // block)):
            names = list(stubs)
            # Rotate which variant follows the in-process block.
            names = names[round_number % len(names) :] + names[: round_number % len(names)]
            for i in range(block):
                text = texts[(index + i) % len(texts)]
                t0 = time.perf_counter()
                model.model.embed(model.model.tokenize([text]))
                inproc.append((time.perf_counter() - t0) * 1000)
            for name in names:
                stub = stubs[name]
                for i in range(block):
                    message = request(texts[(index + i) % len(texts)])
                    message.id = f"{round_number}-{i}"
                    sent = time.perf_counter_ns()
                    await stub.ModelInfer(message)
                    infers[name][message.id] = (sent, time.perf_counter_ns())
                for _ in range(block):
                    sent = time.perf_counter_ns()
                    await stub.ServerLive(pb.ServerLiveRequest())
                    noops[name].append((sent, time.perf_counter_ns()))
            index += block
    finally:
        for channel in channels.values():
            await channel.close(None)
    return inproc, infers, noops


def _median_us(values: Sequence[float]) -> str:
    return f"{statistics.median(values):9.1f}" if values else "        -"


def report(
    name: str,
    calls: list[dict[str, Any]],
    infers: dict[str, tuple[int, int]],
    noops: list[tuple[int, int]],
) -> dict[str, float]:
    """Print a variant's stage medians (µs); return its headline figures (µs)."""
    stamped = [dict(call) for call in calls if call.get("id") in infers]
    for call in stamped:
        call["client send"], call["client recv"] = infers[call["id"]]
    live = [dict(call) for call in calls if "id" not in call and "handler start" in call]
    # No-op calls arrive in the client's order; the warm-up ones are left off the front.
    live = live[len(live) - len(noops) :] if len(live) >= len(noops) else []
    for call, (sent, received) in zip(live, noops, strict=False):
        call["client send"], call["client recv"] = sent, received
    print(f"\n== {name}: {len(stamped)} ModelInfer calls, {len(live)} no-op calls")
    print(f"{'stage':52} {'p50 µs':>9} {'mean µs':>9}")
    medians = 0.0
    for label, start, end in STAGES:
        values = [(c[end] - c[start]) / 1e3 for c in stamped if start in c and end in c]
        if values:
            medians += statistics.median(values)
            print(f"{label:52} {_median_us(values)} {statistics.fmean(values):9.1f}")
    totals = [(c["client recv"] - c["client send"]) / 1e3 for c in stamped]
    print(f"{'sum of the medians':52} {medians:9.1f}")
    print(f"{'client round trip':52} {_median_us(totals)} {statistics.fmean(totals):9.1f}")
    gc_us = [c.get("gc ns", 0) / 1e3 for c in stamped]
    passes = sum(c.get("gc passes", 0) for c in stamped)
    print(
        f"garbage collection in a call: mean {statistics.fmean(gc_us):.1f} µs, "
        f"{passes / max(len(stamped), 1):.2f} passes a call, p50 {statistics.median(gc_us):.1f} µs"
    )
    sessions = [s for c in stamped for s in ("wide", "narrow") if f"session {s}" in c]
    print(f"sessions used: wide {sessions.count('wide')}, narrow {sessions.count('narrow')}")
    print("no-op ServerLive:")
    for label, start, end in NOOP_STAGES:
        values = [(c[end] - c[start]) / 1e3 for c in live if start in c and end in c]
        print(f"  {label:50} {_median_us(values)}")
    noop_totals = [(received - sent) / 1e3 for sent, received in noops]
    print(f"  {'round trip':50} {_median_us(noop_totals)}")
    ort = [(c["ort end"] - c["ort start"]) / 1e3 for c in stamped if "ort end" in c]
    return {
        "round trip": statistics.median(totals),
        "noop": statistics.median(noop_totals),
        "ort": statistics.median(ort) if ort else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=600, help="ModelInfer calls per variant")
    parser.add_argument("--block", type=int, default=20, help="back-to-back calls per block")
    parser.add_argument("--texts", type=int, default=512)
    parser.add_argument("--variant", action="append", default=[], metavar="NAME:KEY=VALUE,...")
    parser.add_argument("--env", action="append", default=[], metavar="NAME:VAR=VALUE")
    parser.add_argument("--baseline", metavar="REV")
    args = parser.parse_args()
    ensure_models(default_repository(), report=lambda _line: None)
    texts = make_texts(args.texts)
    model = InProcess(2)
    ort_inproc: list[float] = []
    session = model.model._session
    model.model._session = _StampedSession(session, ort_inproc)

    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp)
        hook = write_hook(state / "hook", "benchmarks.inference.stage_timers")
        variants: dict[str, dict[str, str]] = {"service": {}}
        sources: dict[str, list[Path]] = {"service": []}
        if args.baseline:
            name = f"baseline {args.baseline}"
            (state / "baseline").mkdir()
            variants[name] = {}
            sources[name] = sources_at(
                args.baseline, ["services/inference/src", "libs/batching/src"], state / "baseline"
            )
        for spec in args.variant:
            name, _, assignments = spec.partition(":")
            overrides = {
                key: _parse_value(value)
                for key, _, value in (item.partition("=") for item in assignments.split(","))
            }
            repository = _repository(state / f"repo-{len(variants)}", overrides)
            variants[name] = {"RAGSERVE_INFERENCE_MODEL_REPOSITORY": str(repository)}
            sources[name] = []
        for spec in args.env:
            name, _, assignment = spec.partition(":")
            variable, _, value = assignment.partition("=")
            variants.setdefault(name, {})[variable] = value
            sources.setdefault(name, [])
        services: dict[str, ServiceProcess] = {}
        try:
            for index, (name, extra) in enumerate(variants.items()):
                env = {**extra, **stamped_env(hook, state / f"stages-{index}.json", sources[name])}
                services[name] = ServiceProcess("inference", env).start(timeout_s=120)
            addresses = {name: service.address for name, service in services.items()}
            inproc, infers, noops = asyncio.run(
                alternate(model, addresses, texts, args.calls, args.block)
            )
            stamps = {}
            for index, (name, service) in enumerate(services.items()):
                service.stop()
                stamps[name] = json.loads((state / f"stages-{index}.json").read_text())
        finally:
            for service in services.values():
                service.kill()
    model.close()

    figures = {name: report(name, stamps[name], infers[name], noops[name]) for name in services}
    inproc_p50 = statistics.median(inproc) * 1000
    ort_p50 = statistics.median(ort_inproc)
    print(
        f"\nin-process one text (tokenize + embed): p50 {inproc_p50:.1f} µs; its ORT run {ort_p50:.1f} µs"
    )
    for name, figure in figures.items():
        print(
            f"{name}: round trip p50 {figure['round trip']:.1f} µs = in-process "
            f"{figure['round trip'] - inproc_p50:+.1f} µs; no-op {figure['noop']:.1f} µs; "
            f"ORT run in the service {figure['ort']:.1f} µs ({figure['ort'] - ort_p50:+.1f} vs in process)"
        )


if __name__ == "__main__":
    main()
