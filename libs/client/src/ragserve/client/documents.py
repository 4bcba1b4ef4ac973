"""Files and folders as documents to ingest: which files, their ids and media types.

A document's id is its path relative to the folder it was found in (POSIX
separators), or its file name when a file is named directly, so ingesting the
same folder again addresses the same documents (unchanged ones are no-ops).
Content is read when a document is sent, not when it is listed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# The media types the suite parses, by file extension (lower case).
MEDIA_TYPES = {
    ".txt": "text/plain",
    ".text": "text/plain",
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".html": "text/html",
    ".htm": "text/html",
    ".pdf": "application/pdf",
}
# The API's limit on one document's content.
MAX_DOCUMENT_BYTES = 8 * 1024 * 1024
# The API's limit on a document id.
MAX_ID_CHARS = 256


@dataclass(frozen=True)
class DocumentSource:
    """One document to send: where its bytes are, its id and media type."""

    id: str
    path: Path
    media_type: str
    size: int

    def read(self) -> bytes:
        return self.path.read_bytes()

    def problem(self) -> str:
        """Why the gateway would refuse this document before reading it ('' = none)."""
        if self.size > MAX_DOCUMENT_BYTES:
            return f"{self.size} bytes is over the {MAX_DOCUMENT_BYTES}-byte document limit"
        if len(self.id) > MAX_ID_CHARS:
            return f"the id (path) is over {MAX_ID_CHARS} characters"
        return ""


@dataclass(frozen=True)
class Selection:
    documents: list[DocumentSource]
    # Files inside the folders that are not one of the four media types.
    skipped: list[Path]


def media_type_of(path: Path) -> str | None:
    return MEDIA_TYPES.get(path.suffix.lower())


def collect(paths: Iterable[Path | str]) -> Selection:
    """The documents under ``paths`` (files and folders, recursively, sorted).

    Raises FileNotFoundError for a path that does not exist, ValueError for a
    file named directly whose type is not supported or for two documents with
    one id (e.g. the same file reached twice).
    """
    documents: list[DocumentSource] = []
    skipped: list[Path] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            for file in sorted(p for p in path.rglob("*") if p.is_file()):
                if any(part.startswith(".") for part in file.relative_to(path).parts):
                    continue  # hidden files and folders (.git, editor swap files)
                media_type = media_type_of(file)
                if media_type is None:
                    skipped.append(file)
                    continue
                document_id = file.relative_to(path).as_posix()
                documents.append(DocumentSource(document_id, file, media_type, file.stat().st_size))
        elif path.is_file():
            media_type = media_type_of(path)
            if media_type is None:
                supported = ", ".join(sorted(MEDIA_TYPES))
                raise ValueError(f"{path}: not a supported document type ({supported})")
            documents.append(DocumentSource(path.name, path, media_type, path.stat().st_size))
        else:
            raise FileNotFoundError(f"{path}: no such file or folder")
    seen: dict[str, Path] = {}
    for document in documents:
        if document.id in seen:
            raise ValueError(
                f"two documents would have the id {document.id!r}: {seen[document.id]} and {document.path}"
            )
        seen[document.id] = document.path
    return Selection(documents, skipped)
