"""The Prometheus ``/metrics`` HTTP endpoint of a service."""

from __future__ import annotations

from dataclasses import dataclass
from threading import Thread
from wsgiref.simple_server import WSGIServer

from prometheus_client import start_http_server


@dataclass
class MetricsEndpoint:
    server: WSGIServer
    thread: Thread
    port: int

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_metrics_endpoint(host: str, port: int) -> MetricsEndpoint:
    """Serve the default registry on ``host:port`` (0: a free port) in a thread."""
    server, thread = start_http_server(port, addr=host)
    return MetricsEndpoint(server, thread, server.server_port)
