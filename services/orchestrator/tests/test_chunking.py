"""chunk_document: the model's token limit always holds (counted as the model counts),
offsets round-trip, chunks keep within sections, carry pages, and overlap."""

from __future__ import annotations

import itertools
import random

import pytest
from tokenizers import Tokenizer

from ragserve.orchestrator.documents import (
    Chunk,
    ExtractedDocument,
    Section,
    chunk_document,
    count_tokens,
    parse_document,
    prepare_tokenizer,
)

from .conftest import MODEL_TOKEN_LIMIT, make_pdf

WORDS = [
    "harbor",
    "lantern",
    "copper",
    "river",
    "meadow",
    "signal",
    "orbit",
    "garden",
    "ferment",
    "packet",
    "router",
    "tide",
    "comet",
    "basil",
    "quartz",
    "valley",
    "engine",
    "ledger",
]


def sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def prose(seed: int, paragraphs: int, sentences: tuple[int, int] = (2, 9)) -> str:
    rng = random.Random(seed)
    return "\n\n".join(
        " ".join(sentence(rng, rng.randint(4, 30)) for _ in range(rng.randint(*sentences)))
        for _ in range(paragraphs)
    )


def check_invariants(
    doc: ExtractedDocument, chunks: list[Chunk], tokenizer: Tokenizer, limit: int
) -> None:
    assert [chunk.index for chunk in chunks] == list(range(len(chunks)))
    for chunk in chunks:
        assert doc.text[chunk.start : chunk.end] == chunk.text
        assert chunk.text == chunk.text.strip() and chunk.text
        assert chunk.token_count == count_tokens(tokenizer, chunk.text) <= limit
        sections = [s for s in doc.sections if s.start <= chunk.start and chunk.end <= s.end]
        assert len(sections) == 1, "a chunk lies inside exactly one section"
        assert chunk.heading_path == sections[0].heading_path
    # Every non-whitespace character of every section is in some chunk.
    covered = bytearray(len(doc.text))
    for chunk in chunks:
        covered[chunk.start : chunk.end] = b"\x01" * (chunk.end - chunk.start)
    for section in doc.sections:
        missing = [
            i for i in range(section.start, section.end)
            if not covered[i] and not doc.text[i].isspace()
        ]  # fmt: skip
        assert not missing, f"uncovered text at {missing[:5]}"


def test_shipped_tokenizer_settings_do_not_leak_into_counts(tokenizer: Tokenizer) -> None:
    assert tokenizer.padding is not None and tokenizer.truncation is not None
    assert count_tokens(tokenizer, "hello world") == 4  # [CLS] hello world [SEP], no padding
    long_text = "word " * 1000
    assert count_tokens(tokenizer, long_text) == 1002  # not truncated at 128
    assert prepare_tokenizer(tokenizer) is prepare_tokenizer(tokenizer)
    assert tokenizer.padding is not None, "the caller's tokenizer is left as it was"


@pytest.mark.parametrize("max_tokens", [16, 64, 128, 256, 512])
def test_token_limit_holds_on_prose(tokenizer: Tokenizer, max_tokens: int) -> None:
    doc = parse_document(("# Title\n\n" + prose(1, 12)).encode(), "text/markdown")
    chunks = chunk_document(
        doc, tokenizer, max_tokens=max_tokens, overlap_tokens=max_tokens // 4,
        token_limit=MODEL_TOKEN_LIMIT,
    )  # fmt: skip
    limit = min(max_tokens, MODEL_TOKEN_LIMIT)
    check_invariants(doc, chunks, tokenizer, limit)
    # Packing fills chunks: the mean is well over half the limit.
    assert sum(c.token_count for c in chunks) / len(chunks) > limit / 2


def test_one_sentence_of_twenty_thousand_characters(tokenizer: Tokenizer) -> None:
    rng = random.Random(7)
    text = " ".join(rng.choice(WORDS) for _ in range(4000))[:20_000]
    assert len(text) == 20_000 and "." not in text
    doc = parse_document(text.encode(), "text/plain")
    chunks = chunk_document(
        doc, tokenizer, max_tokens=256, overlap_tokens=32, token_limit=MODEL_TOKEN_LIMIT
    )
    check_invariants(doc, chunks, tokenizer, MODEL_TOKEN_LIMIT)
    assert len(chunks) > 10
    # Windows are cut between words, never inside one.
    for chunk in chunks:
        assert chunk.start == 0 or text[chunk.start - 1] == " "
        assert chunk.end == len(text) or text[chunk.end] == " "


def test_text_without_whitespace(tokenizer: Tokenizer) -> None:
    # Punctuation splits words for BERT's pre-tokenizer: cuts fall between them.
    rng = random.Random(8)
    text = "-".join(rng.choice(WORDS) for _ in range(3000))
    doc = parse_document(text.encode(), "text/plain")
    chunks = chunk_document(doc, tokenizer, max_tokens=64, overlap_tokens=8, token_limit=256)
    check_invariants(doc, chunks, tokenizer, 64)
    assert len(chunks) > 50


@pytest.mark.parametrize(
    "sample",
    [
        "東京は日本の首都です。人口は多く、交通網が発達しています。",  # CJK, no spaces
        "Москва — столица России. Город расположен на реке Москве. ",
        "القاهرة هي عاصمة مصر. تقع على ضفاف نهر النيل. ",
        "नई दिल्ली भारत की राजधानी है। यह एक बड़ा शहर है। ",
    ],
)
def test_long_non_latin_text(tokenizer: Tokenizer, sample: str) -> None:
    doc = parse_document((sample * 150).encode(), "text/plain")
    chunks = chunk_document(
        doc, tokenizer, max_tokens=256, overlap_tokens=32, token_limit=MODEL_TOKEN_LIMIT
    )
    check_invariants(doc, chunks, tokenizer, MODEL_TOKEN_LIMIT)
    assert len(chunks) > 1


def test_consecutive_chunks_overlap_at_sentence_boundaries(tokenizer: Tokenizer) -> None:
    rng = random.Random(3)
    text = " ".join(sentence(rng, rng.randint(3, 6)) for _ in range(200))
    doc = parse_document(text.encode(), "text/plain")
    chunks = chunk_document(doc, tokenizer, max_tokens=96, overlap_tokens=24, token_limit=256)
    check_invariants(doc, chunks, tokenizer, 96)
    for previous, chunk in itertools.pairwise(chunks):
        assert chunk.start < previous.end, "the next chunk repeats the previous one's tail"
        shared = doc.text[chunk.start : previous.end]
        assert count_tokens(tokenizer, shared) - 2 <= 24
        assert count_tokens(tokenizer, shared) - 2 >= 12
        assert doc.text[chunk.start - 2 : chunk.start] == ". ", "starts at a sentence"
        assert chunk.end > previous.end


def test_overlap_falls_back_to_a_tail_of_words(tokenizer: Tokenizer) -> None:
    rng = random.Random(4)
    # Sentences of ~40 tokens: none fits in an overlap of 16.
    text = " ".join(sentence(rng, 40) for _ in range(30))
    doc = parse_document(text.encode(), "text/plain")
    chunks = chunk_document(doc, tokenizer, max_tokens=128, overlap_tokens=16, token_limit=256)
    check_invariants(doc, chunks, tokenizer, 128)
    for previous, chunk in itertools.pairwise(chunks):
        shared = doc.text[chunk.start : previous.end]
        assert 0 < count_tokens(tokenizer, shared) - 2 <= 16
        assert doc.text[chunk.start - 1] == " "


def test_no_overlap_when_zero(tokenizer: Tokenizer) -> None:
    doc = parse_document(prose(5, 10).encode(), "text/plain")
    chunks = chunk_document(doc, tokenizer, max_tokens=64, overlap_tokens=0, token_limit=256)
    check_invariants(doc, chunks, tokenizer, 64)
    for previous, chunk in itertools.pairwise(chunks):
        assert chunk.start >= previous.end


def test_chunks_never_span_sections(tokenizer: Tokenizer) -> None:
    source = "\n\n".join(f"## Part {n}\n\n{prose(n, 3)}" for n in range(6))
    doc = parse_document(source.encode(), "text/markdown")
    chunks = chunk_document(doc, tokenizer, max_tokens=256, overlap_tokens=32, token_limit=256)
    check_invariants(doc, chunks, tokenizer, 256)
    assert {c.heading_path for c in chunks} == {(f"Part {n}",) for n in range(6)}
    first = next(c for c in chunks if c.heading_path == ("Part 0",))
    assert first.text.startswith("Part 0\n\n"), "a section's chunk carries its heading"


def test_short_document_is_one_chunk(tokenizer: Tokenizer) -> None:
    doc = parse_document(b"Just one line.", "text/plain")
    assert chunk_document(doc, tokenizer, max_tokens=256, overlap_tokens=32, token_limit=256) == [
        Chunk(0, "Just one line.", 0, 14, None, (), 6)
    ]


def test_pdf_chunks_carry_their_first_page(tokenizer: Tokenizer) -> None:
    pages = [prose(page, 2, (3, 4)) for page in range(5)]
    doc = parse_document(make_pdf(pages), "application/pdf")
    chunks = chunk_document(doc, tokenizer, max_tokens=64, overlap_tokens=16, token_limit=256)
    check_invariants(doc, chunks, tokenizer, 64)
    for chunk in chunks:
        page = next(p for p in doc.pages if p.start <= chunk.start < p.end)
        assert chunk.page == page.number
    assert {c.page for c in chunks} == {1, 2, 3, 4, 5}


def test_deterministic(tokenizer: Tokenizer) -> None:
    doc = parse_document(prose(9, 20).encode(), "text/plain")

    def run() -> list[Chunk]:
        return chunk_document(doc, tokenizer, max_tokens=100, overlap_tokens=20, token_limit=256)

    assert run() == run()


@pytest.mark.parametrize(
    ("max_tokens", "overlap_tokens", "message"),
    [
        (2, 0, "max_tokens 2 and token_limit 256 leave no room for text beside the special tokens"),
        (64, 64, "overlap_tokens 64 must be in [0, max_tokens)"),
        (64, -1, "overlap_tokens -1 must be in [0, max_tokens)"),
    ],
)
def test_inconsistent_options(
    tokenizer: Tokenizer, max_tokens: int, overlap_tokens: int, message: str
) -> None:
    doc = ExtractedDocument("text", (Section(0, 4, ()),))
    with pytest.raises(ValueError) as caught:
        chunk_document(
            doc, tokenizer, max_tokens=max_tokens, overlap_tokens=overlap_tokens, token_limit=256
        )
    assert str(caught.value) == message
