"""The status page on the monitor's HTTP port: static files, ``/api/status`` (JSON the
page fetches every second), and everything else (``/metrics``) passed to the metrics app.

Runs in the metrics server's threads: it only reads ``core.status_json``, a string the
event loop replaces whole, so no lock is needed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from importlib import resources
from typing import Any

from ragserve.monitor.core import MonitorCore
from ragserve.runtime.metrics_http import WsgiApp

_STATIC = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/index.html": ("index.html", "text/html; charset=utf-8"),
    "/static/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/static/style.css": ("style.css", "text/css; charset=utf-8"),
}


def _read(name: str) -> bytes:
    return (resources.files("ragserve.monitor") / "static" / name).read_bytes()


def status_app(core: MonitorCore, fallback: WsgiApp) -> WsgiApp:
    files = {path: (_read(name), kind) for path, (name, kind) in _STATIC.items()}

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path == "/api/status":
            body = core.status_json.encode()
            kind = "application/json"
        elif path in files:
            body, kind = files[path]
        else:
            return fallback(environ, start_response)
        start_response(
            "200 OK",
            [
                ("Content-Type", kind),
                ("Content-Length", str(len(body))),
                ("Cache-Control", "no-store"),
            ],
        )
        return [body]

    return app
