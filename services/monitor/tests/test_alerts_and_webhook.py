"""The alert book pairs fire and resolve by a stable id; the webhook speaks Alertmanager's format."""

from __future__ import annotations

from ragserve.monitor.alerts import AlertBook, Condition
from ragserve.monitor.webhook import payload


def burn(slo: str = "retrieval-errors") -> Condition:
    return Condition(
        name="SLOErrorBudgetBurn",
        severity="critical",
        summary=f"{slo}: burning",
        value=0.3,
        threshold=0.144,
        runbook_url="docs/monitor.md#" + slo,
        labels={"slo": slo, "service": "retrieval", "severity": "critical"},
    )


async def test_fire_then_resolve_share_the_id_and_subscribers_see_both_in_order() -> None:
    book = AlertBook()
    snapshot, queue = book.subscribe()
    assert snapshot == []
    [fired] = book.update("slo", [burn()], now=10.0)
    assert fired.firing and fired.started_at == 10.0 and fired.resolved_at is None
    assert book.update("slo", [burn()], now=11.0) == []  # still firing: no new event
    [resolved] = book.update("slo", [], now=20.0)
    assert (resolved.id, resolved.firing, resolved.resolved_at) == (fired.id, False, 20.0)
    assert [queue.get_nowait(), queue.get_nowait()] == [fired, resolved]
    assert book.listed(include_resolved=True) == [resolved]
    assert book.listed(include_resolved=False) == []
    # The same condition later is the same alert id again (a new occurrence).
    [again] = book.update("slo", [burn()], now=30.0)
    assert again.id == fired.id and again.started_at == 30.0


def test_families_do_not_resolve_each_other() -> None:
    book = AlertBook()
    book.update("slo", [burn()], now=1.0)
    assert book.update("outage", [], now=2.0) == []
    assert len(book.firing()) == 1


def test_snapshot_lists_what_fires_when_subscribing() -> None:
    book = AlertBook()
    book.update("slo", [burn("a"), burn("b")], now=1.0)
    snapshot, _ = book.subscribe()
    assert sorted(a.labels["slo"] for a in snapshot) == ["a", "b"]


def test_webhook_payload_is_alertmanager_v4() -> None:
    book = AlertBook()
    [fired] = book.update("slo", [burn()], now=1_700_000_000.0)
    [resolved] = book.update("slo", [], now=1_700_000_060.0)
    body = payload([fired], "http://monitor:9156/")
    assert body["version"] == "4" and body["status"] == "firing"
    [entry] = body["alerts"]
    assert entry["labels"] == {
        "alertname": "SLOErrorBudgetBurn",
        "severity": "critical",
        "slo": "retrieval-errors",
        "service": "retrieval",
        "family": "slo",
    }
    assert entry["startsAt"] == "2023-11-14T22:13:20Z"
    assert entry["endsAt"] == "0001-01-01T00:00:00Z"
    assert entry["fingerprint"] == fired.id
    assert entry["annotations"]["runbook_url"] == "docs/monitor.md#retrieval-errors"
    assert body["commonLabels"]["alertname"] == "SLOErrorBudgetBurn"
    closing = payload([resolved], "")
    assert closing["status"] == "resolved"
    assert closing["alerts"][0]["endsAt"] == "2023-11-14T22:14:20Z"
