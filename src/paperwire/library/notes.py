"""A reader's private note on a paper: Markdown (CommonMark, tables, strikethrough) turned into
HTML that is safe on any page — pure.

Raw HTML is never passed through (``html`` off: ``<script>``, ``<img onerror>``, ``<iframe>``
come out as visible, escaped text). A link keeps only an ``http``, ``https`` or ``mailto``
target — anything else (``javascript:``, ``data:``, ``vbscript:``, ``file:``, relative paths)
is not made a link and stays as its text — and gets ``rel="nofollow noopener"``. An image
never loads: it becomes a link to the picture (its alt text, else its address, as the text).
Headings start at ``<h3>``, under the page's own ``<h1>``/``<h2>``."""

from __future__ import annotations

import re

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.token import Token

MAX_NOTE_CHARS = 20_000  # a note longer than this is refused, not cut
LINK_REL = "nofollow noopener"
_ALLOWED = re.compile(r"(?:https?://[^/?#\s]|mailto:[^\s])", re.IGNORECASE)


def allowed_link(url: str) -> bool:
    """Whether a note may link to ``url`` (normalised by markdown-it: percent-encoded, no
    spaces): an absolute ``http(s)://host…`` address or a ``mailto:`` one."""
    return _ALLOWED.match(url) is not None


class _NoteMarkdown(MarkdownIt):
    def validateLink(self, url: str) -> bool:
        return allowed_link(url)


def _image_as_link(image: Token) -> list[Token]:
    """The tokens of a link to the image's address, its alt text (or the address) as text."""
    src = str(image.attrGet("src") or "")
    opening = Token("link_open", "a", 1)
    opening.attrSet("href", src)
    opening.attrSet("rel", LINK_REL)
    text = Token("text", "", 0)
    text.content = image.content or src
    return [opening, text, Token("link_close", "a", -1)]


def _make_safe(state: StateCore) -> None:
    """The core rule run after parsing: links get ``rel``, images become links, headings
    move two levels down."""
    for token in state.tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(int(token.tag[1]) + 2, 6)}"
        if token.type != "inline" or not token.children:
            continue
        children: list[Token] = []
        for child in token.children:
            if child.type == "image":
                children.extend(_image_as_link(child))
                continue
            if child.type == "link_open":
                if not allowed_link(str(child.attrGet("href") or "")):  # never, but be sure
                    child.attrSet("href", "#")
                child.attrSet("rel", LINK_REL)
            children.append(child)
        token.children = children


def _markdown() -> MarkdownIt:
    md = _NoteMarkdown("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    md.core.ruler.push("paperwire_safe", _make_safe)
    return md


_MD = _markdown()


def render(text: str) -> str:
    """``text`` (Markdown) as HTML safe to put on a page as it is."""
    return str(_MD.render(text[:MAX_NOTE_CHARS]))


def plain(text: str) -> str:
    """``text`` as a line of plain text (for searching and for feeds' summaries): what
    the reader sees of it, without Markdown's marks."""
    tokens = _MD.parse(text[:MAX_NOTE_CHARS])
    words: list[str] = []
    for token in tokens:
        if token.type == "inline" and token.children:
            words.extend(c.content for c in token.children if c.type in ("text", "code_inline"))
        elif token.type in ("code_block", "fence"):
            words.append(token.content)
    return " ".join(" ".join(words).split())
