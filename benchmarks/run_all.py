"""`make bench`: every benchmark, one after the other, each writing its table
under docs/bench/. Quick settings by default; `--full` for the published run."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

BENCHMARKS: list[tuple[str, list[str], list[str]]] = [
    # (module, quick arguments, full arguments)
    ("benchmarks.inference.bench_inference", ["--seconds", "6"], ["--seconds", "15"]),
    ("benchmarks.embedding_router.bench_router", ["--seconds", "4"], ["--seconds", "10"]),
    ("benchmarks.retrieval.bench_retrieval", ["--quick"], []),
    (
        "benchmarks.orchestrator.bench_ingest",
        ["--documents", "300", "--sample", "300"],
        ["--documents", "10000"],
    ),
    (
        "benchmarks.orchestrator.bench_query",
        [
            "--chunks",
            "10000",
            "--index-threshold",
            "5000",
            "--rounds",
            "5",
            "--out",
            "docs/bench/raw/orchestrator-query-quick.md",
        ],
        ["--chunks", "100000", "--rounds", "20"],
    ),
    (
        "benchmarks.runtime.bench_runtime",
        ["--calls", "2000", "--rounds", "3"],
        ["--calls", "5000", "--rounds", "5"],
    ),
    (
        "benchmarks.gateway.bench_gateway",
        ["--chunks", "10000", "--index-threshold", "5000", "--seconds", "5"],
        [],
    ),
    (
        "benchmarks.runtime.bench_hops",
        ["--calls", "300", "--rounds", "3", "--out", "docs/bench/raw/hops-quick.md"],
        ["--calls", "2000", "--rounds", "5", "--out", "docs/bench/hops.md"],
    ),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--full", action="store_true")
    args = parser.parse_args()
    failed = []
    for module, quick, full in BENCHMARKS:
        if not (ROOT / (module.replace(".", "/") + ".py")).exists():
            print(f"skipping {module}: not present")
            continue
        print(f"== {module}", flush=True)
        completed = subprocess.run(
            [sys.executable, "-m", module, *(full if args.full else quick)], cwd=ROOT, check=False
        )
        if completed.returncode != 0:
            failed.append(module)
    if failed:
        print("failed:", ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
