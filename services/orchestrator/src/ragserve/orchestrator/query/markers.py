"""``[n]`` citation markers in a streamed answer, turned into citation events.

The chat model is asked to cite the numbered context passages as ``[1]``, ``[2]``
or ``[1, 3]``. Markers stay in the answer text (a reader of the plain text still
sees its sources); each one becomes a citation of hit ``n - 1`` for the span of
the sentence it closes. Markers may arrive split over several deltas, so the text
is scanned as a whole and only closed markers are reported, once each.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ragserve.orchestrator.query.model import Citation, Hit

_MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
# Where a sentence starts: after sentence-ending punctuation (and the markers that follow
# it) and whitespace, or after a line break.
_SENTENCE_END = re.compile(r"[.!?](?:\s*\[[\d,\s]+\])*\s+|\n+")
# A marker right before a position: "[1][2]" cites one span twice.
_TRAILING_MARKER = re.compile(r"\[[\d,\s]+\]\s*$")


class MarkerCitations:
    def __init__(self, hits: Sequence[Hit]) -> None:
        self._hits = hits
        self._text = ""
        # Characters of the text already scanned for closed markers.
        self._scanned = 0

    @property
    def text(self) -> str:
        return self._text

    def feed(self, delta: str) -> list[Citation]:
        """Add a delta; return the citations of the markers it closed."""
        self._text += delta
        citations: list[Citation] = []
        for match in _MARKER.finditer(self._text, self._scanned):
            citations.extend(self._citations(match))
            self._scanned = match.end()
        # An open "[" with digits may close in a later delta: rescan from it next time.
        open_at = self._text.rfind("[", self._scanned)
        if open_at < 0 or not re.fullmatch(r"\[[\d,\s]*", self._text[open_at:]):
            self._scanned = len(self._text)
        else:
            self._scanned = open_at
        return citations

    def _citations(self, match: re.Match[str]) -> list[Citation]:
        span_end = match.start()
        while (before := _TRAILING_MARKER.search(self._text, 0, span_end)) is not None:
            span_end = before.start()
        while span_end > 0 and self._text[span_end - 1].isspace():
            span_end -= 1
        span_start = 0
        for boundary in _SENTENCE_END.finditer(self._text, 0, span_end):
            span_start = boundary.end()
        citations: list[Citation] = []
        for number in (int(part) for part in match.group(1).split(",")):
            if not 1 <= number <= len(self._hits):
                continue  # the model cited a passage it was not given
            hit = self._hits[number - 1]
            citations.append(
                Citation(
                    hit_index=number - 1,
                    answer_start=span_start,
                    answer_end=max(span_end, span_start),
                    chunk_start=0,
                    chunk_end=len(hit.text),
                    document_start=hit.location.start,
                    document_end=hit.location.start + len(hit.text),
                )
            )
        return citations
