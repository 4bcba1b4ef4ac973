"""Server factory and the process lifecycle every service shares.

``create_server`` builds a started-ready ``grpc.aio.Server`` with the shared
interceptors, health and reflection and returns it with its bound port (tests
use port 0). ``serve`` runs a :class:`Service` as a process, on the event loop
its settings name (uvloop by default, see ``event_loop``): logging and
telemetry first, then the server (live at once, NOT_SERVING), then the
service's own start-up (models, stores, clients) after which it reports
SERVING; on SIGTERM/SIGINT: NOT_SERVING → stop accepting → in-flight RPCs get
the grace period → the service closes its clients and engines.
"""

from __future__ import annotations

import asyncio
import faulthandler
import logging
import signal
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from ragserve.runtime import event_loop
from ragserve.runtime.interceptors import RuntimeInterceptor
from ragserve.runtime.logs import configure_logging, report_unsent_answers_as_info, stop_logging
from ragserve.runtime.metrics_http import MetricsEndpoint, start_metrics_endpoint
from ragserve.runtime.server_tracing import ServerTracing, exporting
from ragserve.runtime.settings import ServerSettings, SettingsError, load_server_settings
from ragserve.runtime.telemetry import configure_tracing, shutdown_tracing

log = logging.getLogger("ragserve.server")


class Health:
    """The service's view of grpc.health.v1: SERVING only when it can do its work."""

    def __init__(self, servicer: Any, service_names: Sequence[str]) -> None:
        self._servicer = servicer
        self._names = list(service_names)

    async def set_serving(self, serving: bool, service: str | None = None) -> None:
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        names = [service] if service is not None else ["", *self._names]
        for name in names:
            await self._servicer.set(name, status)

    async def enter_graceful_shutdown(self) -> None:
        await self._servicer.enter_graceful_shutdown()


class Service(Protocol):
    """What a service implements; ``serve`` drives it."""

    def register(self, server: grpc.aio.Server) -> Sequence[str]:
        """Add servicers to ``server``; return their full service names."""
        ...

    async def start(self, health: Health) -> None:
        """Open engines and clients, warm up; report SERVING when ready."""
        ...

    async def stop(self) -> None:
        """Close engines and clients (after the server stopped)."""
        ...


@dataclass
class RunningServer:
    server: grpc.aio.Server
    port: int
    health: Health


def server_options(settings: ServerSettings) -> list[tuple[str, Any]]:
    return [
        ("grpc.max_send_message_length", settings.max_message_bytes),
        ("grpc.max_receive_message_length", settings.max_message_bytes),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
        ("grpc.http2.max_ping_strikes", 0),
        # Each service is one process per pod: refuse to share a port by accident.
        ("grpc.so_reuseport", 0),
    ]


def shared_interceptors() -> list[Any]:
    """The runtime's one interceptor: tracing, deadline, metrics, error table and access
    log in a single layer (see ragserve.runtime.interceptors). Spans are made when
    this process exports them (``configure_tracing`` runs before servers are built)."""
    return [RuntimeInterceptor(ServerTracing(export=exporting()))]


async def create_server(
    service: Service, settings: ServerSettings, *, port: int | None = None
) -> RunningServer:
    """A bound, not yet started server: servicers, health (NOT_SERVING), reflection."""
    # A call that ends while grpc sends its answer is the client's doing, not an error.
    report_unsent_answers_as_info()
    server = grpc.aio.server(interceptors=shared_interceptors(), options=server_options(settings))
    names = list(service.register(server))
    health_servicer = health.aio.HealthServicer()  # type: ignore[attr-defined]
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        [
            *names,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        ],
        server,
    )
    address = f"{settings.host}:{settings.port if port is None else port}"
    # A service facing outside (the gateway) may offer TLS credentials for its port.
    credentials_factory = getattr(service, "server_credentials", None)
    credentials = credentials_factory() if callable(credentials_factory) else None
    if credentials is not None:
        bound = server.add_secure_port(address, credentials)
    else:
        bound = server.add_insecure_port(address)
    if bound == 0:
        raise OSError(f"cannot bind gRPC port {settings.host}:{settings.port}")
    running = RunningServer(server, bound, Health(health_servicer, names))
    await running.health.set_serving(False)
    return running


async def run_until_stopped(service: Service, settings: ServerSettings) -> None:
    """Serve until SIGTERM/SIGINT, then shut down in order."""
    stop_event = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGTERM, signal.SIGINT)
    for signum in signals:
        loop.add_signal_handler(signum, stop_event.set)
    try:
        await _serve_until(stop_event, service, settings)
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)


async def _serve_until(
    stop_event: asyncio.Event, service: Service, settings: ServerSettings
) -> None:
    metrics: MetricsEndpoint | None = None
    running = await create_server(service, settings)
    try:
        # A service with an http_app (the monitor's status page) shares the metrics port.
        metrics = start_metrics_endpoint(
            settings.metrics_host, settings.metrics_port, getattr(service, "http_app", None)
        )
        await running.server.start()
        # Tests and the launcher read this line to learn the ports chosen for 0; it also
        # names the event loop that actually runs (uvloop may have been unavailable).
        log.info(
            "serving",
            extra={
                "event": "serving",
                "grpc_port": running.port,
                "metrics_port": metrics.port,
                "event_loop": event_loop.implementation(asyncio.get_running_loop()),
            },
        )
        start_task = asyncio.create_task(service.start(running.health))
        stop_task = asyncio.create_task(stop_event.wait())
        try:
            done, _ = await asyncio.wait(
                {start_task, stop_task}, return_when=asyncio.FIRST_COMPLETED
            )
            if start_task in done:
                start_task.result()  # a failed start-up stops the process with its error
                log.info("ready", extra={"event": "ready"})
                await stop_task
        finally:
            # Stopped during start-up (or start-up failed): the start-up ends, and lets go
            # of what it opened, before the service is stopped; the two never overlap.
            for task in (start_task, stop_task):
                task.cancel()
            await asyncio.gather(start_task, stop_task, return_exceptions=True)
        log.info("shutting down", extra={"event": "stopping", "grace_s": settings.grace_period_s})
    finally:
        await running.health.enter_graceful_shutdown()
        await running.server.stop(settings.grace_period_s)
        await service.stop()
        if metrics is not None:
            metrics.close()
        log.info("stopped", extra={"event": "stopped"})
        shutdown_tracing()


def serve(name: str, service_factory: Any, default_port: int, default_metrics_port: int) -> None:
    """Entry point of ``python -m ragserve.<name>``.

    ``service_factory()`` is called after logging and tracing are configured,
    so import and configuration errors of heavy modules are logged as JSON.
    """
    # A crash in native code (gRPC core, ONNX Runtime, Qdrant Edge) then leaves
    # every thread's Python stack in the service's log instead of a silent exit.
    faulthandler.enable()
    try:
        settings = load_server_settings(name, default_port, default_metrics_port)
    except SettingsError:
        # Reported as a service's own settings are (below), at the default log level: the
        # level is one of these settings.
        configure_logging(name)
        log.exception("start-up failed")
        raise SystemExit(2) from None
    configure_logging(name, settings.log_level)
    configure_tracing(name)
    try:
        service = service_factory()
    except Exception:
        log.exception("start-up failed")
        raise SystemExit(2) from None
    # The loop is chosen for this run only (no global policy); after logging is configured,
    # so a fall-back from uvloop is logged.
    try:
        with asyncio.Runner(loop_factory=event_loop.loop_factory(settings.event_loop)) as runner:
            runner.run(run_until_stopped(service, settings))
    finally:
        stop_logging()
