"""The test corpus: every document parses and chunks within the model's limit, the
generated PDFs match their sources, and every query names one document that holds
its expected text in a chunk."""

from __future__ import annotations

import importlib.util
import json
from collections import Counter
from functools import cache
from pathlib import Path

import pytest
from tokenizers import Tokenizer

from ragserve.orchestrator.documents import (
    ExtractedDocument,
    chunk_document,
    media_type_for_filename,
    parse_document,
)

from .conftest import CORPUS, MODEL_TOKEN_LIMIT
from .test_chunking import check_invariants

DOCUMENTS = sorted(
    path
    for path in CORPUS.iterdir()
    if media_type_for_filename(path.name) and path.name != "README.md"
)
SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "make_corpus_pdfs.py"


@cache
def parsed(name: str) -> ExtractedDocument:
    path = CORPUS / name
    return parse_document(path.read_bytes(), media_type_for_filename(name) or "")


def test_corpus_covers_every_media_type() -> None:
    counts = Counter(media_type_for_filename(path.name) for path in DOCUMENTS)
    assert counts == {"text/plain": 8, "text/markdown": 8, "text/html": 7, "application/pdf": 7}
    for path in DOCUMENTS:
        assert 1000 <= path.stat().st_size <= 4096, path.name


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda path: path.name)
@pytest.mark.parametrize(("max_tokens", "overlap"), [(256, 32), (128, 16), (48, 8)])
def test_every_document_chunks_within_the_limit(
    tokenizer: Tokenizer, path: Path, max_tokens: int, overlap: int
) -> None:
    doc = parsed(path.name)
    chunks = chunk_document(
        doc, tokenizer, max_tokens=max_tokens, overlap_tokens=overlap,
        token_limit=MODEL_TOKEN_LIMIT,
    )  # fmt: skip
    check_invariants(doc, chunks, tokenizer, min(max_tokens, MODEL_TOKEN_LIMIT))
    if path.suffix == ".pdf":
        assert len(doc.pages) >= 2
        assert all(chunk.page is not None for chunk in chunks)
    else:
        assert all(chunk.page is None for chunk in chunks)
    if path.suffix in (".md", ".html"):
        assert all(chunk.heading_path for chunk in chunks), "every chunk is under a heading"


def test_pdfs_match_their_sources() -> None:
    spec = importlib.util.spec_from_file_location("make_corpus_pdfs", SCRIPT)
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    sources = sorted(script.SOURCES.glob("*.txt"))
    assert [source.stem for source in sources] == [
        path.stem for path in DOCUMENTS if path.suffix == ".pdf"
    ]
    for source in sources:
        expected = script.render(source.read_text(encoding="latin-1"))
        assert (CORPUS / f"{source.stem}.pdf").read_bytes() == expected, (
            f"{source.name} changed: run scripts/make_corpus_pdfs.py"
        )


QUERIES = json.loads((CORPUS / "queries.json").read_text(encoding="utf-8"))


def test_one_query_per_document() -> None:
    assert sorted(query["document"] for query in QUERIES) == [path.name for path in DOCUMENTS]
    for query in QUERIES:
        assert set(query) == {"query", "document", "expected"}
        assert query["expected"] not in query["query"], "queries are not verbatim copies"


@pytest.mark.parametrize("query", QUERIES, ids=lambda query: query["document"])
def test_expected_text_is_in_one_document_and_in_a_chunk(
    tokenizer: Tokenizer, query: dict[str, str]
) -> None:
    holders = [path.name for path in DOCUMENTS if query["expected"] in parsed(path.name).text]
    assert holders == [query["document"]]
    doc = parsed(query["document"])
    for max_tokens, overlap in [(256, 32), (128, 16)]:
        chunks = chunk_document(
            doc, tokenizer, max_tokens=max_tokens, overlap_tokens=overlap,
            token_limit=MODEL_TOKEN_LIMIT,
        )  # fmt: skip
        assert any(query["expected"] in chunk.text for chunk in chunks)
