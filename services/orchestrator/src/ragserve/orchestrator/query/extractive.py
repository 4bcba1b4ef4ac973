"""The default generator: the most relevant sentences of the top hits, each cited.

No model and no external service: sentences are ranked by how many of the
question's topic words they contain, weighted by their hit's search score, so the
answer is always a verbatim quote whose source is exact (chunk and offsets).
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from ragserve.orchestrator.query.model import (
    AnswerDelta,
    AnswerOptions,
    Citation,
    GeneratorKind,
    Hit,
)
from ragserve.orchestrator.query.ports import AnswerPiece
from ragserve.orchestrator.query.sentences import Sentence, split_sentences, terms

# The extractive answer's "tokens" are characters / 4 (English text averages about 4
# characters per token), so max_tokens means the same length for both generators.
_CHARS_PER_TOKEN = 4


@dataclass(frozen=True)
class _Candidate:
    hit_index: int
    sentence: Sentence
    score: float


def rank_sentences(question: str, hits: Sequence[Hit]) -> list[_Candidate]:
    """Every sentence of ``hits`` that shares a topic word with the question, best first.

    Score: share of the question's topic words present, times the hit's score, with a
    slight preference for earlier hits on ties (stable sort)."""
    wanted = terms(question)
    candidates: list[_Candidate] = []
    for hit_index, hit in enumerate(hits):
        for sentence in split_sentences(hit.text):
            if not wanted:
                break
            overlap = len(wanted & terms(sentence.text)) / len(wanted)
            if overlap > 0:
                candidates.append(_Candidate(hit_index, sentence, overlap * max(hit.score, 1e-6)))
    candidates.sort(key=lambda candidate: -candidate.score)
    return candidates


def choose_sentences(
    question: str, hits: Sequence[Hit], max_tokens: int, max_sentences: int
) -> list[_Candidate]:
    """The sentences of the answer: best first, within the token budget; at least one
    (the top hit's first sentence when no sentence shares a word with the question)."""
    chosen: list[_Candidate] = []
    budget = max_tokens
    for candidate in rank_sentences(question, hits):
        cost = math.ceil(len(candidate.sentence.text) / _CHARS_PER_TOKEN)
        if chosen and cost > budget:
            continue
        chosen.append(candidate)
        budget -= cost
        if len(chosen) >= max_sentences or budget <= 0:
            break
    if not chosen and hits:
        first = next(split_sentences(hits[0].text), None)
        if first is not None:
            chosen.append(_Candidate(0, first, hits[0].score))
    return chosen


class ExtractiveGenerator:
    kind = GeneratorKind.EXTRACTIVE

    def __init__(self, max_sentences: int = 3) -> None:
        self.max_sentences = max_sentences

    async def generate(
        self, question: str, hits: Sequence[Hit], options: AnswerOptions
    ) -> AsyncIterator[AnswerPiece]:
        context = hits[: options.max_context_chunks]
        position = 0
        for number, candidate in enumerate(
            choose_sentences(question, context, options.max_tokens, self.max_sentences)
        ):
            separator = " " if number else ""
            yield AnswerDelta(separator + candidate.sentence.text)
            start = position + len(separator)
            position = start + len(candidate.sentence.text)
            chunk_start = context[candidate.hit_index].location.start
            yield Citation(
                hit_index=candidate.hit_index,
                answer_start=start,
                answer_end=position,
                chunk_start=candidate.sentence.start,
                chunk_end=candidate.sentence.end,
                document_start=chunk_start + candidate.sentence.start,
                document_end=chunk_start + candidate.sentence.end,
            )
