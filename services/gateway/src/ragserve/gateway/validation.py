"""Every limit of the public API, checked before any work is done.

Each check raises :class:`InvalidArgument` naming the field (dotted path, with
indexes) and the limit; echoed values are cut short so an attacker's megabyte
does not come back in the error. The limits are the ones the proto's comments
state; together they keep the largest valid request under the message size limit.
"""

from __future__ import annotations

import re
from typing import Any

from google.protobuf import struct_pb2

from ragserve.api.gateway.v1 import gateway_pb2 as pb
from ragserve.errors import InvalidArgument

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
TENANT = re.compile(r"[A-Za-z0-9_-]{1,64}")
INDEXED_KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")
METADATA_KEY = re.compile(r"[A-Za-z0-9_.-]{1,128}")
KEY_ID = re.compile(r"[0-9a-f]{16}")

MAX_COLLECTIONS_PER_QUERY = 16
MAX_QUERY_CHARS = 8192
MAX_TOP_K = 100
MAX_OFFSET = 1000
MAX_CANDIDATES = 1000
MAX_FILTER_CONDITIONS = 64
MAX_FILTER_DEPTH = 4
MAX_MATCH_ANY = 256
MAX_KEYWORD_CHARS = 1024
MAX_INDEXED_FIELDS = 16
MAX_MODEL_CHARS = 128
MAX_EMBED_TEXTS = 256
MAX_TEXT_CHARS = 16384
MAX_DOCUMENT_ID_CHARS = 256
MAX_DOCUMENT_BYTES = 8 * 1024 * 1024
MAX_METADATA_BYTES = 64 * 1024
MAX_METADATA_DEPTH = 8
MIN_CHUNK_TOKENS = 16
MAX_CHUNK_TOKENS = 8192
MAX_MEDIA_TYPE_CHARS = 128
MAX_DOCUMENTS_PAGE_TOKEN_CHARS = 64
MAX_ANSWER_TOKENS = 4096
MAX_CONTEXT_CHUNKS = 20
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_TOKEN_CHARS = 256
MAX_DESCRIPTION_CHARS = 256
MAX_KEY_TTL_S = 3650 * 86_400
MEDIA_TYPES = ("text/plain", "text/markdown", "text/html", "application/pdf")


def shown(value: str, limit: int = 64) -> str:
    """A value as echoed in an error: quoted, cut at ``limit`` characters."""
    return repr(value if len(value) <= limit else value[:limit] + "…")


def name(field: str, value: str) -> str:
    if not NAME.fullmatch(value):
        raise InvalidArgument(
            field,
            f"{shown(value)} is not a valid name: use 1 to 64 letters, digits, '-' or '_', "
            "starting with a letter or a digit",
        )
    return value


def tenant(field: str, value: str) -> str:
    if not TENANT.fullmatch(value):
        raise InvalidArgument(
            field, f"{shown(value)} is not a valid tenant: use 1 to 64 letters, digits, '-' or '_'"
        )
    return value


def bounded(field: str, value: int | float, low: float, high: float) -> None:
    if not low <= value <= high:
        raise InvalidArgument(field, f"{value} is outside {low:g} to {high:g}")


def page(field_prefix: str, page_size: int, page_token: str) -> int:
    bounded(f"{field_prefix}page_size", page_size, 0, MAX_PAGE_SIZE)
    if len(page_token) > MAX_PAGE_TOKEN_CHARS:
        raise InvalidArgument(
            f"{field_prefix}page_token", f"longer than {MAX_PAGE_TOKEN_CHARS} characters"
        )
    return page_size or DEFAULT_PAGE_SIZE


def model(field: str, value: str, *, required: bool) -> None:
    if required and not value:
        raise InvalidArgument(field, "required")
    if len(value) > MAX_MODEL_CHARS:
        raise InvalidArgument(field, f"longer than {MAX_MODEL_CHARS} characters")


# ------------------------------------------------------------------ collections


def create_collection(request: pb.CreateCollectionRequest) -> None:
    name("name", request.name)
    model("model", request.model, required=False)
    if len(request.indexed_metadata) > MAX_INDEXED_FIELDS:
        raise InvalidArgument(
            "indexed_metadata",
            f"{len(request.indexed_metadata)} fields; at most {MAX_INDEXED_FIELDS}",
        )
    seen: set[str] = set()
    for i, field in enumerate(request.indexed_metadata):
        path = f"indexed_metadata[{i}]"
        if not INDEXED_KEY.fullmatch(field.key):
            raise InvalidArgument(
                f"{path}.key",
                f"{shown(field.key)} is not a top-level metadata key: 1 to 64 letters, digits, "
                "'-', '_'",
            )
        if field.type == pb.METADATA_TYPE_UNSPECIFIED:
            raise InvalidArgument(f"{path}.type", "required: keyword, integer, float or bool")
        if field.type not in pb.MetadataType.values():
            raise InvalidArgument(f"{path}.type", f"unknown type {field.type}")
        if field.key in seen:
            raise InvalidArgument(f"{path}.key", f"{shown(field.key)} is listed twice")
        seen.add(field.key)


def metadata_key(field: str, value: str) -> None:
    if not METADATA_KEY.fullmatch(value):
        raise InvalidArgument(
            field,
            f"{shown(value)} is not a valid metadata key: 1 to 128 letters, digits, '_', '-', '.'",
        )


# ------------------------------------------------------------------ documents


def chunking(field: str, options: pb.ChunkingOptions) -> None:
    """The shape only: the model's own token limit is the orchestrator's to check."""
    if options.max_tokens:
        bounded(f"{field}.max_tokens", options.max_tokens, MIN_CHUNK_TOKENS, MAX_CHUNK_TOKENS)
    if (
        options.HasField("overlap_tokens")
        and options.max_tokens
        and options.overlap_tokens * 2 >= options.max_tokens
    ):
        raise InvalidArgument(
            f"{field}.overlap_tokens",
            f"{options.overlap_tokens} is not below half of max_tokens ({options.max_tokens})",
        )


def ingest_config(config: pb.IngestConfig) -> None:
    name("config.collection", config.collection)
    chunking("config.chunking", config.chunking)


def document_id(field: str, value: str) -> None:
    if not value:
        raise InvalidArgument(field, "required")
    if len(value) > MAX_DOCUMENT_ID_CHARS:
        raise InvalidArgument(field, f"longer than {MAX_DOCUMENT_ID_CHARS} characters")


def document(field: str, doc: pb.Document, previous_sequence: int) -> int:
    """Checks one document of a stream; returns its content size in bytes."""
    if doc.sequence <= previous_sequence:
        raise InvalidArgument(
            f"{field}.sequence",
            f"{doc.sequence} is not above the previous document's {previous_sequence}"
            if previous_sequence
            else "must be 1 or above",
        )
    document_id(f"{field}.id", doc.id)
    kind = doc.WhichOneof("content")
    if kind is None:
        raise InvalidArgument(f"{field}.content", "set text or data")
    size = len(doc.text.encode()) if kind == "text" else len(doc.data)
    if size > MAX_DOCUMENT_BYTES:
        raise InvalidArgument(
            f"{field}.{kind}", f"{size} bytes; at most {MAX_DOCUMENT_BYTES} (8 MiB)"
        )
    if len(doc.media_type) > MAX_MEDIA_TYPE_CHARS:
        raise InvalidArgument(
            f"{field}.media_type", f"longer than {MAX_MEDIA_TYPE_CHARS} characters"
        )
    media_type = doc.media_type.split(";", 1)[0].strip().lower() or "text/plain"
    if media_type not in MEDIA_TYPES:
        raise InvalidArgument(
            f"{field}.media_type", f"{shown(media_type)}; one of {', '.join(MEDIA_TYPES)}"
        )
    if media_type == "application/pdf" and kind != "data":
        raise InvalidArgument(f"{field}.data", "application/pdf content goes in data (bytes)")
    metadata(f"{field}.metadata", doc.metadata)
    return size


def metadata(field: str, value: struct_pb2.Struct) -> None:
    size = value.ByteSize()
    if size > MAX_METADATA_BYTES:
        raise InvalidArgument(field, f"{size} bytes serialized; at most {MAX_METADATA_BYTES}")
    depth = _struct_depth(value)
    if depth > MAX_METADATA_DEPTH:
        raise InvalidArgument(field, f"nested {depth} deep; at most {MAX_METADATA_DEPTH}")


def _struct_depth(value: Any, depth: int = 1) -> int:
    deepest = depth
    children: list[Any] = []
    if isinstance(value, struct_pb2.Struct):
        children = list(value.fields.values())
    elif isinstance(value, struct_pb2.ListValue):
        children = list(value.values)
    for child in children:
        kind = child.WhichOneof("kind")
        if kind == "struct_value":
            deepest = max(deepest, _struct_depth(child.struct_value, depth + 1))
        elif kind == "list_value":
            deepest = max(deepest, _struct_depth(child.list_value, depth + 1))
    return deepest


def delete_document(request: pb.DeleteDocumentRequest) -> None:
    name("collection", request.collection)
    document_id("document_id", request.document_id)


def list_documents(request: pb.ListDocumentsRequest) -> int:
    name("collection", request.collection)
    if len(request.page_token) > MAX_DOCUMENTS_PAGE_TOKEN_CHARS:
        raise InvalidArgument(
            "page_token", f"longer than {MAX_DOCUMENTS_PAGE_TOKEN_CHARS} characters"
        )
    return page("", request.page_size, request.page_token)


# ------------------------------------------------------------------ query and search


def collections(field: str, values: Any) -> None:
    if not values:
        raise InvalidArgument(field, "at least one collection")
    if len(values) > MAX_COLLECTIONS_PER_QUERY:
        raise InvalidArgument(
            field, f"{len(values)} collections; at most {MAX_COLLECTIONS_PER_QUERY}"
        )
    seen: set[str] = set()
    for i, value in enumerate(values):
        name(f"{field}[{i}]", value)
        if value in seen:
            raise InvalidArgument(f"{field}[{i}]", f"{shown(value)} is listed twice")
        seen.add(value)


def query_text(field: str, value: str) -> None:
    if not value.strip():
        raise InvalidArgument(field, "required (not blank)")
    if len(value) > MAX_QUERY_CHARS:
        raise InvalidArgument(field, f"{len(value)} characters; at most {MAX_QUERY_CHARS}")


def search_common(request: pb.QueryRequest | pb.SearchRequest) -> None:
    collections("collections", request.collections)
    query_text("query", request.query)
    bounded("top_k", request.top_k, 0, MAX_TOP_K)
    bounded("offset", request.offset, 0, MAX_OFFSET)
    if request.HasField("score_threshold"):
        bounded("score_threshold", request.score_threshold, -1.0, 1.0)
    if request.HasField("filter"):
        filter_shape("filter", request.filter)


def query(request: pb.QueryRequest) -> None:
    search_common(request)
    top_k = request.top_k or 5
    if request.HasField("diversity"):
        bounded("diversity.diversity", request.diversity.diversity, 0.0, 1.0)
        if request.diversity.candidates:
            bounded("diversity.candidates", request.diversity.candidates, top_k, MAX_CANDIDATES)
    if request.HasField("answer"):
        answer = request.answer
        if answer.generator not in pb.Generator.values():
            raise InvalidArgument("answer.generator", f"unknown generator {answer.generator}")
        bounded("answer.max_answer_tokens", answer.max_answer_tokens, 0, MAX_ANSWER_TOKENS)
        bounded("answer.max_context_chunks", answer.max_context_chunks, 0, MAX_CONTEXT_CHUNKS)


def search(request: pb.SearchRequest) -> None:
    search_common(request)


def filter_shape(field: str, value: pb.Filter) -> None:
    counter = [0]
    _filter(field, value, 1, counter)


def _filter(field: str, value: pb.Filter, depth: int, counter: list[int]) -> None:
    if depth > MAX_FILTER_DEPTH:
        raise InvalidArgument(field, f"nested deeper than {MAX_FILTER_DEPTH} levels")
    for clause in ("must", "should", "must_not"):
        for i, condition in enumerate(getattr(value, clause)):
            counter[0] += 1
            path = f"{field}.{clause}[{i}]"
            if counter[0] > MAX_FILTER_CONDITIONS:
                raise InvalidArgument(path, f"more than {MAX_FILTER_CONDITIONS} conditions in all")
            _condition(path, condition, depth, counter)


def _condition(field: str, condition: pb.Condition, depth: int, counter: list[int]) -> None:
    kind = condition.WhichOneof("condition")
    if kind is None:
        raise InvalidArgument(field, "set match, match_any, range or nested")
    if kind == "nested":
        _filter(f"{field}.nested", condition.nested, depth + 1, counter)
        return
    metadata_key(f"{field}.key", condition.key)
    if kind == "match":
        value_kind = condition.match.WhichOneof("value")
        if value_kind is None:
            raise InvalidArgument(f"{field}.match", "set keyword, integer or boolean")
        if value_kind == "keyword" and len(condition.match.keyword) > MAX_KEYWORD_CHARS:
            raise InvalidArgument(
                f"{field}.match.keyword", f"longer than {MAX_KEYWORD_CHARS} characters"
            )
    elif kind == "match_any":
        keywords, integers = condition.match_any.keywords, condition.match_any.integers
        if bool(keywords) == bool(integers):
            raise InvalidArgument(f"{field}.match_any", "set keywords or integers (one of them)")
        count = len(keywords) or len(integers)
        if count > MAX_MATCH_ANY:
            raise InvalidArgument(f"{field}.match_any", f"{count} values; at most {MAX_MATCH_ANY}")
        for i, keyword in enumerate(keywords):
            if len(keyword) > MAX_KEYWORD_CHARS:
                raise InvalidArgument(
                    f"{field}.match_any.keywords[{i}]",
                    f"longer than {MAX_KEYWORD_CHARS} characters",
                )
    elif kind == "range":
        bounds = condition.range
        if not any(bounds.HasField(b) for b in ("gt", "gte", "lt", "lte")):
            raise InvalidArgument(f"{field}.range", "set at least one bound")


# ------------------------------------------------------------------ embeddings


def embed(request: pb.EmbedRequest) -> None:
    model("model", request.model, required=True)
    if not request.texts:
        raise InvalidArgument("texts", "at least one text")
    if len(request.texts) > MAX_EMBED_TEXTS:
        raise InvalidArgument("texts", f"{len(request.texts)} texts; at most {MAX_EMBED_TEXTS}")
    for i, text in enumerate(request.texts):
        if not text:
            raise InvalidArgument(f"texts[{i}]", "empty")
        if len(text) > MAX_TEXT_CHARS:
            raise InvalidArgument(
                f"texts[{i}]", f"{len(text)} characters; at most {MAX_TEXT_CHARS}"
            )
    if request.truncation not in pb.Truncation.values():
        raise InvalidArgument("truncation", f"unknown value {request.truncation}")


# ------------------------------------------------------------------ API keys


PERMISSION_NAMES = {
    pb.PERMISSION_READ: "read",
    pb.PERMISSION_WRITE: "write",
    pb.PERMISSION_ADMIN: "admin",
}


def create_api_key(request: pb.CreateApiKeyRequest) -> None:
    tenant("tenant", request.tenant)
    if not request.permissions:
        raise InvalidArgument("permissions", "at least one of read, write, admin")
    seen: set[int] = set()
    for i, permission in enumerate(request.permissions):
        if permission not in PERMISSION_NAMES:
            raise InvalidArgument(f"permissions[{i}]", f"unknown permission {permission}")
        if permission in seen:
            raise InvalidArgument(f"permissions[{i}]", "listed twice")
        seen.add(permission)
    if len(request.description) > MAX_DESCRIPTION_CHARS:
        raise InvalidArgument("description", f"longer than {MAX_DESCRIPTION_CHARS} characters")
    if request.HasField("ttl"):
        seconds = request.ttl.ToTimedelta().total_seconds()
        bounded("ttl", seconds, 1, MAX_KEY_TTL_S)


def list_api_keys(request: pb.ListApiKeysRequest) -> int:
    if request.tenant:
        tenant("tenant", request.tenant)
    return page("", request.page_size, request.page_token)


def key_id(field: str, value: str) -> None:
    if not KEY_ID.fullmatch(value):
        raise InvalidArgument(field, f"{shown(value)} is not a key id (16 hex digits)")
