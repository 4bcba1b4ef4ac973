"""Token counts, for pricing and for ``max_tokens`` under truncation 'refuse'.

A model whose config names a tokenizer (a Hugging Face ``tokenizer.json``) is counted with it:
no truncation, no padding, the count is ``len(ids)`` including the special tokens — what the
model would see before any cut. Without one, tokens are *estimated*: words and punctuation marks
plus the two special tokens a BERT-style model adds (within ~15% of WordPiece for English, and
deterministic, so the same text always costs the same). Every count says which it is.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tokenizers import Tokenizer

from ragserve.embedding_router.config import ConfigError, ModelConfig
from ragserve.errors import FailedPrecondition, Unavailable

_PIECES = re.compile(r"\w+|[^\w\s]")

# Above this many characters in one count, counting runs in a worker thread so that the event
# loop keeps serving (a tokenizer takes ~20 µs per short text; 2048 long texts take seconds).
_INLINE_COUNT_CHARS = 4096


def estimate_tokens(text: str) -> int:
    return len(_PIECES.findall(text)) + 2


def cost_of(tokens: int, price_per_1k_tokens: float) -> float:
    return tokens * price_per_1k_tokens / 1000.0


class TokenCounter:
    """Counts a model's tokens; ``exact`` is False when the counts are estimates.

    Safe to call from worker threads (the tokenizer is only read after construction).
    """

    def __init__(self, tokenizer: Tokenizer | None = None) -> None:
        self._tokenizer = tokenizer
        if tokenizer is not None:
            # Shipped tokenizer.json files often fix truncation and padding (all-MiniLM-L6-v2's
            # cuts and pads at 128); a count must be of the whole text and nothing more.
            tokenizer.no_truncation()
            tokenizer.no_padding()

    @property
    def exact(self) -> bool:
        return self._tokenizer is not None

    @classmethod
    def from_file(cls, path: Path) -> TokenCounter:
        """Load ``tokenizer.json``; raises ``ValueError`` naming the file when it cannot."""
        try:
            tokenizer = Tokenizer.from_file(str(path))
        except Exception as error:  # tokenizers raises a bare Exception for every failure
            reason = "no such file" if not path.is_file() else str(error)
            raise ValueError(f"cannot load tokenizer {str(path)!r}: {reason}") from None
        return cls(tokenizer)

    def count(self, texts: Sequence[str]) -> list[int]:
        """One count per text, in order (blocking CPU work: large inputs belong in a thread)."""
        if self._tokenizer is None:
            return [estimate_tokens(text) for text in texts]
        if len(texts) == 1:
            return [len(self._tokenizer.encode(texts[0]).ids)]
        return [len(encoding.ids) for encoding in self._tokenizer.encode_batch(list(texts))]


async def count_tokens(counter: TokenCounter, texts: Sequence[str]) -> list[int]:
    """``counter.count(texts)``, off the event loop when the texts are long."""
    if sum(len(t) for t in texts) > _INLINE_COUNT_CHARS:
        return await asyncio.to_thread(counter.count, texts)
    return counter.count(texts)


def load_counters(models: Iterable[ModelConfig]) -> dict[str, TokenCounter]:
    """A counter per model id; a tokenizer that cannot be loaded is a configuration error
    naming the model entry (``models[i].tokenizer``)."""
    counters: dict[str, TokenCounter] = {}
    for index, model in enumerate(models):
        if model.tokenizer is None:
            counters[model.id] = TokenCounter()
            continue
        try:
            counters[model.id] = TokenCounter.from_file(model.tokenizer)
        except ValueError as error:
            raise ConfigError(f"models[{index}].tokenizer: {error}") from None
    return counters


def apportion(total: int, weights: Sequence[int]) -> list[int]:
    """Split ``total`` into integers proportional to ``weights`` that sum to ``total`` exactly.

    Largest remainders get the leftover units (ties to the earlier position). A provider that
    reports one token total for a batch is charged per text this way: exactly, when its
    tokenizer agrees with the router's counts; in proportion to them, when it does not.
    """
    if not weights:
        return []
    weight_sum = sum(weights)
    if weight_sum <= 0:
        weights = [1] * len(weights)
        weight_sum = len(weights)
    shares = [total * w // weight_sum for w in weights]
    remainders = [total * w % weight_sum for w in weights]
    for index in sorted(range(len(weights)), key=lambda i: (-remainders[i], i))[
        : total - sum(shares)
    ]:
        shares[index] += 1
    return shares


@dataclass(frozen=True, slots=True)
class TokenizerDefinition:
    """A model's tokenizer as clients need it to count tokens the way the model does."""

    model: ModelConfig
    # The ``tokenizer.json`` text as shipped (its truncation and padding settings untouched).
    tokenizer_json: str


def read_tokenizer_definition(model: ModelConfig) -> TokenizerDefinition:
    """The model's configured ``tokenizer.json`` (blocking file read: call it in a thread).

    FailedPrecondition when the model has none (its tokens are only estimated); Unavailable
    when the file cannot be read now (it was readable at start-up)."""
    if model.tokenizer is None:
        raise FailedPrecondition(
            f"model {model.id!r} has no tokenizer configured; its tokens are only estimated"
        )
    try:
        text = model.tokenizer.read_text(encoding="utf-8")
    except OSError as error:
        raise Unavailable(
            f"cannot read the tokenizer of model {model.id!r}: {error.strerror or error}"
        ) from None
    return TokenizerDefinition(model, text)
