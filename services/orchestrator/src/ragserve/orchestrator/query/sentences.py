"""Sentences of a chunk with their character offsets, and a lexical relevance score."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

# A sentence ends at . ! or ? followed by space, or at a line break (headings, list items).
_BOUNDARY = re.compile(r"(?<=[.!?])\s+|\n+")
_WORD = re.compile(r"\w+", re.UNICODE)
# Words that carry no topic: matching them says nothing about relevance.
_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "has",
        "have",
        "how",
        "i",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "that",
        "the",
        "their",
        "there",
        "these",
        "this",
        "to",
        "was",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "you",
        "your",
        "into",
        "than",
        "then",
        "they",
        "them",
        "we",
        "our",
        "not",
        "no",
        "yes",
        "if",
        "so",
        "such",
    ]
)
_STEM_LENGTH = 6
# Inflections dropped before comparing words, longest first ("forms" meets "form").
_SUFFIXES = ("ing", "ed", "es", "s")


@dataclass(frozen=True)
class Sentence:
    start: int
    end: int
    text: str


def split_sentences(text: str) -> Iterator[Sentence]:
    """Non-empty sentences with [start, end) offsets into ``text``, whitespace trimmed."""
    position = 0
    for boundary in _BOUNDARY.finditer(text):
        yield from _trimmed(text, position, boundary.start())
        position = boundary.end()
    yield from _trimmed(text, position, len(text))


def _trimmed(text: str, start: int, end: int) -> Iterator[Sentence]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        yield Sentence(start, end, text[start:end])


def _stem(word: str) -> str:
    for suffix in _SUFFIXES:
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            word = word[: -len(suffix)]
            break
    return word[:_STEM_LENGTH]


def terms(text: str) -> set[str]:
    """Topic words, crudely stemmed (inflection dropped, then a prefix) so that "parsing",
    "parsed" and "parse" meet."""
    return {
        _stem(word)
        for word in (match.group().lower() for match in _WORD.finditer(text))
        if word not in _STOPWORDS and len(word) > 1
    }


def word_count(text: str) -> int:
    return sum(1 for _ in _WORD.finditer(text))
