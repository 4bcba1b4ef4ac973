from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ragserve.embedding_router.config import (
    ConfigError,
    PiiPolicy,
    ProviderKind,
    load_config,
    parse_config,
)
from ragserve.embedding_router.tokens import load_counters

REPO = Path(__file__).resolve().parents[3]


def _doc() -> dict[str, Any]:
    return {
        "models": [{"id": "minilm", "version": "1", "dimension": 384}],
        "providers": [
            {"id": "local", "model": "minilm", "kind": "inference", "endpoints": ["h:8001"]},
            {
                "id": "remote",
                "model": "minilm",
                "kind": "openai",
                "endpoints": ["https://api.example.com"],
                "price_per_1k_tokens": 0.02,
            },
            {"id": "third", "model": "minilm", "kind": "inference", "endpoints": ["h:8002"]},
        ],
        "tenants": [{"id": "acme", "daily_budget": 1.5, "pii_policy": "redact"}],
    }


def test_defaults_and_kinds() -> None:
    config = parse_config(_doc())
    local, remote, _ = config.providers
    assert local.kind is ProviderKind.INFERENCE and local.external is False
    # Reached over the OpenAI API: assumed to leave the network unless told otherwise.
    assert remote.kind is ProviderKind.OPENAI and remote.external is True
    assert config.routing.weights.cost == 0.4
    assert config.routing.weights.latency == 0.3
    assert config.routing.weights.quality == 0.3
    assert config.breaker.failure_threshold == 5
    assert config.breaker.success_threshold == 3
    assert config.breaker.open_s == 30.0
    assert config.cache.ttl_s == 900
    # A lone text is never held back waiting for company.
    assert all(p.max_batch_wait_s == 0.0 for p in config.providers)
    assert config.routing.reliability_half_life_s == 60.0
    assert config.models[0].tokenizer is None
    assert config.tenant("acme").pii_policy is PiiPolicy.REDACT
    assert config.tenant("nobody").daily_budget is None


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda d: d["providers"][2].update(price_per_1k_tokens=-1),
            "providers[2].price_per_1k_tokens: input should be greater than or equal to 0, got -1",
        ),
        (
            lambda d: d["providers"][1].update(kind="grpc"),
            "providers[1].kind: input should be 'inference' or 'openai', got \"grpc\"",
        ),
        (
            lambda d: d["providers"][0].update(model="other"),
            "providers[0].model: 'other' is not a configured model (known: minilm)",
        ),
        (
            lambda d: d["providers"][2].update(id="local"),
            "providers[2].id: duplicate provider id 'local' (first at providers[0])",
        ),
        (
            lambda d: d["providers"][0].update(colour="red"),
            "providers[0].colour: is not a known field",
        ),
        (lambda d: d["models"][0].pop("dimension"), "models[0].dimension: is required"),
        (
            lambda d: d["tenants"][0].update(pii_policy="maybe"),
            "tenants[0].pii_policy: input should be 'off', 'redact' or 'refuse', got \"maybe\"",
        ),
        (
            lambda d: d.update(breaker={"success_threshold": 4, "half_open_max_calls": 3}),
            "breaker.success_threshold: must be <= half_open_max_calls (3)",
        ),
        (
            lambda d: d["providers"][1].update(endpoints=["api.example.com"]),
            "providers[1].endpoints[0]: must be an http(s) URL",
        ),
        (lambda d: d["models"][0].update(tokenizer=""), "models[0].tokenizer: must not be empty"),
        (
            lambda d: d.update(routing={"reliability_half_life_s": 0}),
            "routing.reliability_half_life_s: input should be greater than 0, got 0",
        ),
        (lambda d: d.update(models=[]), "models: must not be empty, got []"),
        (
            lambda d: d.update(routing={"weights": {"cost": 0, "latency": 0, "quality": 0}}),
            "routing.weights: at least one weight must be > 0",
        ),
        (
            lambda d: d.update(cache={"redis_url": "http://r:1"}),
            "cache.redis_url: string should match pattern '^(redis|rediss|unix)://', "
            'got "http://r:1"',
        ),
        (
            lambda d: d["tenants"][0].update(pii_patterns={"Badge": "B-[0-9]+"}),
            "tenants[0].pii_patterns.Badge: a kind name is lower-case letters, digits, _",
        ),
        (
            lambda d: d["providers"][0].update(max_concurrency=True),
            "providers[0].max_concurrency: input should be a valid integer, got true",
        ),
    ],
)
def test_bad_entries_are_named(mutate: Any, message: str) -> None:
    doc = _doc()
    mutate(doc)
    with pytest.raises(ConfigError) as caught:
        parse_config(doc)
    assert str(caught.value).startswith(message)


def test_model_without_provider_is_refused() -> None:
    doc = _doc()
    doc["models"].append({"id": "lonely", "dimension": 8})
    with pytest.raises(ConfigError, match=r"^models\[1\]: model 'lonely' has no provider$"):
        parse_config(doc)


def test_load_json_and_toml_and_file_name_in_errors(tmp_path: Path) -> None:
    good = tmp_path / "providers.json"
    good.write_text(json.dumps(_doc()))
    assert load_config(good, redis_url="redis://r:1/0").cache.redis_url == "redis://r:1/0"

    toml = tmp_path / "providers.toml"
    toml.write_text(
        '[[models]]\nid = "m"\ndimension = 4\n\n'
        '[[providers]]\nid = "p"\nmodel = "m"\nkind = "inference"\nendpoints = ["h:1"]\n'
        "max_batch = 0\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(toml)
    assert (
        str(caught.value)
        == f"{toml}: providers[0].max_batch: input should be greater than or equal to 1, got 0"
    )


def test_a_relative_tokenizer_is_found_next_to_the_file_and_a_bad_one_names_the_entry(
    tmp_path: Path,
) -> None:
    doc = _doc()
    doc["models"][0]["tokenizer"] = "tok/tokenizer.json"
    file = tmp_path / "providers.json"
    file.write_text(json.dumps(doc))
    config = load_config(file)
    assert config.models[0].tokenizer == tmp_path / "tok" / "tokenizer.json"
    with pytest.raises(ConfigError) as caught:
        load_counters(config.models)
    assert str(caught.value) == (
        f"models[0].tokenizer: cannot load tokenizer '{tmp_path}/tok/tokenizer.json': no such file"
    )
    (tmp_path / "tok").mkdir()
    (tmp_path / "tok" / "tokenizer.json").write_text("{not json")
    with pytest.raises(ConfigError, match=r"^models\[0\]\.tokenizer: cannot load tokenizer '"):
        load_counters(config.models)


def test_the_shipped_example_loads() -> None:
    config = load_config(REPO / "deploy" / "providers.example.json")
    assert {m.id for m in config.models} == {"all-minilm-l6-v2"}
    assert len(config.providers) >= 2
    # It names the project's tokenizer, relative to deploy/.
    assert config.models[0].tokenizer == (
        REPO / "deploy" / ".." / "models" / "all-minilm-l6-v2" / "tokenizer.json"
    )
    assert load_counters(config.models)["all-minilm-l6-v2"].exact
