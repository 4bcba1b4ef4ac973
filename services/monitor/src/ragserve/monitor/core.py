"""The monitor's core: replica and dependency states in, the suite's status and alerts out.

Health watchers and probes (gRPC, in the service) report states here; the evaluation
round scrapes every replica's /metrics (or asks Prometheus), computes the figures and the
SLO verdicts with ragserve.slo, and turns verdicts and outages into alerts. Every change
that matters to a watcher (states, capabilities, SLO verdicts; not the figures) bumps the
view's version and wakes ``WatchStatus`` streams.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from ragserve.monitor import capabilities as caps
from ragserve.monitor import metrics
from ragserve.monitor.alerts import AlertBook, Condition
from ragserve.monitor.figures import FIGURE_METRICS, figures
from ragserve.monitor.model import (
    Alert,
    DependencyView,
    Figures,
    ReplicaView,
    ServiceView,
    State,
    SuiteView,
)
from ragserve.monitor.status_json import suite_json
from ragserve.monitor.targets import Target
from ragserve.slo import rules
from ragserve.slo.evaluate import RatioSource, SloVerdict, StoreRatios, evaluate
from ragserve.slo.rules import ALERT_NAME
from ragserve.slo.samples import SampleStore
from ragserve.slo.spec import SloSpec

log = logging.getLogger("ragserve.monitor.core")

Scrape = Callable[[Target], Awaitable[str | None]]
RatioFetch = Callable[[], Awaitable[RatioSource]]
AlertSink = Callable[[list[Alert]], None]

EMPTY_FIGURES = Figures(None, None, 0.0, 0.0)


class MonitorCore:
    def __init__(
        self,
        targets: Sequence[Target],
        spec: SloSpec,
        *,
        figures_window_s: float,
        runbook_base: str = "",
        clock: Callable[[], float] = time.time,
    ) -> None:
        # As configured (a discovered entry stands for its service's replicas), and the
        # replicas watched now (static entries plus what discovery found).
        self.configured = tuple(targets)
        self.targets = tuple(t for t in targets if not t.discover)
        self.spec = spec
        self._figures_window = figures_window_s
        self._runbook_base = runbook_base
        self._clock = clock
        now = clock()
        self._replicas: dict[str, ReplicaView] = {
            t.address: ReplicaView(t.address, State.UNKNOWN, now, "not reached yet")
            for t in self.targets
        }
        self._dependencies: dict[str, DependencyView] = {}
        self._figures: dict[str, Figures] = {}
        self._verdicts: tuple[SloVerdict, ...] = ()
        retention = max(spec.longest_window_seconds(), figures_window_s) + 60
        self.store = SampleStore(retention_s=retention)
        self.alerts = AlertBook()
        self._alert_sinks: list[AlertSink] = []
        self._version = 0
        self._signature: Any = None
        self._changed = asyncio.Event()
        self._view = self._build_view()
        self.status_json = json.dumps(suite_json(self._view, []))

    # --- inputs -------------------------------------------------------------------------

    def set_replica(self, address: str, state: State, detail: str = "") -> None:
        current = self._replicas.get(address)
        if current is None:
            return  # a replica discovery dropped; its watcher's last word

        if current.state is state and current.detail == detail:
            return
        since = current.since if current.state is state else self._clock()
        self._replicas[address] = ReplicaView(address, state, since, detail)
        service = next(t.service for t in self.targets if t.address == address)
        metrics.REPLICA_SERVING.labels(service, address).set(1 if state is State.SERVING else 0)
        log.info(
            "replica %s %s", address, state.value, extra={"event": "replica", "state": state.value}
        )
        self.refresh()

    def set_discovered(
        self, template: Target, found: Sequence[Target]
    ) -> tuple[list[Target], list[Target]]:
        """The replicas a discovered entry resolves to now; returns (added, removed)."""
        before = [
            t for t in self.targets if t.service == template.service and t not in self.configured
        ]
        wanted = list(dict.fromkeys(found))
        added = [t for t in wanted if t not in before]
        removed = [t for t in before if t not in wanted]
        if not added and not removed:
            return [], []
        self.targets = tuple(t for t in self.targets if t not in removed) + tuple(added)
        now = self._clock()
        for target in added:
            self._replicas[target.address] = ReplicaView(
                target.address, State.UNKNOWN, now, "discovered"
            )
        for target in removed:
            del self._replicas[target.address]
            with contextlib.suppress(KeyError):
                metrics.REPLICA_SERVING.remove(target.service, target.address)
        log.info(
            "replicas of %s: %d",
            template.service,
            len(wanted),
            extra={
                "event": "discovery",
                "added": [t.address for t in added],
                "removed": [t.address for t in removed],
            },
        )
        self.refresh()
        return added, removed

    def set_dependency(self, name: str, state: State, detail: str) -> None:
        current = self._dependencies.get(name)
        if current is not None and current.state is state and current.detail == detail:
            return
        since = current.since if current is not None and current.state is state else self._clock()
        self._dependencies[name] = DependencyView(name, state, detail, since)
        self.refresh()

    def add_alert_sink(self, sink: AlertSink) -> None:
        self._alert_sinks.append(sink)

    # --- evaluation ---------------------------------------------------------------------

    def metric_names(self) -> frozenset[str]:
        """The sample names worth keeping from a scrape."""
        names = set(FIGURE_METRICS)
        for slo in self.spec.slos:
            if slo.kind == "latency":
                names |= {f"{slo.histogram}_bucket", f"{slo.histogram}_count"}
        return frozenset(names)

    async def evaluate_round(self, scrape: Scrape, ratios: RatioFetch | None = None) -> None:
        """One scrape of every replica, figures, SLO verdicts, alerts."""
        started = time.perf_counter()
        texts = await asyncio.gather(*(scrape(t) for t in self.targets))
        now = self._clock()
        keep = self.metric_names()
        for target, text in zip(self.targets, texts, strict=True):
            if text is not None:
                try:
                    self.store.add_exposition(target.metrics_address, now, text, keep.__contains__)
                    continue
                except ValueError:
                    # One replica's malformed page must not cost the others their round.
                    log.warning("unparsable /metrics from %s", target.metrics_address)
            metrics.SCRAPE_FAILURES.labels(target.service).inc()
        for service in self.services():
            sources = {t.metrics_address for t in self.targets if t.service == service}
            self._figures[service] = figures(
                self.store, sources, self.spec.error_codes, self._figures_window, now
            )
        source: RatioSource = (
            await ratios() if ratios is not None else StoreRatios(self.spec, self.store, now)
        )
        self._verdicts = tuple(evaluate(self.spec, slo, source) for slo in self.spec.slos)
        self._emit(self.alerts.update("slo", self._slo_conditions(), now))
        self.refresh(force_json=True)
        metrics.ROUND_SECONDS.observe(time.perf_counter() - started)

    def _slo_conditions(self) -> list[Condition]:
        conditions = []
        for verdict in self._verdicts:
            slo = verdict.slo
            for alert in verdict.alerts:
                if not alert.firing:
                    continue
                conditions.append(
                    Condition(
                        name=ALERT_NAME,
                        severity=alert.severity,
                        summary=rules.summary(slo, alert.severity),
                        value=alert.value or 0.0,
                        threshold=alert.threshold,
                        runbook_url=self._runbook(self.spec.runbook_for(slo)),
                        labels={
                            "slo": slo.name,
                            "service": slo.service,
                            "severity": alert.severity,
                        },
                    )
                )
        return conditions

    def _runbook(self, link: str) -> str:
        if link and self._runbook_base and "://" not in link:
            return f"{self._runbook_base.rstrip('/')}/{link}"
        return link

    def _outage_conditions(self, view: SuiteView) -> list[Condition]:
        conditions = []
        for service in view.services:
            if service.state in (State.NOT_SERVING, State.UNREACHABLE):
                conditions.append(
                    Condition(
                        name="ServiceDown",
                        severity="critical",
                        summary=f"{service.service}: no replica serving ({service.state.value})",
                        value=0.0,
                        threshold=1.0,
                        runbook_url=self._runbook("docs/monitor.md#servicedown"),
                        labels={"service": service.service},
                    )
                )
        for dependency in view.dependencies:
            if dependency.state in (State.NOT_SERVING, State.UNREACHABLE):
                conditions.append(
                    Condition(
                        name="DependencyDown",
                        severity="warning",
                        summary=f"{dependency.name} down: {dependency.detail}"[:200],
                        value=0.0,
                        threshold=1.0,
                        runbook_url=self._runbook("docs/monitor.md#dependencydown"),
                        labels={"dependency": dependency.name},
                    )
                )
        return conditions

    def _emit(self, events: list[Alert]) -> None:
        for event in events:
            log.info(
                "alert %s %s",
                event.name,
                "firing" if event.firing else "resolved",
                extra={"event": "alert", "alert_id": event.id, "labels": event.labels},
            )
        if events:
            counts: dict[tuple[str, str], int] = {}
            for alert in self.alerts.firing():
                key = (alert.name, alert.severity)
                counts[key] = counts.get(key, 0) + 1
            for event in events:
                key = (event.name, event.severity)
                metrics.ALERTS_FIRING.labels(*key).set(counts.get(key, 0))
            for sink in self._alert_sinks:
                sink(events)

    # --- the view -----------------------------------------------------------------------

    def services(self) -> list[str]:
        return list(dict.fromkeys(t.service for t in self.configured))

    def _build_view(self) -> SuiteView:
        services = []
        for service in self.services():
            replicas = tuple(
                self._replicas[t.address] for t in self.targets if t.service == service
            )
            services.append(
                ServiceView(
                    service,
                    caps.service_state([r.state for r in replicas]),
                    replicas,
                    self._figures.get(service, EMPTY_FIGURES),
                )
            )
        service_states = {s.service: s.state for s in services}
        dependencies = dict(self._dependencies)
        if "retrieval" in service_states:
            dependencies.setdefault("qdrant", self._qdrant(services))
        capability_views = caps.capabilities(
            service_states, {n: d.state for n, d in dependencies.items()}
        )
        return SuiteView(
            overall=caps.overall(capability_views),
            capabilities=capability_views,
            services=tuple(services),
            dependencies=tuple(dependencies[n] for n in sorted(dependencies)),
            slos=self._verdicts,
            updated_at=self._clock(),
            version=self._version,
        )

    def _qdrant(self, services: list[ServiceView]) -> DependencyView:
        """The vector store as retrieval sees it: a replica that answers SERVING has its
        store; one that answers NOT_SERVING has lost it; unreachable ones say nothing."""
        replicas = [r for s in services if s.service == "retrieval" for r in s.replicas]
        since = min((r.since for r in replicas), default=self._clock())
        states = {r.state for r in replicas}
        if State.SERVING in states:
            return DependencyView("qdrant", State.SERVING, "retrieval: store serving", since)
        if State.NOT_SERVING in states:
            return DependencyView(
                "qdrant", State.NOT_SERVING, "retrieval: store unavailable", since
            )
        return DependencyView("qdrant", State.UNKNOWN, "no retrieval replica answering", since)

    def refresh(self, force_json: bool = False) -> None:
        view = self._build_view()
        self._emit(self.alerts.update("outage", self._outage_conditions(view), self._clock()))
        signature = (
            view.overall,
            view.capabilities,
            tuple((s.service, s.state, s.replicas) for s in view.services),
            view.dependencies,
            tuple((v.slo.name, v.met, tuple(a.firing for a in v.alerts)) for v in view.slos),
        )
        changed = signature != self._signature
        if changed:
            self._signature = signature
            self._version += 1
            view = SuiteView(**{**view.__dict__, "version": self._version})
        self._view = view
        if changed or force_json:
            self.status_json = json.dumps(suite_json(view, self.alerts.firing()))
        if changed:
            self._changed.set()
            self._changed = asyncio.Event()

    def view(self) -> SuiteView:
        return self._view

    async def next_view(self, after_version: int) -> SuiteView:
        """The view once its version is past ``after_version`` (at once if it already is)."""
        while self._view.version <= after_version:
            await self._changed.wait()
        return self._view
