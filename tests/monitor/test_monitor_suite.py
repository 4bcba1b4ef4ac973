"""The monitor against real processes: inference, the embedding router, retrieval, the
orchestrator, Redis (the gateway is not built yet).

The SLO spec here is the shipped one's shape with windows short enough for a test (the
monitor reads any spec file) and NOT_FOUND counted as an error, so that searches of a
missing collection are the injected failures.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import grpc
import pytest

from ragserve.api.embedding.v1 import embedding_pb2, embedding_pb2_grpc
from ragserve.api.inference.v1 import inference_pb2, inference_pb2_grpc
from ragserve.api.monitor.v1 import monitor_pb2 as pb
from ragserve.api.monitor.v1 import monitor_pb2_grpc
from ragserve.api.retrieval.v1 import retrieval_pb2, retrieval_pb2_grpc
from ragserve.testkit.ports import free_port
from ragserve.testkit.processes import ServiceProcess
from ragserve.testkit.redis_server import RedisServer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

ROOT = Path(__file__).resolve().parents[2]
MODEL = "all-minilm-l6-v2"

TEST_SPEC = """
windows:
  - {long: 12s, short: 3s, burn_rate: 10, severity: page}
error_codes: [NOT_FOUND, UNAVAILABLE, INTERNAL, UNKNOWN]
runbook_base_url: docs/monitor.md
slos:
  - {name: retrieval-errors, description: Under 1 % of retrieval calls fail., service: retrieval,
     kind: error_ratio, grpc_service: ragserve.api.retrieval.v1.RetrievalService, objective: 0.99}
  - {name: inference-errors, description: Under 1 % of inference calls fail., service: inference,
     kind: error_ratio, grpc_service: inference.GRPCInferenceService, objective: 0.99}
  - {name: vector-search-latency, description: 95 % of searches under 100 ms., service: retrieval,
     kind: latency, histogram: ragserve_retrieval_search_duration_seconds, threshold_seconds: 0.1,
     objective: 0.95}
"""


class Webhook:
    """A receiver of Alertmanager-format POSTs, as a real HTTP server."""

    def __init__(self) -> None:
        self.payloads: list[dict[str, Any]] = []
        self.arrived = threading.Condition()
        received, arrived = self.payloads, self.arrived

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with arrived:
                    received.append(json.loads(body))
                    arrived.notify_all()
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, predicate: Callable[[], bool], timeout_s: float) -> bool:
        with self.arrived:
            return self.arrived.wait_for(predicate, timeout_s)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Suite:
    redis: RedisServer
    inference: ServiceProcess
    router: ServiceProcess
    retrieval: ServiceProcess
    orchestrator: ServiceProcess
    monitor: ServiceProcess
    webhook: Webhook


def fixed_ports(name: str, env: dict[str, str] | None = None) -> ServiceProcess:
    """A service on fixed ports, so that a restarted process is the same replica."""
    metrics = free_port()
    prefix = f"RAGSERVE_{name.upper()}_"
    return ServiceProcess(
        name, env={f"{prefix}METRICS_PORT": str(metrics), **(env or {})}, grpc_port=free_port()
    )


def target(process: ServiceProcess) -> str:
    metrics = process.env[f"RAGSERVE_{process.name.upper()}_METRICS_PORT"]
    return f"{process.name}=127.0.0.1:{process.grpc_port or process.env[f'RAGSERVE_{process.name.upper()}_PORT']}/{metrics}"


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Suite]:
    tmp = tmp_path_factory.mktemp("monitor")
    started: list[Any] = []
    webhook = Webhook()
    try:
        redis = RedisServer().start()
        started.append(redis)
        inference = fixed_ports("inference", {"RAGSERVE_INFERENCE_MODELS": MODEL})
        inference.start(timeout_s=90)
        started.append(inference)
        router = fixed_ports(
            "embedding_router",
            {
                "RAGSERVE_INFERENCE_ADDR": inference.address,
                "RAGSERVE_EMBEDDING_ROUTER_REDIS_URL": redis.url,
            },
        )
        router.start(timeout_s=60)
        started.append(router)
        retrieval = fixed_ports(
            "retrieval", {"RAGSERVE_RETRIEVAL_DATA_DIR": str(tmp / "retrieval")}
        )
        retrieval.start(timeout_s=60)
        started.append(retrieval)
        orchestrator = fixed_ports(
            "orchestrator",
            {
                "RAGSERVE_EMBEDDING_ROUTER_ADDR": router.address,
                "RAGSERVE_RETRIEVAL_ADDR": retrieval.address,
            },
        )
        orchestrator.start(timeout_s=60)
        started.append(orchestrator)
        spec = tmp / "slos.yaml"
        spec.write_text(TEST_SPEC)
        targets = ",".join(target(p) for p in (inference, router, retrieval, orchestrator))
        monitor = ServiceProcess(
            "monitor",
            env={
                "RAGSERVE_MONITOR_TARGETS": targets,
                "RAGSERVE_MONITOR_SLO_SPEC": str(spec),
                "RAGSERVE_MONITOR_SCRAPE_INTERVAL_S": "0.5",
                "RAGSERVE_MONITOR_FIGURES_WINDOW_S": "10",
                "RAGSERVE_MONITOR_PROBE_INTERVAL_S": "0.3",
                "RAGSERVE_MONITOR_RECONNECT_MAX_S": "0.3",
                "RAGSERVE_MONITOR_WEBHOOK_URL": webhook.url,
            },
            cwd=ROOT,
        )
        monitor.start(timeout_s=60)
        started.append(monitor)
        yield Suite(redis, inference, router, retrieval, orchestrator, monitor, webhook)
    finally:
        for part in reversed(started):
            part.kill()
        webhook.close()


@pytest.fixture
async def monitor(suite: Suite) -> AsyncIterator[monitor_pb2_grpc.MonitorServiceStub]:
    async with grpc.aio.insecure_channel(suite.monitor.address) as channel:
        yield monitor_pb2_grpc.MonitorServiceStub(channel)


def all_up(status: pb.SuiteStatus) -> bool:
    return (
        status.overall == pb.SERVING_STATE_SERVING
        and all(d.state == pb.SERVING_STATE_SERVING for d in status.dependencies)
        and {d.name for d in status.dependencies} >= {"model", "redis", "qdrant"}
    )


def service_state(status: pb.SuiteStatus, service: str) -> int:
    return next(s.state for s in status.services if s.service == service)


def capability(status: pb.SuiteStatus, name: str) -> pb.CapabilityStatus:
    return next(c for c in status.capabilities if c.capability == name)


class StatusWatch:
    """A WatchStatus stream as a test follows it.

    The monitor sends the status once, then again only when it changes, so the last status
    received is the status now: a wait first checks that one, then reads on. Reading on
    alone misses a status that meets two successive waits: retrieval back and, in the same
    change, the whole suite serving again (its orchestrator saw retrieval serve a moment
    before the monitor did); nothing changes after that, so nothing more is sent.
    """

    def __init__(self, call: Any) -> None:
        self._call = call
        self._last: tuple[pb.SuiteStatus, float] | None = None

    async def until(
        self, condition: Callable[[pb.SuiteStatus], bool], timeout_s: float, what: str
    ) -> tuple[pb.SuiteStatus, float]:
        """The first status, the current one included, that meets ``condition``, and when
        it was received."""
        if self._last is not None and condition(self._last[0]):
            return self._last
        try:
            async with asyncio.timeout(timeout_s):
                async for response in self._call:
                    self._last = (response.status, time.monotonic())
                    if condition(response.status):
                        return self._last
        except TimeoutError:
            pass
        last = self._last[0] if self._last is not None else None
        raise AssertionError(
            f"WatchStatus never showed: {what} (within {timeout_s}s); last seen: {describe(last)}"
        )

    def cancel(self) -> None:
        self._call.cancel()


def watch_status(monitor: monitor_pb2_grpc.MonitorServiceStub) -> StatusWatch:
    return StatusWatch(monitor.WatchStatus(pb.WatchStatusRequest()))


def describe(status: pb.SuiteStatus | None) -> str:
    """What a failure report needs of a status: every part that is not SERVING, and why."""
    if status is None:
        return "nothing"
    name = pb.ServingState.Name
    parts = [f"overall {name(status.overall)}"]
    parts += [
        f"{r.address} ({s.service}) {name(r.state)} {r.detail!r}"
        for s in status.services
        for r in s.replicas
        if r.state != pb.SERVING_STATE_SERVING
    ]
    parts += [
        f"dependency {d.name} {name(d.state)} {d.detail!r}"
        for d in status.dependencies
        if d.state != pb.SERVING_STATE_SERVING
    ]
    parts += [
        f"capability {c.capability} {name(c.state)} {list(c.reasons)}"
        for c in status.capabilities
        if c.state != pb.SERVING_STATE_SERVING
    ]
    return "; ".join(parts)


class ScriptedWatch:
    """A WatchStatus call that sends the given statuses, then nothing: the status does not
    change any more."""

    def __init__(self, *statuses: pb.SuiteStatus) -> None:
        self._messages = self._send(statuses)

    @staticmethod
    async def _send(statuses: tuple[pb.SuiteStatus, ...]) -> AsyncIterator[Any]:
        for status in statuses:
            yield pb.WatchStatusResponse(status=status)
        await asyncio.Event().wait()

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._messages

    def cancel(self) -> None:
        pass


def suite_status(retrieval: int, orchestrator: int) -> pb.SuiteStatus:
    serving = retrieval == orchestrator == pb.SERVING_STATE_SERVING
    status = pb.SuiteStatus(
        overall=pb.SERVING_STATE_SERVING if serving else pb.SERVING_STATE_DEGRADED,
        dependencies=[
            pb.DependencyStatus(name=name, state=pb.SERVING_STATE_SERVING)
            for name in ("model", "qdrant", "redis")
        ],
    )
    for service, state in (("retrieval", retrieval), ("orchestrator", orchestrator)):
        status.services.add(service=service, state=state).replicas.add(
            address=f"{service}:1", state=state
        )
    return status


async def test_a_wait_is_met_by_the_status_already_received() -> None:
    """What CI saw: the orchestrator saw the restarted retrieval serve a moment before the
    monitor did, so the status that shows retrieval SERVING again already shows the whole
    suite serving, and nothing is sent after it. The wait for the suite must take that
    status, not wait for another."""
    down = suite_status(pb.SERVING_STATE_UNREACHABLE, pb.SERVING_STATE_NOT_SERVING)
    orchestrator_back = suite_status(pb.SERVING_STATE_UNREACHABLE, pb.SERVING_STATE_SERVING)
    back = suite_status(pb.SERVING_STATE_SERVING, pb.SERVING_STATE_SERVING)
    watch = StatusWatch(ScriptedWatch(down, orchestrator_back, back))
    await watch.until(
        lambda s: service_state(s, "retrieval") == pb.SERVING_STATE_UNREACHABLE, 5, "down"
    )
    retrieval_back = await watch.until(
        lambda s: service_state(s, "retrieval") == pb.SERVING_STATE_SERVING, 5, "back"
    )
    assert retrieval_back[0] == back
    assert await watch.until(all_up, 1, "the suite SERVING again") == retrieval_back
    with pytest.raises(
        AssertionError, match=r"never showed: retrieval down .* last seen: overall SERVING"
    ):
        await watch.until(
            lambda s: service_state(s, "retrieval") == pb.SERVING_STATE_UNREACHABLE,
            0.2,
            "retrieval down",
        )


async def test_all_serving(monitor: monitor_pb2_grpc.MonitorServiceStub) -> None:
    watch = watch_status(monitor)
    status, _ = await watch.until(all_up, 30, "the suite and its dependencies SERVING")
    watch.cancel()
    assert {s.service for s in status.services} == {
        "inference",
        "embedding_router",
        "retrieval",
        "orchestrator",
    }
    assert all(len(s.replicas) == 1 for s in status.services)
    assert {d.name: d.state for d in status.dependencies} == {
        "model": pb.SERVING_STATE_SERVING,
        "qdrant": pb.SERVING_STATE_SERVING,
        "redis": pb.SERVING_STATE_SERVING,
    }
    assert [s.name for s in status.slos] == [
        "retrieval-errors",
        "inference-errors",
        "vector-search-latency",
    ]
    slo = status.slos[0]
    assert (slo.kind, slo.unit, slo.objective) == ("error_ratio", "ratio", 0.99)
    assert slo.windows[0].long_window.seconds == 12 and slo.windows[0].burn_rate_threshold == 10


async def test_a_service_dies_and_comes_back_within_two_seconds(
    suite: Suite, monitor: monitor_pb2_grpc.MonitorServiceStub
) -> None:
    watch = watch_status(monitor)
    await watch.until(
        lambda s: service_state(s, "retrieval") == pb.SERVING_STATE_SERVING,
        30,
        "retrieval SERVING",
    )
    killed = time.monotonic()
    suite.retrieval.kill()
    status, seen = await watch.until(
        lambda s: service_state(s, "retrieval") == pb.SERVING_STATE_UNREACHABLE,
        10,
        "retrieval UNREACHABLE",
    )
    assert seen - killed < 2.0
    assert capability(status, "query").state == pb.SERVING_STATE_NOT_SERVING
    assert "retrieval unreachable" in capability(status, "query").reasons
    assert capability(status, "embed").state == pb.SERVING_STATE_SERVING
    assert status.overall == pb.SERVING_STATE_DEGRADED
    alerts = await monitor.ListAlerts(pb.ListAlertsRequest())
    assert any(
        a.name == "ServiceDown" and a.labels["service"] == "retrieval" for a in alerts.alerts
    )

    suite.retrieval.start(timeout_s=60)  # returns once its own health says SERVING
    back = time.monotonic()
    status, seen = await watch.until(
        lambda s: service_state(s, "retrieval") == pb.SERVING_STATE_SERVING,
        10,
        "retrieval SERVING again",
    )
    assert seen - back < 2.0
    # The orchestrator follows its peers' health: the suite serves again once it does too
    # (often in the very status that showed retrieval back: it watches retrieval as well).
    try:
        await watch.until(all_up, 30, "the suite SERVING again")
    except AssertionError as failure:
        raise AssertionError(
            f"{failure}\n--- orchestrator's log:\n{suite.orchestrator.log_tail(60)}"
            f"\n--- monitor's log:\n{suite.monitor.log_tail(60)}"
        ) from None
    watch.cancel()
    alerts = await monitor.ListAlerts(pb.ListAlertsRequest(include_resolved=True))
    down = [a for a in alerts.alerts if a.name == "ServiceDown"]
    assert down and down[0].state == pb.ALERT_STATE_RESOLVED


async def test_replicas_discovered_by_dns(suite: Suite, tmp_path: Path) -> None:
    """A ``dns+`` entry (a Kubernetes headless Service) is resolved to its replicas."""
    metrics = suite.retrieval.env["RAGSERVE_RETRIEVAL_METRICS_PORT"]
    spec = tmp_path / "slos.yaml"
    spec.write_text(TEST_SPEC)
    watcher = ServiceProcess(
        "monitor",
        env={
            "RAGSERVE_MONITOR_TARGETS": f"retrieval=dns+localhost:{suite.retrieval.grpc_port}/{metrics}",
            "RAGSERVE_MONITOR_SLO_SPEC": str(spec),
            "RAGSERVE_MONITOR_PROBE_INTERVAL_S": "0.3",
        },
    )
    with watcher:
        async with grpc.aio.insecure_channel(watcher.address) as channel:
            watch = watch_status(monitor_pb2_grpc.MonitorServiceStub(channel))
            status, _ = await watch.until(
                lambda s: service_state(s, "retrieval") == pb.SERVING_STATE_SERVING,
                30,
                "the discovered retrieval replica SERVING",
            )
            watch.cancel()
    [retrieval] = status.services
    assert f"127.0.0.1:{suite.retrieval.grpc_port}" in [r.address for r in retrieval.replicas]


async def embed_load(suite: Suite, stop: asyncio.Event) -> None:
    """The router notices Redis only when it uses it, so keep it embedding."""
    async with grpc.aio.insecure_channel(suite.router.address) as channel:
        stub = embedding_pb2_grpc.EmbeddingRouterServiceStub(channel)
        count = 0
        while not stop.is_set():
            count += 1
            await stub.Embed(
                embedding_pb2.EmbedRequest(tenant="t", model=MODEL, texts=[f"probe {count}"]),
                timeout=10,
            )


async def test_redis_down_degrades_queries_then_they_serve_again(
    suite: Suite, monitor: monitor_pb2_grpc.MonitorServiceStub
) -> None:
    stop = asyncio.Event()
    load = asyncio.create_task(embed_load(suite, stop))
    watch = watch_status(monitor)
    try:
        await watch.until(all_up, 30, "SERVING")
        suite.redis.kill()
        status, _ = await watch.until(
            lambda s: capability(s, "query").state == pb.SERVING_STATE_DEGRADED,
            20,
            "query DEGRADED",
        )
        assert list(capability(status, "query").reasons) == ["cache down (redis)"]
        assert capability(status, "embed").state == pb.SERVING_STATE_DEGRADED
        assert capability(status, "ingest").state == pb.SERVING_STATE_SERVING
        assert status.overall == pb.SERVING_STATE_DEGRADED
        suite.redis.start()
        status, _ = await watch.until(
            lambda s: s.overall == pb.SERVING_STATE_SERVING, 20, "SERVING after Redis"
        )
        assert capability(status, "query").reasons == []
    finally:
        watch.cancel()
        stop.set()
        await load


async def retrieval_traffic(
    retrieval: retrieval_pb2_grpc.RetrievalServiceStub, failing: asyncio.Event, done: asyncio.Event
) -> None:
    """Calls that succeed, plus (while ``failing``) as many that fail with NOT_FOUND."""
    while not done.is_set():
        await retrieval.ListCollections(retrieval_pb2.ListCollectionsRequest(tenant="t"), timeout=5)
        if failing.is_set():
            with pytest.raises(grpc.aio.AioRpcError) as error:
                await retrieval.DescribeCollection(
                    retrieval_pb2.DescribeCollectionRequest(tenant="t", name="missing"), timeout=5
                )
            assert error.value.code() == grpc.StatusCode.NOT_FOUND


async def inference_traffic(
    inference: inference_pb2_grpc.GRPCInferenceServiceStub, done: asyncio.Event
) -> None:
    """Liveness calls that succeed and inferences of a model that does not exist."""
    while not done.is_set():
        await inference.ServerLive(inference_pb2.ServerLiveRequest(), timeout=5)
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await inference.ModelInfer(
                inference_pb2.ModelInferRequest(model_name="missing"), timeout=5
            )
        assert error.value.code() == grpc.StatusCode.NOT_FOUND


async def test_injected_errors_fire_the_burn_rate_alert_then_it_resolves(
    suite: Suite, monitor: monitor_pb2_grpc.MonitorServiceStub
) -> None:
    alerts = monitor.WatchAlerts(pb.WatchAlertsRequest())
    first = await alerts.read()
    assert first.WhichOneof("event") == "snapshot"
    async with grpc.aio.insecure_channel(suite.retrieval.address) as channel:
        retrieval = retrieval_pb2_grpc.RetrievalServiceStub(channel)
        failing = asyncio.Event()
        done = asyncio.Event()

        task = asyncio.create_task(retrieval_traffic(retrieval, failing, done))
        try:
            failing.set()
            fired = await next_alert(alerts, pb.ALERT_STATE_FIRING, 30)
            failing.clear()
            assert fired.name == "SLOErrorBudgetBurn"
            assert (
                fired.labels["slo"] == "retrieval-errors" and fired.severity == pb.SEVERITY_CRITICAL
            )
            assert fired.threshold == pytest.approx(0.1)
            assert fired.value > 0.1
            assert fired.runbook_url == "docs/monitor.md#retrieval-errors"
            resolved = await next_alert(alerts, pb.ALERT_STATE_RESOLVED, 30)
            assert resolved.id == fired.id
            assert resolved.resolved_at.ToNanoseconds() > fired.started_at.ToNanoseconds()
        finally:
            done.set()
            await task
            alerts.cancel()

    def hooks_of_alert() -> list[dict[str, Any]]:
        return [
            a for p in suite.webhook.payloads for a in p["alerts"] if a["fingerprint"] == fired.id
        ]

    # Delivery runs on the monitor's own task, after the stream saw the event.
    assert await asyncio.to_thread(suite.webhook.wait_for, lambda: len(hooks_of_alert()) >= 2, 10)
    hooks = hooks_of_alert()
    assert [h["status"] for h in hooks] == ["firing", "resolved"]
    assert hooks[0]["labels"]["alertname"] == "SLOErrorBudgetBurn"
    assert hooks[1]["endsAt"] != "0001-01-01T00:00:00Z"
    assert suite.webhook.payloads[0]["version"] == "4"


async def next_alert(stream: Any, state: int, timeout_s: float) -> pb.Alert:
    async with asyncio.timeout(timeout_s):
        while True:
            response = await stream.read()
            if (
                response.WhichOneof("event") == "alert"
                and response.alert.name == "SLOErrorBudgetBurn"
                and response.alert.state == state
            ):
                alert: pb.Alert = response.alert
                return alert


CHROMIUM = shutil.which("chromium")


def render_page(url: str, tmp: Path, screenshot: Path | None = None) -> str:
    assert CHROMIUM is not None
    flags = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        f"--user-data-dir={tmp / 'chromium'}",
        "--virtual-time-budget=4000",
        "--window-size=1280,900",
    ]
    flags += [f"--screenshot={screenshot}"] if screenshot else ["--dump-dom"]
    result = subprocess.run([*flags, url], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.mark.skipif(CHROMIUM is None, reason="chromium missing: apt-get install chromium")
async def test_status_page_in_headless_chromium(
    suite: Suite, tmp_path: Path, monitor: monitor_pb2_grpc.MonitorServiceStub
) -> None:
    url = f"http://127.0.0.1:{suite.monitor.metrics_port}/"
    watch = watch_status(monitor)
    await watch.until(all_up, 30, "SERVING")
    dom = await asyncio.to_thread(render_page, url, tmp_path)
    assert 'data-service="retrieval" data-state="SERVING"' in dom
    assert "suite serving" in dom
    # Inference fails half its calls until its burn-rate alert fires, and goes on failing
    # while retrieval is stopped: the page then shows an outage and an SLO burn at once.
    alerts = monitor.WatchAlerts(pb.WatchAlertsRequest())
    done = asyncio.Event()
    async with grpc.aio.insecure_channel(suite.inference.address) as channel:
        task = asyncio.create_task(
            inference_traffic(inference_pb2_grpc.GRPCInferenceServiceStub(channel), done)
        )
        try:
            fired = await next_alert(alerts, pb.ALERT_STATE_FIRING, 30)
            assert fired.labels["slo"] == "inference-errors"
            suite.retrieval.kill()
            await watch.until(
                lambda s: service_state(s, "retrieval") == pb.SERVING_STATE_UNREACHABLE,
                10,
                "retrieval UNREACHABLE",
            )
            dom = await asyncio.to_thread(render_page, url, tmp_path)
            assert 'data-service="retrieval" data-state="UNREACHABLE"' in dom
            assert "query: not serving" in dom
            assert "retrieval unreachable" in dom
            assert "ServiceDown" in dom
            assert "inference-errors: error budget burning too fast (page)" in dom
            shot = (
                ROOT / "docs" / "monitor-status-page.png"
                if os.environ.get("RAGSERVE_UPDATE_SCREENSHOT")
                else tmp_path / "page.png"
            )
            await asyncio.to_thread(render_page, url, tmp_path, shot)
            assert shot.stat().st_size > 10_000
        finally:
            done.set()
            await task
            alerts.cancel()
            watch.cancel()
            suite.retrieval.start(timeout_s=60)
