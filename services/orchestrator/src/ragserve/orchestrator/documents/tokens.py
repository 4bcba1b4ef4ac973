"""Token counting with the model's own tokenizer, as the model will count."""

from __future__ import annotations

import threading
from bisect import bisect_left, bisect_right

from tokenizers import Tokenizer

_prepared_lock = threading.Lock()
# id(original) -> (original, prepared). The original is held so its id stays its own.
_prepared: dict[int, tuple[Tokenizer, Tokenizer]] = {}
_MAX_PREPARED = 16


def prepare_tokenizer(tokenizer: Tokenizer) -> Tokenizer:
    """``tokenizer`` with truncation and padding off, so counts are real lengths.

    A model's tokenizer.json may ship with both on (all-MiniLM-L6-v2's truncates and
    pads to 128): counting with it would report 128 for every text. The original is
    never changed; a copy is made once per tokenizer object and cached."""
    if tokenizer.truncation is None and tokenizer.padding is None:
        return tokenizer
    with _prepared_lock:
        cached = _prepared.get(id(tokenizer))
        if cached is not None and cached[0] is tokenizer:
            return cached[1]
    prepared = Tokenizer.from_str(tokenizer.to_str())
    prepared.no_truncation()
    prepared.no_padding()
    with _prepared_lock:
        if len(_prepared) >= _MAX_PREPARED:
            _prepared.pop(next(iter(_prepared)))
        _prepared[id(tokenizer)] = (tokenizer, prepared)
    return prepared


# Tokenizers whose count for a span cut at pre-token boundaries is the sum of its
# tokens in the whole text: a per-character normalizer, a pre-tokenizer that splits at
# whitespace (and punctuation), and a model that encodes each pre-token on its own.
# Byte-level BPE and SentencePiece (Metaspace) fold the preceding space into a token,
# so their counts depend on the cut: those are always measured.
_ADDITIVE_NORMALIZERS = frozenset({"NoneType", "BertNormalizer", "Lowercase"})
_ADDITIVE_PRE_TOKENIZERS = frozenset({"BertPreTokenizer", "Whitespace", "WhitespaceSplit"})
_ADDITIVE_MODELS = frozenset({"WordPiece", "WordLevel"})


def counts_add_up(tokenizer: Tokenizer) -> bool:
    """True when a TokenIndex count is exact for spans cut at pre-token boundaries."""
    return (
        type(tokenizer.normalizer).__name__ in _ADDITIVE_NORMALIZERS
        and type(tokenizer.pre_tokenizer).__name__ in _ADDITIVE_PRE_TOKENIZERS
        and type(tokenizer.model).__name__ in _ADDITIVE_MODELS
    )


def count_tokens(tokenizer: Tokenizer, text: str) -> int:
    """Tokens the model sees for ``text``, special tokens included."""
    return len(prepare_tokenizer(tokenizer).encode(text, add_special_tokens=True).ids)


class TokenIndex:
    """The tokens of one stretch of a document, located by absolute character offsets,
    answering "how many tokens lie in text[start:end]" by binary search.

    Exact for spans cut where the tokenizer's pre-tokenizer splits (whitespace, and
    punctuation and CJK characters for BERT's) if its counts add up at all
    (``counts_add_up``); otherwise an estimate, and a chunk's count is measured on its
    own text."""

    def __init__(self, tokenizer: Tokenizer, text: str, start: int, end: int) -> None:
        encoding = tokenizer.encode(text[start:end], add_special_tokens=False)
        self.text = text
        self.starts = [start + token_start for token_start, _ in encoding.offsets]
        self.ends = [start + token_end for _, token_end in encoding.offsets]
        self._words = encoding.word_ids

    def count(self, start: int, end: int) -> int:
        return max(0, bisect_right(self.ends, end) - bisect_left(self.starts, start))

    def first_at_or_after(self, position: int) -> int:
        """Index of the first token starting at or after ``position``."""
        return bisect_left(self.starts, position)

    def last_before(self, position: int) -> int:
        """Index one past the last token ending at or before ``position``."""
        return bisect_right(self.ends, position)

    def at_word_boundaries(self, start: int, end: int) -> bool:
        """True when no pre-token (word) straddles ``start`` or ``end``: the span's
        tokens are then the same whether it is encoded alone or inside the text.
        Judged by the tokenizer's own word ids, not by what Python calls whitespace."""
        first = self.first_at_or_after(start)
        if first > 0 and self.ends[first - 1] > start:
            return False  # a token runs across the start
        if 0 < first < len(self.starts) and self._words[first] == self._words[first - 1]:
            return False  # the span starts with a word's continuation piece
        after = self.last_before(end)
        if after >= len(self.starts):
            return True
        if self.starts[after] < end:
            return False  # a token runs across the end
        return after == 0 or self._words[after] != self._words[after - 1]

    def boundary_quality(self, index: int) -> int:
        """How good a place cutting before token ``index`` is: 2 after whitespace,
        1 between words of the pre-tokenizer (punctuation, CJK characters), 0 inside
        a word (between word pieces)."""
        if index <= 0 or index >= len(self.starts):
            return 2
        start = self.starts[index]
        if start > 0 and self.text[start - 1].isspace():
            return 2
        return 1 if self._words[index] != self._words[index - 1] else 0
