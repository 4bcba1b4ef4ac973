"""Markdown → text with section paths, from markdown-it-py's CommonMark token stream
(ATX and setext headings alike arrive as heading_open tokens)."""

from __future__ import annotations

from collections.abc import Sequence

from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.front_matter import front_matter_plugin

from ragserve.orchestrator.documents.html import extract_html
from ragserve.orchestrator.documents.text_builder import TextBuilder


def _parser() -> MarkdownIt:
    # GFM tables and strikethrough are common in real documents; raw HTML blocks are
    # recognised as such (and reduced to their text) instead of leaking tags; YAML front
    # matter is metadata, skipped like other tokens this module does not render.
    return (
        MarkdownIt("commonmark", {"html": True})
        .enable(["table", "strikethrough"])
        .use(front_matter_plugin)
    )


_MARKDOWN = _parser()


def extract_markdown(text: str, builder: TextBuilder) -> None:
    tokens = _MARKDOWN.parse(text)
    index = 0
    while index < len(tokens):
        token = tokens[index]
        kind = token.type
        if kind == "heading_open":
            title = tokens[index + 1] if index + 1 < len(tokens) else None
            builder.heading(int(token.tag[1:]), _plain(title.children) if title else "")
            index += 3  # heading_open, inline, heading_close
            continue
        if kind == "inline":
            _render_inline(token.children or (), builder)
        elif kind == "paragraph_open" and tokens[index - 1].type == "list_item_open":
            pass  # an item's first paragraph goes on its marker's line
        elif kind in ("paragraph_open", "paragraph_close"):
            # Paragraphs of tight lists are hidden: their items are lines, not paragraphs.
            builder.block_break(1 if token.hidden else 2)
        elif kind == "list_item_open":
            builder.block_break(1)
            marker = f"{token.info}{token.markup}" if token.info else token.markup
            builder.inline(f"{marker} ")
        elif kind in ("fence", "code_block"):
            builder.block_break(2)
            builder.preformatted(token.content)
            builder.block_break(2)
        elif kind == "html_block":
            # Through the HTML extractor: scripts and styles dropped, headings kept.
            builder.block_break(2)
            extract_html(token.content, builder)
            builder.block_break(2)
        elif kind in ("th_open", "td_open"):
            builder.separator(" | ")
        elif kind in ("tr_open", "tr_close", "list_item_close"):
            builder.block_break(1)
        elif kind in ("th_close", "td_close", "thead_open", "thead_close", "tbody_open"):
            pass  # cells flow on their row's line
        elif kind.endswith(("_open", "_close")) or kind == "hr":
            # Lists, block quotes, tables, rules: each a block of its own.
            builder.block_break(2)
        index += 1


def _render_inline(children: Sequence[Token], builder: TextBuilder) -> None:
    for child in children:
        kind = child.type
        if kind in ("text", "code_inline"):
            builder.inline(child.content)
        elif kind == "softbreak":
            builder.separator(" ")
        elif kind == "hardbreak":
            builder.block_break(1)
        elif kind == "image":
            builder.inline(f" {child.content} ")
        # Emphasis and link markers carry no text; inline HTML tags are dropped.


def _plain(children: Sequence[Token] | None) -> str:
    parts: list[str] = []
    for child in children or ():
        if child.type in ("text", "code_inline", "image"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
    return "".join(parts)
