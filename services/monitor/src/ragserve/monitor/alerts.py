"""The alert book: conditions in, fire and resolve events out, each with a stable id.

The id is a fingerprint of the alert's name and labels (as Alertmanager's), so the firing
and the resolving event of one condition carry the same id, and WatchAlerts subscribers
can pair them. Subscribers get events through their own unbounded queue, in order.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, replace

from ragserve.monitor.model import Alert

RESOLVED_KEPT = 100


def alert_id(name: str, labels: Mapping[str, str]) -> str:
    text = name + "".join(f"\x00{k}\x00{v}" for k, v in sorted(labels.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Condition:
    """An alert that should be firing now."""

    name: str
    severity: str
    summary: str
    value: float
    threshold: float
    runbook_url: str
    labels: Mapping[str, str]

    @property
    def id(self) -> str:
        return alert_id(self.name, self.labels)


class AlertBook:
    def __init__(self) -> None:
        self._firing: dict[str, Alert] = {}
        self._resolved: deque[Alert] = deque(maxlen=RESOLVED_KEPT)
        self._subscribers: set[asyncio.Queue[Alert]] = set()

    def update(self, family: str, conditions: list[Condition], now: float) -> list[Alert]:
        """The conditions of one family (e.g. SLO burn) that hold now; returns the events.

        Alerts of ``family`` firing before but absent now resolve; other families are
        left alone, so each source of conditions updates only its own."""
        events: list[Alert] = []
        wanted = {c.id: c for c in conditions}
        for alert_key, alert in list(self._firing.items()):
            if alert.labels.get("family") == family and alert_key not in wanted:
                resolved = replace(alert, firing=False, resolved_at=now)
                del self._firing[alert_key]
                self._resolved.append(resolved)
                events.append(resolved)
        for key, condition in wanted.items():
            if key in self._firing:
                continue
            alert = Alert(
                id=key,
                name=condition.name,
                severity=condition.severity,
                firing=True,
                summary=condition.summary,
                value=condition.value,
                threshold=condition.threshold,
                runbook_url=condition.runbook_url,
                started_at=now,
                resolved_at=None,
                labels={**condition.labels, "family": family},
            )
            self._firing[key] = alert
            events.append(alert)
        for event in events:
            for queue in self._subscribers:
                queue.put_nowait(event)
        return events

    def firing(self) -> list[Alert]:
        return sorted(self._firing.values(), key=lambda a: (a.started_at, a.id))

    def listed(self, include_resolved: bool) -> list[Alert]:
        return self.firing() + (list(reversed(self._resolved)) if include_resolved else [])

    def subscribe(self) -> tuple[list[Alert], asyncio.Queue[Alert]]:
        """The firing snapshot and a queue of every later event (no gap between them)."""
        queue: asyncio.Queue[Alert] = asyncio.Queue()
        self._subscribers.add(queue)
        return self.firing(), queue

    def unsubscribe(self, queue: asyncio.Queue[Alert]) -> None:
        self._subscribers.discard(queue)
