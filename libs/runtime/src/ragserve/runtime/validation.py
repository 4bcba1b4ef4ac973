"""Pydantic validation errors as one line that names the entry at fault.

Settings and config files are pydantic models; when one does not validate, start-up stops with
``<entry path>: <problem>``, e.g. ``models[1].providers[0].weight: input should be greater than
or equal to 0, got -1``. The problem is pydantic's own wording, with the value the author wrote;
a cross-field check raises :class:`EntryError` to name the entry it is about.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from pydantic import ValidationError
from pydantic_core import ErrorDetails

# Echoed values are capped: a config entry may be long, and messages go to logs and clients.
_SHOW_LIMIT = 64

# Where pydantic's wording speaks Python rather than JSON/TOML, say it the author's way.
_PROBLEMS = {
    "missing": "is required",
    "extra_forbidden": "is not a known field",
    "unexpected_keyword_argument": "is not a known field",
    "tuple_type": "must be a list",
    "list_type": "must be a list",
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "dataclass_type": "must be an object",
}


class EntryError(ValueError):
    """A problem a validator found with ``entry`` (a path relative to the object it validates,
    e.g. ``inputs[1].name``), so the message names that entry rather than the whole object."""

    def __init__(self, entry: str, problem: str) -> None:
        super().__init__(problem)
        self.entry = entry
        self.problem = problem


def entry_path(location: Sequence[int | str]) -> str:
    """``("models", 1, "weight")`` → ``models[1].weight``."""
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path


def join_path(base: str, entry: str) -> str:
    if not base or not entry:
        return base or entry
    return base + entry if entry.startswith("[") else f"{base}.{entry}"


def show(value: object) -> str:
    """A value as the author wrote it (JSON), capped so a message stays short."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    if len(text) > _SHOW_LIMIT:
        return f"{text[:_SHOW_LIMIT]}… ({len(text)} characters)"
    return text


def describe(detail: ErrorDetails) -> tuple[str, str]:
    """(entry path, problem) of one pydantic error."""
    path = entry_path(detail["loc"])
    cause = detail.get("ctx", {}).get("error")
    if isinstance(cause, EntryError):
        return join_path(path, cause.entry), cause.problem
    if isinstance(cause, ValueError | AssertionError):
        return path, str(cause)
    problem = _PROBLEMS.get(detail["type"])
    if detail["type"] == "too_short":
        least = detail.get("ctx", {}).get("min_length", 1)
        problem = "must not be empty" if least == 1 else f"must have at least {least} entries"
    if problem is None:
        message = detail["msg"]
        problem = f"{message[:1].lower()}{message[1:]}, got {show(detail['input'])}"
    elif detail["type"] not in ("missing", "extra_forbidden", "unexpected_keyword_argument"):
        problem += f", got {show(detail['input'])}"
    return path, problem


def first_problem(error: ValidationError) -> tuple[str, str]:
    """The first error's (entry path, problem): one fix at a time, as a compiler would."""
    return describe(error.errors()[0])
