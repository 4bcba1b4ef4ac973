"""Where text may be split: paragraphs, sentences, lines. Spans are absolute
character offsets, trimmed of surrounding whitespace; never empty."""

from __future__ import annotations

import re

_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
# A sentence ends after terminal punctuation (and closing quotes or brackets) followed by
# whitespace; CJK full stops end one even without whitespace after them.
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’»)\]]*(?=\s)|[。！？]+[」』”’）]*")
_LINE_BREAK = re.compile(r"\n")

Span = tuple[int, int]


def paragraphs(text: str, start: int, end: int) -> list[Span]:
    return _split_after(text, start, end, _PARAGRAPH_BREAK)


def sentences(text: str, start: int, end: int) -> list[Span]:
    return _split_after(text, start, end, _SENTENCE_END)


def lines(text: str, start: int, end: int) -> list[Span]:
    return _split_after(text, start, end, _LINE_BREAK)


def trim(text: str, start: int, end: int) -> Span:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _split_after(text: str, start: int, end: int, pattern: re.Pattern[str]) -> list[Span]:
    spans: list[Span] = []
    piece_start = start
    for match in pattern.finditer(text, start, end):
        span = trim(text, piece_start, match.end())
        if span[1] > span[0]:
            spans.append(span)
        piece_start = match.end()
    span = trim(text, piece_start, end)
    if span[1] > span[0]:
        spans.append(span)
    return spans
