"""Fixtures: the default model's own tokenizer, and PDFs made on the spot."""

from __future__ import annotations

from pathlib import Path

import pytest
from fpdf import FPDF
from tokenizers import Tokenizer

CORPUS = Path(__file__).parent / "data" / "corpus"

# all-MiniLM-L6-v2 embeds at most 256 tokens, [CLS] and [SEP] included.
MODEL_TOKEN_LIMIT = 256


@pytest.fixture(scope="session")
def tokenizer(model_repository: Path) -> Tokenizer:
    """As shipped: truncation and padding at 128 still on (the chunker must cope)."""
    return Tokenizer.from_file(str(model_repository / "all-minilm-l6-v2" / "tokenizer.json"))


def make_pdf(pages: list[str]) -> bytes:
    """A PDF with one page per string (core font, so Latin-1 text only)."""
    pdf = FPDF()
    pdf.set_font("helvetica", size=11)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 6, text)
    return bytes(pdf.output())
