"""Settings from RAGSERVE_MONITOR_* variables and the replica list they name."""

from __future__ import annotations

import pytest

from ragserve.monitor.settings import MonitorSettings
from ragserve.monitor.targets import Target, default_targets, parse_targets
from ragserve.runtime.settings import SettingsError, load_settings


def test_defaults_watch_all_six_services_on_their_default_ports() -> None:
    settings = load_settings(MonitorSettings, "monitor", {})
    assert settings.scrape_interval_s == 5.0 and settings.prometheus_url == ""
    targets = parse_targets(settings.targets, {})
    assert [(t.service, t.address, t.metrics_address) for t in targets] == [
        ("gateway", "localhost:50051", "localhost:9151"),
        ("orchestrator", "localhost:50052", "localhost:9152"),
        ("embedding_router", "localhost:50053", "localhost:9153"),
        ("retrieval", "localhost:50054", "localhost:9154"),
        ("inference", "localhost:8001", "localhost:8002"),
        ("monitor", "localhost:50056", "localhost:9156"),
    ]


def test_default_addresses_follow_the_services_addr_variables() -> None:
    targets = default_targets({"RAGSERVE_RETRIEVAL_ADDR": "retrieval.svc:50054"})
    assert Target("retrieval", "retrieval.svc:50054", "retrieval.svc:9154") in targets


def test_replicas_repeat_a_service() -> None:
    targets = parse_targets("retrieval=10.0.0.1:50054/9154, retrieval=10.0.0.2:50054/9154")
    assert [t.address for t in targets] == ["10.0.0.1:50054", "10.0.0.2:50054"]
    assert targets[1].metrics_address == "10.0.0.2:9154"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "search=host:1/2",
            "RAGSERVE_MONITOR_TARGETS: entry 'search=host:1/2': expected service=host:port/metrics_port",
        ),
        (
            "retrieval=host/2",
            "RAGSERVE_MONITOR_TARGETS: entry 'retrieval=host/2': address 'host' is not host:port",
        ),
        (
            "retrieval=host:1",
            "RAGSERVE_MONITOR_TARGETS: entry 'retrieval=host:1': metrics port missing after '/'",
        ),
        (",", "RAGSERVE_MONITOR_TARGETS: no targets"),
    ],
)
def test_bad_targets_are_named(value: str, message: str) -> None:
    with pytest.raises(SettingsError) as error:
        load_settings(MonitorSettings, "monitor", {"RAGSERVE_MONITOR_TARGETS": value})
    assert str(error.value).startswith(message)


def test_bad_interval_is_named() -> None:
    with pytest.raises(SettingsError, match="RAGSERVE_MONITOR_SCRAPE_INTERVAL_S"):
        load_settings(MonitorSettings, "monitor", {"RAGSERVE_MONITOR_SCRAPE_INTERVAL_S": "0"})


def test_a_dns_entry_stands_for_the_replicas_it_resolves_to() -> None:
    [template] = parse_targets("retrieval=dns+retrieval-headless.ragserve.svc:50054/9154")
    assert template.discover and template.host == "retrieval-headless.ragserve.svc"
    assert template.replica("10.1.2.3") == Target("retrieval", "10.1.2.3:50054", "10.1.2.3:9154")
    assert template.replica("fd00::7").address == "[fd00::7]:50054"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("RAGSERVE_MONITOR_WEBHOOK_URL", "alertmanager:9093/hook"),
        ("RAGSERVE_MONITOR_WEBHOOK_URL", "ftp://host/hook"),
        ("RAGSERVE_MONITOR_WEBHOOK_RETRY_S", "0"),
        ("RAGSERVE_MONITOR_WEBHOOK_QUEUE_BATCHES", "0"),
    ],
)
def test_bad_webhook_settings_are_named(variable: str, value: str) -> None:
    with pytest.raises(SettingsError) as error:
        load_settings(MonitorSettings, "monitor", {variable: value})
    assert str(error.value).startswith(variable + ": "), str(error.value)


def test_webhook_settings() -> None:
    settings = load_settings(
        MonitorSettings,
        "monitor",
        {
            "RAGSERVE_MONITOR_WEBHOOK_URL": "https://hooks.example/alerts",
            "RAGSERVE_MONITOR_WEBHOOK_RETRY_S": "30",
            "RAGSERVE_MONITOR_WEBHOOK_QUEUE_BATCHES": "10",
        },
    )
    assert (settings.webhook_retry_s, settings.webhook_queue_batches) == (30.0, 10)
    assert load_settings(MonitorSettings, "monitor", {}).webhook_retry_s == 300.0
