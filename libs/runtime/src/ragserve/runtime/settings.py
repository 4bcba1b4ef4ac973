"""Typed settings from environment variables.

Every service reads ``RAGSERVE_<SERVICE>_<SETTING>`` into a ``pydantic_settings.BaseSettings``
class whose field types and bounds say how to parse and check them. :func:`load_settings`
stops start-up with a :class:`SettingsError` naming the variable, the problem and the value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BeforeValidator, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from ragserve.runtime.event_loop import SUITE_VARIABLE, EventLoop
from ragserve.runtime.validation import describe

S = TypeVar("S", bound=BaseSettings)

Port = Annotated[int, Field(ge=0, le=65535)]


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


def env_prefix(service: str) -> str:
    """``embedding_router`` → ``RAGSERVE_EMBEDDING_ROUTER_``."""
    return f"RAGSERVE_{service.upper()}_"


def load_settings(cls: type[S], service: str, environ: Mapping[str, str] | None = None) -> S:
    """``cls`` from ``RAGSERVE_<SERVICE>_<FIELD>`` variables (``os.environ`` by default).

    An unset or empty variable leaves the field's default; a field without one must be set.
    The prefix comes from ``service``, so one class (:class:`ServerSettings`) serves every
    service.
    """
    env = os.environ if environ is None else environ
    prefix = env_prefix(service)
    declared = cls.model_config.get("env_prefix")
    if declared and declared != prefix:
        # Constructed directly, the class would read other variables than the ones loaded here.
        raise TypeError(f"{cls.__name__} declares env_prefix {declared!r}, not {prefix!r}")
    values = {
        name: env[prefix + name.upper()]
        for name in cls.model_fields
        if env.get(prefix + name.upper(), "") != ""
    }
    try:
        # model_validate, not cls(**values): the values above are all the environment it sees.
        return cls.model_validate(values)
    except ValidationError as error:
        field, problem = describe(error.errors()[0])
        variable = prefix + field.upper() if field else prefix + "*"
        if error.errors()[0]["type"] == "missing":
            raise SettingsError(f"{variable} must be set") from None
        raise SettingsError(f"{variable}: {problem}") from None


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


# Python logging's level names, in any case ("info" is INFO).
LogLevel = Annotated[
    Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], BeforeValidator(_upper)
]


class ServerSettings(BaseSettings):
    """What every service's server needs; read with the service's prefix.

    ``port``/``metrics_port`` 0 means pick a free port (it is logged).
    """

    model_config = SettingsConfigDict(frozen=True, extra="ignore")

    port: Port
    metrics_port: Port
    host: str = "[::]"
    metrics_host: str = "0.0.0.0"
    # Seconds in-flight RPCs get to finish after SIGTERM before they are cancelled.
    grace_period_s: Annotated[float, Field(ge=0)] = 10.0
    # Largest request or response message, in bytes.
    max_message_bytes: Annotated[int, Field(gt=0)] = 64 * 1024 * 1024
    log_level: LogLevel = "INFO"
    # The asyncio event loop: "uvloop" (faster per RPC) or "asyncio" (the standard loop, to
    # rule uvloop out). Unset here, RAGSERVE_EVENT_LOOP sets it for every service.
    event_loop: EventLoop = "uvloop"


def load_server_settings(
    service: str,
    default_port: int,
    default_metrics_port: int,
    environ: Mapping[str, str] | None = None,
) -> ServerSettings:
    """ServerSettings for ``service`` with its default ports (the service's settings.py).

    ``RAGSERVE_EVENT_LOOP`` is the suite-wide default of ``RAGSERVE_<SERVICE>_EVENT_LOOP``
    (one switch for a whole suite's processes); a bad value there is reported under its own
    name.
    """
    env = dict(os.environ if environ is None else environ)
    prefix = env_prefix(service)
    env.setdefault(prefix + "PORT", str(default_port))
    env.setdefault(prefix + "METRICS_PORT", str(default_metrics_port))
    event_loop = prefix + "EVENT_LOOP"
    from_suite = env.get(event_loop, "") == "" and env.get(SUITE_VARIABLE, "") != ""
    if from_suite:
        env[event_loop] = env[SUITE_VARIABLE]
    try:
        return load_settings(ServerSettings, service, env)
    except SettingsError as error:
        message = str(error)
        if from_suite and message.startswith(event_loop + ":"):
            raise SettingsError(SUITE_VARIABLE + message[len(event_loop) :]) from None
        raise


def service_address(
    service: str, default_port: int, environ: Mapping[str, str] | None = None
) -> str:
    """``RAGSERVE_<SERVICE>_ADDR``, default ``localhost:<port>``."""
    env = os.environ if environ is None else environ
    return env.get(env_prefix(service) + "ADDR", f"localhost:{default_port}")
