"""The router's configuration: models, providers, tenants, routing, breaker and cache settings.

Loaded once at start-up from a JSON or TOML file (chosen by the file's suffix). Validation is
strict: an unknown key, a wrong type or an out-of-range value raises :class:`ConfigError` whose
message names the entry by its path, e.g. ``providers[2].price_per_1k_tokens: must be >= 0``.

Invariants of a loaded :class:`RouterConfig`:
- model ids, provider ids and tenant ids are unique;
- every provider serves a configured model, and every model has at least one provider;
- routing weights are non-negative and sum to a positive number.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """A configuration entry is invalid; ``str(error)`` names the entry and the rule it broke."""


class ProviderKind(StrEnum):
    INFERENCE = "inference"
    OPENAI = "openai"


class PiiPolicy(StrEnum):
    OFF = "off"
    REDACT = "redact"
    REFUSE = "refuse"


@dataclass(frozen=True, slots=True)
class ModelConfig:
    """A vector space. Vectors from two different models are never interchangeable."""

    id: str
    version: str
    dimension: int
    normalized: bool = True
    max_tokens: int = 256
    # The model's tokenizer (a Hugging Face ``tokenizer.json``): tokens are counted with it
    # (pricing, ``max_tokens`` under truncation 'refuse'); None: estimated from the words.
    tokenizer: Path | None = None


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    """One way of computing a model's vectors. ``external`` providers are subject to PII policy."""

    id: str
    model: str
    kind: ProviderKind
    endpoints: tuple[str, ...]
    price_per_1k_tokens: float = 0.0
    max_batch: int = 32
    max_concurrency: int = 4
    # Maximum provider calls (batches) per second; None = unlimited.
    rate_limit_rps: float | None = None
    # A prior on quality in [0, 1], higher is better; used by the router's score.
    quality: float = 1.0
    external: bool = False
    # Name of the model at the provider: the inference service's model, or the OpenAI `model`.
    remote_model: str = ""
    # Inference kind only: the tensor names of the text model.
    input_name: str = "TEXT"
    output_name: str = "EMBEDDING"
    # OpenAI kind only: the name of an environment variable holding the API key.
    api_key_env: str | None = None
    # How long the batcher waits for more texts after the first one arrives, in seconds. 0: a
    # lone text goes at once; concurrent texts still share a call whenever one is running.
    max_batch_wait_s: float = 0.0


@dataclass(frozen=True, slots=True)
class TenantConfig:
    id: str
    # Spend allowed per UTC day, in the same currency as provider prices; None = unlimited.
    daily_budget: float | None = None
    pii_policy: PiiPolicy = PiiPolicy.OFF
    # Extra PII patterns: kind name -> regular expression.
    pii_patterns: Mapping[str, str] = field(default_factory=dict)
    # Over budget: serve from a cheaper provider of the same model instead of refusing.
    allow_cheaper_fallback: bool = False


@dataclass(frozen=True, slots=True)
class RoutingWeights:
    cost: float = 0.4
    latency: float = 0.3
    quality: float = 0.3


@dataclass(frozen=True, slots=True)
class RoutingConfig:
    weights: RoutingWeights = field(default_factory=RoutingWeights)
    # Providers whose recent success ratio is below this are used only when nothing else is.
    reliability_floor: float = 0.5
    # The success ratio forgets failures with this half-life (seconds), calls or no calls, so a
    # provider ranked last for a bad spell is tried again once the spell is long enough ago.
    reliability_half_life_s: float = 60.0
    # Scores closer than this are a tie, broken by the fewest requests in flight (load spread).
    tie_epsilon: float = 0.05
    # Smoothing factor of the latency and success moving averages (weight of the newest sample).
    ewma_alpha: float = 0.2
    max_attempts: int = 4
    backoff_base_s: float = 0.02
    backoff_max_s: float = 1.0
    # Deadline applied when a caller sets none, in seconds.
    default_deadline_s: float = 30.0
    # Upper bound on texts in one Embed call.
    max_texts_per_call: int = 2048


@dataclass(frozen=True, slots=True)
class BreakerConfig:
    failure_threshold: int = 5
    # Opens also when the failure ratio over the last `window_s` seconds exceeds this, once at
    # least `min_calls_in_window` calls were seen (so one failure of two calls does not open it).
    failure_rate_threshold: float = 0.5
    window_s: float = 10.0
    min_calls_in_window: int = 10
    open_s: float = 30.0
    half_open_max_calls: int = 3
    success_threshold: int = 3


@dataclass(frozen=True, slots=True)
class CacheConfig:
    enabled: bool = True
    # None: no Redis, the in-process LRU only.
    redis_url: str | None = None
    ttl_s: int = 900
    lru_size: int = 10_000
    # Every Redis command gives up after this long and the request carries on without the cache.
    timeout_s: float = 0.05
    # After a Redis failure, the cache is skipped for this long before it is tried again.
    retry_interval_s: float = 1.0
    key_prefix: str = "ragserve:emb:v1"


@dataclass(frozen=True, slots=True)
class RouterConfig:
    models: tuple[ModelConfig, ...]
    providers: tuple[ProviderConfig, ...]
    tenants: tuple[TenantConfig, ...] = ()
    routing: RoutingConfig = field(default_factory=RoutingConfig)
    breaker: BreakerConfig = field(default_factory=BreakerConfig)
    cache: CacheConfig = field(default_factory=CacheConfig)

    def tenant(self, tenant_id: str) -> TenantConfig:
        """The tenant's settings; tenants not in the file get the defaults (no budget, PII off)."""
        found = next((t for t in self.tenants if t.id == tenant_id), None)
        return found if found is not None else TenantConfig(id=tenant_id)


# ----------------------------------------------------------------------------- parsing

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")


class _Entry:
    """A mapping being read, which remembers its path for error messages and rejects leftovers."""

    def __init__(self, path: str, raw: object) -> None:
        if not isinstance(raw, Mapping):
            raise ConfigError(f"{path}: must be an object, got {type(raw).__name__}")
        self.path = path
        self.raw: Mapping[str, Any] = raw
        self.seen: set[str] = set()

    def _where(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def _get(self, key: str, required: bool) -> Any:
        self.seen.add(key)
        if key not in self.raw:
            if required:
                raise ConfigError(f"{self._where(key)}: is required")
            return None
        return self.raw[key]

    def string(self, key: str, default: str | None = None, *, ident: bool = False) -> str:
        value = self._get(key, default is None)
        if value is None:
            assert default is not None
            return default
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{self._where(key)}: must be a non-empty string")
        if ident and not _ID.match(value):
            raise ConfigError(
                f"{self._where(key)}: {value!r} is not a valid id "
                "(letters, digits, '.', '_', ':', '-'; at most 128)"
            )
        return value

    def optional_string(self, key: str) -> str | None:
        value = self._get(key, False)
        if value is None:
            return None
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{self._where(key)}: must be a non-empty string")
        return value

    def number(
        self,
        key: str,
        default: float | None,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
        exclusive_minimum: bool = False,
        optional: bool = False,
    ) -> float | None:
        value = self._get(key, default is None and not optional)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{self._where(key)}: must be a number")
        if minimum is not None:
            if exclusive_minimum and value <= minimum:
                raise ConfigError(f"{self._where(key)}: must be > {minimum:g}")
            if not exclusive_minimum and value < minimum:
                raise ConfigError(f"{self._where(key)}: must be >= {minimum:g}")
        if maximum is not None and value > maximum:
            raise ConfigError(f"{self._where(key)}: must be <= {maximum:g}")
        return float(value)

    def real(self, key: str, default: float, **bounds: Any) -> float:
        value = self.number(key, default, **bounds)
        assert value is not None
        return value

    def integer(self, key: str, default: int | None, *, minimum: int = 0) -> int:
        value = self._get(key, default is None)
        if value is None:
            assert default is not None
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{self._where(key)}: must be an integer")
        if value < minimum:
            raise ConfigError(f"{self._where(key)}: must be >= {minimum}")
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self._get(key, False)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise ConfigError(f"{self._where(key)}: must be true or false")
        return value

    def entries(self, key: str, *, required: bool) -> list[_Entry]:
        value = self._get(key, required)
        if value is None:
            return []
        if not isinstance(value, list):
            raise ConfigError(f"{self._where(key)}: must be a list")
        return [_Entry(f"{self._where(key)}[{i}]", item) for i, item in enumerate(value)]

    def entry(self, key: str) -> _Entry:
        value = self._get(key, False)
        return _Entry(self._where(key), {} if value is None else value)

    def string_list(self, key: str) -> tuple[str, ...]:
        value = self._get(key, True)
        if not isinstance(value, list) or not value:
            raise ConfigError(f"{self._where(key)}: must be a non-empty list of strings")
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item:
                raise ConfigError(f"{self._where(key)}[{i}]: must be a non-empty string")
        return tuple(value)

    def string_map(self, key: str) -> dict[str, str]:
        value = self._get(key, False)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise ConfigError(f"{self._where(key)}: must be an object of name -> string")
        result: dict[str, str] = {}
        for name, item in value.items():
            if not isinstance(item, str) or not item:
                raise ConfigError(f"{self._where(key)}.{name}: must be a non-empty string")
            result[str(name)] = item
        return result

    def done(self) -> None:
        unknown = sorted(set(self.raw) - self.seen)
        if unknown:
            raise ConfigError(f"{self._where(unknown[0])}: unknown setting")


def _model(entry: _Entry) -> ModelConfig:
    model = ModelConfig(
        id=entry.string("id", ident=True),
        version=entry.string("version", "1"),
        dimension=entry.integer("dimension", None, minimum=1),
        normalized=entry.boolean("normalized", True),
        max_tokens=entry.integer("max_tokens", 256, minimum=1),
        tokenizer=_optional_path(entry.optional_string("tokenizer")),
    )
    entry.done()
    return model


def _optional_path(value: str | None) -> Path | None:
    return Path(value) if value is not None else None


def _provider(entry: _Entry) -> ProviderConfig:
    provider_id = entry.string("id", ident=True)
    model = entry.string("model")
    kind_name = entry.string("kind")
    try:
        kind = ProviderKind(kind_name)
    except ValueError:
        raise ConfigError(
            f"{entry.path}.kind: {kind_name!r} is not one of inference, openai"
        ) from None
    endpoints = entry.string_list("endpoints")
    if kind is ProviderKind.OPENAI:
        for i, url in enumerate(endpoints):
            if not url.startswith(("http://", "https://")):
                raise ConfigError(f"{entry.path}.endpoints[{i}]: must be an http(s) URL")
    provider = ProviderConfig(
        id=provider_id,
        model=model,
        kind=kind,
        endpoints=endpoints,
        price_per_1k_tokens=entry.real("price_per_1k_tokens", 0.0, minimum=0),
        max_batch=entry.integer("max_batch", 32, minimum=1),
        max_concurrency=entry.integer("max_concurrency", 4, minimum=1),
        rate_limit_rps=entry.number(
            "rate_limit_rps", None, minimum=0, exclusive_minimum=True, optional=True
        ),
        quality=entry.real("quality", 1.0, minimum=0, maximum=1),
        # Anything reached over the OpenAI API is assumed to leave our network unless told.
        external=entry.boolean("external", kind is ProviderKind.OPENAI),
        remote_model=entry.string("remote_model", model),
        input_name=entry.string("input_name", "TEXT"),
        output_name=entry.string("output_name", "EMBEDDING"),
        api_key_env=entry.optional_string("api_key_env"),
        max_batch_wait_s=entry.real("max_batch_wait_s", 0.0, minimum=0, maximum=1),
    )
    entry.done()
    return provider


def _tenant(entry: _Entry) -> TenantConfig:
    tenant_id = entry.string("id", ident=True)
    budget = entry.number("daily_budget", None, minimum=0, optional=True)
    policy_name = entry.string("pii_policy", "off")
    try:
        policy = PiiPolicy(policy_name)
    except ValueError:
        raise ConfigError(
            f"{entry.path}.pii_policy: {policy_name!r} is not one of off, redact, refuse"
        ) from None
    patterns = entry.string_map("pii_patterns")
    for name, pattern in patterns.items():
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,31}", name):
            raise ConfigError(
                f"{entry.path}.pii_patterns.{name}: a kind name is lower-case letters, digits, _"
            )
        try:
            re.compile(pattern)
        except re.error as error:
            raise ConfigError(
                f"{entry.path}.pii_patterns.{name}: not a valid regular expression ({error})"
            ) from None
    tenant = TenantConfig(
        id=tenant_id,
        daily_budget=budget,
        pii_policy=policy,
        pii_patterns=patterns,
        allow_cheaper_fallback=entry.boolean("allow_cheaper_fallback", False),
    )
    entry.done()
    return tenant


def _routing(entry: _Entry) -> RoutingConfig:
    weights_entry = entry.entry("weights")
    weights = RoutingWeights(
        cost=weights_entry.real("cost", 0.4, minimum=0),
        latency=weights_entry.real("latency", 0.3, minimum=0),
        quality=weights_entry.real("quality", 0.3, minimum=0),
    )
    weights_entry.done()
    if weights.cost + weights.latency + weights.quality <= 0:
        raise ConfigError(f"{weights_entry.path}: at least one weight must be > 0")
    routing = RoutingConfig(
        weights=weights,
        reliability_floor=entry.real("reliability_floor", 0.5, minimum=0, maximum=1),
        reliability_half_life_s=entry.real(
            "reliability_half_life_s", 60.0, minimum=0, exclusive_minimum=True
        ),
        tie_epsilon=entry.real("tie_epsilon", 0.05, minimum=0, maximum=1),
        ewma_alpha=entry.real("ewma_alpha", 0.2, minimum=0, maximum=1, exclusive_minimum=True),
        max_attempts=entry.integer("max_attempts", 4, minimum=1),
        backoff_base_s=entry.real("backoff_base_s", 0.02, minimum=0),
        backoff_max_s=entry.real("backoff_max_s", 1.0, minimum=0),
        default_deadline_s=entry.real(
            "default_deadline_s", 30.0, minimum=0, exclusive_minimum=True
        ),
        max_texts_per_call=entry.integer("max_texts_per_call", 2048, minimum=1),
    )
    entry.done()
    return routing


def _breaker(entry: _Entry) -> BreakerConfig:
    breaker = BreakerConfig(
        failure_threshold=entry.integer("failure_threshold", 5, minimum=1),
        failure_rate_threshold=entry.real(
            "failure_rate_threshold", 0.5, minimum=0, maximum=1, exclusive_minimum=True
        ),
        window_s=entry.real("window_s", 10.0, minimum=0, exclusive_minimum=True),
        min_calls_in_window=entry.integer("min_calls_in_window", 10, minimum=1),
        open_s=entry.real("open_s", 30.0, minimum=0),
        half_open_max_calls=entry.integer("half_open_max_calls", 3, minimum=1),
        success_threshold=entry.integer("success_threshold", 3, minimum=1),
    )
    entry.done()
    if breaker.success_threshold > breaker.half_open_max_calls:
        raise ConfigError(
            f"{entry.path}.success_threshold: must be <= half_open_max_calls "
            f"({breaker.half_open_max_calls}), or a half-open breaker could never close"
        )
    return breaker


def _cache(entry: _Entry) -> CacheConfig:
    cache = CacheConfig(
        enabled=entry.boolean("enabled", True),
        redis_url=entry.optional_string("redis_url"),
        ttl_s=entry.integer("ttl_s", 900, minimum=1),
        lru_size=entry.integer("lru_size", 10_000, minimum=0),
        timeout_s=entry.real("timeout_s", 0.05, minimum=0, exclusive_minimum=True),
        retry_interval_s=entry.real("retry_interval_s", 1.0, minimum=0),
        key_prefix=entry.string("key_prefix", "ragserve:emb:v1"),
    )
    entry.done()
    if cache.redis_url is not None and not cache.redis_url.startswith(
        ("redis://", "rediss://", "unix://")
    ):
        raise ConfigError(f"{entry.path}.redis_url: must start with redis://, rediss:// or unix://")
    return cache


def _unique(ids: list[tuple[str, str]], what: str) -> None:
    seen: dict[str, str] = {}
    for path, item_id in ids:
        if item_id in seen:
            raise ConfigError(
                f"{path}.id: duplicate {what} id {item_id!r} (first at {seen[item_id]})"
            )
        seen[item_id] = path


def parse_config(raw: object) -> RouterConfig:
    """Validate a decoded document (from JSON or TOML) into a :class:`RouterConfig`."""
    root = _Entry("", raw)
    model_entries = root.entries("models", required=True)
    models = [_model(e) for e in model_entries]
    provider_entries = root.entries("providers", required=True)
    providers = [_provider(e) for e in provider_entries]
    tenant_entries = root.entries("tenants", required=False)
    tenants = [_tenant(e) for e in tenant_entries]
    routing = _routing(root.entry("routing"))
    breaker = _breaker(root.entry("breaker"))
    cache = _cache(root.entry("cache"))
    root.done()

    if not models:
        raise ConfigError("models: at least one model is required")
    _unique([(e.path, m.id) for e, m in zip(model_entries, models, strict=True)], "model")
    _unique([(e.path, p.id) for e, p in zip(provider_entries, providers, strict=True)], "provider")
    _unique([(e.path, t.id) for e, t in zip(tenant_entries, tenants, strict=True)], "tenant")
    model_ids = {m.id for m in models}
    for entry, provider in zip(provider_entries, providers, strict=True):
        if provider.model not in model_ids:
            raise ConfigError(
                f"{entry.path}.model: {provider.model!r} is not a configured model "
                f"(known: {', '.join(sorted(model_ids))})"
            )
    for entry, model in zip(model_entries, models, strict=True):
        if not any(p.model == model.id for p in providers):
            raise ConfigError(f"{entry.path}: model {model.id!r} has no provider")
    return RouterConfig(
        models=tuple(models),
        providers=tuple(providers),
        tenants=tuple(tenants),
        routing=routing,
        breaker=breaker,
        cache=cache,
    )


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
