"""parse_document: text, section paths and pages per media type, and the errors an ack
carries for documents that cannot be read."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader, PdfWriter

from ragserve.errors import InvalidArgument
from ragserve.orchestrator.documents import (
    DocumentError,
    ExtractedDocument,
    Page,
    Section,
    media_type_for_filename,
    parse_document,
    parse_media_type,
)

from .conftest import make_pdf


def section_texts(doc: ExtractedDocument) -> list[tuple[tuple[str, ...], str]]:
    return [(s.heading_path, doc.text[s.start : s.end]) for s in doc.sections]


def test_plain_text_keeps_lines_and_normalises_newlines() -> None:
    doc = parse_document(
        "\ufeffFirst line\r\nsec\u00adond\x00 line\r\n\r\n\r\nNext.\n".encode(), "text/plain"
    )
    assert doc.text == "First line\nsecond line\n\n\nNext."
    assert doc.sections == (Section(0, len(doc.text), ()),)
    assert doc.pages == ()


def test_markdown_atx_and_setext_headings_become_section_paths() -> None:
    source = """Preamble before any heading.

Manual
======

Intro with *emphasis*, `code` and a [link](http://example.com)
spanning two lines.

## Install

### Requirements

- Python 3.11
- two cores

Setup
-----

1. Unpack.
2. Run it.

# Appendix

| Key | Value |
|-----|-------|
| a   | 1     |

```sh
make   setup
```
"""
    doc = parse_document(source.encode(), "text/markdown; charset=utf-8")
    assert section_texts(doc) == [
        ((), "Preamble before any heading."),
        (
            ("Manual",),
            "Manual\n\nIntro with emphasis, code and a link spanning two lines.",
        ),
        # "Install" has no text of its own: its title joins its first subsection.
        (
            ("Manual", "Install", "Requirements"),
            "Install\n\nRequirements\n\n- Python 3.11\n- two cores",
        ),
        (("Manual", "Setup"), "Setup\n\n1. Unpack.\n2. Run it."),
        (("Appendix",), "Appendix\n\nKey | Value\na | 1\n\nmake   setup"),
    ]


def test_markdown_raw_html_blocks_are_reduced_to_text() -> None:
    source = """Intro.

<div class="note"><h2>Boxed</h2><p>Kept <b>text</b>.</p></div>

<script>
var leaked = "no";
</script>

After the box.
"""
    doc = parse_document(source.encode(), "text/markdown")
    assert section_texts(doc) == [
        ((), "Intro."),
        (("Boxed",), "Boxed\n\nKept text.\n\nAfter the box."),
    ]


def test_markdown_front_matter_is_not_text() -> None:
    source = "---\ntitle: Release notes\ntags: [a, b]\n---\n# 2.4\n\nFaster sync.\n"
    doc = parse_document(source.encode(), "text/markdown")
    assert section_texts(doc) == [(("2.4",), "2.4\n\nFaster sync.")]


def test_media_type_for_filename() -> None:
    assert [
        media_type_for_filename(name)
        for name in ("a.TXT", "notes.md", "x.tar.htm", "report.pdf", "image.png", "README")
    ] == ["text/plain", "text/markdown", "text/html", "application/pdf", None, None]


def test_html_headings_paragraphs_and_noise() -> None:
    source = """<!doctype html><html><head><title>T</title><style>p{}</style></head>
<body><nav><a href="/">Home</a> | <a href="/x">About</a></nav>
<header><h1>Harbor   <em>Guide</em></h1></header>
<p>First paragraph
   wraps here.</p><div>Loose <b>bold</b> text<p>inner paragraph</p></div>
<script>var hidden = "script text";</script><noscript>enable js</noscript>
<h2>Tides</h2><ul><li>High at noon</li><li>Low at six</li></ul>
<p hidden>hidden text</p><div style="display: none">invisible</div>
<table><tr><th>Day</th><th>Height</th></tr><tr><td>Mon</td><td>2&nbsp;m</td></tr></table>
<h3>Notes</h3><pre>  keep
    this layout</pre>Line one<br>line two
<footer>Copyright footer</footer></body></html>"""
    doc = parse_document(source.encode(), "text/html; charset=UTF-8")
    assert section_texts(doc) == [
        (
            ("Harbor Guide",),
            "Harbor Guide\n\nFirst paragraph wraps here.\n\nLoose bold text\n\ninner paragraph",
        ),
        (("Harbor Guide", "Tides"), "Tides\n\nHigh at noon\nLow at six\n\nDay | Height\nMon | 2 m"),
        (
            ("Harbor Guide", "Tides", "Notes"),
            "Notes\n\n  keep\n    this layout\n\nLine one\nline two",
        ),
    ]
    for noise in ("Home", "script text", "enable js", "hidden text", "invisible", "Copyright"):
        assert noise not in doc.text


def test_html_heading_titles_join_inline_markup_as_written() -> None:
    doc = parse_document(b"<h2>Wi<b>Fi</b> <i>setup</i></h2><p>Text.</p>", "text/html")
    assert section_texts(doc) == [(("WiFi setup",), "WiFi setup\n\nText.")]


def test_html_deep_nesting_does_not_exhaust_the_stack() -> None:
    source = "<div>" * 5000 + "deep text" + "</div>" * 5000
    assert parse_document(source.encode(), "text/html").text == "deep text"


def test_pdf_pages_are_numbered_from_one() -> None:
    content = make_pdf(["Page one talks about tides.", "Page two covers boats.\nSecond line."])
    doc = parse_document(content, "application/pdf")
    assert [doc.text[p.start : p.end] for p in doc.pages] == [
        "Page one talks about tides.",
        "Page two covers boats.\nSecond line.",
    ]
    assert [p.number for p in doc.pages] == [1, 2]
    assert doc.sections == (Section(0, len(doc.text), ()),)


def test_pdf_page_without_text_has_no_entry() -> None:
    doc = parse_document(make_pdf(["Text on one.", "", "Text on three."]), "application/pdf")
    assert doc.pages == (Page(0, 12, 1), Page(14, 28, 3))


def test_media_type_parameters_and_aliases() -> None:
    assert parse_media_type('Text/Markdown; charset="UTF-8"') == ("text/markdown", "utf-8")
    assert parse_media_type("application/xhtml+xml") == ("text/html", "utf-8")
    doc = parse_document("café".encode("latin-1"), "text/plain; charset=ISO-8859-1")
    assert doc.text == "café"


@pytest.mark.parametrize(
    ("content", "media_type", "field", "reason"),
    [
        (b"x", "image/png", "media_type", "unsupported media type 'image/png'; supported: "
         "text/plain, text/markdown, text/html, application/pdf"),
        (b"x", "text/plain; charset=klingon", "media_type", "unknown charset 'klingon'"),
        (b"x", "text/plain; charset=base64", "media_type", "unknown charset 'base64'"),
        (b"", "text/plain", "content", "document is empty"),
        (b"  \n\t\n", "text/plain", "content", "document has no text"),
        ("\u200b\ufeff\u00ad\n".encode(), "text/plain", "content", "document has no text"),
        (b"<html><script>x()</script></html>", "text/html", "content", "document has no text"),
        (b"ok \xff\xfe bad", "text/markdown", "content",
         "content is not valid UTF-8: invalid start byte (byte 0xff at offset 3)"),
        (b"%PDF-1.4 not really a pdf", "application/pdf", "content", None),
        (make_pdf([""]), "application/pdf", "content",
         "PDF has no extractable text (scanned pages need OCR first)"),
    ],
)  # fmt: skip
def test_errors_name_the_field_and_why(
    content: bytes, media_type: str, field: str, reason: str | None
) -> None:
    with pytest.raises(DocumentError) as caught:
        parse_document(content, media_type)
    assert isinstance(caught.value, InvalidArgument)
    assert caught.value.field == field
    if reason is not None:
        assert caught.value.reason == reason
    else:
        assert caught.value.reason.startswith("PDF cannot be read: ")


def test_media_type_echo_is_capped() -> None:
    with pytest.raises(DocumentError) as caught:
        parse_document(b"x", "x/" + "y" * 1000)
    assert len(caught.value.message) < 200


def test_truncated_pdf_is_a_document_error() -> None:
    content = make_pdf(["Some text here."])
    with pytest.raises(DocumentError, match=r"^content: PDF cannot be read: "):
        parse_document(content[: len(content) // 3], "application/pdf")


def _encrypt(content: bytes, user_password: str) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(content)))
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_encrypted_pdf_is_a_document_error() -> None:
    content = _encrypt(make_pdf(["Secret plans."]), "secret")
    with pytest.raises(DocumentError) as caught:
        parse_document(content, "application/pdf")
    assert caught.value.reason == "PDF is encrypted with a password; send it decrypted"


def test_pdf_with_owner_password_only_opens() -> None:
    content = _encrypt(make_pdf(["Open to all readers."]), "")
    assert parse_document(content, "application/pdf").text == "Open to all readers."
