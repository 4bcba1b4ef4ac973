"""The monitor as the shared runtime runs it: a core fed by health watchers, probes and
/metrics scrapes; the status page on the metrics port."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Awaitable, Callable, Sequence
from functools import partial

import grpc
from pydantic import ValidationError

from ragserve.monitor import scraping, watchers
from ragserve.monitor.core import MonitorCore
from ragserve.monitor.model import State
from ragserve.monitor.servicer import MonitorServicer, register
from ragserve.monitor.settings import MonitorSettings
from ragserve.monitor.targets import Target, parse_targets
from ragserve.monitor.web import status_app
from ragserve.monitor.webhook import WebhookSender
from ragserve.runtime.metrics_http import WsgiApp
from ragserve.runtime.server import Health
from ragserve.runtime.settings import SettingsError
from ragserve.slo.evaluate import RatioSource
from ragserve.slo.spec import SloSpec, load_spec

log = logging.getLogger("ragserve.monitor.service")


def read_spec(settings: MonitorSettings) -> SloSpec:
    try:
        return load_spec(settings.slo_spec)
    except OSError as error:
        raise SettingsError(
            f"RAGSERVE_MONITOR_SLO_SPEC: cannot read {settings.slo_spec}: {error.strerror}"
        ) from None
    except (ValidationError, ValueError) as error:
        raise SettingsError(
            f"RAGSERVE_MONITOR_SLO_SPEC: {settings.slo_spec}: {error}"[:2000]
        ) from None


class MonitorService:
    def __init__(self, settings: MonitorSettings, shutdown_grace_s: float = 10.0) -> None:
        """``shutdown_grace_s`` bounds the webhook's last tries at shutdown (the runtime's
        grace period, which ``__main__`` passes)."""
        self.settings = settings
        self._shutdown_grace_s = shutdown_grace_s
        self.core = MonitorCore(
            parse_targets(settings.targets),
            read_spec(settings),
            figures_window_s=settings.figures_window_s,
            runbook_base=settings.external_url,
        )
        self._webhook: WebhookSender | None = None
        if settings.webhook_url:
            self._webhook = WebhookSender(
                settings.webhook_url,
                settings.external_url,
                settings.probe_timeout_s,
                retry_s=settings.webhook_retry_s,
                max_waiting=settings.webhook_queue_batches,
            )
            self.core.add_alert_sink(self._webhook)
        self._tasks: list[asyncio.Task[None]] = []
        self._watchers: dict[str, asyncio.Task[None]] = {}

    def register(self, server: grpc.aio.Server) -> Sequence[str]:
        return register(server, MonitorServicer(self.core))

    def http_app(self, metrics_app: WsgiApp) -> WsgiApp:
        return status_app(self.core, metrics_app)

    async def start(self, health: Health) -> None:
        settings = self.settings
        if self._webhook is not None:
            self._webhook.start()
        loop = asyncio.get_running_loop()
        for target in self.core.targets:
            self._watch(target)
        for template in self.core.configured:
            if template.discover:
                self._tasks.append(
                    loop.create_task(
                        self._every(settings.probe_interval_s, partial(self._discover, template))
                    )
                )
        ratios = self._prometheus_ratios if settings.prometheus_url else None
        self._tasks.append(
            loop.create_task(
                self._every(
                    settings.scrape_interval_s,
                    lambda: self.core.evaluate_round(self._scrape, ratios),
                )
            )
        )
        self._tasks.append(loop.create_task(self._every(settings.probe_interval_s, self._probe)))
        await health.set_serving(True)

    def _watch(self, target: Target) -> None:
        settings = self.settings
        self._watchers[target.address] = asyncio.get_running_loop().create_task(
            watchers.watch_replica(
                self.core, target, settings.reconnect_initial_s, settings.reconnect_max_s
            )
        )

    async def _discover(self, template: Target) -> None:
        """Resolves a discovered entry's name; watches new addresses, drops gone ones."""
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                template.host.strip("[]"), template.port, type=socket.SOCK_STREAM
            )
            ips = sorted({str(info[4][0]) for info in infos})
        except socket.gaierror as error:
            # A headless Service without ready pods has no records: no replicas.
            log.warning("cannot resolve %s: %s", template.host, error)
            ips = []
        added, removed = self.core.set_discovered(template, [template.replica(ip) for ip in ips])
        for target in removed:
            task = self._watchers.pop(target.address, None)
            if task is not None:
                task.cancel()
        for target in added:
            self._watch(target)

    async def stop(self) -> None:
        self._tasks.extend(self._watchers.values())
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._webhook is not None:
            await self._webhook.close(self._shutdown_grace_s)

    async def _every(self, interval_s: float, work: Callable[[], Awaitable[None]]) -> None:
        while True:
            try:
                await work()
            except Exception:
                # One failed round (a bad scrape page, Prometheus down) must not stop watching.
                log.exception("monitor round failed")
            await asyncio.sleep(interval_s)

    async def _scrape(self, target: Target) -> str | None:
        url = f"http://{target.metrics_address}/metrics"
        try:
            return await asyncio.to_thread(scraping.fetch_text, url, self.settings.probe_timeout_s)
        except (OSError, ValueError):
            return None

    async def _prometheus_ratios(self) -> RatioSource:
        ratios = await asyncio.to_thread(
            scraping.prometheus_ratios,
            self.settings.prometheus_url,
            self.core.spec,
            self.settings.probe_timeout_s,
        )
        return scraping.PrefetchedRatios(ratios)

    def _serving_replica(self, service: str) -> str | None:
        for replica_service in self.core.view().services:
            if replica_service.service == service:
                for replica in replica_service.replicas:
                    if replica.state is State.SERVING:
                        return replica.address
        return None

    async def _probe(self) -> None:
        timeout = self.settings.probe_timeout_s
        router = self._serving_replica("embedding_router")
        if router is not None:
            await watchers.probe_cache(self.core, router, timeout)
        elif any(t.service == "embedding_router" for t in self.core.targets):
            self.core.set_dependency("redis", State.UNKNOWN, "no embedding_router replica serving")
        inference = self._serving_replica("inference")
        if inference is not None:
            await watchers.probe_model(self.core, inference, timeout)
        if self.settings.chat_url:
            try:
                await asyncio.to_thread(scraping.fetch_text, self.settings.chat_url, timeout)
                self.core.set_dependency("chat", State.SERVING, self.settings.chat_url)
            except (OSError, ValueError) as error:
                self.core.set_dependency(
                    "chat", State.UNREACHABLE, f"{self.settings.chat_url}: {error}"[:200]
                )
