"""A real Prometheus server scrapes a running retrieval service (loopback) and evaluates
the generated SLO rules on real samples; two monitors watch the same service, one from its
own scrapes and one reading Prometheus's API. All three fire the burn-rate alert when
errors are injected, and resolve it when they stop: one verdict from one spec.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
import urllib.request
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest

from ragserve.api.monitor.v1 import monitor_pb2 as pb
from ragserve.api.monitor.v1 import monitor_pb2_grpc
from ragserve.api.retrieval.v1 import retrieval_pb2, retrieval_pb2_grpc
from ragserve.slo.rules import render
from ragserve.slo.spec import parse_spec
from ragserve.testkit.ports import free_port
from ragserve.testkit.processes import ServiceProcess

PROMETHEUS = shutil.which("prometheus")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(240),
    pytest.mark.skipif(PROMETHEUS is None, reason="prometheus missing: apt-get install prometheus"),
]

ROOT = Path(__file__).resolve().parents[2]

SPEC = """
windows:
  - {long: 20s, short: 5s, burn_rate: 10, severity: page}
error_codes: [NOT_FOUND, UNAVAILABLE, INTERNAL, UNKNOWN]
runbook_base_url: docs/monitor.md
slos:
  - {name: retrieval-errors, description: Under 1 % of retrieval calls fail., service: retrieval,
     kind: error_ratio, grpc_service: ragserve.api.retrieval.v1.RetrievalService, objective: 0.99}
"""


@dataclass
class Live:
    retrieval: ServiceProcess
    prometheus_url: str
    own: ServiceProcess  # the monitor from its own scrapes
    via_prometheus: ServiceProcess  # the monitor reading Prometheus


def http_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def wait_http(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Bounded polling of an HTTP API (Prometheus has no push to await)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (OSError, LookupError):
            pass  # not up yet, or no series yet
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout_s}s: {what}")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    assert PROMETHEUS is not None
    tmp = tmp_path_factory.mktemp("prometheus")
    spec_path = tmp / "slos.yaml"
    spec_path.write_text(SPEC)
    (tmp / "slo.rules.yml").write_text(render(parse_spec(SPEC)))
    started: list[ServiceProcess] = []
    prometheus: subprocess.Popen[bytes] | None = None
    try:
        retrieval = ServiceProcess(
            "retrieval", env={"RAGSERVE_RETRIEVAL_DATA_DIR": str(tmp / "data")}
        )
        retrieval.start(timeout_s=60)
        started.append(retrieval)
        (tmp / "prometheus.yml").write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            "rule_files: [slo.rules.yml]\n"
            "scrape_configs:\n"
            "  - job_name: retrieval\n"
            f"    static_configs: [{{targets: ['127.0.0.1:{retrieval.metrics_port}']}}]\n"
        )
        port = free_port()
        prometheus = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={tmp / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=(tmp / "prometheus.log").open("wb"),
        )
        url = f"http://127.0.0.1:{port}"
        wait_http(
            lambda: (
                http_json(f"{url}/api/v1/targets")["data"]["activeTargets"][0]["health"] == "up"
            ),
            60,
            "Prometheus scraped retrieval",
        )
        target = f"retrieval=127.0.0.1:{retrieval.grpc_port}/{retrieval.metrics_port}"
        common = {
            "RAGSERVE_MONITOR_TARGETS": target,
            "RAGSERVE_MONITOR_SLO_SPEC": str(spec_path),
            "RAGSERVE_MONITOR_SCRAPE_INTERVAL_S": "1",
        }
        own = ServiceProcess("monitor", env=common).start(timeout_s=60)
        started.append(own)
        via = ServiceProcess(
            "monitor", env={**common, "RAGSERVE_MONITOR_PROMETHEUS_URL": url}
        ).start(timeout_s=60)
        started.append(via)
        yield Live(retrieval, url, own, via)
    finally:
        if prometheus is not None:
            prometheus.kill()
            prometheus.wait()
        for process in reversed(started):
            process.kill()


def prometheus_firing(url: str) -> bool:
    alerts = http_json(f"{url}/api/v1/alerts")["data"]["alerts"]
    return any(
        a["labels"].get("alertname") == "SLOErrorBudgetBurn"
        and a["labels"].get("slo") == "retrieval-errors"
        and a["state"] == "firing"
        for a in alerts
    )


async def alert_states(address: str) -> AsyncGenerator[int, None]:
    """Burn-rate alert states as a monitor's WatchAlerts reports them."""
    async with grpc.aio.insecure_channel(address) as channel:
        stream = monitor_pb2_grpc.MonitorServiceStub(channel).WatchAlerts(pb.WatchAlertsRequest())
        async for response in stream:
            if response.WhichOneof("event") == "snapshot":
                for alert in response.snapshot.firing:
                    if alert.name == "SLOErrorBudgetBurn":
                        yield alert.state
            elif response.alert.name == "SLOErrorBudgetBurn":
                yield response.alert.state


async def until_state(states: AsyncIterator[int], wanted: int, timeout_s: float, what: str) -> None:
    try:
        async with asyncio.timeout(timeout_s):
            async for state in states:
                if state == wanted:
                    return
    except TimeoutError:
        raise AssertionError(f"{what}: not within {timeout_s}s") from None


async def until_prometheus(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    await asyncio.to_thread(wait_http, check, timeout_s, what)


async def traffic(
    stub: retrieval_pb2_grpc.RetrievalServiceStub, failing: asyncio.Event, done: asyncio.Event
) -> None:
    while not done.is_set():
        await stub.ListCollections(retrieval_pb2.ListCollectionsRequest(tenant="t"), timeout=5)
        if failing.is_set():
            with pytest.raises(grpc.aio.AioRpcError):
                await stub.DescribeCollection(
                    retrieval_pb2.DescribeCollectionRequest(tenant="t", name="missing"), timeout=5
                )


async def test_prometheus_rules_and_both_monitors_agree_on_real_samples(live: Live) -> None:
    own = alert_states(live.own.address)
    via = alert_states(live.via_prometheus.address)
    failing, done = asyncio.Event(), asyncio.Event()
    async with grpc.aio.insecure_channel(live.retrieval.address) as channel:
        task = asyncio.create_task(
            traffic(retrieval_pb2_grpc.RetrievalServiceStub(channel), failing, done)
        )
        try:
            # Clean traffic first: nobody fires.
            await until_prometheus(
                lambda: (
                    http_json(
                        f"{live.prometheus_url}/api/v1/query?query=ragserve_slo:error_ratio:rate20s"
                    )["data"]["result"][0]["value"][1]
                    == "0"
                ),
                60,
                "Prometheus records a zero error ratio",
            )
            assert not prometheus_firing(live.prometheus_url)
            failing.set()
            waits: list[Awaitable[None]] = [
                until_prometheus(
                    lambda: prometheus_firing(live.prometheus_url), 60, "Prometheus fires"
                ),
                until_state(own, pb.ALERT_STATE_FIRING, 60, "the monitor fires"),
                until_state(via, pb.ALERT_STATE_FIRING, 60, "the Prometheus-backed monitor fires"),
            ]
            await asyncio.gather(*waits)
            failing.clear()
            waits = [
                until_prometheus(
                    lambda: not prometheus_firing(live.prometheus_url), 60, "Prometheus resolves"
                ),
                until_state(own, pb.ALERT_STATE_RESOLVED, 60, "the monitor resolves"),
                until_state(
                    via, pb.ALERT_STATE_RESOLVED, 60, "the Prometheus-backed monitor resolves"
                ),
            ]
            await asyncio.gather(*waits)
        finally:
            done.set()
            await task
            await own.aclose()
            await via.aclose()
