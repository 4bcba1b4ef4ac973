"""Settings from RAGSERVE_GATEWAY_* variables: defaults, and bad values named at start-up."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ragserve.gateway.__main__ import _build
from ragserve.gateway.settings import GRPC_PORT, METRICS_PORT, GatewaySettings
from ragserve.runtime.settings import SettingsError


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in [v for v in os.environ if v.startswith("RAGSERVE_GATEWAY_")]:
        monkeypatch.delenv(variable)
    settings = GatewaySettings()
    assert (GRPC_PORT, METRICS_PORT) == (50051, 9151)
    assert (settings.key_store, settings.key_store_path) == (
        "file",
        Path("./var/gateway/api-keys.json"),
    )
    assert settings.key_cache_ttl_s <= 2.0
    assert settings.tls_cert_file is None and not settings.bootstrap_key_create


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "RAGSERVE_GATEWAY_KEY_CACHE_TTL_S",
            "5",
            "RAGSERVE_GATEWAY_KEY_CACHE_TTL_S: Input should be less than or equal to 2",
        ),
        (
            "RAGSERVE_GATEWAY_RATE_LIMIT_LEASE_S",
            "-0.1",
            "RAGSERVE_GATEWAY_RATE_LIMIT_LEASE_S: Input should be greater than or equal to 0",
        ),
        (
            "RAGSERVE_GATEWAY_KEY_STORE",
            "etcd",
            "RAGSERVE_GATEWAY_KEY_STORE: Input should be 'file' or 'redis'",
        ),
        (
            "RAGSERVE_GATEWAY_TLS_CERT_FILE",
            "/tmp/cert.pem",
            "RAGSERVE_GATEWAY_TLS_CERT_FILE and RAGSERVE_GATEWAY_TLS_KEY_FILE go together",
        ),
    ],
)
def test_a_bad_setting_stops_start_up_naming_it(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as raised:
        _build()
    assert message in str(raised.value)
