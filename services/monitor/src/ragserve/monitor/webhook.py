"""Alerts POSTed in Alertmanager's webhook format (version 4), so receivers built for
Alertmanager (chat bridges, incident tools) work unchanged.

Delivery is at least once within a bound, as Alertmanager's own: a POST that fails in a
way that may pass (connection error, timeout, 5xx, 429) is retried with exponential
backoff and jitter (or after the receiver's Retry-After) until it is accepted or its
batch is ``retry_s`` old; batches go out one at a time in the order they were produced,
so a resolve never overtakes its firing.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime
import http.client
import json
import logging
import random
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from ragserve.monitor import metrics
from ragserve.monitor.model import Alert
from ragserve.runtime.retry_after_header import retry_after_header_s

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


@dataclass(frozen=True)
class _Batch:
    body: bytes
    alerts: int
    # time.monotonic() after which the batch is no longer retried.
    deadline: float


@dataclass(frozen=True)
class _Outcome:
    delivered: bool
    # Worth trying again: a connection error, a timeout, 5xx or 429.
    retryable: bool
    # What went wrong, for the log: "HTTP 503" or the error.
    problem: str = ""
    # Seconds the receiver asked to wait (Retry-After on 429/503).
    retry_after_s: float | None = None


def _classify_status(status: int, retry_after: str | None) -> _Outcome:
    if 200 <= status < 300:
        return _Outcome(delivered=True, retryable=False)
    retryable = status >= 500 or status == 429
    wait = retry_after_header_s(retry_after) if status in (429, 503) else None
    return _Outcome(False, retryable, f"HTTP {status}", wait)


class WebhookSender:
    """Sends batches of alert events in order from one task, retrying each within a bound.

    A batch that fails in a way that may pass is retried with backoff from ``initial_s``
    doubling to ``max_s`` (each wait jittered to between half and all of it, so monitors
    restarted together do not retry in step), or after the receiver's Retry-After, until
    ``retry_s`` after it was produced; new batches wait behind it. Other 4xx answers are
    final. At most ``max_waiting`` batches wait behind the one being sent: a new batch
    beyond that drops the oldest waiting one. Every drop is logged at WARNING with the
    number of alerts lost and counted in ``ragserve_monitor_webhook_dropped_alerts_total``.
    """

    def __init__(
        self,
        url: str,
        external_url: str,
        timeout_s: float,
        *,
        retry_s: float = 300.0,
        max_waiting: int = 1000,
        initial_s: float = 0.5,
        max_s: float = 30.0,
    ) -> None:
        self._url = url
        self._external_url = external_url
        self._timeout = timeout_s
        self._retry_s = retry_s
        self._max_waiting = max_waiting
        self._initial_s = initial_s
        self._max_s = max_s
        self._waiting: collections.deque[_Batch] = collections.deque()
        # The batch being sent (taken off _waiting), until it is delivered or dropped.
        self._head: _Batch | None = None
        self._arrived = asyncio.Event()
        self._closing = asyncio.Event()
        # time.monotonic() by which the shutdown's single tries must be done.
        self._flush_deadline = 0.0
        self._task: asyncio.Task[None] | None = None

    def __call__(self, alerts: list[Alert]) -> None:
        if not alerts:
            return
        body = json.dumps(payload(alerts, self._external_url)).encode()
        batch = _Batch(body, len(alerts), time.monotonic() + self._retry_s)
        if len(self._waiting) >= self._max_waiting:
            self._drop([self._waiting.popleft()], "overflow", "the queue is full")
        self._waiting.append(batch)
        self._arrived.set()
        self._gauge()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def close(self, grace_s: float = 5.0) -> None:
        """Tries every queued batch once more, within ``grace_s``, then stops; what is
        left undelivered is dropped (logged and counted)."""
        if self._task is None:
            return
        self._flush_deadline = time.monotonic() + grace_s
        self._closing.set()
        self._arrived.set()
        # The task ends by itself once each batch had its try; a POST that hangs past the
        # grace period is abandoned (its thread ends with its own timeout).
        _, pending = await asyncio.wait({self._task}, timeout=grace_s)
        for task in pending:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        left = ([self._head] if self._head is not None else []) + list(self._waiting)
        self._head = None
        self._waiting.clear()
        if left:
            self._drop(left, "shutdown", "not sent within the shutdown grace period")
        self._gauge()

    async def _run(self) -> None:
        while True:
            if not self._waiting:
                if self._closing.is_set():
                    return
                self._arrived.clear()
                await self._arrived.wait()
                continue
            self._head = self._waiting.popleft()
            if not await self._deliver(self._head):
                return  # the shutdown's time is up: close() drops what is left
            self._head = None
            self._gauge()

    async def _deliver(self, batch: _Batch) -> bool:
        """Sends ``batch`` until it is accepted, rejected, expired, or (closing) tried once;
        False when the shutdown's grace period ended before its try."""
        if not self._closing.is_set() and time.monotonic() >= batch.deadline:
            # It waited behind a failing head for its whole retry bound.
            self._drop([batch], "expired", f"not sent within {self._retry_s:g} s")
            return True
        attempt = 0
        while True:
            timeout = self._timeout
            if self._closing.is_set():
                timeout = min(timeout, self._flush_deadline - time.monotonic())
                if timeout <= 0:
                    return False
            tried_closing = self._closing.is_set()
            outcome = await asyncio.to_thread(self._post, batch.body, timeout)
            if outcome.delivered:
                metrics.WEBHOOK_DELIVERIES.inc()
                if attempt:
                    log.info(
                        "webhook POST accepted after %d retries",
                        attempt,
                        extra={"event": "webhook_delivered", "retries": attempt},
                    )
                return True
            if not outcome.retryable:
                self._drop([batch], "rejected", f"the receiver answered {outcome.problem}")
                return True
            if self._closing.is_set():
                if tried_closing:
                    self._drop([batch], "shutdown", f"{outcome.problem} at shutdown")
                    return True
                continue  # shutdown began during this try: the batch still gets its own
            remaining = batch.deadline - time.monotonic()
            wait = outcome.retry_after_s
            if remaining <= 0 or (wait is not None and wait > remaining):
                self._drop(
                    [batch], "expired", f"{outcome.problem}; not sent within {self._retry_s:g} s"
                )
                return True
            if wait is None:
                wait = self._backoff(attempt)
            wait = min(wait, remaining)
            metrics.WEBHOOK_RETRIES.inc()
            # The first failure of a batch is worth a warning; its further ones would only
            # repeat it while the receiver is down.
            log.log(
                logging.WARNING if attempt == 0 else logging.DEBUG,
                "webhook POST failed (%s); retrying in %.2f s",
                outcome.problem,
                wait,
                extra={"event": "webhook_retry", "attempt": attempt + 1},
            )
            attempt += 1
            with contextlib.suppress(TimeoutError):
                # Shutdown ends the wait: the batch gets its one try at once.
                await asyncio.wait_for(self._closing.wait(), wait)

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self._max_s, self._initial_s * 2.0 ** min(attempt, 60))
        return random.uniform(ceiling / 2, ceiling)

    def _drop(self, batches: list[_Batch], reason: str, why: str) -> None:
        lost = sum(batch.alerts for batch in batches)
        metrics.WEBHOOK_DROPPED_ALERTS.labels(reason).inc(lost)
        log.warning(
            "webhook dropped %d alert event(s) in %d batch(es): %s",
            lost,
            len(batches),
            why,
            extra={"event": "webhook_dropped", "reason": reason, "alerts": lost},
        )

    def _gauge(self) -> None:
        metrics.WEBHOOK_QUEUED.set(len(self._waiting) + (self._head is not None))

    def _post(self, body: bytes, timeout_s: float) -> _Outcome:
        request = urllib.request.Request(
            self._url, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:
                response.read()
                return _classify_status(response.status, None)
        except urllib.error.HTTPError as error:
            with contextlib.suppress(OSError, http.client.HTTPException):
                error.read()
            return _classify_status(error.code, error.headers.get("Retry-After"))
        except (OSError, http.client.HTTPException) as error:
            # Refused, reset, timed out, or not HTTP: the receiver may be back soon.
            return _Outcome(False, True, str(error) or type(error).__name__)
        except ValueError as error:
            # A request http.client will not send (settings check the URL): no use retrying.
            return _Outcome(False, False, f"an invalid request: {error}")
