"""The router's configuration: models, providers, tenants, routing, breaker and cache settings.

Loaded once at start-up from a JSON or TOML file (chosen by the file's suffix). The classes below
are the file's schema (published as ``docs/schemas/providers.schema.json``): an unknown key, a
wrong type or an out-of-range value raises :class:`ConfigError` whose message names the file and
the entry by its path, e.g. ``providers.json: providers[2].price_per_1k_tokens: input should be
greater than or equal to 0, got -1``.

Invariants of a loaded :class:`RouterConfig`:
- model ids, provider ids and tenant ids are unique;
- every provider serves a configured model, and every model has at least one provider;
- routing weights are non-negative and sum to a positive number.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Final, Self

from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from pydantic.dataclasses import dataclass

from ragserve.runtime.validation import EntryError, describe


class ConfigError(ValueError):
    """A configuration entry is invalid; ``str(error)`` names the entry and the rule it broke."""


class ProviderKind(StrEnum):
    INFERENCE = "inference"
    OPENAI = "openai"


class PiiPolicy(StrEnum):
    OFF = "off"
    REDACT = "redact"
    REFUSE = "refuse"


def _not_empty(value: object) -> object:
    # Before a Path sees it: Path("") would quietly be the current directory.
    if value == "":
        raise ValueError("must not be empty")
    return value


# An id of a model, provider or tenant (a tenant id also arrives in every call).
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
Id = Annotated[str, Field(pattern=ID_PATTERN)]
Text = Annotated[str, Field(min_length=1)]
PositiveInt = Annotated[StrictInt, Field(ge=1)]
Share = Annotated[StrictFloat, Field(ge=0, le=1)]
NonNegative = Annotated[StrictFloat, Field(ge=0)]
Positive = Annotated[StrictFloat, Field(gt=0)]
# Attribute docstrings become the JSON Schema's descriptions, which editors show.
_FORBID = ConfigDict(extra="forbid", use_attribute_docstrings=True)


@dataclass(frozen=True, slots=True, config=_FORBID)
class ModelConfig:
    """A vector space. Vectors from two different models are never interchangeable."""

    id: Id
    version: Text = "1"
    # Required: pydantic reads Field(...) so; it only lets a required field follow `version`,
    # whose default the file may rely on, while positional construction keeps its order.
    dimension: PositiveInt = Field(...)  # type: ignore[misc]
    """Length of the model's vectors."""
    normalized: StrictBool = True
    max_tokens: PositiveInt = 256
    tokenizer: Annotated[Path | None, BeforeValidator(_not_empty)] = None
    """The model's tokenizer (a Hugging Face ``tokenizer.json``): tokens are counted with it
    (pricing, ``max_tokens`` under truncation 'refuse'); None: estimated from the words.
    A relative path is relative to the providers file.
    """


@dataclass(frozen=True, slots=True, config=_FORBID)
class ProviderConfig:
    """One way of computing a model's vectors. ``external`` providers are subject to PII policy."""

    id: Id
    model: Text
    kind: ProviderKind
    endpoints: Annotated[tuple[Text, ...], Field(min_length=1)]
    price_per_1k_tokens: NonNegative = 0.0
    max_batch: PositiveInt = 32
    max_concurrency: PositiveInt = 4
    rate_limit_rps: Positive | None = None
    """Maximum provider calls (batches) per second; None = unlimited."""
    quality: Share = 1.0
    """A prior on quality in [0, 1], higher is better; used by the router's score."""
    external: StrictBool = False
    """In a file: true for kind "openai" unless told (it is assumed to leave our network)."""
    remote_model: str = ""
    """Name of the model at the provider: the inference service's model, or the OpenAI `model`.
    In a file: the provider's `model` unless told.
    """
    input_name: Text = "TEXT"
    """Inference kind only: the text model's input tensor."""
    output_name: Text = "EMBEDDING"
    """Inference kind only: the text model's output tensor."""
    api_key_env: Text | None = None
    """OpenAI kind only: the name of an environment variable holding the API key."""
    max_batch_wait_s: Share = 0.0
    """How long the batcher waits for more texts after the first one arrives, in seconds. 0: a
    lone text goes at once; concurrent texts still share a call whenever one is running.
    """

    @model_validator(mode="before")
    @classmethod
    def _file_defaults(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = {
                "external": data.get("kind") == ProviderKind.OPENAI,
                "remote_model": data.get("model", ""),
                **data,
            }
        return data

    @model_validator(mode="after")
    def _openai_endpoints_are_urls(self) -> Self:
        if self.kind is ProviderKind.OPENAI:
            for index, url in enumerate(self.endpoints):
                if not url.startswith(("http://", "https://")):
                    raise EntryError(f"endpoints[{index}]", "must be an http(s) URL")
        return self


@dataclass(frozen=True, slots=True, config=_FORBID)
class TenantConfig:
    id: Id
    daily_budget: NonNegative | None = None
    """Spend allowed per UTC day, in the same currency as provider prices; None = unlimited."""
    pii_policy: PiiPolicy = PiiPolicy.OFF
    pii_patterns: dict[str, Text] = Field(default_factory=dict)
    """Extra PII patterns: kind name -> regular expression."""
    allow_cheaper_fallback: StrictBool = False
    """Over budget: serve from a cheaper provider of the same model instead of refusing."""

    @model_validator(mode="after")
    def _patterns_compile(self) -> Self:
        for name, pattern in self.pii_patterns.items():
            if not re.fullmatch(r"[a-z][a-z0-9_]{0,31}", name):
                raise EntryError(
                    f"pii_patterns.{name}", "a kind name is lower-case letters, digits, _"
                )
            try:
                re.compile(pattern)
            except re.error as error:
                raise EntryError(
                    f"pii_patterns.{name}", f"not a valid regular expression ({error})"
                ) from None
        return self


@dataclass(frozen=True, slots=True, config=_FORBID)
class RoutingWeights:
    cost: NonNegative = 0.4
    latency: NonNegative = 0.3
    quality: NonNegative = 0.3

    @model_validator(mode="after")
    def _one_counts(self) -> Self:
        if self.cost + self.latency + self.quality <= 0:
            raise ValueError("at least one weight must be > 0")
        return self


@dataclass(frozen=True, slots=True, config=_FORBID)
class RoutingConfig:
    weights: RoutingWeights = RoutingWeights()
    reliability_floor: Share = 0.5
    """Providers whose recent success ratio is below this are used only when nothing else is."""
    reliability_half_life_s: Positive = 60.0
    """The success ratio forgets failures with this half-life (seconds), calls or no calls, so a
    provider ranked last for a bad spell is tried again once the spell is long enough ago.
    """
    tie_epsilon: Share = 0.05
    """Scores closer than this are a tie, broken by the fewest requests in flight (load spread)."""
    ewma_alpha: Annotated[StrictFloat, Field(gt=0, le=1)] = 0.2
    """Smoothing factor of the latency and success moving averages (weight of the newest sample)."""
    max_attempts: PositiveInt = 4
    backoff_base_s: NonNegative = 0.02
    backoff_max_s: NonNegative = 1.0
    default_deadline_s: Positive = 30.0
    """Deadline applied when a caller sets none, in seconds."""
    max_texts_per_call: PositiveInt = 2048
    """Upper bound on texts in one Embed call."""


@dataclass(frozen=True, slots=True, config=_FORBID)
class BreakerConfig:
    failure_threshold: PositiveInt = 5
    failure_rate_threshold: Annotated[StrictFloat, Field(gt=0, le=1)] = 0.5
    """Opens also when the failure ratio over the last `window_s` seconds exceeds this, once at
    least `min_calls_in_window` calls were seen (so one failure of two calls does not open it).
    """
    window_s: Positive = 10.0
    min_calls_in_window: PositiveInt = 10
    open_s: NonNegative = 30.0
    half_open_max_calls: PositiveInt = 3
    success_threshold: PositiveInt = 3

    @model_validator(mode="after")
    def _half_open_can_close(self) -> Self:
        if self.success_threshold > self.half_open_max_calls:
            raise EntryError(
                "success_threshold",
                f"must be <= half_open_max_calls ({self.half_open_max_calls}), or a half-open "
                "breaker could never close",
            )
        return self


@dataclass(frozen=True, slots=True, config=_FORBID)
class CacheConfig:
    enabled: StrictBool = True
    redis_url: Annotated[Text, Field(pattern=r"^(redis|rediss|unix)://")] | None = None
    """None: no Redis, the in-process LRU only."""
    ttl_s: PositiveInt = 900
    lru_size: Annotated[StrictInt, Field(ge=0)] = 10_000
    timeout_s: Positive = 0.05
    """Every Redis command gives up after this long and the request carries on without the cache."""
    retry_interval_s: NonNegative = 1.0
    """After a Redis failure, the cache is skipped for this long before it is tried again."""
    key_prefix: Text = "ragserve:emb:v1"


@dataclass(frozen=True, slots=True, config=_FORBID)
class RouterConfig:
    models: Annotated[tuple[ModelConfig, ...], Field(min_length=1)]
    providers: tuple[ProviderConfig, ...]
    tenants: tuple[TenantConfig, ...] = ()
    routing: RoutingConfig = RoutingConfig()
    breaker: BreakerConfig = BreakerConfig()
    cache: CacheConfig = CacheConfig()

    def tenant(self, tenant_id: str) -> TenantConfig:
        """The tenant's settings; tenants not in the file get the defaults (no budget, PII off)."""
        found = next((t for t in self.tenants if t.id == tenant_id), None)
        return found if found is not None else TenantConfig(id=tenant_id)


ROUTER_CONFIG: Final = TypeAdapter(RouterConfig)


def _check_references(config: RouterConfig) -> None:
    """The file's invariants across entries. Not a validator of RouterConfig: code (tests) may
    build a partial config, e.g. a model no provider serves yet."""
    for key, ids in (
        ("models", [m.id for m in config.models]),
        ("providers", [p.id for p in config.providers]),
        ("tenants", [t.id for t in config.tenants]),
    ):
        for index, entry_id in enumerate(ids):
            first = ids.index(entry_id)
            if first != index:
                raise ConfigError(
                    f"{key}[{index}].id: duplicate {key[:-1]} id {entry_id!r} (first at {key}[{first}])"
                )
    model_ids = {m.id for m in config.models}
    for index, provider in enumerate(config.providers):
        if provider.model not in model_ids:
            raise ConfigError(
                f"providers[{index}].model: {provider.model!r} is not a configured model "
                f"(known: {', '.join(sorted(model_ids))})"
            )
    for index, model in enumerate(config.models):
        if not any(p.model == model.id for p in config.providers):
            raise ConfigError(f"models[{index}]: model {model.id!r} has no provider")


def parse_config(raw: object) -> RouterConfig:
    """Validate a decoded document (from JSON or TOML) into a :class:`RouterConfig`."""
    try:
        config = ROUTER_CONFIG.validate_python(raw)
    except ValidationError as error:
        path, problem = describe(error.errors()[0])
        raise ConfigError(f"{path}: {problem}" if path else problem) from None
    _check_references(config)
    return config


def load_config(path: str | Path, *, redis_url: str | None = None) -> RouterConfig:
    """Read and validate a providers file (``.json`` or ``.toml``).

    ``redis_url``, when given (from the environment), replaces the file's ``cache.redis_url``.
    """
    file = Path(path)
    try:
        text = file.read_bytes()
    except OSError as error:
        raise ConfigError(f"{file}: cannot read the providers file ({error.strerror})") from None
    try:
        if file.suffix == ".toml":
            raw: object = tomllib.loads(text.decode("utf-8"))
        elif file.suffix == ".json":
            raw = json.loads(text)
        else:
            raise ConfigError(f"{file}: the providers file must end in .json or .toml")
    except (json.JSONDecodeError, tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{file}: not valid {file.suffix[1:].upper()} ({error})") from None
    try:
        config = parse_config(raw)
    except ConfigError as error:
        raise ConfigError(f"{file}: {error}") from None
    # A relative tokenizer path is relative to the providers file, wherever the process runs.
    models = tuple(
        replace(m, tokenizer=file.parent / m.tokenizer)
        if m.tokenizer is not None and not m.tokenizer.is_absolute()
        else m
        for m in config.models
    )
    config = replace(config, models=models)
    if redis_url is not None:
        config = replace(config, cache=replace(config.cache, redis_url=redis_url or None))
    return config
