"""[n] markers in a streamed chat answer become citation events, even split over deltas."""

from __future__ import annotations

from ragserve.orchestrator.query.markers import MarkerCitations
from ragserve.orchestrator.query.model import ChunkLocation, Citation, Hit


def hits(count: int) -> list[Hit]:
    return [
        Hit(
            collection="c",
            point_id=str(i),
            document_id=f"d{i}",
            chunk_index=i,
            text=f"chunk {i} text",
            score=1.0,
            location=ChunkLocation(start=100 * i, end=100 * i + 12),
        )
        for i in range(count)
    ]


def feed_all(mapper: MarkerCitations, deltas: list[str]) -> list[Citation]:
    citations: list[Citation] = []
    for delta in deltas:
        citations.extend(mapper.feed(delta))
    return citations


def test_marker_cites_its_sentence() -> None:
    mapper = MarkerCitations(hits(2))
    citations = feed_all(mapper, ["Paris is big [2]. ", "It has a river [1]."])
    text = mapper.text
    assert [c.hit_index for c in citations] == [1, 0]
    assert text[citations[0].answer_start : citations[0].answer_end] == "Paris is big"
    assert text[citations[1].answer_start : citations[1].answer_end] == "It has a river"
    assert (citations[0].document_start, citations[0].document_end) == (100, 112)
    assert (citations[0].chunk_start, citations[0].chunk_end) == (0, 12)


def test_marker_split_over_deltas_is_reported_once_when_closed() -> None:
    mapper = MarkerCitations(hits(3))
    assert mapper.feed("Snow is white [") == []
    assert mapper.feed("3") == []
    closed = mapper.feed("] and cold.")
    assert [c.hit_index for c in closed] == [2]
    assert mapper.feed(" More.") == []


def test_lists_and_adjacent_markers_cite_the_same_span() -> None:
    mapper = MarkerCitations(hits(3))
    citations = feed_all(mapper, ["First. Second claim [1, 3][2]."])
    assert [c.hit_index for c in citations] == [0, 2, 1]
    spans = {mapper.text[c.answer_start : c.answer_end] for c in citations}
    assert spans == {"Second claim"}


def test_marker_after_the_full_stop_cites_the_sentence_before() -> None:
    mapper = MarkerCitations(hits(1))
    citations = feed_all(mapper, ["One thing. Another thing. [1]"])
    assert mapper.text[citations[0].answer_start : citations[0].answer_end] == "Another thing."


def test_out_of_range_and_non_markers_are_ignored() -> None:
    mapper = MarkerCitations(hits(1))
    assert feed_all(mapper, ["See [0] and [7] and [a] and [1"]) == []
