"""Domain records. Plain data, no I/O: the store turns rows into these and back."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from typing import Any
from urllib.parse import quote

# New-style (2504.01234) and old-style (hep-th/9901001, math.AG/0601001) arXiv ids,
# with an optional version suffix and an optional "arXiv:" prefix or abs/pdf URL.
_ARXIV_ID = re.compile(
    r"^(?:arxiv:|https?://(?:export\.)?arxiv\.org/(?:abs|pdf)/)?"
    r"(?P<id>\d{4}\.\d{4,5}|[a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7})"
    r"(?:v(?P<version>\d+))?(?:\.pdf)?$",
    re.IGNORECASE,
)


def parse_arxiv_id(text: str) -> tuple[str, int | None] | None:
    """Split ``'2504.01234v3'`` into ``('2504.01234', 3)``; None when it is not an arXiv id."""
    m = _ARXIV_ID.match(text.strip())
    if not m:
        return None
    version = m.group("version")
    return m.group("id"), int(version) if version else None


_CATEGORY = re.compile(r"[a-z-]+(\.[A-Za-z-]+)?")


def is_arxiv_category(text: str) -> bool:
    """An arXiv category: ``cs.CL``, ``math.AG``, ``hep-th``, ``q-bio.BM``."""
    return len(text) <= 40 and _CATEGORY.fullmatch(text) is not None


def is_arxiv_id(paper_id: str) -> bool:
    return parse_arxiv_id(paper_id) is not None and ":" not in paper_id


def quote_id(paper_id: str) -> str:
    """``paper_id`` as it goes into a URL path (``/papers/<this>``), decoded back to exactly
    the id by the server. arXiv ids stay as they are (old-style ones keep their ``/``);
    in any other id (``beir:…``, whatever the imported ``_id`` held) every character but
    letters, digits, ``-._~:`` is percent-encoded, ``/`` included, so no ``.``/``..`` path
    segment, ``?`` or ``#`` can change where the link goes."""
    return quote(paper_id, safe="/:" if is_arxiv_id(paper_id) else ":")


@dataclass(frozen=True)
class Paper:
    """One paper. ``id`` is the arXiv id without version, or ``'<namespace>:<id>'``
    for documents from elsewhere (``beir:4983``, ``seed:…``).

    ``published`` is the first-version date and never moves later; ``updated`` is the
    date of the latest version. Title and abstract are raw text (LaTeX kept, never HTML).
    """

    id: str
    title: str
    abstract: str = ""
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    primary_category: str | None = None
    version: int | None = None
    published: date | None = None
    updated: date | None = None
    comment: str | None = None
    journal_ref: str | None = None
    doi: str | None = None
    source: str = "import"

    @property
    def abs_url(self) -> str | None:
        return f"https://arxiv.org/abs/{self.id}" if is_arxiv_id(self.id) else None

    @property
    def pdf_url(self) -> str | None:
        return f"https://arxiv.org/pdf/{self.id}" if is_arxiv_id(self.id) else None

    def content_hash(self) -> str:
        """Hash of the searchable text; unchanged text means no re-indexing or re-embedding."""
        text = "\x1f".join([self.title, self.abstract, "\x1e".join(self.authors)])
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


# ---- what a stored paper may hold -----------------------------------------------------------
# Text from outside (files, live sources) is capped and cleaned on its one way into the store
# (:func:`bounded`, applied by ``Store.write_batch``; the importer reports what it cut). The caps
# sit far above real papers (arXiv: titles < 300 characters, abstracts < 2,000 words, ATLAS
# papers ~3,000 authors), and keep one hostile record from costing the server gigabytes.
MAX_TITLE_CHARS = 1_000
MAX_ABSTRACT_CHARS = 20_000
MAX_AUTHORS = 3_000
MAX_AUTHOR_CHARS = 300
MAX_CATEGORIES = 50
MAX_CATEGORY_CHARS = 32  # the column's size
MAX_COMMENT_CHARS = 2_000
MAX_JOURNAL_REF_CHARS = 1_000
MAX_DOI_CHARS = 255  # the column's size

# Characters no stored text keeps: C0 controls but tab and newline (NUL among them: PostgreSQL
# refuses it), DEL, C1 controls (terminal escapes), and the bidi embeddings, overrides and
# isolates (U+202A-U+202E, U+2066-U+2069) that reverse the text around them on a page or in a
# feed. Carriage returns become newlines.
_UNWANTED = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_CUT_MARK = "\u2026"  # the ellipsis ending a cut text
_ASCII_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DOLLAR = re.compile(r"(?<!\\)\$")
_KEEP_FORMAT = {"\u200c", "\u200d"}  # zero-width (non-)joiners are part of some scripts


def clean_text(text: str) -> str:
    """``text`` without the characters no stored text keeps (see ``_UNWANTED``) and with lone
    surrogates (from JSON such as ``"\\ud83d"``) replaced: what every database column takes."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if _UNWANTED.search(text):
        text = _UNWANTED.sub("", text)
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def _cut(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, at a space when one is near the end,
    ending with an ellipsis."""
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    space = head.rfind(" ", limit - 1 - 80)
    return (head[:space] if space > 0 else head).rstrip() + _CUT_MARK


def bounded(paper: Paper) -> tuple[Paper, list[str]]:
    """``paper`` as the store keeps it: text cleaned (:func:`clean_text`) and every field cut
    to its cap (``MAX_*``). Also says which fields were cut, e.g. ``["abstract (over 20,000
    characters: cut)"]``. Idempotent: a bounded paper comes back unchanged."""
    cuts: list[str] = []

    def text(name: str, value: str, limit: int) -> str:
        value = clean_text(value)
        if len(value) > limit:
            cuts.append(f"{name} (over {limit:,} characters: cut)")
            value = _cut(value, limit)
        return value

    def opt(name: str, value: str | None, limit: int) -> str | None:
        return None if value is None else text(name, value, limit)

    def names(name: str, values: tuple[str, ...], count: int, limit: int) -> tuple[str, ...]:
        if len(values) > count:
            cuts.append(f"{name} ({len(values):,} of them, kept {count:,})")
            values = values[:count]
        out, long = [], 0
        for v in values:
            v = clean_text(v)
            if len(v) > limit:
                long += 1
                v = _cut(v, limit)
            out.append(v)
        if long:
            cuts.append(f"{name} ({long:,} longer than {limit:,} characters, cut)")
        return tuple(out)

    fields: dict[str, Any] = {
        "title": text("title", paper.title, MAX_TITLE_CHARS),
        "abstract": text("abstract", paper.abstract, MAX_ABSTRACT_CHARS),
        "authors": names("authors", paper.authors, MAX_AUTHORS, MAX_AUTHOR_CHARS),
        "categories": names("categories", paper.categories, MAX_CATEGORIES, MAX_CATEGORY_CHARS),
        "primary_category": opt("primary category", paper.primary_category,
                                MAX_CATEGORY_CHARS),
        "comment": opt("comment", paper.comment, MAX_COMMENT_CHARS),
        "journal_ref": opt("journal reference", paper.journal_ref, MAX_JOURNAL_REF_CHARS),
        "doi": opt("doi", paper.doi, MAX_DOI_CHARS),
    }
    if all(value == getattr(paper, name) for name, value in fields.items()):
        return paper, cuts
    return replace(paper, **fields), cuts


@dataclass(frozen=True)
class Signal:
    """A dated measurement about a paper from one source, e.g. HF upvotes on a day."""

    paper_id: str
    source: str
    day: date
    value: float


def _either(a: date | None, b: date | None, pick: Callable[[date, date], date]) -> date | None:
    """``pick(a, b)`` when both are known, else whichever is."""
    if a is None or b is None:
        return a or b
    return pick(a, b)


def merge(existing: Paper, incoming: Paper) -> Paper:
    """The record to keep when ``incoming`` arrives for a paper already stored.

    A strictly newer version replaces the text fields; anything else only fills gaps.
    The first-version date is the earliest ever seen; the update date the latest.
    """
    newer = (incoming.version or 0) > (existing.version or 0)
    if newer:
        base = replace(
            incoming,
            authors=incoming.authors or existing.authors,
            categories=incoming.categories or existing.categories,
            primary_category=incoming.primary_category or existing.primary_category,
            comment=incoming.comment if incoming.comment is not None else existing.comment,
            journal_ref=incoming.journal_ref or existing.journal_ref,
            doi=incoming.doi or existing.doi,
            abstract=incoming.abstract or existing.abstract,
            source=existing.source,
        )
    else:
        base = replace(
            existing,
            title=existing.title or incoming.title,
            abstract=existing.abstract or incoming.abstract,
            authors=existing.authors or incoming.authors,
            categories=existing.categories or incoming.categories,
            primary_category=existing.primary_category or incoming.primary_category,
            version=existing.version or incoming.version,
            comment=existing.comment if existing.comment is not None else incoming.comment,
            journal_ref=existing.journal_ref or incoming.journal_ref,
            doi=existing.doi or incoming.doi,
        )
    return replace(
        base,
        published=_either(existing.published, incoming.published, min),
        updated=_either(existing.updated, incoming.updated, max),
    )


# ---- display text: one line, shortened (pages, mails) ---------------------------------


def one_line(text: str) -> str:
    """One line of text: control characters and line/paragraph separators become spaces,
    invisible formatting characters (bidi overrides, soft hyphens, lone surrogates) are
    dropped, and runs of whitespace collapse to one space."""
    if text.isascii():  # the common case, without a look-up per character
        return " ".join(_ASCII_CONTROL.sub(" ", text).split())
    out: list[str] = []
    for ch in text:
        cat = unicodedata.category(ch)
        if cat in ("Cc", "Zl", "Zp"):
            out.append(" ")
        elif cat in ("Cf", "Cs") and ch not in _KEEP_FORMAT:
            continue
        else:
            out.append(ch)
    return " ".join("".join(out).split())


def shorten(text: str, limit: int = 300) -> str:
    """``text`` cleaned and, when longer than ``limit`` characters, cut at a word boundary
    with an ellipsis (the result, ellipsis included, is at most ``limit`` characters). A cut
    that would leave an unclosed ``$...$`` moves back before the math when that keeps at
    least half the text; a single overlong word is cut hard."""
    text = one_line(text)
    if len(text) <= limit:
        return text
    room = max(limit - 1, 1)
    if text[room] == " ":
        cut = text[:room]
    else:
        space = text.rfind(" ", 0, room)
        cut = text[:space] if space >= room // 2 else text[:room]
    dollars = [m.start() for m in _DOLLAR.finditer(cut)]
    if len(dollars) % 2 == 1 and dollars[-1] >= room // 2:
        cut = cut[: dollars[-1]]
    return cut.rstrip(" ,;:-–—") + "…"
