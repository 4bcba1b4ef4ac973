"""Typed settings from environment variables.

Every service reads ``RAGSERVE_<SERVICE>_<SETTING>``: a frozen dataclass names
the settings, its field types say how to parse them, and its defaults apply
when a variable is unset. A value that does not parse stops start-up with a
:class:`SettingsError` naming the variable, the value and what was expected.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


def env_prefix(service: str) -> str:
    """``embedding_router`` → ``RAGSERVE_EMBEDDING_ROUTER_``."""
    return f"RAGSERVE_{service.upper()}_"


def _parse(variable: str, raw: str, annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if raw == "":
            return None
        return _parse(variable, raw, members[0])
    if origin is tuple:
        (item_type, *_rest) = typing.get_args(annotation)
        return tuple(_parse(variable, part.strip(), item_type) for part in raw.split(",") if part)
    try:
        if annotation is bool:
            lowered = raw.strip().lower()
            if lowered in _TRUE:
                return True
            if lowered in _FALSE:
                return False
            raise ValueError("expected true/false")
        if annotation is int:
            return int(raw)
        if annotation is float:
            return float(raw)
        if annotation is Path:
            return Path(raw).expanduser()
        if annotation is str:
            return raw
    except ValueError as error:
        expected = getattr(annotation, "__name__", str(annotation))
        raise SettingsError(f"{variable}={raw!r} is not a valid {expected}: {error}") from None
    raise SettingsError(f"{variable}: unsupported setting type {annotation!r}")


def load_settings(cls: type[T], service: str, environ: Mapping[str, str] | None = None) -> T:
    """Build ``cls`` (a dataclass) from ``RAGSERVE_<SERVICE>_<FIELD>`` variables.

    Fields without a variable keep their defaults; a field without a default
    must be set. ``__post_init__`` validation errors are re-raised as
    SettingsError so start-up fails with one clear line.
    """
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    env = os.environ if environ is None else environ
    prefix = env_prefix(service)
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for field in dataclasses.fields(cls):
        variable = prefix + field.name.upper()
        if variable in env:
            values[field.name] = _parse(variable, env[variable], hints[field.name])
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise SettingsError(f"{variable} must be set")
    try:
        return cls(**values)
    except (ValueError, TypeError) as error:
        if isinstance(error, SettingsError):
            raise
        raise SettingsError(f"{prefix}*: {error}") from None


def require(condition: bool, variable: str, message: str) -> None:
    """Validation helper for ``__post_init__``: raise SettingsError naming the variable."""
    if not condition:
        raise SettingsError(f"{variable}: {message}")


@dataclasses.dataclass(frozen=True)
class ServerSettings:
    """What every service's server needs; read with the service's prefix.

    ``port``/``metrics_port`` 0 means pick a free port (it is logged).
    """

    port: int
    metrics_port: int
    host: str = "[::]"
    metrics_host: str = "0.0.0.0"
    # Seconds in-flight RPCs get to finish after SIGTERM before they are cancelled.
    grace_period_s: float = 10.0
    # Largest request or response message, in bytes.
    max_message_bytes: int = 64 * 1024 * 1024
    log_level: str = "INFO"

    def __post_init__(self) -> None:
        require(0 <= self.port <= 65535, "port", f"must be 0..65535, got {self.port}")
        require(
            0 <= self.metrics_port <= 65535,
            "metrics_port",
            f"must be 0..65535, got {self.metrics_port}",
        )
        require(self.grace_period_s >= 0, "grace_period_s", "must be >= 0")
        require(self.max_message_bytes > 0, "max_message_bytes", "must be > 0")


def load_server_settings(
    service: str,
    default_port: int,
    default_metrics_port: int,
    environ: Mapping[str, str] | None = None,
) -> ServerSettings:
    """ServerSettings for ``service`` with its default ports from the blueprint."""
    env = dict(os.environ if environ is None else environ)
    prefix = env_prefix(service)
    env.setdefault(prefix + "PORT", str(default_port))
    env.setdefault(prefix + "METRICS_PORT", str(default_metrics_port))
    return load_settings(ServerSettings, service, env)


def service_address(
    service: str, default_port: int, environ: Mapping[str, str] | None = None
) -> str:
    """``RAGSERVE_<SERVICE>_ADDR``, default ``localhost:<port>``."""
    env = os.environ if environ is None else environ
    return env.get(env_prefix(service) + "ADDR", f"localhost:{default_port}")
