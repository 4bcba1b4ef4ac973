"""Assembles extracted text from a parser's walk, recording sections as it goes.

Parsers (HTML, Markdown, plain text, PDF) report what they meet: inline text, block
breaks, preformatted text, headings. The builder owns whitespace: inline whitespace
collapses to one space, a block break becomes a newline or a blank line (the strongest
requested wins), and nothing is written until real text follows, so the result has no
leading, trailing or doubled breaks. Offsets are therefore known exactly as text is written.
"""

from __future__ import annotations

import re

from ragserve.orchestrator.documents.model import Section

# Heading titles end up in every chunk's metadata; a runaway <h1> must not bloat them.
MAX_HEADING_CHARS = 200

_WHITESPACE_RUN = re.compile(r"\s+")
# C0/C1 controls other than tab and newline, DEL, the byte-order mark, and invisible
# characters that only hint at line breaking (soft hyphen, zero-width space, word
# joiner): noise to an embedder, and a document of nothing else has no text. Zero-width
# (non-)joiners stay: they change how Persian, Indic scripts and emoji read. Removal
# happens before text is written, so offsets refer to the cleaned text.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\xad\u200b\u2060\ufeff]")


def clean_text(text: str) -> str:
    """Newlines normalised to ``\\n``, control characters (but tab and newline) removed."""
    return _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def collapse_whitespace(text: str) -> str:
    return _WHITESPACE_RUN.sub(" ", clean_text(text)).strip()


class TextBuilder:
    def __init__(self) -> None:
        self._parts: list[str] = []
        self._length = 0
        self._pending_break = 0  # newlines owed before the next text: 0, 1 or 2
        self._pending_separator = ""  # inline separator owed (" " or " | ")
        self._at_line_start = True
        # Headings open so far, outermost first: (level, title).
        self._heading_stack: list[tuple[int, str]] = []
        self._sections: list[tuple[int, int, tuple[str, ...]]] = []
        self._open_start = 0
        self._open_path: tuple[str, ...] = ()
        self._open_level = 0  # 0: the preamble before any heading
        self._open_has_body = False

    def inline(self, text: str) -> None:
        """Flowing text: whitespace runs (newlines included) count as one space."""
        text = clean_text(text)
        if not text:
            return
        if text[0].isspace():
            self.separator(" ")
        words = _WHITESPACE_RUN.sub(" ", text).strip()
        if words:
            self._write(words)
        if text[-1].isspace():
            self.separator(" ")

    def preformatted(self, text: str) -> None:
        """Text whose line structure matters (code, plain text): kept as is but for
        newline normalisation, control characters and surrounding blank lines."""
        text = clean_text(text).strip("\n")
        if text.strip():
            self._write(text)

    def separator(self, separator: str) -> None:
        """An inline separator, written only between two pieces of text on one line."""
        if (
            not self._at_line_start
            and not self._pending_break
            and len(separator) > len(self._pending_separator)
        ):
            self._pending_separator = separator

    def block_break(self, newlines: int = 2) -> None:
        """End the current line (1) or paragraph (2); only written if text follows."""
        if newlines and self._length:
            self._pending_break = max(self._pending_break, newlines)
            self._pending_separator = ""

    def heading(self, level: int, title: str) -> None:
        """A heading of ``level`` (1 outermost): starts a section whose path is the
        enclosing headings' titles and this one's, and writes the title as a block."""
        title = collapse_whitespace(title)
        if not title:
            return
        if len(title) > MAX_HEADING_CHARS:
            title = title[: MAX_HEADING_CHARS - 1].rstrip() + "…"
        while self._heading_stack and self._heading_stack[-1][0] >= level:
            self._heading_stack.pop()
        self._heading_stack.append((level, title))
        self.block_break(2)
        self._flush_breaks()
        if self._open_level and not self._open_has_body and level > self._open_level:
            # A heading straight followed by a subheading: its title joins the
            # subsection rather than standing alone as a section with no text.
            start = self._open_start
        else:
            self._close_section(self._length)
            start = self._length
        self._open_start = start
        self._open_path = tuple(heading for _, heading in self._heading_stack)
        self._open_level = level
        self._open_has_body = False
        self._write(title, counts_as_body=False)
        self.block_break(2)

    def finish(self) -> tuple[str, tuple[Section, ...]]:
        """The text and its sections, each trimmed of whitespace; empty ones dropped."""
        self._close_section(self._length)
        text = "".join(self._parts)
        sections: list[Section] = []
        for start, end, path in self._sections:
            while start < end and text[start].isspace():
                start += 1
            while end > start and text[end - 1].isspace():
                end -= 1
            if end > start:
                sections.append(Section(start, end, path))
        return text, tuple(sections)

    def _flush_breaks(self) -> None:
        if self._length and self._pending_break:
            self._append("\n" * self._pending_break)
            self._at_line_start = True
        elif self._pending_separator and not self._at_line_start:
            self._append(self._pending_separator)
        self._pending_break = 0
        self._pending_separator = ""

    def _write(self, text: str, *, counts_as_body: bool = True) -> None:
        self._flush_breaks()
        self._append(text)
        self._at_line_start = text.endswith("\n")
        if counts_as_body:
            self._open_has_body = True

    def _append(self, text: str) -> None:
        self._parts.append(text)
        self._length += len(text)

    def _close_section(self, end: int) -> None:
        if end > self._open_start:
            self._sections.append((self._open_start, end, self._open_path))
