"""Alerts POSTed in Alertmanager's webhook format (version 4), so receivers built for
Alertmanager (chat bridges, incident tools) work unchanged."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import logging
import urllib.request
from typing import Any

from ragserve.monitor.model import Alert

log = logging.getLogger("ragserve.monitor.webhook")

_ZERO_TIME = "0001-01-01T00:00:00Z"


def _rfc3339(seconds: float | None) -> str:
    if seconds is None:
        return _ZERO_TIME
    moment = datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC)
    return moment.isoformat().replace("+00:00", "Z")


def payload(alerts: list[Alert], external_url: str) -> dict[str, Any]:
    """One notification; ``status`` is firing when any of its alerts fires."""
    entries: list[dict[str, Any]] = []
    label_sets: list[dict[str, str]] = []
    for alert in alerts:
        labels = {"alertname": alert.name, "severity": alert.severity, **alert.labels}
        label_sets.append(labels)
        entries.append(
            {
                "status": "firing" if alert.firing else "resolved",
                "labels": labels,
                "annotations": {
                    "summary": alert.summary,
                    "runbook_url": alert.runbook_url,
                    "value": repr(alert.value),
                    "threshold": repr(alert.threshold),
                },
                "startsAt": _rfc3339(alert.started_at),
                "endsAt": _rfc3339(alert.resolved_at),
                "generatorURL": external_url,
                "fingerprint": alert.id,
            }
        )
    common = {k: v for k, v in label_sets[0].items() if all(ls.get(k) == v for ls in label_sets)}
    return {
        "version": "4",
        "groupKey": json.dumps(common, sort_keys=True),
        "truncatedAlerts": 0,
        "status": "firing" if any(a.firing for a in alerts) else "resolved",
        "receiver": "ragserve-monitor",
        "groupLabels": {"alertname": common.get("alertname", "")},
        "commonLabels": common,
        "commonAnnotations": {},
        "externalURL": external_url,
        "alerts": entries,
    }


class WebhookSender:
    """Sends each batch of events in order from one task; a failed POST is logged, not retried."""

    def __init__(self, url: str, external_url: str, timeout_s: float) -> None:
        self._url = url
        self._external_url = external_url
        self._timeout = timeout_s
        self._queue: asyncio.Queue[list[Alert]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def __call__(self, alerts: list[Alert]) -> None:
        self._queue.put_nowait(list(alerts))

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            alerts = await self._queue.get()
            body = json.dumps(payload(alerts, self._external_url)).encode()
            try:
                await asyncio.to_thread(self._post, body)
            except OSError as error:
                log.warning("webhook POST failed: %s", error, extra={"event": "webhook_failed"})

    def _post(self, body: bytes) -> None:
        request = urllib.request.Request(
            self._url, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(request, timeout=self._timeout) as response:
            response.read()
