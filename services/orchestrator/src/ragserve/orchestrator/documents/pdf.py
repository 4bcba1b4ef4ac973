"""PDF → text per page, through pypdf."""

from __future__ import annotations

import io
import logging

from pypdf import PasswordType, PdfReader

from ragserve.orchestrator.documents.model import DocumentError, Page
from ragserve.orchestrator.documents.text_builder import clean_text

_log = logging.getLogger(__name__)

# A reason echoes the parser's message; keep it short enough for an ack.
_MAX_REASON_CHARS = 200


def extract_pdf(content: bytes) -> tuple[str, tuple[Page, ...]]:
    """The text of every page, pages separated by a blank line, and where each lies."""
    try:
        # strict=False: recover from the small defects real-world writers leave (pypdf
        # logs them); what it cannot recover from still raises below.
        reader = PdfReader(io.BytesIO(content), strict=False)
        if reader.is_encrypted and not _opens_without_password(reader):
            raise DocumentError("PDF is encrypted with a password; send it decrypted")
        page_texts = [page.extract_text() for page in reader.pages]
    except DocumentError:
        raise
    # A malformed file can fail anywhere inside a third-party parser, with any exception
    # type (pypdf raises PdfReadError mostly, but also ValueError, KeyError, ...); each
    # one means this document cannot be read, which the ack must say, not crash ingest.
    except Exception as error:
        _log.debug("pypdf could not read a document", exc_info=True)
        detail = str(error)[:_MAX_REASON_CHARS] or type(error).__name__
        raise DocumentError(f"PDF cannot be read: {detail}") from error

    parts: list[str] = []
    pages: list[Page] = []
    length = 0
    for number, raw in enumerate(page_texts, start=1):
        text = clean_text(raw).strip()
        if not text:
            continue  # a scanned or blank page: no text without OCR
        if parts:
            parts.append("\n\n")
            length += 2
        pages.append(Page(length, length + len(text), number))
        parts.append(text)
        length += len(text)
    return "".join(parts), tuple(pages)


def _opens_without_password(reader: PdfReader) -> bool:
    """True for PDFs encrypted with an owner password only, which every viewer opens."""
    try:
        return reader.decrypt("") != PasswordType.NOT_DECRYPTED
    except Exception:  # e.g. AES without the optional crypto dependency: unreadable
        return False
