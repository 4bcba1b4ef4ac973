"""HTML → text with section paths, through selectolax's Lexbor (HTML5) parser."""

from __future__ import annotations

from selectolax.lexbor import LexborHTMLParser, LexborNode

from ragserve.orchestrator.documents.text_builder import TextBuilder

# Not content: code, styling, embedded objects, form controls and site chrome. <aside>
# and <header> stay: articles put side notes and their own title there.
_SKIPPED = frozenset(
    {
        "head", "script", "style", "noscript", "template", "svg", "math", "canvas",
        "iframe", "object", "embed", "video", "audio", "map", "nav", "footer", "form",
        "button", "select", "input", "textarea", "dialog",
    }
)  # fmt: skip
_SKIPPED_ROLES = frozenset({"navigation", "banner", "contentinfo", "search", "menu"})
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
# Elements that end a paragraph (2) or a line (1) where they open and close.
_BLOCKS = {
    **dict.fromkeys(
        (
            "p", "div", "section", "article", "main", "blockquote", "figure", "figcaption",
            "table", "caption", "ul", "ol", "dl", "address", "details", "summary", "hr",
            "fieldset", "legend", "body", "html",
        ),
        2,
    ),
    **dict.fromkeys(("li", "tr", "dt", "dd", "br", "thead", "tbody", "tfoot"), 1),
}  # fmt: skip
_CELLS = frozenset({"td", "th"})


def extract_html(text: str, builder: TextBuilder) -> None:
    """Walks the DOM (iteratively: hostile nesting depth cannot exhaust the stack)."""
    tree = LexborHTMLParser(text)
    root = tree.body
    if root is None:
        return
    # (node, entering): exits are pushed before children so blocks close after them.
    stack: list[tuple[LexborNode, bool]] = [(root, True)]
    while stack:
        node, entering = stack.pop()
        tag = node.tag
        if not entering:
            builder.block_break(_BLOCKS.get(tag or "", 0))
            continue
        if node.is_text_node:
            builder.inline(node.text_content or "")
            continue
        if not node.is_element_node or tag is None or _is_noise(node, tag):
            continue
        level = _HEADINGS.get(tag)
        if level is not None:
            builder.heading(level, node.text(deep=True))
            continue
        if tag == "pre":
            builder.block_break(2)
            builder.preformatted(node.text(deep=True))
            builder.block_break(2)
            continue
        if tag in _CELLS:
            builder.separator(" | ")
        elif tag == "img":
            builder.inline(f" {node.attributes.get('alt') or ''} ")
        builder.block_break(_BLOCKS.get(tag, 0))
        stack.append((node, False))
        children = list(node.iter(include_text=True))
        stack.extend((child, True) for child in reversed(children))


def _is_noise(node: LexborNode, tag: str) -> bool:
    if tag in _SKIPPED:
        return True
    attributes = node.attributes
    if "hidden" in attributes or attributes.get("aria-hidden") == "true":
        return True
    if (attributes.get("role") or "") in _SKIPPED_ROLES:
        return True
    style = (attributes.get("style") or "").replace(" ", "").lower()
    return "display:none" in style or "visibility:hidden" in style
