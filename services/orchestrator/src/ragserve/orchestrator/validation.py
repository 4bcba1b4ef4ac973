"""The limits the orchestrator's proto states, checked before any work.

Every violation is ``InvalidArgument`` naming the field by its path in the request; a
value echoed in a message is capped (a hostile 10 MB id must not come back in a trailer).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ragserve.errors import InvalidArgument
from ragserve.orchestrator.documents import DocumentError, parse_media_type
from ragserve.orchestrator.model import (
    ChunkingOptions,
    DocumentInput,
    IndexedField,
    MetadataType,
)

NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
COLLECTION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
METADATA_KEY = NAME
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

MAX_MODEL_ID = 128
MAX_INDEXED_FIELDS = 16
MAX_DOCUMENT_ID = 256
MAX_CONTENT_BYTES = 8 * 1024 * 1024
MAX_MEDIA_TYPE = 128
MAX_METADATA_KEYS = 64
MAX_METADATA_JSON_BYTES = 64 * 1024
MIN_CHUNK_TOKENS = 16
DEFAULT_CHUNK_TOKENS = 200
DEFAULT_OVERLAP_TOKENS = 40
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 100

DEFAULT_MEDIA_TYPE = "text/plain"


def shown(value: str, limit: int = 64) -> str:
    """``value`` quoted for a message, cut to ``limit`` characters with its length."""
    if len(value) <= limit:
        return repr(value)
    return f"{value[:limit]!r}... ({len(value)} characters)"


def tenant(value: str, field: str = "tenant") -> str:
    if not NAME.fullmatch(value):
        raise InvalidArgument(
            field, f"{shown(value)} is not a valid tenant: use 1 to 64 letters, digits, '-' or '_'"
        )
    return value


def collection_name(value: str, field: str) -> str:
    if not COLLECTION_NAME.fullmatch(value):
        raise InvalidArgument(
            field,
            f"{shown(value)} is not a valid collection name: use 1 to 64 letters, digits, '-' "
            "or '_', starting with a letter or a digit",
        )
    return value


def model_id(value: str, field: str = "model") -> str:
    if not value:
        raise InvalidArgument(field, "must name an embedding model")
    if len(value) > MAX_MODEL_ID:
        raise InvalidArgument(field, f"is {len(value)} characters, the limit is {MAX_MODEL_ID}")
    return value


def indexed_fields(fields: Sequence[IndexedField]) -> tuple[IndexedField, ...]:
    if len(fields) > MAX_INDEXED_FIELDS:
        raise InvalidArgument(
            "indexed_metadata", f"{len(fields)} keys, the limit is {MAX_INDEXED_FIELDS}"
        )
    seen: set[str] = set()
    for index, item in enumerate(fields):
        path = f"indexed_metadata[{index}]"
        if not METADATA_KEY.fullmatch(item.key):
            raise InvalidArgument(
                f"{path}.key",
                f"{shown(item.key)} is not a valid metadata key: use 1 to 64 letters, digits, "
                "'-' or '_'",
            )
        if item.key in seen:
            raise InvalidArgument(f"{path}.key", f"{item.key!r} is named twice")
        seen.add(item.key)
    return tuple(fields)


def document_id(value: str, field: str = "document_id") -> str:
    if not value:
        raise InvalidArgument(field, "must not be empty")
    if len(value) > MAX_DOCUMENT_ID:
        raise InvalidArgument(field, f"is {len(value)} characters, the limit is {MAX_DOCUMENT_ID}")
    if _CONTROL.search(value):
        raise InvalidArgument(field, f"{shown(value)} contains control characters")
    return value


def media_type(value: str, field: str = "document.media_type") -> tuple[str, str]:
    """(bare media type, charset) of a supported type; text/plain when empty. Aliases
    (text/x-markdown, ...) map to their type; an unknown charset is refused."""
    if len(value) > MAX_MEDIA_TYPE:
        raise InvalidArgument(field, f"is {len(value)} characters, the limit is {MAX_MEDIA_TYPE}")
    try:
        return parse_media_type(value.strip() or DEFAULT_MEDIA_TYPE)
    except DocumentError as error:
        raise InvalidArgument(field, error.reason) from None


def chunking(options: ChunkingOptions, model_max_tokens: int) -> tuple[int, int]:
    """(max_tokens, overlap_tokens) with the defaults applied, checked against the model."""
    limit = max(model_max_tokens, MIN_CHUNK_TOKENS)
    max_tokens = options.max_tokens or min(DEFAULT_CHUNK_TOKENS, limit)
    if not MIN_CHUNK_TOKENS <= max_tokens <= limit:
        raise InvalidArgument(
            "config.chunking.max_tokens",
            f"must be {MIN_CHUNK_TOKENS} to {limit} (the model's token limit), got "
            f"{options.max_tokens}",
        )
    if options.overlap_tokens is None:
        overlap = min(DEFAULT_OVERLAP_TOKENS, max_tokens // 4)
    else:
        overlap = options.overlap_tokens
        if overlap * 2 >= max_tokens:
            raise InvalidArgument(
                "config.chunking.overlap_tokens",
                f"must be less than half of max_tokens ({max_tokens}), got {overlap}",
            )
    return max_tokens, overlap


def _finite(value: Any, path: str) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidArgument(path, f"{value} is not a finite number")
    if isinstance(value, Mapping):
        for key, item in value.items():
            _finite(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _finite(item, f"{path}[{index}]")


def _typed(value: Any, kind: MetadataType) -> bool:
    if kind is MetadataType.KEYWORD:
        return isinstance(value, str)
    if kind is MetadataType.BOOL:
        return isinstance(value, bool)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return kind is MetadataType.FLOAT or float(value).is_integer()


def metadata(
    values: Mapping[str, Any], indexed: Sequence[IndexedField], field: str = "document.metadata"
) -> dict[str, Any]:
    """The metadata as stored: indexed integers as ints (so the integer index sees them)."""
    if len(values) > MAX_METADATA_KEYS:
        raise InvalidArgument(field, f"{len(values)} keys, the limit is {MAX_METADATA_KEYS}")
    for key, value in values.items():
        if not METADATA_KEY.fullmatch(key):
            raise InvalidArgument(
                f"{field}.{key[:64]}",
                "is not a valid metadata key: use 1 to 64 letters, digits, '-' or '_'",
            )
        _finite(value, f"{field}.{key}")
    size = len(json.dumps(values, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
    if size > MAX_METADATA_JSON_BYTES:
        raise InvalidArgument(
            field, f"is {size} bytes as JSON, the limit is {MAX_METADATA_JSON_BYTES}"
        )
    stored = dict(values)
    for item in indexed:
        if item.key not in values:
            continue
        value = values[item.key]
        if not _typed(value, item.type):
            raise InvalidArgument(
                f"{field}.{item.key}",
                f"is indexed as {item.type.value}, got {type(value).__name__} {shown(str(value))}",
            )
        if item.type is MetadataType.INTEGER:
            stored[item.key] = int(value)
    return stored


def document(
    doc: DocumentInput | None, indexed: Sequence[IndexedField]
) -> tuple[tuple[str, str], dict[str, Any]]:
    """((media type, charset), metadata as stored) of a valid document."""
    if doc is None:
        raise InvalidArgument("document", "is required")
    document_id(doc.id, "document.id")
    kind = media_type(doc.media_type)
    if not doc.has_content:
        raise InvalidArgument("document.content", "is required (text or data)")
    if len(doc.content) > MAX_CONTENT_BYTES:
        raise InvalidArgument(
            "document.content",
            f"is {len(doc.content)} bytes, the limit is {MAX_CONTENT_BYTES}",
        )
    return kind, metadata(doc.metadata, indexed)


def page_size(page_size: int) -> int:
    """Documents per ListDocuments page (the page token is read by ``manifests``)."""
    if page_size > MAX_PAGE_SIZE:
        raise InvalidArgument("page_size", f"must be 0 to {MAX_PAGE_SIZE}, got {page_size}")
    return page_size or DEFAULT_PAGE_SIZE
