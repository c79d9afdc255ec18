"""Domain records. Plain data, no I/O: the store turns rows into these and back."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date

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
