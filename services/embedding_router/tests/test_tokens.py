"""Token counting: the model's real tokenizer, the estimate, and splitting a provider's total."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragserve.embedding_router.tokens import TokenCounter, apportion, estimate_tokens

TOKENIZER = Path(__file__).resolve().parents[3] / "models" / "all-minilm-l6-v2" / "tokenizer.json"


@pytest.fixture(scope="module")
def counter() -> TokenCounter:
    return TokenCounter.from_file(TOKENIZER)


def test_the_tokenizer_counts_word_pieces_and_special_tokens(counter: TokenCounter) -> None:
    assert counter.exact
    # [CLS] hello world [SEP]
    assert counter.count(["hello world"]) == [4]
    # One rare word is several word pieces; the estimate sees one word.
    word = "antidisestablishmentarianism"
    assert counter.count([word]) == [10]
    assert estimate_tokens(word) == 3
    assert counter.count(["hello world", word]) == [4, 10]


def test_no_truncation_or_padding_from_the_shipped_file(counter: TokenCounter) -> None:
    # The file cuts and pads at 128; a count must be of the whole text, and of nothing more.
    long_text = " ".join(["word"] * 300)
    assert counter.count([long_text, "short"]) == [302, 3]


def test_the_estimate_counts_words_and_punctuation_plus_two() -> None:
    estimator = TokenCounter()
    assert not estimator.exact
    assert estimator.count(["hello, world!"]) == [6]


@pytest.mark.parametrize(
    ("total", "weights", "shares"),
    [
        (20, [4, 6], [8, 12]),
        (10, [1, 1, 1], [4, 3, 3]),  # the leftover unit goes to the earliest of equal remainders
        (7, [0, 0], [4, 3]),  # no weights: an even split
        (0, [3, 5], [0, 0]),
        (5, [], []),
    ],
)
def test_apportion_sums_exactly(total: int, weights: list[int], shares: list[int]) -> None:
    assert apportion(total, weights) == shares
