"""Settings from RAGSERVE_EMBEDDING_ROUTER_* variables: defaults, and bad values named."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragserve.embedding_router.settings import RouterSettings
from ragserve.runtime.settings import SettingsError, load_settings


def test_defaults_and_an_empty_variable_is_unset() -> None:
    settings = load_settings(
        RouterSettings, "embedding_router", {"RAGSERVE_EMBEDDING_ROUTER_REDIS_URL": ""}
    )
    assert settings == RouterSettings(providers_file=None, redis_url=None, stream_parallelism=4)
    settings = load_settings(
        RouterSettings,
        "embedding_router",
        {"RAGSERVE_EMBEDDING_ROUTER_PROVIDERS_FILE": "deploy/p.toml"},
    )
    assert settings.providers_file == Path("deploy/p.toml")


def test_a_bad_value_names_the_variable() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(
            RouterSettings,
            "embedding_router",
            {"RAGSERVE_EMBEDDING_ROUTER_STREAM_PARALLELISM": "0"},
        )
    assert str(caught.value) == (
        "RAGSERVE_EMBEDDING_ROUTER_STREAM_PARALLELISM: input should be greater than or equal to 1,"
        ' got "0"'
    )
