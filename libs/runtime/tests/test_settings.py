from pathlib import Path
from typing import Annotated

import pytest
from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ragserve.runtime.settings import (
    SettingsError,
    load_server_settings,
    load_settings,
    service_address,
)
from ragserve.runtime.validation import EntryError, entry_path, show


class ExampleSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RAGSERVE_EXAMPLE_", frozen=True, extra="ignore")

    threads: Annotated[int, Field(gt=0)]
    ratio: float = 0.5
    enabled: bool = False
    data_dir: Path = Path("var")
    limit: int | None = None

    @model_validator(mode="after")
    def _limit_within_threads(self) -> "ExampleSettings":
        if self.limit is not None and self.limit > 100 * self.threads:
            raise EntryError(
                "limit", f"must be <= 100 x RAGSERVE_EXAMPLE_THREADS, got {self.limit}"
            )
        return self


def test_values_are_parsed_by_field_type() -> None:
    settings = load_settings(
        ExampleSettings,
        "example",
        {
            "RAGSERVE_EXAMPLE_THREADS": "4",
            "RAGSERVE_EXAMPLE_RATIO": "0.25",
            "RAGSERVE_EXAMPLE_ENABLED": "yes",
            "RAGSERVE_EXAMPLE_DATA_DIR": "/tmp/x",
            "RAGSERVE_EXAMPLE_LIMIT": "7",
            "RAGSERVE_EXAMPLE_UNRELATED": "ignored",
        },
    )
    assert settings == ExampleSettings(
        threads=4, ratio=0.25, enabled=True, data_dir=Path("/tmp/x"), limit=7
    )


def test_defaults_apply_and_required_fields_are_named() -> None:
    settings = load_settings(ExampleSettings, "example", {"RAGSERVE_EXAMPLE_THREADS": "1"})
    assert settings.ratio == 0.5
    # An empty variable is the same as an unset one.
    assert (
        load_settings(
            ExampleSettings,
            "example",
            {"RAGSERVE_EXAMPLE_THREADS": "1", "RAGSERVE_EXAMPLE_LIMIT": ""},
        ).limit
        is None
    )
    with pytest.raises(SettingsError, match=r"^RAGSERVE_EXAMPLE_THREADS must be set$"):
        load_settings(ExampleSettings, "example", {})


def test_bad_values_name_the_variable() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(ExampleSettings, "example", {"RAGSERVE_EXAMPLE_THREADS": "four"})
    assert str(caught.value) == (
        "RAGSERVE_EXAMPLE_THREADS: input should be a valid integer, unable to parse string as an"
        ' integer, got "four"'
    )
    with pytest.raises(SettingsError) as caught:
        load_settings(
            ExampleSettings,
            "example",
            {"RAGSERVE_EXAMPLE_THREADS": "1", "RAGSERVE_EXAMPLE_ENABLED": "maybe"},
        )
    assert str(caught.value) == (
        'RAGSERVE_EXAMPLE_ENABLED: input should be a valid boolean, unable to interpret input, got "maybe"'
    )
    with pytest.raises(SettingsError) as caught:
        load_settings(ExampleSettings, "example", {"RAGSERVE_EXAMPLE_THREADS": "0"})
    assert str(caught.value) == 'RAGSERVE_EXAMPLE_THREADS: input should be greater than 0, got "0"'


def test_a_cross_field_check_names_its_variable() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(
            ExampleSettings,
            "example",
            {"RAGSERVE_EXAMPLE_THREADS": "1", "RAGSERVE_EXAMPLE_LIMIT": "101"},
        )
    assert str(caught.value) == (
        "RAGSERVE_EXAMPLE_LIMIT: must be <= 100 x RAGSERVE_EXAMPLE_THREADS, got 101"
    )


def test_server_settings_use_the_default_ports_and_overrides() -> None:
    settings = load_server_settings("embedding_router", 50053, 9153, {})
    assert (settings.port, settings.metrics_port) == (50053, 9153)
    settings = load_server_settings(
        "embedding_router", 50053, 9153, {"RAGSERVE_EMBEDDING_ROUTER_PORT": "0"}
    )
    assert settings.port == 0
    with pytest.raises(SettingsError) as caught:
        load_server_settings("inference", 8001, 8002, {"RAGSERVE_INFERENCE_PORT": "70000"})
    assert str(caught.value) == (
        'RAGSERVE_INFERENCE_PORT: input should be less than or equal to 65535, got "70000"'
    )
    env = {"RAGSERVE_INFERENCE_LOG_LEVEL": "debug"}
    assert load_server_settings("inference", 8001, 8002, env).log_level == "DEBUG"
    with pytest.raises(SettingsError) as caught:
        load_server_settings("inference", 8001, 8002, {"RAGSERVE_INFERENCE_LOG_LEVEL": "loud"})
    assert str(caught.value).startswith("RAGSERVE_INFERENCE_LOG_LEVEL: input should be 'DEBUG'")


def test_a_class_read_with_another_prefix_is_a_programming_error() -> None:
    with pytest.raises(TypeError, match="declares env_prefix 'RAGSERVE_EXAMPLE_'"):
        load_settings(ExampleSettings, "orchestrator", {})


def test_service_address() -> None:
    assert service_address("retrieval", 50054, {}) == "localhost:50054"
    assert service_address("retrieval", 50054, {"RAGSERVE_RETRIEVAL_ADDR": "r:1"}) == "r:1"


def test_entry_paths_and_shown_values() -> None:
    assert entry_path(("models", 1, "providers", 0, "weight")) == "models[1].providers[0].weight"
    assert show("x" * 100) == '"' + "x" * 63 + "… (102 characters)"
