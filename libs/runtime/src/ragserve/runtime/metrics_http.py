"""The Prometheus ``/metrics`` HTTP endpoint of a service.

A service may serve more on the same port (the monitor's status page): it then has an
``http_app(metrics_app)`` method returning a WSGI app that handles its own paths and
passes the rest to ``metrics_app``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from socketserver import ThreadingMixIn
from threading import Thread
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import make_wsgi_app

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    # A slow client (or a page polling every second) must not hold up a scrape.
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes every few seconds would flood the service's JSON log."""


@dataclass
class MetricsEndpoint:
    server: WSGIServer
    thread: Thread
    port: int

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_metrics_endpoint(
    host: str, port: int, routes: Callable[[WsgiApp], WsgiApp] | None = None
) -> MetricsEndpoint:
    """Serve the default registry (and ``routes``' paths) on ``host:port`` (0: a free port)."""
    metrics: WsgiApp = make_wsgi_app()
    app = routes(metrics) if routes is not None else metrics
    server = make_server(host, port, app, _ThreadingServer, handler_class=_QuietHandler)
    thread = Thread(target=server.serve_forever, name="metrics-http", daemon=True)
    thread.start()
    return MetricsEndpoint(server, thread, server.server_port)
