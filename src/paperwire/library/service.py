"""The library's use cases over the store (``store.library``): a reader's saved papers
(filtered by tag and state, searched, sorted), exported in each format, imported from a
BibTeX file or a list of arXiv ids, and listed in a private feed. The web and the CLI call
these; everything but the store calls is pure."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from paperwire.library import bibtex, csl
from paperwire.library.ids import Found, Problem
from paperwire.models import Paper, clean_text
from paperwire.records import READING_STATES, LibraryEntry
from paperwire.store import Store

SORTS = ("saved", "published", "title")
FORMATS = ("bibtex", "csl", "json")
# format → (file extension, media type)
FILES = {
    "bibtex": ("bib", "application/x-bibtex; charset=utf-8"),
    "csl": ("csl.json", "application/vnd.citationstyles.csl+json; charset=utf-8"),
    "json": ("json", "application/json; charset=utf-8"),
}
JSON_FORMAT = "paperwire-library"
MAX_IMPORT_BYTES = 5_000_000  # an import file larger than this is refused
FEED_SIZE = 100  # entries in a private feed: the newest saves


@dataclass(frozen=True)
class Item:
    """A saved paper: the paper and what the reader keeps with it."""

    paper: Paper
    entry: LibraryEntry


def items(store: Store, account_id: int, tag: str | None = None,
          state: str | None = None) -> list[Item]:
    """The account's saved papers, newest save first; only ``tag``'s or ``state``'s when
    given (``state`` ``none``: papers with no state)."""
    wanted = state if state in READING_STATES else None
    entries = store.library.entries(account_id, tag=tag or None, state=wanted)
    if state == "none":
        entries = [e for e in entries if e.state is None]
    papers = store.get_papers(e.paper_id for e in entries)
    return [Item(papers[e.paper_id], e) for e in entries if e.paper_id in papers]


# ---- what a reader types (pure) ---------------------------------------------------------------


def clean_tag(text: str) -> str:
    """A tag as typed, made storable: no control or bidi characters, no lone surrogates
    (``models.clean_text``), whitespace collapsed."""
    return " ".join(clean_text(text).split())


def clean_note(text: str) -> str:
    """A note as typed, made storable: line ends as ``\n``, no control or bidi characters,
    no lone surrogates (a NUL, which PostgreSQL refuses, among them)."""
    return clean_text(text)


# ---- searching and sorting (pure) ------------------------------------------------------------


def _fold(text: str) -> str:
    """Lower-case, accents dropped, whitespace collapsed: what searching compares."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


_TERM = re.compile(r'"([^"]+)"|(\S+)')


def terms(query: str) -> list[str]:
    """The words and ``"quoted phrases"`` of a library search, folded."""
    out = []
    for m in _TERM.finditer(query):
        term = _fold(m.group(1) or m.group(2))
        if term:
            out.append(term)
    return out


def haystack(item: Item) -> str:
    """What a library search looks in: title, authors, abstract, note, tags."""
    p, e = item.paper, item.entry
    return _fold(" \n ".join([p.title, " ".join(p.authors), p.abstract, e.note or "",
                              " ".join(e.tags), p.id]))


def search(found: Sequence[Item], query: str) -> list[Item]:
    """The items holding every word and phrase of ``query`` (any case, accents or not)."""
    wanted = terms(query)
    if not wanted:
        return list(found)
    return [i for i in found if all(t in haystack(i) for t in wanted)]


def sort(found: Sequence[Item], how: str) -> list[Item]:
    """``saved`` (newest save first), ``published`` (newest first, undated last) or
    ``title`` (A–Z, any case)."""
    if how == "title":
        return sorted(found, key=lambda i: (_fold(i.paper.title), i.paper.id))
    if how == "published":
        dated = sorted((i for i in found if i.paper.published),
                       key=lambda i: (i.paper.published, i.paper.id), reverse=True)
        return dated + [i for i in found if not i.paper.published]
    return sorted(found, key=lambda i: (i.entry.saved_at, i.paper.id), reverse=True)


# ---- export (pure) ---------------------------------------------------------------------------


def _stamp(when: datetime) -> str:
    return when.replace(microsecond=0).isoformat() + "Z"


def library_json(found: Sequence[Item], now: datetime, tag: str | None = None) -> dict[str, Any]:
    """The JSON export: every paper with its citation key and the reader's tags, state and
    note (Markdown as written)."""
    keys = bibtex.citation_keys([i.paper for i in found])
    papers = []
    for i in found:
        p, e = i.paper, i.entry
        papers.append({
            "id": p.id, "key": keys[p.id], "title": p.title, "authors": list(p.authors),
            "abstract": p.abstract, "categories": list(p.categories),
            "primary_category": p.primary_category, "version": p.version,
            "published": p.published.isoformat() if p.published else None,
            "updated": p.updated.isoformat() if p.updated else None,
            "doi": p.doi, "journal_ref": p.journal_ref, "comment": p.comment,
            "url": p.abs_url,
            "saved_at": _stamp(e.saved_at), "updated_at": _stamp(e.updated_at),
            "state": e.state, "tags": list(e.tags), "note": e.note,
        })
    return {"format": JSON_FORMAT, "version": 1, "exported_at": _stamp(now), "tag": tag,
            "count": len(papers), "papers": papers}


def export(found: Sequence[Item], fmt: str, now: datetime, tag: str | None = None) -> str:
    """The items as a ``bibtex``, ``csl`` (CSL-JSON) or ``json`` file (ValueError for
    another format). Tags go along: BibTeX ``keywords``, CSL ``keyword``."""
    papers = [i.paper for i in found]
    tags = {i.paper.id: i.entry.tags for i in found}
    if fmt == "bibtex":
        return bibtex.export(papers, tags)
    if fmt == "csl":
        return csl.export(papers, tags)
    if fmt == "json":
        return json.dumps(library_json(found, now, tag), ensure_ascii=False, indent=2) + "\n"
    raise ValueError(f"unknown export format {fmt!r}: use one of {', '.join(FORMATS)}")


def filename(fmt: str, tag: str | None = None) -> str:
    """``paperwire-library.bib``, ``paperwire-library-reading-group.csl.json``: ASCII only."""
    stem = "paperwire-library"
    if tag:
        slug = re.sub(r"[^a-z0-9]+", "-", _fold(tag)).strip("-")[:40]
        if slug:
            stem += "-" + slug
    return f"{stem}.{FILES[fmt][0]}"


# ---- import ----------------------------------------------------------------------------------


@dataclass
class ImportReport:
    """What an import did: ids saved now, ids already saved, ids no stored paper has (not
    saved: reported), and the input's problems (malformed entries, entries with no arXiv id,
    tokens that are no id), each with its line. ``tags`` were added to the papers saved and
    to those already there."""

    format: str
    imported: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    unknown: list[Found] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    tags: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Nothing was skipped."""
        return not self.unknown and not self.problems

    def summary(self) -> str:
        parts = [f"imported {len(self.imported):,}", f"already there {len(self.already):,}",
                 f"unknown ids {len(self.unknown):,}", f"problems {len(self.problems):,}"]
        return ", ".join(parts)

    def lines(self) -> list[str]:
        """One line per skipped thing, in the order of the input."""
        skipped = [(f.line, f"line {f.line}: {f.arxiv_id} ({f.label}): not stored here, "
                            "not saved") for f in self.unknown]
        skipped += [(p.line, f"line {p.line}: {_PROBLEM[p.kind]}: {p.detail}")
                    for p in self.problems]
        return [text for _, text in sorted(skipped, key=lambda s: s[0])]

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format, "ok": self.ok, "tags": list(self.tags),
            "imported": self.imported, "already": self.already,
            "unknown": [{"id": f.arxiv_id, "line": f.line, "label": f.label}
                        for f in self.unknown],
            "problems": [{"line": p.line, "kind": p.kind, "detail": p.detail}
                         for p in self.problems],
        }


_PROBLEM = {"malformed": "malformed entry", "no-arxiv-id": "no arXiv id",
            "not-an-id": "not an arXiv id"}


def import_text(store: Store, account_id: int, text: str, now: datetime,
                tags: Iterable[str] = ()) -> ImportReport:
    """Save the papers an import file (BibTeX or a list of ids) names to the account's
    library. Papers not stored here are reported, not saved; ``tags`` are added to every
    paper found (new or already saved)."""
    parsed = bibtex.parse_import(text)
    wanted = [t for t in (clean_tag(t) for t in tags) if t]
    report = ImportReport(parsed.format, problems=list(parsed.problems), tags=tuple(wanted))
    stored = store.get_papers(parsed.ids)
    saved = store.library.saved_of(account_id, [i for i in parsed.ids if i in stored])
    for found in parsed.found:
        arxiv_id = found.arxiv_id
        if arxiv_id not in stored:
            report.unknown.append(found)
            continue
        if arxiv_id in saved:
            report.already.append(arxiv_id)
        elif store.library.save(account_id, arxiv_id, now):
            report.imported.append(arxiv_id)
        else:  # saved meanwhile, by another request
            report.already.append(arxiv_id)
        if wanted:
            store.library.add_tags(account_id, arxiv_id, wanted, now)
    return report


def decode_upload(data: bytes) -> str:
    """An uploaded file's text: UTF-8 (a BOM dropped), else Latin-1 (old BibTeX files),
    so no byte is refused."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")
