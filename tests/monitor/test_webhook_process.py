"""The monitor process retries its webhook and, on SIGTERM, tries what is queued once
more within its grace period, then exits.

The watched "retrieval" replica is an in-process grpc.health.v1 server the test turns
NOT_SERVING and back: the alerts (ServiceDown firing, then resolved) are what the
monitor derives from real health streams; the webhook receiver is a real HTTP server.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from ragserve.testkit.ports import free_port
from ragserve.testkit.processes import ServiceProcess

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

ROOT = Path(__file__).resolve().parents[2]
WAIT_S = 30.0


class Receiver:
    """Answers POSTs with the statuses in ``script``, then with ``then``; records each
    POST's ServiceDown statuses with the status it answered."""

    def __init__(self, script: list[int], then: int) -> None:
        self.script = script
        self.then = then
        self.posts: list[tuple[list[str], int]] = []
        self.changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                down = [
                    a["status"] for a in body["alerts"] if a["labels"]["alertname"] == "ServiceDown"
                ]
                with receiver.changed:
                    status = receiver.script.pop(0) if receiver.script else receiver.then
                    receiver.posts.append((down, status))
                    receiver.changed.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def posts_of(self, status: str) -> list[int]:
        """The answers to the POSTs that carried ServiceDown ``status``."""
        with self.changed:
            return [answer for down, answer in self.posts if status in down]

    def wait_for_posts(self, status: str, count: int) -> None:
        with self.changed:
            ok = self.changed.wait_for(lambda: len(self.posts_of(status)) >= count, WAIT_S)
        assert ok, f"not {count} POSTs of a {status} ServiceDown: {self.posts}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def replica() -> Iterator[tuple[health.HealthServicer, int]]:
    servicer = health.HealthServicer()
    servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    server = grpc.server(ThreadPoolExecutor(max_workers=4))
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield servicer, port
    server.stop(None)


def test_retries_then_flushes_at_shutdown(replica: tuple[health.HealthServicer, int]) -> None:
    servicer, port = replica
    receiver = Receiver([503, 503], then=200)
    monitor = ServiceProcess(
        "monitor",
        env={
            # Nothing listens on the metrics port: its scrapes fail, which is not an outage.
            "RAGSERVE_MONITOR_TARGETS": f"retrieval=127.0.0.1:{port}/{free_port()}",
            "RAGSERVE_MONITOR_SLO_SPEC": str(ROOT / "deploy/slo/slos.yaml"),
            "RAGSERVE_MONITOR_SCRAPE_INTERVAL_S": "0.2",
            "RAGSERVE_MONITOR_RECONNECT_MAX_S": "0.3",
            "RAGSERVE_MONITOR_WEBHOOK_URL": receiver.url,
            "RAGSERVE_MONITOR_GRACE_PERIOD_S": "5",
        },
        cwd=ROOT,
    )
    try:
        monitor.start(timeout_s=60)
        servicer.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
        # Two 503s, then accepted: the firing is delivered once.
        receiver.wait_for_posts("firing", 3)
        assert receiver.posts_of("firing") == [503, 503, 200]
        retries = [r for r in monitor.records() if r.get("event") == "webhook_retry"]
        assert [r["level"] for r in retries] == ["WARNING"], retries

        # The receiver now fails every POST: the resolve is retried until SIGTERM...
        with receiver.changed:
            receiver.then = 503
        servicer.set("", health_pb2.HealthCheckResponse.SERVING)
        receiver.wait_for_posts("resolved", 2)
        tried = len(receiver.posts_of("resolved"))
        assert monitor.stop(timeout_s=30) == 0
        # ...then tried once more at shutdown (the wait for its next retry cut short), and
        # dropped.
        assert len(receiver.posts_of("resolved")) > tried, monitor.log_tail(15)
        [dropped] = [r for r in monitor.records() if r.get("event") == "webhook_dropped"]
        assert dropped["reason"] == "shutdown" and dropped["level"] == "WARNING", dropped
        assert dropped["message"].endswith("HTTP 503 at shutdown"), dropped
        assert receiver.posts_of("firing") == [503, 503, 200]  # never sent again
    finally:
        monitor.kill()
        receiver.close()
