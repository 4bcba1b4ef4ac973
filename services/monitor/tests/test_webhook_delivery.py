"""The webhook delivers every batch at least once, in order, within its bounds: against a
real HTTP receiver that fails, stalls, hangs up, is down, or rejects, as scripted."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from prometheus_client import REGISTRY

from ragserve.monitor.model import Alert
from ragserve.monitor.webhook import WebhookSender
from ragserve.testkit.ports import free_port

# Generous: the machine is shared; every wait ends as soon as its condition holds.
WAIT_S = 20.0

Key = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Answer:
    """One scripted answer: an HTTP status, or ``hang_up`` (close without answering), or
    ``hold`` (answer only once the test releases the receiver)."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    hang_up: bool = False
    hold: bool = False


class Receiver:
    """A webhook receiver as a real HTTP server. It answers POSTs from ``script`` in order,
    then with ``then``, and records each POST with the status it got."""

    def __init__(self, script: list[Answer], then: Answer = Answer(), port: int = 0) -> None:
        self.posts: list[tuple[Key, int]] = []  # status -1: hung up
        self.changed = threading.Condition()
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with receiver.changed:
                    answer = script.pop(0) if script else then
                    receiver.posts.append(
                        (batch_key(body), -1 if answer.hang_up else answer.status)
                    )
                    receiver.changed.notify_all()
                if answer.hold:
                    receiver.release.wait(WAIT_S)
                if answer.hang_up:
                    self.close_connection = True
                    return
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def accepted(self) -> list[Key]:
        with self.changed:
            return [key for key, status in self.posts if 200 <= status < 300]

    def statuses(self) -> list[int]:
        with self.changed:
            return [status for _, status in self.posts]

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        def wait() -> bool:
            with self.changed:
                return self.changed.wait_for(predicate, WAIT_S)

        assert await asyncio.to_thread(wait), f"receiver saw {self.posts}"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


class Events(logging.Handler):
    """The sender's log events (``extra={"event": ...}``), to wait on."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.changed = threading.Condition()

    def emit(self, record: logging.LogRecord) -> None:
        with self.changed:
            self.records.append(record)
            self.changed.notify_all()

    def named(self, event: str) -> list[logging.LogRecord]:
        with self.changed:
            return [r for r in self.records if getattr(r, "event", None) == event]

    async def wait_for(self, event: str, count: int = 1) -> None:
        def wait() -> bool:
            with self.changed:
                return self.changed.wait_for(lambda: len(self.named(event)) >= count, WAIT_S)

        assert await asyncio.to_thread(wait), f"no {count} {event} in {self.records}"


@pytest.fixture
def events() -> Iterator[Events]:
    handler = Events()
    logger = logging.getLogger("ragserve.monitor.webhook")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


def alert(n: int, firing: bool = True) -> Alert:
    return Alert(
        id=f"a{n}",
        name="ServiceDown",
        severity="critical",
        firing=firing,
        summary=f"service {n} down",
        value=0.0,
        threshold=1.0,
        runbook_url="docs/monitor.md#servicedown",
        started_at=1_700_000_000.0,
        resolved_at=None if firing else 1_700_000_060.0,
        labels={"service": f"s{n}"},
    )


def batch_key(body: dict[str, Any]) -> Key:
    return tuple((a["fingerprint"], a["status"]) for a in body["alerts"])


def key(alerts: list[Alert]) -> Key:
    return tuple((a.id, "firing" if a.firing else "resolved") for a in alerts)


def counter(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


def dropped(reason: str) -> float:
    return counter("ragserve_monitor_webhook_dropped_alerts_total", {"reason": reason})


def sender(url: str, **options: Any) -> WebhookSender:
    """A started sender with quick backoff (tests override what they test)."""
    options = {"retry_s": 60.0, "initial_s": 0.01, "max_s": 0.05, **options}
    timeout_s = options.pop("timeout_s", 5.0)
    webhook = WebhookSender(url, "http://monitor:9156/", timeout_s, **options)
    webhook.start()
    return webhook


@pytest.fixture
def receivers() -> Iterator[list[Receiver]]:
    made: list[Receiver] = []
    yield made
    for receiver in made:
        receiver.close()


async def test_503s_then_accepts_gets_every_batch_in_order_once(
    events: Events, receivers: list[Receiver]
) -> None:
    receiver = Receiver([Answer(503), Answer(503), Answer(503, {"Retry-After": "0"})])
    receivers.append(receiver)
    retries, deliveries = (
        counter("ragserve_monitor_webhook_retries_total"),
        counter("ragserve_monitor_webhook_deliveries_total"),
    )
    webhook = sender(receiver.url)
    fired, resolved, other = [alert(1)], [alert(1, firing=False)], [alert(2), alert(3)]
    webhook(fired)
    await events.wait_for("webhook_retry")
    # Produced while the head is being retried: they wait behind it.
    webhook(resolved)
    webhook(other)
    await receiver.wait_for(lambda: len(receiver.accepted()) >= 3)
    await webhook.close(5.0)
    assert receiver.accepted() == [key(fired), key(resolved), key(other)]
    assert receiver.statuses() == [503, 503, 503, 200, 200, 200]
    assert counter("ragserve_monitor_webhook_retries_total") - retries == 3
    assert counter("ragserve_monitor_webhook_deliveries_total") - deliveries == 3
    # Only the first failure of a batch is a warning.
    assert [r.levelname for r in events.named("webhook_retry")] == ["WARNING", "DEBUG", "DEBUG"]
    assert events.named("webhook_dropped") == []


async def test_a_receiver_that_is_down_then_starts_gets_the_batches(
    events: Events, receivers: list[Receiver]
) -> None:
    port = free_port()
    webhook = sender(f"http://127.0.0.1:{port}/hook")
    first, second = [alert(1)], [alert(1, firing=False)]
    webhook(first)
    await events.wait_for("webhook_retry", 2)  # connection refused, twice
    webhook(second)
    receiver = Receiver([], port=port)
    receivers.append(receiver)
    await receiver.wait_for(lambda: len(receiver.accepted()) >= 2)
    await webhook.close(5.0)
    assert receiver.accepted() == [key(first), key(second)]
    assert receiver.statuses() == [200, 200]


async def test_a_4xx_is_dropped_at_once_and_counted(
    events: Events, receivers: list[Receiver]
) -> None:
    receiver = Receiver([Answer(400)])
    receivers.append(receiver)
    before = dropped("rejected")
    webhook = sender(receiver.url)
    rejected, next_one = [alert(1), alert(2)], [alert(3)]
    webhook(rejected)
    webhook(next_one)
    await receiver.wait_for(lambda: len(receiver.accepted()) >= 1)
    await webhook.close(5.0)
    assert receiver.posts == [(key(rejected), 400), (key(next_one), 200)]
    assert dropped("rejected") - before == 2
    [drop] = events.named("webhook_dropped")
    assert drop.levelname == "WARNING"
    assert drop.getMessage() == (
        "webhook dropped 2 alert event(s) in 1 batch(es): the receiver answered HTTP 400"
    )
    assert events.named("webhook_retry") == []


async def test_a_batch_past_the_retry_bound_is_dropped_and_counted(
    events: Events, receivers: list[Receiver]
) -> None:
    receiver = Receiver([], then=Answer(503))
    receivers.append(receiver)
    before = dropped("expired")
    webhook = sender(receiver.url, retry_s=0.3, initial_s=0.02)
    webhook([alert(1), alert(2)])
    await events.wait_for("webhook_dropped")
    assert dropped("expired") - before == 2
    assert len(receiver.posts) >= 2  # it was retried before it expired
    assert "HTTP 503; not sent within 0.3 s" in events.named("webhook_dropped")[0].getMessage()
    await webhook.close(0.0)


async def test_a_retry_after_beyond_the_bound_drops_at_once(
    events: Events, receivers: list[Receiver]
) -> None:
    receiver = Receiver([Answer(429, {"Retry-After": "3600"})])
    receivers.append(receiver)
    before = dropped("expired")
    webhook = sender(receiver.url, retry_s=60.0)
    webhook([alert(1)])
    await events.wait_for("webhook_dropped")
    assert receiver.statuses() == [429]
    assert dropped("expired") - before == 1
    # The sender goes on with the next batch.
    webhook([alert(2)])
    await receiver.wait_for(lambda: len(receiver.accepted()) == 1)
    await webhook.close(5.0)


async def test_order_is_kept_through_failures_of_every_kind(
    events: Events, receivers: list[Receiver]
) -> None:
    receiver = Receiver(
        [
            Answer(503),
            Answer(hang_up=True),
            Answer(hold=True, hang_up=True),  # stalls past the sender's timeout
            Answer(429, {"Retry-After": "0"}),
            Answer(200),  # the first batch at last
            Answer(400),  # the second is rejected
            Answer(502),
            Answer(200),  # the third
        ]
    )
    receivers.append(receiver)
    webhook = sender(receiver.url, timeout_s=0.5)
    batches = [[alert(1)], [alert(2)], [alert(1, firing=False)], [alert(3)], [alert(2, False)]]
    webhook(batches[0])
    await events.wait_for("webhook_retry")
    for batch in batches[1:]:
        webhook(batch)
    await receiver.wait_for(lambda: len(receiver.accepted()) >= 4)
    receiver.release.set()
    await webhook.close(5.0)
    assert [k for k, _ in receiver.posts[:5]] == [key(batches[0])] * 5
    assert receiver.statuses() == [503, -1, -1, 429, 200, 400, 502, 200, 200, 200]
    assert receiver.accepted() == [key(batches[i]) for i in (0, 2, 3, 4)]
    assert [r.getMessage() for r in events.named("webhook_dropped")] == [
        "webhook dropped 1 alert event(s) in 1 batch(es): the receiver answered HTTP 400"
    ]


async def test_a_full_queue_drops_the_oldest_waiting_batch(
    events: Events, receivers: list[Receiver]
) -> None:
    receiver = Receiver([Answer(hold=True)])
    receivers.append(receiver)
    before = dropped("overflow")
    webhook = sender(receiver.url, max_waiting=2, timeout_s=WAIT_S)
    batches = [[alert(n)] * n for n in range(1, 6)]  # batch n has n alerts
    webhook(batches[0])
    await receiver.wait_for(lambda: len(receiver.posts) == 1)  # held at the receiver
    for batch in batches[1:]:
        webhook(batch)
    assert dropped("overflow") - before == 2 + 3
    assert [r.getMessage() for r in events.named("webhook_dropped")] == [
        "webhook dropped 2 alert event(s) in 1 batch(es): the queue is full",
        "webhook dropped 3 alert event(s) in 1 batch(es): the queue is full",
    ]
    receiver.release.set()
    await receiver.wait_for(lambda: len(receiver.accepted()) >= 3)
    await webhook.close(5.0)
    assert receiver.accepted() == [key(batches[0]), key(batches[3]), key(batches[4])]


async def test_shutdown_sends_what_is_queued_at_once(
    events: Events, receivers: list[Receiver]
) -> None:
    receiver = Receiver([Answer(503)])
    receivers.append(receiver)
    # The head would wait a minute before its next try.
    webhook = sender(receiver.url, initial_s=60.0, max_s=60.0)
    batches = [[alert(1)], [alert(2)], [alert(1, firing=False)]]
    webhook(batches[0])
    await events.wait_for("webhook_retry")
    webhook(batches[1])
    webhook(batches[2])
    started = time.monotonic()
    await webhook.close(10.0)
    assert time.monotonic() - started < 10.0
    assert receiver.accepted() == [key(b) for b in batches]
    assert events.named("webhook_dropped") == []


async def test_a_try_under_way_when_shutdown_begins_is_not_the_batchs_last(
    events: Events, receivers: list[Receiver]
) -> None:
    receiver = Receiver([Answer(503, hold=True)])
    receivers.append(receiver)
    webhook = sender(receiver.url, timeout_s=WAIT_S)
    webhook([alert(1)])
    await receiver.wait_for(lambda: len(receiver.posts) == 1)
    # close() marks the shutdown before it first waits, i.e. before the receiver answers.
    closing = asyncio.ensure_future(webhook.close(10.0))
    await asyncio.to_thread(receiver.release.set)
    await closing
    assert receiver.posts == [(key([alert(1)]), 503), (key([alert(1)]), 200)]
    assert events.named("webhook_dropped") == []


async def test_shutdown_tries_each_batch_once_then_drops_it(events: Events) -> None:
    before = dropped("shutdown")
    webhook = sender(f"http://127.0.0.1:{free_port()}/hook", initial_s=60.0, max_s=60.0)
    webhook([alert(1)])
    await events.wait_for("webhook_retry")
    webhook([alert(2), alert(3)])
    await webhook.close(10.0)
    assert dropped("shutdown") - before == 3
    assert len(events.named("webhook_retry")) == 1  # no retries at shutdown


async def test_shutdown_ends_with_the_grace_period_when_the_receiver_stalls(
    events: Events, receivers: list[Receiver]
) -> None:
    receiver = Receiver([], then=Answer(hold=True))
    receivers.append(receiver)
    before = dropped("shutdown")
    webhook = sender(receiver.url, timeout_s=WAIT_S)
    webhook([alert(1)])
    webhook([alert(2)])
    await receiver.wait_for(lambda: len(receiver.posts) == 1)
    started = time.monotonic()
    await webhook.close(0.5)
    assert time.monotonic() - started < 5.0
    receiver.release.set()  # the abandoned POST's thread ends now, not at the receiver's
    assert dropped("shutdown") - before == 2
    [drop] = events.named("webhook_dropped")
    assert drop.getMessage() == (
        "webhook dropped 2 alert event(s) in 2 batch(es): not sent within the shutdown grace period"
    )
