"""Regenerate the PDF documents of the orchestrator's test corpus from their text sources.

Sources: services/orchestrator/tests/data/corpus_sources/<name>.txt. The first line is the
title; a line ``## Heading`` is a bold subheading; paragraphs are separated by blank
lines; a line ``=== page ===`` starts a new page. Output: <name>.pdf in
services/orchestrator/tests/data/corpus/. Core fonts only, so sources are Latin-1.

The output is byte-for-byte reproducible (a fixed creation date; fpdf2 derives the document id from the content), so
running this again changes nothing unless a source changed:

    .tools/bin/uv run --frozen python scripts/make_corpus_pdfs.py
"""

from __future__ import annotations

import datetime
from pathlib import Path

from fpdf import FPDF

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "services/orchestrator/tests/data/corpus_sources"
CORPUS = ROOT / "services/orchestrator/tests/data/corpus"
PAGE_BREAK = "=== page ==="
FIXED_DATE = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


def render(source: str) -> bytes:
    title, _, body = source.partition("\n")
    pdf = FPDF(format="A4")
    pdf.set_creation_date(FIXED_DATE)
    pdf.set_title(title.strip())
    pdf.set_author("ragserve test corpus")
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.set_margins(25, 25, 25)
    pdf.add_page()
    pdf.set_font("helvetica", style="B", size=18)
    pdf.multi_cell(0, 9, title.strip())
    pdf.ln(4)
    for page_number, page in enumerate(body.split(PAGE_BREAK)):
        if page_number:
            pdf.add_page()
        for block in (part.strip() for part in page.split("\n\n")):
            if not block:
                continue
            if block.startswith("## "):
                pdf.ln(2)
                pdf.set_font("helvetica", style="B", size=13)
                pdf.multi_cell(0, 7, block[3:])
                pdf.ln(1)
            else:
                pdf.set_font("helvetica", size=11)
                pdf.multi_cell(0, 5.5, " ".join(block.split()))
                pdf.ln(3)
    return bytes(pdf.output())


def main() -> None:
    for source in sorted(SOURCES.glob("*.txt")):
        target = CORPUS / f"{source.stem}.pdf"
        target.write_bytes(render(source.read_text(encoding="latin-1")))
        print(f"{target.relative_to(ROOT)}: {target.stat().st_size} bytes")


if __name__ == "__main__":
    main()
