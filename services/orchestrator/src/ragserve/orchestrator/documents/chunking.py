"""ExtractedDocument → chunks that the model embeds whole.

Each section is chunked on its own (a chunk never spans two sections). A section is cut
into units: sentences of its paragraphs, and for a sentence longer than the budget its
lines, then windows of tokens cut at word boundaries. Units are packed greedily up to the
budget; a chunk ends early at a paragraph boundary when it is at least half full and the
next paragraph would not fit whole. The next chunk starts with the previous one's
trailing sentences worth up to ``overlap_tokens`` (a tail of tokens when no whole
sentence fits). Every chunk's token count is then taken as the model counts it, special
tokens included (from the section's tokens where that is provably the same, by encoding
the chunk alone otherwise), and a chunk over the limit is cut again: the limit holds for
any tokenizer, not only for ones whose counts add up over pieces.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

from tokenizers import Tokenizer

from ragserve.orchestrator.documents.model import Chunk, DocumentError, ExtractedDocument
from ragserve.orchestrator.documents.segmentation import Span, lines, paragraphs, sentences, trim
from ragserve.orchestrator.documents.tokens import TokenIndex, counts_add_up, prepare_tokenizer

# How far back (in tokens) a token window looks for a better place to cut than its
# full length: a word boundary a few tokens earlier beats a full window cut mid-word.
_CUT_SEARCH_TOKENS = 32


@dataclass(frozen=True, slots=True)
class _Unit:
    start: int
    end: int
    starts_paragraph: bool
    paragraph_end: int  # end of the paragraph the unit belongs to
    oversized: bool  # a line longer than the budget: cut into token windows as packed


def chunk_document(
    doc: ExtractedDocument,
    tokenizer: Tokenizer,
    *,
    max_tokens: int,
    overlap_tokens: int,
    token_limit: int,
) -> list[Chunk]:
    """Chunks of ``doc`` in text order, indexed from 0; deterministic.

    Every chunk has ``doc.text[start:end] == text`` (no leading or trailing whitespace),
    lies inside one section, and counts at most ``min(max_tokens, token_limit)`` tokens
    as ``tokenizer`` encodes it with special tokens (``token_limit``: the model's own
    limit, e.g. 256 for all-MiniLM-L6-v2). ValueError for inconsistent options.
    """
    tokenizer = prepare_tokenizer(tokenizer)
    limit = min(max_tokens, token_limit)
    budget = limit - tokenizer.num_special_tokens_to_add(False)
    if budget < 1:
        raise ValueError(
            f"max_tokens {max_tokens} and token_limit {token_limit} leave no room "
            "for text beside the special tokens"
        )
    if not 0 <= overlap_tokens < max_tokens:
        raise ValueError(f"overlap_tokens {overlap_tokens} must be in [0, max_tokens)")

    chunks: list[Chunk] = []
    page_starts = [page.start for page in doc.pages]
    for section in doc.sections:
        index = TokenIndex(tokenizer, doc.text, section.start, section.end)
        chunker = _SectionChunker(doc.text, index, budget, overlap_tokens)
        packed = chunker.pack((section.start, section.end))
        for (start, end), count in _fit(chunker, packed, tokenizer, limit):
            page = None
            if doc.pages:
                page = doc.pages[max(0, bisect_right(page_starts, start) - 1)].number
            text = doc.text[start:end]
            chunks.append(Chunk(len(chunks), text, start, end, page, section.heading_path, count))
    return chunks


def _fit(
    chunker: _SectionChunker, spans: list[Span], tokenizer: Tokenizer, limit: int
) -> list[tuple[Span, int]]:
    """Each span with its token count as the model counts it; a span over ``limit`` is
    cut again with a budget smaller by its excess, until every piece fits. Counts come
    from the section's index where they are exact (see ``counts_add_up``); any other
    span is encoded on its own."""
    specials = tokenizer.num_special_tokens_to_add(False)
    exact = counts_add_up(tokenizer)
    counts: dict[Span, int] = {}
    for span in spans:
        if exact and chunker.index.at_word_boundaries(*span):
            counts[span] = chunker.index.count(*span) + specials
    measure = [span for span in spans if span not in counts]
    if measure:
        encodings = tokenizer.encode_batch([chunker.text[start:end] for start, end in measure])
        counts.update(zip(measure, (len(encoding.ids) for encoding in encodings), strict=True))
    fitted: list[tuple[Span, int]] = []
    for span in spans:
        count = counts[span]
        if count <= limit:
            fitted.append((span, count))
            continue
        smaller = chunker.budget_for(span) - (count - limit)
        pieces = chunker.recut(span, smaller) if smaller >= 1 else [span]
        if pieces == [span]:
            # The index underestimates this span too much to pack by it: halve it.
            pieces = chunker.halve(span)
            if pieces == [span]:
                raise DocumentError(f"text at offset {span[0]} cannot be cut to {limit} tokens")
        fitted.extend(_fit(chunker, pieces, tokenizer, limit))
    return fitted


class _SectionChunker:
    def __init__(self, text: str, index: TokenIndex, budget: int, overlap: int) -> None:
        self.text = text
        self.index = index
        self.budget = budget
        self.overlap = overlap

    def budget_for(self, span: Span) -> int:
        return min(self.budget, self.index.count(*span))

    def recut(self, span: Span, budget: int) -> list[Span]:
        """``span`` packed again under a smaller budget, without overlap."""
        return _SectionChunker(self.text, self.index, budget, 0).pack(span)

    def halve(self, span: Span) -> list[Span]:
        """``span`` cut in two near its middle, at a token start where there is one;
        ``[span]`` when it cannot be cut (a single character)."""
        start, end = span
        middle = (start + end) // 2
        inside = [
            position
            for position in self.index.starts[
                self.index.first_at_or_after(start + 1) : self.index.last_before(end)
            ]
            if start < position < end
        ]
        cut = min(inside, key=lambda position: abs(position - middle)) if inside else middle
        if not start < cut < end:
            return [span]
        return [
            piece
            for piece in (trim(self.text, start, cut), trim(self.text, cut, end))
            if piece[1] > piece[0]
        ]

    def pack(self, section: Span) -> list[Span]:
        units = self._units(section)
        chunks: list[Span] = []
        next_unit = 0
        carried_start: int | None = None  # where the overlap with the last chunk starts
        while next_unit < len(units):
            first = units[next_unit]
            start = first.start if carried_start is None else carried_start
            if first.oversized:
                if self.budget - self.index.count(start, first.start) < self._min_room:
                    start = first.start  # the overlap would leave too little room
                self._cut_head(units, next_unit, self.budget - self.index.count(start, first.start))
            else:
                start = self._fit_start(start, first)
            end_unit = next_unit + 1
            while end_unit < len(units):
                unit = units[end_unit]
                used = self.index.count(start, units[end_unit - 1].end)
                if (
                    unit.starts_paragraph
                    and self.index.count(start, unit.paragraph_end) > self.budget
                    and 2 * used >= self.budget
                ):
                    break  # end at the paragraph boundary rather than split the next one
                if unit.oversized:
                    if self.budget - used >= self._min_room:
                        self._cut_head(units, end_unit, self.budget - used)
                        end_unit += 1
                    break
                if self.index.count(start, unit.end) > self.budget:
                    break
                end_unit += 1
            end = units[end_unit - 1].end
            # An overlap may start at a token that begins with whitespace (byte-level).
            start = trim(self.text, start, end)[0]
            chunks.append((start, end))
            carried_start = None
            if self.overlap and end_unit < len(units):
                carried_start = self._overlap_start(units[next_unit:end_unit], start, end)
            next_unit = end_unit
        return chunks

    @property
    def _min_room(self) -> int:
        # Filling less than this with the head of a long line makes a chunk boundary
        # in mid-line for little gain: start a new chunk instead.
        return max(1, self.budget // 4)

    def _units(self, section: Span) -> list[_Unit]:
        units: list[_Unit] = []
        for paragraph_start, paragraph_end in paragraphs(self.text, *section):
            pieces: list[Span] = []
            for sentence in sentences(self.text, paragraph_start, paragraph_end):
                if self.index.count(*sentence) <= self.budget:
                    pieces.append(sentence)
                else:
                    pieces.extend(lines(self.text, *sentence))
            for number, (start, end) in enumerate(pieces):
                oversized = self.index.count(start, end) > self.budget
                units.append(_Unit(start, end, number == 0, paragraph_end, oversized))
        return units

    def _cut_head(self, units: list[_Unit], position: int, room: int) -> None:
        """Replaces ``units[position]``, an oversized line, by its head of at most
        ``room`` tokens (cut at a word where one is near) followed by the rest."""
        unit = units[position]
        index = self.index
        first = index.first_at_or_after(unit.start)
        stop = index.last_before(unit.end)
        cut = self._best_cut(first, min(first + max(1, room), stop - 1))
        # Tokens may share offsets (byte-level pieces of one character): cut where
        # the text really moves on, so the head is never empty and packing progresses.
        while cut < stop and index.starts[cut] <= unit.start:
            cut += 1
        cut_at = index.starts[cut] if cut < stop else unit.end
        head = trim(self.text, unit.start, cut_at)
        rest = trim(self.text, cut_at, unit.end)
        units[position] = _Unit(*head, unit.starts_paragraph, unit.paragraph_end, False)
        if rest[1] > rest[0]:
            oversized = self.index.count(*rest) > self.budget
            units.insert(position + 1, _Unit(*rest, False, unit.paragraph_end, oversized))

    def _best_cut(self, first: int, ideal: int) -> int:
        """A token index in (first, ideal] to cut before: the latest after whitespace,
        else the latest between words, else ``ideal``; searched a little way back."""
        lowest = max(first + 1, ideal - _CUT_SEARCH_TOKENS)
        for quality in (2, 1):
            for candidate in range(ideal, lowest - 1, -1):
                if self.index.boundary_quality(candidate) >= quality:
                    return candidate
        return ideal

    def _forward_cut(self, ideal: int, stop: int) -> int:
        """A token index in [ideal, stop) to start at, preferring a word start."""
        highest = min(stop - 1, ideal + _CUT_SEARCH_TOKENS)
        for quality in (2, 1):
            for candidate in range(ideal, highest + 1):
                if self.index.boundary_quality(candidate) >= quality:
                    return candidate
        return ideal

    def _overlap_start(self, chunk_units: list[_Unit], start: int, end: int) -> int | None:
        """Where the next chunk starts so that it repeats ~overlap tokens of this one:
        the earliest whole unit (sentence) whose tail fits, when that gives at least
        half the overlap; otherwise a tail of tokens starting at a word."""
        for unit in chunk_units:
            if unit.start > start and self.index.count(unit.start, end) <= self.overlap:
                if 2 * self.index.count(unit.start, end) >= self.overlap:
                    return unit.start
                break
        stop = self.index.last_before(end)
        ideal = max(self.index.first_at_or_after(start) + 1, stop - self.overlap)
        if ideal >= stop:
            return None
        cut = self._forward_cut(ideal, stop)
        position = self.index.starts[cut]
        return position if start < position < end else None

    def _fit_start(self, start: int, first: _Unit) -> int:
        """``start`` moved later, if need be, so that the overlap and the first new unit
        fit in the budget together (units alone always fit)."""
        if start >= first.start or self.index.count(start, first.end) <= self.budget:
            return min(start, first.start)
        stop = self.index.last_before(first.end)
        ideal = stop - self.budget
        limit = self.index.first_at_or_after(first.start)
        if ideal >= limit:
            return first.start
        cut = self._forward_cut(ideal, limit)
        return max(self.index.starts[cut], start)
