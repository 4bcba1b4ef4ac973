"""The fuzz's world and its ledger.

``start_world`` starts the suite (libs/testkit) plus a gateway and a monitor watching every
process, all on loopback and port 0. ``Ledger`` records every hostile call's outcome and
judges it by the suite's rule: bad input gets a clear status naming what was wrong, never
INTERNAL / UNKNOWN / DATA_LOSS, never UNAVAILABLE for the caller's own mistake, and a
message that caps what it echoes. ``log_problems`` scans a process's log for ERROR records
and tracebacks afterwards.

The size of a run: ``RAGSERVE_FUZZ_EXAMPLES`` hypothesis examples per strategy (default 25,
a CI-sized run well under a minute of calls) and ``RAGSERVE_FUZZ_SEED`` (default 0: the run
is reproducible; the cases are derandomised from it).
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from hypothesis import HealthCheck, seed, settings

from ragserve.api.gateway.v1 import gateway_pb2 as gpb
from ragserve.api.gateway.v1 import gateway_pb2_grpc as gpb_grpc
from ragserve.testkit.gateway import admin_key, create_key, gateway_env
from ragserve.testkit.processes import ServiceProcess
from ragserve.testkit.suite import Suite, start_suite

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = int(os.environ.get("RAGSERVE_FUZZ_EXAMPLES", "25"))
SEED = int(os.environ.get("RAGSERVE_FUZZ_SEED", "0"))
_SETTINGS = settings(
    max_examples=EXAMPLES,
    derandomize=SEED == 0,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def FUZZ(test: Any) -> Any:
    """Hypothesis settings of the run: reproducible (derandomised) unless a seed is given."""
    return _SETTINGS(seed(SEED)(test) if SEED else test)


# Far above the rule's 64 echoed characters plus a sentence: a message longer than this
# echoes what the caller sent without a cap.
MAX_DETAILS = 600
BAD_CODES = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.DATA_LOSS}


@dataclass
class World:
    suite: Suite
    gateway: ServiceProcess
    monitor: ServiceProcess
    admin: str
    acme: str  # read + write, tenant acme
    other: str  # read + write, tenant other
    reader: str  # read only, tenant acme

    @property
    def processes(self) -> list[ServiceProcess]:
        s = self.suite
        return [s.inference, s.retrieval, s.router, s.orchestrator, self.gateway, self.monitor]

    def stop(self) -> None:
        for process in (self.monitor, self.gateway):
            process.kill()
        self.suite.stop()


def start_world(state: Path) -> World:
    suite = start_suite(state / "retrieval")
    started: list[ServiceProcess] = []
    try:
        env = gateway_env(
            state,
            suite.redis.url,
            # The fuzz measures validation, not the rate limits: keep them out of its way.
            requests_per_s="1000000",
            texts_per_s="1000000",
        )
        env["RAGSERVE_ORCHESTRATOR_ADDR"] = suite.orchestrator.address
        env["RAGSERVE_EMBEDDING_ROUTER_ADDR"] = suite.router.address
        gateway = ServiceProcess("gateway", env).start()
        started.append(gateway)
        targets = ",".join(
            f"{p.name}=127.0.0.1:{p.grpc_port}/{p.metrics_port}"
            for p in (suite.inference, suite.retrieval, suite.router, suite.orchestrator, gateway)
        )
        monitor = ServiceProcess(
            "monitor",
            {"RAGSERVE_MONITOR_TARGETS": targets, "RAGSERVE_MONITOR_SCRAPE_INTERVAL_S": "1"},
            cwd=ROOT,
        ).start()
        started.append(monitor)
        with grpc.insecure_channel(gateway.address) as channel:
            stub = gpb_grpc.GatewayServiceStub(channel)
            admin = admin_key(state)
            rw = [gpb.PERMISSION_READ, gpb.PERMISSION_WRITE]
            acme = create_key(stub, admin, "acme", rw).secret
            other = create_key(stub, admin, "other", rw).secret
            reader = create_key(stub, admin, "acme", [gpb.PERMISSION_READ]).secret
    except BaseException:
        for process in reversed(started):
            process.kill()
        suite.stop()
        raise
    return World(suite, gateway, monitor, admin, acme, other, reader)


@dataclass
class Outcome:
    case: str
    code: grpc.StatusCode
    details: str


@dataclass
class Ledger:
    """Every call's outcome; ``violations`` are the ones that break the rule."""

    outcomes: list[Outcome] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def record(
        self,
        case: str,
        code: grpc.StatusCode,
        details: str,
        *,
        expect: Iterable[grpc.StatusCode] | None = None,
    ) -> Outcome:
        outcome = Outcome(case, code, details)
        self.outcomes.append(outcome)
        shown = details if len(details) <= 200 else details[:200] + f"... ({len(details)} chars)"
        if code in BAD_CODES:
            self.violations.append(f"{case}: {code.name} {shown!r}")
        elif code == grpc.StatusCode.UNAVAILABLE:
            self.violations.append(f"{case}: UNAVAILABLE for the caller's input {shown!r}")
        elif len(details) > MAX_DETAILS:
            self.violations.append(f"{case}: {code.name} echoes {len(details)} characters")
        elif expect is not None and code not in set(expect):
            self.violations.append(f"{case}: {code.name} {shown!r}, expected {list(expect)}")
        return outcome

    def call(
        self,
        case: str,
        thunk: Callable[[], Any],
        *,
        expect: Iterable[grpc.StatusCode] | None = None,
    ) -> Outcome:
        """Run one call (unary, or a stream drained by ``thunk``) and record its status."""
        try:
            thunk()
        except grpc.RpcError as error:
            return self.record(
                case,
                error.code(),  # type: ignore[attr-defined]
                error.details() or "",  # type: ignore[attr-defined]
                expect=expect,
            )
        return self.record(case, grpc.StatusCode.OK, "", expect=expect)

    def summary(self) -> str:
        counts = Counter(o.code.name for o in self.outcomes)
        seconds = time.monotonic() - self.started
        return f"{len(self.outcomes)} calls in {seconds:.1f} s: {dict(sorted(counts.items()))}"


def drain(responses: Iterator[Any]) -> list[Any]:
    return list(responses)


def log_problems(process: ServiceProcess, since: int = 0) -> list[str]:
    """ERROR / CRITICAL records and tracebacks the process wrote after line ``since``."""
    problems = []
    for line in process.lines[since:]:
        if '"level": "ERROR"' in line or '"level": "CRITICAL"' in line or "Traceback" in line:
            problems.append(f"{process.name}: {line[:800]}")
    return problems


def bearer(key: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {key}"),)


def cut(text: str, limit: int = 64) -> str:
    return text if len(text) <= limit else text[:limit]
