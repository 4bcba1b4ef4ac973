"""UNAVAILABLE and RESOURCE_EXHAUSTED are retried, only inside the call's deadline."""

from __future__ import annotations

import random
import time
from collections.abc import AsyncIterator, Iterator

import grpc
import pytest
from clients import Driver
from scripted_gateway import TRACE_ID, Gateway, rich_status

from ragserve.client import ResourceExhausted, RetryPolicy, Unavailable
from ragserve.client.errors import RagserveError
from ragserve.client.types import AnswerDelta, QueryDone, QueryHits, QueryStarted

FAST = RetryPolicy(max_attempts=5, initial_backoff_s=0.01, max_backoff_s=0.02)


def error(code: grpc.StatusCode, delay: float | None = None) -> RagserveError:
    return RagserveError(code, "x", retry_delay_s=delay)


def test_policy_retries_only_transient_codes() -> None:
    policy = RetryPolicy(jitter=random.Random(1))
    assert policy.delay(error(grpc.StatusCode.INVALID_ARGUMENT), 1, None) is None
    assert policy.delay(error(grpc.StatusCode.UNAVAILABLE), 1, None) is not None
    assert policy.delay(error(grpc.StatusCode.RESOURCE_EXHAUSTED, 0.3), 1, None) == 0.3


def test_policy_never_waits_past_the_deadline() -> None:
    policy = RetryPolicy(min_attempt_s=0.05)
    assert policy.delay(error(grpc.StatusCode.RESOURCE_EXHAUSTED, 2.0), 1, 1.0) is None
    assert policy.delay(error(grpc.StatusCode.RESOURCE_EXHAUSTED, 0.5), 1, 1.0) == 0.5
    # A wait that leaves no time for the attempt itself is not worth it.
    assert policy.delay(error(grpc.StatusCode.RESOURCE_EXHAUSTED, 0.98), 1, 1.0) is None


def test_policy_caps_attempts_and_backoff() -> None:
    policy = RetryPolicy(max_attempts=3, initial_backoff_s=1.0, max_backoff_s=1.5)
    for attempt in (1, 2):
        wait = policy.delay(error(grpc.StatusCode.UNAVAILABLE), attempt, None)
        assert wait is not None and 0 <= wait <= 1.5
    assert policy.delay(error(grpc.StatusCode.UNAVAILABLE), 3, None) is None


def test_transient_failures_are_retried_until_success(gateway: Gateway, kind: str) -> None:
    gateway.script.failures["CreateCollection"] = [
        rich_status(grpc.StatusCode.UNAVAILABLE, "orchestrator down"),
        rich_status(grpc.StatusCode.RESOURCE_EXHAUSTED, "limit", retry_delay_s=0.3),
    ]
    started = time.monotonic()
    with Driver(kind, gateway.address, "k", retry=FAST) as client:
        collection = client.create_collection("docs", timeout=10)
    assert time.monotonic() - started >= 0.3  # the server's advice, not FAST's 0.02 s
    assert collection.name == "docs"
    assert gateway.script.calls == ["CreateCollection"] * 3


def test_the_retry_after_trailer_is_honoured_too(gateway: Gateway, kind: str) -> None:
    gateway.script.failures["ListApiKeys"] = [
        rich_status(grpc.StatusCode.RESOURCE_EXHAUSTED, "slow down", retry_after_ms=300)
    ]
    started = time.monotonic()
    with Driver(kind, gateway.address, "k", retry=FAST) as client:
        assert [k.id for k in client.list_keys(timeout=10)] == ["k1", "k2"]
    assert time.monotonic() - started >= 0.3
    assert gateway.script.calls == ["ListApiKeys"] * 3  # page 1 twice, then page 2


def test_advice_beyond_the_deadline_fails_at_once(gateway: Gateway, kind: str) -> None:
    gateway.script.failures["CreateCollection"] = [
        rich_status(grpc.StatusCode.RESOURCE_EXHAUSTED, "limit", retry_delay_s=30)
    ]
    started = time.monotonic()
    with (
        Driver(kind, gateway.address, "k", retry=FAST) as client,
        pytest.raises(ResourceExhausted) as caught,
    ):
        client.create_collection("docs", timeout=2)
    assert time.monotonic() - started < 1.5  # no sleep that could not succeed
    assert caught.value.retry_delay_s == pytest.approx(30)
    assert caught.value.message == "limit"
    assert gateway.script.calls == ["CreateCollection"]


def test_retries_stop_at_the_deadline(gateway: Gateway, kind: str) -> None:
    gateway.script.failures["CreateCollection"] = [
        rich_status(grpc.StatusCode.RESOURCE_EXHAUSTED, "limit", retry_delay_s=0.2)
    ] * 100
    # Each retry must leave its attempt a second before the deadline. With less (the
    # default 0.05 s; 0.3 s too, with the last answer 0.4 s late) a loaded machine that
    # answers the last attempt late makes it meet the deadline itself: DEADLINE_EXCEEDED
    # instead of the server's answer. The margin is not what is tested: that no retry
    # starts which cannot finish in time, and the call never outlives its deadline.
    policy = RetryPolicy(max_attempts=100, min_attempt_s=1.0)
    with Driver(kind, gateway.address, "k", retry=policy) as client:
        started = time.monotonic()
        with pytest.raises(ResourceExhausted):
            client.create_collection("docs", timeout=2.0)
        elapsed = time.monotonic() - started
    assert elapsed < 2.0
    # Attempts 0.2 s apart while 1.2 s remain: about five, far fewer than max_attempts.
    assert 2 <= len(gateway.script.calls) <= 6


def test_attempts_run_out(gateway: Gateway, kind: str) -> None:
    gateway.script.failures["Search"] = [rich_status(grpc.StatusCode.UNAVAILABLE, "down")] * 5
    policy = RetryPolicy(max_attempts=3, initial_backoff_s=0.01)
    with Driver(kind, gateway.address, "k", retry=policy) as client, pytest.raises(Unavailable):
        client.search("q", "docs", timeout=10)
    assert gateway.script.calls == ["Search"] * 3


def test_pages_are_followed(gateway: Gateway, kind: str) -> None:
    with Driver(kind, gateway.address, "k") as client:
        assert [c.name for c in client.list_collections()] == ["a", "b"]


def test_query_events_are_typed_and_gathered(gateway: Gateway, kind: str) -> None:
    with Driver(kind, gateway.address, "k") as client:
        events = client.events("what do cats eat?", "docs")
        result = client.ask("what do cats eat?", "docs")
    assert [type(e) for e in events][:4] == [QueryStarted, QueryHits, AnswerDelta, AnswerDelta]
    assert isinstance(events[-1], QueryDone)
    assert result.answer == "Cats eat fish."
    assert result.trace_id == TRACE_ID
    assert result.cited_hits()[0].source.heading_path == ("Cats", "Food")
    assert result.done is not None and result.done.timings[0].stage == "embed"


def test_query_retried_before_its_first_event_not_after(gateway: Gateway, kind: str) -> None:
    gateway.script.failures["Query"] = [rich_status(grpc.StatusCode.UNAVAILABLE, "down")]
    with Driver(kind, gateway.address, "k", retry=FAST) as client:
        assert client.ask("q", "docs").answer == "Cats eat fish."
    assert gateway.script.calls == ["Query", "Query"]

    gateway.script.query_fail_after_start = rich_status(grpc.StatusCode.UNAVAILABLE, "lost")
    gateway.script.calls.clear()
    with Driver(kind, gateway.address, "k", retry=FAST) as client, pytest.raises(Unavailable):
        client.ask("q", "docs")
    assert gateway.script.calls == ["Query"]


def test_a_query_read_partly_is_cancelled(gateway: Gateway, kind: str) -> None:
    gateway.script.query_hold = True  # the server holds the stream open after `started`
    with Driver(kind, gateway.address, "k") as client:
        first = client.first_event_then_stop("q", "docs")
        assert isinstance(first, QueryStarted)
        # The server sees the call end (cancelled by the client) without being told to.
        assert gateway.script.query_cancelled.wait(10)
        gateway.script.query_hold = False
        gateway.script.query_cancelled.clear()
        assert client.ask("q", "docs").answer == "Cats eat fish."


def test_a_query_sends_nothing_until_read(gateway: Gateway, kind: str) -> None:
    with Driver(kind, gateway.address, "k") as client:
        events = client.client.query("q", "docs")
        expected = Iterator if kind == "sync" else AsyncIterator
        assert isinstance(events, expected)
        assert gateway.script.calls == []
