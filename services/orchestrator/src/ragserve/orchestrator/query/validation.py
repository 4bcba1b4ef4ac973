"""The Query limits the orchestrator's proto states, checked before any work.

Each violation is InvalidArgument naming the field by its path in the request, with
echoed values capped."""

from __future__ import annotations

import math
import re
from typing import Any

from ragserve.api.common.v1 import common_pb2
from ragserve.errors import InvalidArgument
from ragserve.orchestrator.validation import collection_name, shown, tenant

# Query checks tenants and collection names as every other RPC does (re-exported for convert).
__all__ = ["shown", "tenant"]

# A metadata key, or a dotted path into nested metadata.
METADATA_PATH = re.compile(r"[A-Za-z0-9_-]{1,64}(?:\.[A-Za-z0-9_-]{1,64}){0,3}")
# Where the document's metadata sits in a chunk's payload (the ingest side's layout).
METADATA_PREFIX = "metadata."

MAX_COLLECTIONS = 16
MAX_QUERY_CHARS = 8192
MAX_TOP_K = 100
DEFAULT_TOP_K = 5
MAX_OFFSET = 10_000
MAX_CANDIDATES = 1000
CANDIDATES_PER_HIT = 4
MAX_ANSWER_TOKENS = 4096
DEFAULT_ANSWER_TOKENS = 512
MAX_CONTEXT_CHUNKS = 20
DEFAULT_CONTEXT_CHUNKS = 5
MAX_FILTER_CONDITIONS = 64
MAX_FILTER_DEPTH = 4


def collections(values: list[str]) -> tuple[str, ...]:
    if not values:
        raise InvalidArgument("collections", "name at least one collection")
    if len(values) > MAX_COLLECTIONS:
        raise InvalidArgument(
            "collections", f"{len(values)} collections, the limit is {MAX_COLLECTIONS}"
        )
    seen: set[str] = set()
    for index, name in enumerate(values):
        field = f"collections[{index}]"
        collection_name(name, field)
        if name in seen:
            raise InvalidArgument(field, f"{name!r} is named twice")
        seen.add(name)
    return tuple(values)


def query_text(value: str) -> str:
    if not value.strip():
        raise InvalidArgument("query", "must not be empty")
    if len(value) > MAX_QUERY_CHARS:
        raise InvalidArgument(
            "query", f"is {len(value)} characters, the limit is {MAX_QUERY_CHARS}"
        )
    return value


def bounded(field: str, value: int, low: int, high: int, default: int | None = None) -> int:
    """``value`` within [low, high]; 0 means ``default`` when one is given."""
    if value == 0 and default is not None:
        return default
    if not low <= value <= high:
        raise InvalidArgument(field, f"must be {low} to {high}, got {value}")
    return value


def unit_interval(field: str, value: float, low: float = 0.0) -> float:
    if not (math.isfinite(value) and low <= value <= 1.0):
        raise InvalidArgument(field, f"must be {low:g} to 1, got {value}")
    return value


def metadata_filter(message: Any) -> common_pb2.Filter:
    """The client's filter on document metadata keys, as a filter on chunk payload paths.

    Checks the proto's limits (conditions in all, nesting depth, key names, ranges) and
    rewrites each key ``lang`` to ``metadata.lang``; the original is left untouched."""
    rewritten = common_pb2.Filter()
    rewritten.CopyFrom(message)
    count = _rewrite(rewritten, "filter", 1)
    if count > MAX_FILTER_CONDITIONS:
        raise InvalidArgument("filter", f"{count} conditions, the limit is {MAX_FILTER_CONDITIONS}")
    return rewritten


def _rewrite(filter: Any, path: str, depth: int) -> int:
    if depth > MAX_FILTER_DEPTH:
        raise InvalidArgument(path, f"is nested deeper than {MAX_FILTER_DEPTH} levels")
    count = 0
    for clause in ("must", "should", "must_not"):
        for index, condition in enumerate(getattr(filter, clause)):
            field = f"{path}.{clause}[{index}]"
            count += 1
            kind = condition.WhichOneof("condition")
            if kind is None:
                raise InvalidArgument(field, "set match, match_any, range or nested")
            if kind == "nested":
                count += _rewrite(condition.nested, f"{field}.nested", depth + 1)
                continue
            if not METADATA_PATH.fullmatch(condition.key):
                raise InvalidArgument(
                    f"{field}.key",
                    f"{shown(condition.key)} is not a metadata key: use 1 to 64 letters, "
                    "digits, '-' or '_' (dots reach nested keys)",
                )
            condition.key = METADATA_PREFIX + condition.key
            if kind == "match" and condition.match.WhichOneof("value") is None:
                raise InvalidArgument(f"{field}.match", "set keyword, integer or boolean")
            if kind == "match_any":
                any_of = condition.match_any
                if bool(any_of.keywords) == bool(any_of.integers):
                    raise InvalidArgument(
                        f"{field}.match_any", "set either keywords or integers (not both)"
                    )
            if kind == "range":
                bounds = [
                    getattr(condition.range, b)
                    for b in ("gt", "gte", "lt", "lte")
                    if condition.range.HasField(b)
                ]
                if not bounds:
                    raise InvalidArgument(f"{field}.range", "set at least one bound")
                if not all(math.isfinite(b) for b in bounds):
                    raise InvalidArgument(f"{field}.range", "bounds must be finite numbers")
    return count
