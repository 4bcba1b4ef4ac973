"""Bytes of a media type → ExtractedDocument: the one entry point for parsing."""

from __future__ import annotations

import codecs
from collections.abc import Callable

from ragserve.orchestrator.documents.html import extract_html
from ragserve.orchestrator.documents.markdown import extract_markdown
from ragserve.orchestrator.documents.model import DocumentError, ExtractedDocument, Section
from ragserve.orchestrator.documents.pdf import extract_pdf
from ragserve.orchestrator.documents.text_builder import TextBuilder

PLAIN = "text/plain"
MARKDOWN = "text/markdown"
HTML = "text/html"
PDF = "application/pdf"

# Names clients send for the same formats.
_ALIASES = {
    "text/x-markdown": MARKDOWN,
    "application/xhtml+xml": HTML,
    "application/x-pdf": PDF,
}
SUPPORTED_MEDIA_TYPES = (PLAIN, MARKDOWN, HTML, PDF)
# For tools that ingest files (demo, tests): the media type a file name implies.
_BY_SUFFIX = {
    ".txt": PLAIN,
    ".text": PLAIN,
    ".md": MARKDOWN,
    ".markdown": MARKDOWN,
    ".html": HTML,
    ".htm": HTML,
    ".pdf": PDF,
}

_MAX_ECHO_CHARS = 64


def parse_document(content: bytes, media_type: str) -> ExtractedDocument:
    """Extracts the text of ``content``. Raises DocumentError (field ``media_type`` or
    ``content``) for an unsupported media type, undecodable text, an unreadable or
    encrypted PDF, and a document without any text."""
    essence, charset = parse_media_type(media_type)
    if not content:
        raise DocumentError("document is empty")
    if essence == PDF:
        text, pages = extract_pdf(content)
        # Without a reliable heading structure in PDFs, one section spans all pages.
        document = ExtractedDocument(text, (Section(0, len(text), ()),) if text else (), pages)
    else:
        builder = TextBuilder()
        _TEXT_EXTRACTORS[essence](_decode(content, charset), builder)
        text, sections = builder.finish()
        document = ExtractedDocument(text, sections)
    if not document.text.strip():
        if essence == PDF:
            raise DocumentError("PDF has no extractable text (scanned pages need OCR first)")
        raise DocumentError("document has no text")
    return document


def parse_media_type(media_type: str) -> tuple[str, str]:
    """(essence, charset) of a media type such as ``text/html; charset=UTF-8``; the
    charset defaults to UTF-8. DocumentError (field ``media_type``) if unsupported."""
    essence, *parameters = (part.strip() for part in media_type.split(";"))
    essence = essence.lower()
    essence = _ALIASES.get(essence, essence)
    if essence not in SUPPORTED_MEDIA_TYPES:
        raise DocumentError(
            f"unsupported media type {media_type[:_MAX_ECHO_CHARS]!r}; supported: "
            + ", ".join(SUPPORTED_MEDIA_TYPES),
            field="media_type",
        )
    charset = "utf-8"
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
            try:
                "".encode(charset)  # LookupError for unknown and non-text codecs (base64)
            except LookupError:
                raise DocumentError(
                    f"unknown charset {charset[:_MAX_ECHO_CHARS]!r}", field="media_type"
                ) from None
    return essence, charset


def media_type_for_filename(name: str) -> str | None:
    """The supported media type a file name's extension implies, None if none does."""
    _, dot, suffix = name.rpartition(".")
    return _BY_SUFFIX.get(f".{suffix.lower()}") if dot else None


def _decode(content: bytes, charset: str) -> str:
    # utf-8-sig drops a leading byte-order mark, which some editors write.
    codec = "utf-8-sig" if codecs.lookup(charset).name == "utf-8" else charset
    try:
        return content.decode(codec)
    except UnicodeDecodeError as error:
        raise DocumentError(
            f"content is not valid {charset.upper()}: {error.reason} "
            f"(byte 0x{content[error.start]:02x} at offset {error.start})"
        ) from None


def _extract_plain(text: str, builder: TextBuilder) -> None:
    builder.preformatted(text)


_TEXT_EXTRACTORS: dict[str, Callable[[str, TextBuilder], None]] = {
    PLAIN: _extract_plain,
    MARKDOWN: extract_markdown,
    HTML: extract_html,
}
