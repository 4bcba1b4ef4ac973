"""The monitor as an odd client sees it: its RPCs with unknown fields and garbage bytes,
watch streams cancelled at once or out of time, and its HTTP status page asked for paths,
queries and headers it does not know. Nothing may crash it or make it log an ERROR."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator

import grpc
import pytest
from hostile import Ledger, World, drain, log_problems

from ragserve.api.monitor.v1 import monitor_pb2 as pb
from ragserve.api.monitor.v1 import monitor_pb2_grpc as pb_grpc

pytestmark = pytest.mark.slow

SERVICE = "/ragserve.api.monitor.v1.MonitorService/"
OK = grpc.StatusCode.OK


@pytest.fixture(scope="module")
def ledger(world: World) -> Iterator[Ledger]:
    lines = len(world.monitor.lines)
    record = Ledger()
    yield record
    print(f"monitor fuzz: {record.summary()}")
    world.monitor.check_alive()
    problems = log_problems(world.monitor, lines)
    assert not problems, "\n".join(problems[:20])
    assert not record.violations, "\n".join(record.violations[:40])


def test_rpcs_with_odd_arguments(world: World, ledger: Ledger) -> None:
    with grpc.insecure_channel(world.monitor.address) as channel:
        stub = pb_grpc.MonitorServiceStub(channel)
        ledger.call(
            "GetStatus", lambda: stub.GetStatus(pb.GetStatusRequest(), timeout=10), expect=[OK]
        )
        for flag in (True, False):
            ledger.call(
                f"ListAlerts {flag}",
                lambda f=flag: stub.ListAlerts(
                    pb.ListAlertsRequest(include_resolved=f), timeout=10
                ),
                expect=[OK],
            )
        # Unknown fields, garbage and undecodable bytes.
        for payload in (
            b"",
            b"\x08\x01",
            b"\xa2\x06\x03abc",
            b"\x0a\x02\xff\xfe",
            b"\x07",
            b"\x0a\x05ab",
            bytes(range(256)),
            b"\xff" * 64,
        ):
            for method in ("GetStatus", "ListAlerts"):
                call = channel.unary_unary(SERVICE + method)
                ledger.call(
                    f"raw {method} {payload[:12]!r}", lambda c=call, p=payload: c(p, timeout=10)
                )
            for method in ("WatchStatus", "WatchAlerts"):
                watch = channel.unary_stream(SERVICE + method)
                ledger.call(
                    f"raw {method} {payload[:12]!r}",
                    lambda w=watch, p=payload: drain(w(p, timeout=0.5)),
                    expect=[grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.INVALID_ARGUMENT],
                )
        # Watches cancelled at once, after one message, and left to time out; many at once.
        for _ in range(20):
            status = stub.WatchStatus(pb.WatchStatusRequest(), timeout=30)
            alerts = stub.WatchAlerts(pb.WatchAlertsRequest(), timeout=30)
            next(status)
            next(alerts)
            status.cancel()
            alerts.cancel()
            ledger.record("Watch cancelled", OK, "")
        calls = [stub.WatchStatus(pb.WatchStatusRequest(), timeout=30) for _ in range(50)]
        for c in calls:
            c.cancel()
        ledger.record("50 watches cancelled unread", OK, "")
        ledger.call(
            "GetStatus after",
            lambda: stub.GetStatus(pb.GetStatusRequest(), timeout=10),
            expect=[OK],
        )


PATHS = [
    "/",
    "/index.html",
    "/app.js",
    "/style.css",
    "/api/status",
    "/api/status?x=" + "y" * 5000,
    "/api/status?%00=%ff",
    "/../",
    "/../../etc/passwd",
    "/%2e%2e/%2e%2e/etc/passwd",
    "/static/../settings.py",
    "//",
    "/api/status/",
    "/api//status",
    "/API/STATUS",
    "/metrics",
    "/metrics?name[]=x",
    "/%ff%fe",
    "/" + "a" * 8000,
    "/api/status#frag",
    "*",
]


def test_status_page_paths_and_headers(world: World, ledger: Ledger) -> None:
    port = world.monitor.metrics_port
    for path in PATHS:
        for method in ("GET", "HEAD", "POST", "DELETE", "OPTIONS"):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            try:
                connection.putrequest(method, path, skip_accept_encoding=True)
                connection.endheaders()
                response = connection.getresponse()
                body = response.read()
            finally:
                connection.close()
            case = f"HTTP {method} {path[:40]!r}"
            if response.status >= 500:
                ledger.violations.append(f"{case}: {response.status}")
            if b"Traceback" in body or b"settings.py" in body or b"root:" in body:
                ledger.violations.append(f"{case}: {response.status} leaks {body[:120]!r}")
            if path == "/api/status" and method == "GET":
                json.loads(body)
            ledger.record(case, OK, "")
    for name, value in (
        ("X-Big", "v" * 60_000),
        ("Host", "h" * 10_000),
        ("Accept", "\x01\x02"),
        ("Content-Length", "-1"),
        ("Content-Length", "99999999999"),
    ):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            connection.putrequest("GET", "/api/status", skip_host=name == "Host")
            connection.putheader(name, value)
            connection.endheaders()
            try:
                status = connection.getresponse().status
            except (http.client.RemoteDisconnected, ConnectionResetError):
                status = 0  # refusing a hostile header by closing is fine
        finally:
            connection.close()
        case = f"HTTP header {name} {len(value)}"
        if status >= 500:
            ledger.violations.append(f"{case}: {status}")
        ledger.record(case, OK, "")
