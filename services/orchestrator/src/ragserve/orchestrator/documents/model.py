"""The values document processing produces, and the one error it raises."""

from __future__ import annotations

from dataclasses import dataclass

from ragserve.errors import InvalidArgument


class DocumentError(InvalidArgument):
    """A document that cannot be turned into text: ``reason`` says why, in words the
    document's ack carries back to the client (e.g. "PDF is encrypted"). Bad input,
    never a server fault; the ingest stream goes on with the next document."""

    def __init__(self, reason: str, *, field: str = "content") -> None:
        super().__init__(field, reason)


@dataclass(frozen=True, slots=True)
class Section:
    """Text under one heading path: ``text[start:end]``, trimmed of surrounding whitespace.
    The heading's own title is the start of its section. ``heading_path`` is empty for
    text before the first heading and for formats without headings."""

    start: int
    end: int
    heading_path: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Page:
    """The text of one PDF page: ``text[start:end]``; ``number`` is 1-based. Pages
    without extractable text have no entry."""

    start: int
    end: int
    number: int


@dataclass(frozen=True, slots=True)
class ExtractedDocument:
    """Plain text extracted from a document, with where its sections and pages lie.

    Invariants: ``text`` has ``\\n`` line ends and no other control characters than
    ``\\t``; paragraphs are separated by a blank line; sections are non-empty, ordered,
    non-overlapping and cover every non-whitespace character; pages likewise (PDF only).
    """

    text: str
    sections: tuple[Section, ...]
    pages: tuple[Page, ...] = ()


@dataclass(frozen=True, slots=True)
class Chunk:
    """One piece of a document to embed. ``text == document.text[start:end]``;
    ``token_count`` is what the model counts for ``text``, special tokens included.
    ``page`` is the (first) PDF page the chunk lies on, None for other formats."""

    index: int
    text: str
    start: int
    end: int
    page: int | None
    heading_path: tuple[str, ...]
    token_count: int
