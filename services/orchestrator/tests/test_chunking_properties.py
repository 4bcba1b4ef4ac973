"""Property tests: for any text, and also for a tokenizer whose counts do not add up
over pieces (byte-level BPE, as GPT-style models use), every chunk fits the limit,
round-trips its offsets and all text is covered."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

from ragserve.orchestrator.documents import chunk_document, parse_document

from .test_chunking import check_invariants, prose

# Letters, digits, punctuation, spaces and line breaks from several scripts.
_ALPHABET = st.sampled_from(
    list("abcdefghij klmnop .,!?;:-'\n\n")
    + list("東京都。日本")
    + list("Москва ")
    + ["\t", "é", "ß", "\u2028", "\xa0", "\u3000"]
)
TEXTS = st.text(alphabet=_ALPHABET, min_size=1, max_size=3000).filter(lambda t: t.strip())


@pytest.fixture(scope="module")
def byte_level_bpe() -> Tokenizer:
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator([prose(seed, 5) for seed in range(20)], trainer)
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 1)]
    )
    return tokenizer


_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@_SETTINGS
@given(text=TEXTS, max_tokens=st.integers(8, 80), overlap_fraction=st.floats(0, 0.5))
def test_any_text_with_the_model_tokenizer(
    tokenizer: Tokenizer, text: str, max_tokens: int, overlap_fraction: float
) -> None:
    doc = parse_document(text.encode(), "text/plain")
    overlap = int(max_tokens * overlap_fraction)
    chunks = chunk_document(
        doc, tokenizer, max_tokens=max_tokens, overlap_tokens=overlap, token_limit=256
    )
    check_invariants(doc, chunks, tokenizer, max_tokens)


@_SETTINGS
@given(text=TEXTS, max_tokens=st.integers(8, 80), overlap_fraction=st.floats(0, 0.5))
def test_any_text_with_a_byte_level_tokenizer(
    byte_level_bpe: Tokenizer, text: str, max_tokens: int, overlap_fraction: float
) -> None:
    doc = parse_document(text.encode(), "text/plain")
    overlap = int(max_tokens * overlap_fraction)
    chunks = chunk_document(
        doc, byte_level_bpe, max_tokens=max_tokens, overlap_tokens=overlap, token_limit=256
    )
    check_invariants(doc, chunks, byte_level_bpe, max_tokens)


@pytest.mark.parametrize("tokenizer_name", ["tokenizer", "byte_level_bpe"])
def test_long_random_texts(request: pytest.FixtureRequest, tokenizer_name: str) -> None:
    """Long texts with few sentence ends: lines over the budget are cut into windows
    (hypothesis rarely draws texts this long)."""
    chosen: Tokenizer = request.getfixturevalue(tokenizer_name)
    rng = random.Random(0)
    alphabet = list("abcdefghij klmnop .,!?;:-'\n\n") + list("東京都。日本") + list("Москва ")
    alphabet += ["\u2028", "\xa0", "\u3000", "é"]
    for _ in range(60):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(500, 3000)))
        doc = parse_document(text.encode(), "text/plain")
        max_tokens = rng.randint(8, 80)
        chunks = chunk_document(
            doc, chosen, max_tokens=max_tokens, overlap_tokens=max_tokens // 4, token_limit=256
        )
        check_invariants(doc, chunks, chosen, max_tokens)
