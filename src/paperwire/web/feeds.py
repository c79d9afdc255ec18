"""Trending as feeds: Atom 1.0 (RFC 4287) and JSON Feed 1.1, built from a ``TrendingView``;
and a reader's private library feed (Atom), built from the library's items.

Pure functions: no I/O, and the same view gives the same bytes. The Atom document is built
with :mod:`xml.etree.ElementTree`, so markup in titles and abstracts is escaped by the XML
library, never by hand; characters XML 1.0 forbids (most C0 controls) are dropped from every
text first, because no escaping can make them legal. Titles and abstracts are plain text:
their TeX is cleaned to readable Unicode where simple (``O(N^2)`` → ``O(N²)``), else kept.
An entry's summary starts with the paper's labelled one-line TL;DR (Hugging Face's AI summary,
else the extracted sentence, left out when it is the whole abstract), as plain text too.

Identity: a feed's id is its own absolute URL with a canonical query (window, then category,
then date when one is pinned); an entry's id is ``https://arxiv.org/abs/<id>`` for arXiv papers
and a ``tag:`` URI under the site's host otherwise, so it stays the same from day to day.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from paperwire import texts
from paperwire.library import notes
from paperwire.library.service import Item
from paperwire.metadata import TLDR_LABELS, Extras
from paperwire.models import Paper, quote_id
from paperwire.trending import TrendingEntry, TrendingView, window_phrase

ATOM_NS = "http://www.w3.org/2005/Atom"
ATOM_TYPE = "application/atom+xml; charset=utf-8"
JSON_FEED_TYPE = "application/feed+json"
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
TAG_DATE = "2025"  # the date part of tag: ids; it must never change
EXCERPT = 600
# Everything XML 1.0 allows is kept: tab, LF, CR, and the ranges below (no C0/C1 controls
# other than those three, no lone surrogates, no U+FFFE/U+FFFF).
_XML_ILLEGAL = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    """``text`` without the characters XML 1.0 cannot carry (NUL, ESC, BEL, …)."""
    return _XML_ILLEGAL.sub("", text)


def excerpt(text: str, length: int = EXCERPT) -> str:
    """The abstract on one line, cut at a word boundary near ``length`` characters."""
    text = " ".join(xml_text(text).split())
    if len(text) <= length:
        return text
    return text[:length].rsplit(" ", 1)[0].rstrip(",;:.") + "…"


def plain(text: str) -> str:
    """TeX-cleaned plain text on one line, without the characters XML cannot carry."""
    return " ".join(xml_text(texts.to_plain(text)).split())


def tldr_line(paper: Paper, extras: Mapping[str, Extras] | None) -> str:
    """The labelled TL;DR an entry's summary starts with; "" when there is none or when it
    would only repeat the whole abstract."""
    x = (extras or {}).get(paper.id)
    if x is None or not x.tldr:
        return ""
    text = plain(x.tldr)
    if not text or (x.tldr_from != "hf" and text == plain(paper.abstract)):
        return ""
    return f"{TLDR_LABELS.get(x.tldr_from or '', 'TL;DR')}: {text}"


def _parts(*parts: str) -> str:
    return "\n\n".join(p for p in parts if p)


def paper_link(base_url: str, paper_id: str) -> str:
    """The absolute URL of a paper's page on this site."""
    return f"{base_url}/papers/{quote_id(paper_id)}"


def _query(view: TrendingView, pinned: date | None) -> str:
    params = {"window": view.window}
    if view.category:
        params["cat"] = view.category
    if pinned:
        params["date"] = pinned.isoformat()
    return urlencode(params)


def feed_url(base_url: str, fmt: str, view: TrendingView, pinned: date | None = None) -> str:
    """``<base>/feeds/trending.<fmt>?window=…&cat=…`` (``fmt`` is ``atom`` or ``json``)."""
    return f"{base_url}/feeds/trending.{fmt}?{_query(view, pinned)}"


def page_url(base_url: str, view: TrendingView, pinned: date | None = None) -> str:
    """The HTML page showing the same list."""
    return f"{base_url}/?{_query(view, pinned)}"


def feed_title(view: TrendingView, pinned: date | None = None) -> str:
    """``'Paperwire · trending this week in cs.CL'``."""
    current = pinned is not None or view.as_of is None or not view.stale
    where = window_phrase(view.window, view.as_of or view.requested, current)
    title = f"Paperwire · trending {where}"
    if view.category:
        title += f" in {view.category}"
    if pinned:
        title += f" (as of {pinned.isoformat()})"
    return title


def entry_id(base_url: str, paper: Paper) -> str:
    """A stable id: the arXiv abstract URL, else ``tag:<host>,2025:paper/<id>``."""
    if paper.abs_url:
        return paper.abs_url
    host = urlsplit(base_url).hostname or "localhost"
    return f"tag:{host},{TAG_DATE}:paper/{quote(paper.id, safe='/:')}"


def _stamp(d: date) -> str:
    """RFC 3339 at midnight UTC."""
    return f"{d.isoformat()}T00:00:00Z"


def _entry_updated(entry: TrendingEntry, paper: Paper) -> date:
    """When the entry last changed: its newest signal or its newest version."""
    known = [d for d in (paper.published, paper.updated, entry.last_day) if d is not None]
    return max(known)


def _feed_updated(view: TrendingView) -> date:
    days = [_entry_updated(e, p) for e, p in view.entries]
    return max([view.as_of or view.requested, *days])


def _categories(paper: Paper) -> list[str]:
    first = [paper.primary_category] if paper.primary_category else []
    return [xml_text(c) for c in first + [c for c in paper.categories if c not in first]]


def _summary(entry: TrendingEntry, paper: Paper, extras: Mapping[str, Extras] | None) -> str:
    return _parts(tldr_line(paper, extras), xml_text(entry.reason),
                  excerpt(texts.to_plain(paper.abstract)))


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, tag, attrs)
    if text is not None:
        el.text = xml_text(text)
    return el


def atom_feed(view: TrendingView, base_url: str, pinned: date | None = None,
              extras: Mapping[str, Extras] | None = None) -> bytes:
    """The view as an Atom 1.0 document (UTF-8 bytes with an XML declaration); ``extras``
    (by paper id) give the entries' TL;DR lines."""
    feed = ET.Element("feed", {"xmlns": ATOM_NS, "xml:lang": "en"})
    self_url = feed_url(base_url, "atom", view, pinned)
    _sub(feed, "id", self_url)
    _sub(feed, "title", feed_title(view, pinned))
    _sub(feed, "subtitle", view.note or "Papers ranked by recent, weighted signals; "
         f"the formula is at {base_url}/about/trending")
    _sub(feed, "updated", _stamp(_feed_updated(view)))
    _sub(feed, "link", rel="self", type="application/atom+xml", href=self_url)
    _sub(feed, "link", rel="alternate", type="text/html", href=page_url(base_url, view, pinned))
    author = _sub(feed, "author")
    _sub(author, "name", "Paperwire")
    _sub(author, "uri", base_url + "/")
    _sub(feed, "generator", "Paperwire", uri=base_url + "/about/trending")
    for entry, paper in view.entries:
        item = _paper_entry(feed, base_url, paper, _stamp(_entry_updated(entry, paper)))
        _sub(item, "summary", _summary(entry, paper, extras), type="text")
    ET.indent(feed)
    document: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return document + b"\n"


def json_feed(view: TrendingView, base_url: str, pinned: date | None = None,
              extras: Mapping[str, Extras] | None = None) -> dict[str, Any]:
    """The view as a JSON Feed 1.1 object (serialise it with ``json.dumps``)."""
    items = []
    for entry, paper in view.entries:
        abstract = xml_text(texts.to_plain(paper.abstract)).strip()
        summary = _parts(tldr_line(paper, extras), xml_text(entry.reason))
        item: dict[str, Any] = {
            "id": entry_id(base_url, paper),
            "url": paper_link(base_url, paper.id),
            "title": xml_text(texts.to_plain(paper.title)),
            "content_text": _parts(summary, abstract),
            "summary": summary,
            "date_modified": _stamp(_entry_updated(entry, paper)),
            "tags": _categories(paper),
            "_paperwire": {"rank": entry.rank, "score": entry.score, "total": entry.total},
        }
        if paper.authors:
            item["authors"] = [{"name": xml_text(a)} for a in paper.authors]
        if paper.abs_url:
            item["external_url"] = paper.abs_url
        if paper.published:
            item["date_published"] = _stamp(paper.published)
        items.append(item)
    feed: dict[str, Any] = {
        "version": JSON_FEED_VERSION,
        "title": feed_title(view, pinned),
        "home_page_url": page_url(base_url, view, pinned),
        "feed_url": feed_url(base_url, "json", view, pinned),
        "description": view.note or "Papers ranked by recent, weighted signals.",
        "language": "en",
        "authors": [{"name": "Paperwire", "url": base_url + "/"}],
        "items": items,
    }
    return feed


# ---- a reader's private library feed ---------------------------------------------------------


def library_atom(items: Sequence[Item], base_url: str, self_url: str, title: str,
                 now: datetime, extras: Mapping[str, Extras] | None = None) -> bytes:
    """A reader's saved papers (newest save first) as an Atom 1.0 document. Its address holds
    the reader's secret, so it is private: each entry's summary carries the reader's tags,
    reading state and note (as plain text), then the abstract's start."""
    feed = ET.Element("feed", {"xmlns": ATOM_NS, "xml:lang": "en"})
    _sub(feed, "id", self_url)
    _sub(feed, "title", title)
    _sub(feed, "subtitle", "Papers saved to a Paperwire library; this address is private.")
    newest = max((i.entry.updated_at for i in items), default=now)
    _sub(feed, "updated", _instant(newest))
    _sub(feed, "link", rel="self", type="application/atom+xml", href=self_url)
    _sub(feed, "link", rel="alternate", type="text/html", href=f"{base_url}/library")
    author = _sub(feed, "author")
    _sub(author, "name", "Paperwire")
    _sub(author, "uri", base_url + "/")
    _sub(feed, "generator", "Paperwire", uri=base_url + "/")
    for item in items:
        paper, entry = item.paper, item.entry
        node = _sub(feed, "entry")
        _sub(node, "id", entry_id(base_url, paper))
        _sub(node, "title", texts.to_plain(paper.title))
        _sub(node, "link", rel="alternate", type="text/html",
             href=paper_link(base_url, paper.id))
        if paper.abs_url:
            _sub(node, "link", rel="related", type="text/html", href=paper.abs_url)
        _sub(node, "published", _instant(entry.saved_at))
        _sub(node, "updated", _instant(entry.updated_at))
        for name in paper.authors:
            _sub(_sub(node, "author"), "name", name)
        for tag in entry.tags:
            _sub(node, "category", term=tag, label=tag)
        _sub(node, "summary", _parts(tldr_line(paper, extras), _library_summary(item)),
             type="text")
    ET.indent(feed)
    document: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return document + b"\n"


def _instant(when: datetime) -> str:
    """RFC 3339 of a naive UTC time."""
    return when.replace(microsecond=0).isoformat() + "Z"


def _library_summary(item: Item) -> str:
    entry = item.entry
    lines = []
    if entry.tags:
        lines.append("Tags: " + ", ".join(entry.tags))
    if entry.state:
        lines.append("State: " + entry.state)
    if entry.note:
        lines.append("Note: " + excerpt(notes.plain(entry.note)))
    abstract = excerpt(texts.to_plain(item.paper.abstract))
    if abstract:
        lines.append(abstract)
    return "\n\n".join(lines)


# ---- a search's and a category's papers --------------------------------------------------

MAX_FEED_AUTHORS = 10  # a feed entry names this many authors, then "et al."


def feed_authors(authors: Sequence[str], cap: int = MAX_FEED_AUTHORS) -> list[str]:
    """The authors an entry names: all of a short list; the first ``cap`` and ``et al.``
    of a long one (a 60-author paper would bury the entry in a reader)."""
    names = [xml_text(a) for a in authors]
    return names if len(names) <= cap else [*names[:cap], "et al."]


def _paper_entry(feed: ET.Element, base_url: str, paper: Paper, updated: str) -> ET.Element:
    """An Atom entry of ``paper`` (id, title, links, dates, authors capped, categories), its
    summary left to the caller."""
    item = _sub(feed, "entry")
    _sub(item, "id", entry_id(base_url, paper))
    _sub(item, "title", texts.to_plain(paper.title))
    _sub(item, "link", rel="alternate", type="text/html", href=paper_link(base_url, paper.id))
    if paper.abs_url:
        _sub(item, "link", rel="related", type="text/html", href=paper.abs_url)
    if paper.published:
        _sub(item, "published", _stamp(paper.published))
    _sub(item, "updated", updated)
    for name in feed_authors(paper.authors):
        _sub(_sub(item, "author"), "name", name)
    for cat in _categories(paper):
        _sub(item, "category", term=cat)
    return item


def _paper_updated(paper: Paper, fallback: datetime) -> str:
    known = [d for d in (paper.published, paper.updated) if d is not None]
    return _stamp(max(known)) if known else _instant(fallback)


def papers_atom(papers: Sequence[Paper], base_url: str, *, self_url: str, page_url: str,
                title: str, subtitle: str, now: datetime,
                extras: Mapping[str, Extras] | None = None) -> bytes:
    """A list of papers (in the order given) as an Atom 1.0 document: the feed of a search
    or of a category's new papers. ``self_url`` and ``page_url`` are absolute; ``now`` dates
    a feed (or entry) that has no dated paper."""
    feed = ET.Element("feed", {"xmlns": ATOM_NS, "xml:lang": "en"})
    _sub(feed, "id", self_url)
    _sub(feed, "title", title)
    _sub(feed, "subtitle", subtitle)
    dated = [d for p in papers for d in (p.published, p.updated) if d is not None]
    _sub(feed, "updated", _stamp(max(dated)) if dated else _instant(now))
    _sub(feed, "link", rel="self", type="application/atom+xml", href=self_url)
    _sub(feed, "link", rel="alternate", type="text/html", href=page_url)
    author = _sub(feed, "author")
    _sub(author, "name", "Paperwire")
    _sub(author, "uri", base_url + "/")
    _sub(feed, "generator", "Paperwire", uri=base_url + "/")
    for paper in papers:
        item = _paper_entry(feed, base_url, paper, _paper_updated(paper, now))
        summary = _parts(tldr_line(paper, extras), excerpt(texts.to_plain(paper.abstract)))
        if summary:
            _sub(item, "summary", summary, type="text")
    ET.indent(feed)
    document: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return document + b"\n"
