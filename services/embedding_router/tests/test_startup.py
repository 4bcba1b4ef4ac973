"""A bad providers file or setting stops the router's start-up, naming the file, entry or variable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ragserve.testkit.processes import ServiceFailed, ServiceProcess


def _start_up_failure(env: dict[str, str]) -> str:
    """The logged exception of a router that must refuse to start (exit status 2)."""
    process = ServiceProcess("embedding_router", env=env)
    with pytest.raises(ServiceFailed):
        process.start(timeout_s=60)
    assert process.process is not None
    assert process.process.wait(timeout=30) == 2
    failure = next(r for r in process.records() if r.get("message") == "start-up failed")
    return str(failure["exception"]).strip().splitlines()[-1]


@pytest.mark.slow
def test_a_bad_providers_file_is_named_with_its_entry(tmp_path: Path) -> None:
    file = tmp_path / "providers.json"
    file.write_text(
        json.dumps(
            {
                "models": [{"id": "m", "dimension": 4}],
                "providers": [
                    {"id": "p", "model": "m", "kind": "inference", "endpoints": ["h:1"]},
                    {
                        "id": "q",
                        "model": "m",
                        "kind": "inference",
                        "endpoints": ["h:2"],
                        "weight": 1,
                    },
                ],
            }
        )
    )
    assert _start_up_failure({"RAGSERVE_EMBEDDING_ROUTER_PROVIDERS_FILE": str(file)}) == (
        f"ragserve.embedding_router.config.ConfigError: {file}: providers[1].weight: "
        "is not a known field"
    )


@pytest.mark.slow
def test_a_bad_setting_is_named_by_its_variable() -> None:
    assert _start_up_failure({"RAGSERVE_EMBEDDING_ROUTER_STREAM_PARALLELISM": "many"}) == (
        "ragserve.runtime.settings.SettingsError: RAGSERVE_EMBEDDING_ROUTER_STREAM_PARALLELISM: "
        'input should be a valid integer, unable to parse string as an integer, got "many"'
    )
