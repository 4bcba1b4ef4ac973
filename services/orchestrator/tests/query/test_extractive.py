"""The extractive generator: the most relevant sentences, each cited to exact offsets."""

from __future__ import annotations

from ragserve.orchestrator.query.extractive import ExtractiveGenerator, choose_sentences
from ragserve.orchestrator.query.model import (
    AnswerDelta,
    AnswerOptions,
    ChunkLocation,
    Citation,
    Hit,
)
from ragserve.orchestrator.query.sentences import split_sentences

DOCUMENT = (
    "# Tides\n"
    "Tides rise twice a day. The moon pulls the oceans toward it.\n"
    "Sailors read tide tables before leaving port!"
)


def chunk_hit(start: int, end: int, score: float, index: int = 0) -> Hit:
    return Hit(
        collection="c",
        point_id=f"p{index}",
        document_id="tides",
        chunk_index=index,
        text=DOCUMENT[start:end],
        score=score,
        location=ChunkLocation(start=start, end=end, heading_path=("Tides",)),
    )


def test_sentences_have_offsets_into_the_text() -> None:
    text = "  One. Two?  Three!\nFour"
    sentences = list(split_sentences(text))
    assert [s.text for s in sentences] == ["One.", "Two?", "Three!", "Four"]
    for sentence in sentences:
        assert text[sentence.start : sentence.end] == sentence.text


async def collect(generator: ExtractiveGenerator, question: str, hits: list[Hit]) -> list[object]:
    return [piece async for piece in generator.generate(question, hits, AnswerOptions())]


async def test_answer_quotes_the_best_sentence_and_cites_document_offsets() -> None:
    start = DOCUMENT.index("Tides rise")
    hits = [chunk_hit(start, len(DOCUMENT), 0.8)]
    pieces = await collect(
        ExtractiveGenerator(max_sentences=1), "Why does the moon pull oceans?", hits
    )
    assert pieces[0] == AnswerDelta("The moon pulls the oceans toward it.")
    citation = pieces[1]
    assert isinstance(citation, Citation)
    assert citation.hit_index == 0
    assert (citation.answer_start, citation.answer_end) == (0, len(pieces[0].text))
    quoted = DOCUMENT[citation.document_start : citation.document_end]
    assert quoted == "The moon pulls the oceans toward it."
    assert hits[0].text[citation.chunk_start : citation.chunk_end] == quoted


async def test_several_sentences_are_spans_of_the_concatenated_answer() -> None:
    first = chunk_hit(0, DOCUMENT.index("Sailors"), 0.9, 0)
    second = chunk_hit(DOCUMENT.index("Sailors"), len(DOCUMENT), 0.7, 1)
    pieces = await collect(ExtractiveGenerator(), "tide tables and tides", [first, second])
    answer = "".join(p.text for p in pieces if isinstance(p, AnswerDelta))
    citations = [p for p in pieces if isinstance(p, Citation)]
    assert len(citations) >= 2
    hits = [first, second]
    for citation in citations:
        span = answer[citation.answer_start : citation.answer_end]
        assert span == DOCUMENT[citation.document_start : citation.document_end]
        assert hits[citation.hit_index].text[citation.chunk_start : citation.chunk_end] == span


def test_no_shared_word_falls_back_to_the_top_hit_first_sentence() -> None:
    hits = [chunk_hit(DOCUMENT.index("Tides rise"), len(DOCUMENT), 0.5)]
    chosen = choose_sentences("xylophone", hits, max_tokens=100, max_sentences=3)
    assert [c.sentence.text for c in chosen] == ["Tides rise twice a day."]


def test_token_budget_limits_the_answer() -> None:
    hits = [chunk_hit(DOCUMENT.index("Tides rise"), len(DOCUMENT), 0.5)]
    # Every sentence mentions tides; a budget of ~one sentence (chars / 4) keeps one.
    chosen = choose_sentences("tides tide", hits, max_tokens=8, max_sentences=3)
    assert len(chosen) == 1


async def test_only_the_context_chunks_are_used() -> None:
    hits = [
        chunk_hit(0, 8, 0.9, 0),
        chunk_hit(DOCUMENT.index("Sailors"), len(DOCUMENT), 0.8, 1),
    ]
    options = AnswerOptions(max_context_chunks=1)
    pieces = [p async for p in ExtractiveGenerator().generate("sailors port", hits, options)]
    assert all(p.hit_index == 0 for p in pieces if isinstance(p, Citation))


def test_inflections_meet_and_headings_rank_below_sentences() -> None:
    text = "Basalt\n\nBasalt forms when lava cools quickly."
    hit = Hit("c", "p", "d", 0, text, 0.5)
    chosen = choose_sentences("How does basalt form?", [hit], max_tokens=100, max_sentences=1)
    assert [c.sentence.text for c in chosen] == ["Basalt forms when lava cools quickly."]
