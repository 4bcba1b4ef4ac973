"""Property tests: parsing any input either gives a document whose sections and pages
keep their invariants or raises DocumentError, never another exception (a crash would
end the client's whole ingest stream instead of failing one document)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ragserve.orchestrator.documents import DocumentError, ExtractedDocument, parse_document

from .conftest import CORPUS

_MARKUP = st.sampled_from(
    [
        "# ", "## ", "### ", "\n", "\n\n", "===\n", "---\n", "- ", "1. ", "> ", "```\n", "    ",
        "| a | b |\n|---|---|\n", "*", "_", "`", "[x](y)", "![alt](i.png)", "<div>", "</div>",
        "<h1>", "</h1>", "<h3>", "</h3>", "<p>", "<br>", "<script>", "</script>", "<pre>",
        "</pre>", "<li>", "<table><tr><td>", "</td><td>", "&amp;", "&#0;", "\r\n", "\t", "\x00",
        "word ", "Sentence. ", "東京。", "é", "\u200b", "\ufeff",
    ]
)  # fmt: skip
MARKUP_TEXTS = st.lists(_MARKUP, max_size=60).map("".join)


def check_document(doc: ExtractedDocument) -> None:
    text = doc.text
    assert text.strip()
    assert "\r" not in text and "\x00" not in text
    previous_end = 0
    covered = bytearray(len(text))
    for section in doc.sections:
        assert previous_end <= section.start < section.end <= len(text)
        chunk = text[section.start : section.end]
        assert chunk == chunk.strip()
        covered[section.start : section.end] = b"\x01" * (section.end - section.start)
        previous_end = section.end
    assert all(covered[i] or text[i].isspace() for i in range(len(text)))
    previous_end = 0
    for page in doc.pages:
        assert previous_end <= page.start < page.end <= len(text)
        assert page.number >= 1
        previous_end = page.end


def parse_or_reject(content: bytes, media_type: str) -> None:
    try:
        doc = parse_document(content, media_type)
    except DocumentError as error:
        assert error.reason
        return
    check_document(doc)


@settings(max_examples=150, deadline=None)
@given(text=MARKUP_TEXTS, media_type=st.sampled_from(["text/plain", "text/markdown", "text/html"]))
def test_any_markup(text: str, media_type: str) -> None:
    parse_or_reject(text.encode(), media_type)


@settings(max_examples=60, deadline=None)
@given(content=st.binary(max_size=400))
def test_any_bytes_as_text(content: bytes) -> None:
    for media_type in ("text/plain", "text/markdown", "text/html"):
        parse_or_reject(content, media_type)


PDF = (CORPUS / "exoplanet_detection.pdf").read_bytes()


@settings(max_examples=40, deadline=None)
@given(
    cut=st.integers(0, len(PDF)),
    flips=st.lists(st.tuples(st.integers(0, len(PDF) - 1), st.integers(0, 255)), max_size=8),
)
def test_damaged_pdf(cut: int, flips: list[tuple[int, int]]) -> None:
    damaged = bytearray(PDF)
    for position, value in flips:
        damaged[position] = value
    parse_or_reject(bytes(damaged[:cut] if cut else damaged), "application/pdf")


@pytest.mark.parametrize("content", [b"%PDF-", b"%PDF-1.7\n%%EOF", b"\x00" * 64, PDF[:100]])
def test_pdf_fragments_are_rejected(content: bytes) -> None:
    with pytest.raises(DocumentError):
        parse_document(content, "application/pdf")
