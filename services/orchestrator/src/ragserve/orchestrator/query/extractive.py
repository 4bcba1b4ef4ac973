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
from ragserve.orchestrator.query.sentences import Sentence, split_sentences, terms, word_count

# The extractive answer's "tokens" are characters / 4 (English text averages about 4
# characters per token), so max_tokens means the same length for both generators.
_CHARS_PER_TOKEN = 4
# Fewer words than this is a fragment (a heading), not an answer.
_MIN_ANSWER_WORDS = 4


@dataclass(frozen=True)
class _Candidate:
    hit_index: int
    sentence: Sentence
    # The question's topic words the sentence contains.
    matched: frozenset[str]
    # The hit's score, halved for fragments (headings, list labels) that say too little.
    prior: float


@dataclass(frozen=True)
class _Scored:
    candidate: _Candidate
    score: float


def _candidates(question: str, hits: Sequence[Hit]) -> tuple[list[_Candidate], dict[str, float]]:
    """Every sentence of ``hits`` sharing a topic word with the question, and each topic
    word's weight: its inverse sentence frequency within the hits (the words every
    sentence repeats, like the product's name in its own manual, tell sentences apart
    least)."""
    wanted = terms(question)
    sentences = [
        (hit_index, sentence, terms(sentence.text))
        for hit_index, hit in enumerate(hits)
        for sentence in split_sentences(hit.text)
    ]
    count = len(sentences)
    weights = {
        term: math.log((count + 1) / (sum(term in found for _, _, found in sentences) + 0.5))
        for term in wanted
    }
    candidates = [
        _Candidate(
            hit_index,
            sentence,
            frozenset(wanted & found),
            max(hits[hit_index].score, 1e-6)
            * (1.0 if word_count(sentence.text) >= _MIN_ANSWER_WORDS else 0.5),
        )
        for hit_index, sentence, found in sentences
        if wanted & found
    ]
    return candidates, weights


def _score(candidate: _Candidate, weights: dict[str, float], covered: set[str]) -> float:
    total = sum(weights.values())
    if total <= 0:
        return 0.0
    fresh = sum(weights[term] for term in candidate.matched - covered)
    return fresh / total * candidate.prior


def choose_sentences(
    question: str, hits: Sequence[Hit], max_tokens: int, max_sentences: int
) -> list[_Candidate]:
    """The sentences of the answer, most relevant first, within the token budget.

    Greedy coverage: each next sentence is scored by the question words no chosen
    sentence contains yet, so the answer covers the question rather than repeating its
    best-matched words. At least one sentence (the top hit's first when none shares a
    word with the question)."""
    candidates, weights = _candidates(question, hits)
    chosen: list[_Candidate] = []
    covered: set[str] = set()
    budget = max_tokens
    while candidates and len(chosen) < max_sentences and budget > 0:
        best = max(
            (_Scored(c, _score(c, weights, covered)) for c in candidates),
            key=lambda item: item.score,
        )
        if best.score <= 0:
            break
        candidates = [c for c in candidates if c is not best.candidate]
        cost = math.ceil(len(best.candidate.sentence.text) / _CHARS_PER_TOKEN)
        if chosen and cost > budget:
            continue
        chosen.append(best.candidate)
        covered |= best.candidate.matched
        budget -= cost
    if not chosen and hits:
        first = next(split_sentences(hits[0].text), None)
        if first is not None:
            chosen.append(_Candidate(0, first, frozenset(), hits[0].score))
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
