"""Document processing for ingest: bytes of a media type -> extracted text with
sections and pages -> token-bounded chunks with offsets. Pure code: no I/O, no grpc."""

from ragserve.orchestrator.documents.chunking import chunk_document
from ragserve.orchestrator.documents.model import (
    Chunk,
    DocumentError,
    ExtractedDocument,
    Page,
    Section,
)
from ragserve.orchestrator.documents.parsing import (
    SUPPORTED_MEDIA_TYPES,
    media_type_for_filename,
    parse_document,
    parse_media_type,
)
from ragserve.orchestrator.documents.tokens import count_tokens, prepare_tokenizer

__all__ = [
    "SUPPORTED_MEDIA_TYPES",
    "Chunk",
    "DocumentError",
    "ExtractedDocument",
    "Page",
    "Section",
    "chunk_document",
    "count_tokens",
    "media_type_for_filename",
    "parse_document",
    "parse_media_type",
    "prepare_tokenizer",
]
