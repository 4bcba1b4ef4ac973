from dataclasses import dataclass
from pathlib import Path

import pytest

from ragserve.runtime.settings import (
    SettingsError,
    load_server_settings,
    load_settings,
    require,
    service_address,
)


@dataclass(frozen=True)
class ExampleSettings:
    threads: int
    ratio: float = 0.5
    enabled: bool = False
    data_dir: Path = Path("var")
    names: tuple[str, ...] = ()
    limit: int | None = None

    def __post_init__(self) -> None:
        require(self.threads > 0, "RAGSERVE_EXAMPLE_THREADS", f"must be > 0, got {self.threads}")


def test_values_are_parsed_by_field_type() -> None:
    settings = load_settings(
        ExampleSettings,
        "example",
        {
            "RAGSERVE_EXAMPLE_THREADS": "4",
            "RAGSERVE_EXAMPLE_RATIO": "0.25",
            "RAGSERVE_EXAMPLE_ENABLED": "yes",
            "RAGSERVE_EXAMPLE_DATA_DIR": "/tmp/x",
            "RAGSERVE_EXAMPLE_NAMES": "a,b",
            "RAGSERVE_EXAMPLE_LIMIT": "7",
        },
    )
    assert settings == ExampleSettings(4, 0.25, True, Path("/tmp/x"), ("a", "b"), 7)


def test_defaults_apply_and_required_fields_are_named() -> None:
    assert load_settings(ExampleSettings, "example", {"RAGSERVE_EXAMPLE_THREADS": "1"}).ratio == 0.5
    with pytest.raises(SettingsError, match=r"^RAGSERVE_EXAMPLE_THREADS must be set$"):
        load_settings(ExampleSettings, "example", {})


def test_bad_values_name_the_variable() -> None:
    with pytest.raises(SettingsError, match=r"^RAGSERVE_EXAMPLE_THREADS='four' is not a valid int"):
        load_settings(ExampleSettings, "example", {"RAGSERVE_EXAMPLE_THREADS": "four"})
    with pytest.raises(
        SettingsError, match=r"RAGSERVE_EXAMPLE_ENABLED='maybe' is not a valid bool"
    ):
        load_settings(
            ExampleSettings,
            "example",
            {"RAGSERVE_EXAMPLE_THREADS": "1", "RAGSERVE_EXAMPLE_ENABLED": "maybe"},
        )
    with pytest.raises(SettingsError, match="RAGSERVE_EXAMPLE_THREADS: must be > 0, got 0"):
        load_settings(ExampleSettings, "example", {"RAGSERVE_EXAMPLE_THREADS": "0"})


def test_server_settings_use_blueprint_defaults_and_overrides() -> None:
    settings = load_server_settings("embedding_router", 50053, 9153, {})
    assert (settings.port, settings.metrics_port) == (50053, 9153)
    settings = load_server_settings(
        "embedding_router", 50053, 9153, {"RAGSERVE_EMBEDDING_ROUTER_PORT": "0"}
    )
    assert settings.port == 0
    with pytest.raises(SettingsError, match=r"port: must be 0\.\.65535, got 70000"):
        load_server_settings("inference", 8001, 8002, {"RAGSERVE_INFERENCE_PORT": "70000"})


def test_service_address() -> None:
    assert service_address("retrieval", 50054, {}) == "localhost:50054"
    assert service_address("retrieval", 50054, {"RAGSERVE_RETRIEVAL_ADDR": "r:1"}) == "r:1"
