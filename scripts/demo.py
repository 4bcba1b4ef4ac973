"""`make demo`: the whole suite on this machine, driven as a user would.

Starts Redis and every service with the same launcher as `ragserve up` (default
ports; RAGSERVE_<SERVICE>_PORT overrides), creates an API key for a tenant,
ingests the project's corpus (30 documents: text, Markdown, HTML, PDF) with the
`ragserve` CLI, asks a handful of questions with it (answers with sources,
timings and trace ids), says where traces and metrics are, and stops everything.
State lives in a temporary directory, so every run starts fresh.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from ragserve.client import Client
from ragserve.client.cli.launcher import LocalSuite, Part, SuiteError

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "services/orchestrator/tests/data/corpus"
COLLECTION = "demo"
# One question per media type and two more, from the corpus's known queries.
QUERY_DOCUMENTS = (
    "lumenkettle_manual.txt",
    "kimchi_fermentation.md",
    "cheese_aging.html",
    "fresh_egg_pasta.pdf",
    "wifi_channels.html",
    "polaris_thermostat_api.md",
)


def say(text: str) -> None:
    bold, plain = ("\033[1m", "\033[0m") if sys.stdout.isatty() else ("", "")
    print(f"\n{bold}== {text}{plain}", flush=True)


def ragserve(env: dict[str, str], *args: str) -> int:
    """Runs the CLI as a user would type it (printed first)."""
    shown = " ".join(shlex.quote(a) for a in args)
    print(f"$ ragserve {shown}", flush=True)
    return subprocess.run([sys.executable, "-m", "ragserve.client.cli", *args], env=env).returncode


def pick_queries() -> list[str]:
    known = json.loads((CORPUS / "queries.json").read_text())
    by_document = {entry["document"]: entry["query"] for entry in known}
    return [by_document[d] for d in QUERY_DOCUMENTS if d in by_document]


def main() -> int:
    started = time.monotonic()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    def on_change(part: Part) -> None:
        if part.state == "serving":
            ready = f" in {part.ready_after_s:.1f} s" if part.ready_after_s is not None else ""
            print(f"  {part.name:17} SERVING at {part.address}{ready}", flush=True)

    with tempfile.TemporaryDirectory(prefix="ragserve-demo-") as state:
        suite = LocalSuite(Path(state), on_change=on_change)
        try:
            say("starting the suite (the same launcher as `ragserve up`)")
            suite.start(stop)
            if stop.is_set():
                return 130
            print(f"  up after {time.monotonic() - started:.1f} s; logs in {suite.log_dir}")
            return run_demo(suite, started)
        except SuiteError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        finally:
            say("stopping every process (SIGTERM, in reverse order)")
            suite.stop()
            print(f"  stopped; the demo took {time.monotonic() - started:.0f} s in all")


def run_demo(suite: LocalSuite, started: float) -> int:
    gateway = next(p for p in suite.parts if p.name == "gateway")
    admin_key = suite.admin_key_file.read_text().strip()
    env = {**os.environ, "RAGSERVE_GATEWAY_ADDR": gateway.address, "COLUMNS": "120"}

    say("creating an API key for tenant 'demo' (read, write) with the local admin key")
    with Client(gateway.address, admin_key) as admin:
        created = admin.create_key("demo", ["read", "write"], description="make demo")
    print(f"  key {created.key.id}: its secret is shown once, at creation; the demo keeps it")
    env["RAGSERVE_API_KEY"] = created.secret

    say(f"ingesting {CORPUS.relative_to(ROOT)} with the CLI")
    if ragserve(env, "collections", "create", COLLECTION) != 0:
        return 1
    t0 = time.monotonic()
    ragserve(env, "ingest", str(CORPUS.relative_to(ROOT)), "--collection", COLLECTION)
    print(f"  ({time.monotonic() - t0:.1f} s)")

    say("asking questions: the answer, its sources, timings and the trace id")
    failures = 0
    for question in pick_queries():
        print()
        failures += (
            ragserve(env, "query", question, "--collection", COLLECTION, "--top-k", "3") != 0
        )

    say("where to look next")
    metrics = [p for p in suite.parts if p.metrics_port]
    print(
        "  traces: start Jaeger (its OTLP/gRPC port 4317), set\n"
        "    OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4317 before `ragserve up`, and look up\n"
        "    a trace id printed above at http://localhost:16686/trace/<trace id>:\n"
        "    one trace per query, gateway → orchestrator → embedding router → inference, retrieval"
    )
    print("  metrics (Prometheus text format, while the suite runs):")
    for part in metrics:
        print(f"    {part.name:17} http://127.0.0.1:{part.metrics_port}/metrics")
    print("  the same suite in the foreground: `make up` (= `ragserve up`); then `ragserve --help`")
    print(f"\n  demo work done {time.monotonic() - started:.0f} s after the start")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
