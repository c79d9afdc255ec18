"""arXiv listing RSS: the latest announcement of some categories, in one request.

``GET {base_url}/cs.CL+cs.LG`` answers the RSS 2.0 feed arXiv has published since January
2024 (documented on arXiv's "RSS feeds" help pages): a channel whose ``<pubDate>`` is the
announcement day and ``<lastBuildDate>`` when the feed was built, and one ``<item>`` per
announced paper::

    <item>
      <title>…</title>
      <link>https://arxiv.org/abs/2506.10139</link>
      <description>arXiv:2506.10139v1 Announce Type: new
    Abstract: …</description>
      <guid isPermaLink="false">oai:arXiv.org:2506.10139v1</guid>
      <category>cs.CL</category> <category>cs.AI</category>
      <pubDate>Fri, 13 Jun 2025 00:00:00 -0400</pubDate>
      <arxiv:announce_type>new</arxiv:announce_type>
      <dc:rights>http://creativecommons.org/licenses/by/4.0/</dc:rights>
      <arxiv:DOI>…</arxiv:DOI> <arxiv:journal_reference>…</arxiv:journal_reference>  (optional)
      <dc:creator>A. One, B. Two</dc:creator>
    </item>

Announce types: ``new`` (first announcement), ``cross`` (first announcement in a category
that is not the paper's primary one), ``replace`` and ``replace-cross`` (a new version of
an older paper). On weekends and holidays the channel has no items.

The feed only ever holds the latest announcement, so the source yields one :class:`Batch`
for the whole feed. Cursor shape (JSON)::

    {"last_build": "2025-06-13T04:00:11+00:00"}   the feed built then was read

A feed built no later than the cursor's yields an empty batch: nothing new.
"""

from __future__ import annotations

import email.utils
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from xml.etree.ElementTree import Element  # the type only; parsing goes through defusedxml

from paperwire.errors import RecordError, SourceError
from paperwire.models import Paper, parse_arxiv_id
from paperwire.sources.atom import ARXIV_ATOM, collapse, first_doi, parse_xml
from paperwire.sources.base import Batch, Cursor
from paperwire.sources.http import Fetcher

SOURCE = "arxiv-rss"
DC = "http://purl.org/dc/elements/1.1/"
NS = {"arxiv": ARXIV_ATOM, "dc": DC}

NEW, CROSS, REPLACE, REPLACE_CROSS = "new", "cross", "replace", "replace-cross"
ANNOUNCE_TYPES = (NEW, CROSS, REPLACE, REPLACE_CROSS)
FIRST_ANNOUNCEMENTS = frozenset({NEW, CROSS})

# "arXiv:2506.10139v1 Announce Type: new \nAbstract: …"
_DESCRIPTION = re.compile(
    r"^\s*arXiv:(?P<id>\S+)\s+Announce\s+Type:\s*(?P<type>[\w-]+)\s*(?:Abstract:)?(?P<rest>.*)$",
    re.DOTALL | re.IGNORECASE,
)
_GUID_PREFIX = re.compile(r"^oai:arxiv\.org:", re.IGNORECASE)
_AUTHOR_SPLIT = re.compile(r"\s*,\s*|\s+and\s+")


@dataclass(frozen=True)
class RssItem:
    """One announced paper and how it was announced (one of :data:`ANNOUNCE_TYPES`)."""

    paper: Paper
    announce_type: str

    @property
    def is_replacement(self) -> bool:
        """A new version of a paper first announced earlier (``replace``/``replace-cross``):
        an old paper, not a new one."""
        return self.announce_type not in FIRST_ANNOUNCEMENTS


@dataclass(frozen=True)
class RssFeed:
    """One parsed feed."""

    items: list[RssItem] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    last_build: datetime | None = None  # <lastBuildDate> (else <pubDate>), in UTC
    announced: date | None = None  # the channel's <pubDate>: the announcement day

    def counts(self) -> dict[str, int]:
        """Items per announce type, every type listed."""
        counter = Counter(item.announce_type for item in self.items)
        return {t: counter.get(t, 0) for t in ANNOUNCE_TYPES}


# --------------------------------------------------------------------------- parsing


def _text(elem: Element, path: str) -> str | None:
    found = elem.find(path, NS)
    if found is None or found.text is None:
        return None
    return found.text


def _rfc2822(text: str | None) -> datetime | None:
    """An RSS date (``Fri, 13 Jun 2025 00:00:00 -0400``) with its own offset; None when
    absent or not a date."""
    if not text or not text.strip():
        return None
    try:
        value = email.utils.parsedate_to_datetime(text.strip())
    except (TypeError, ValueError, IndexError):
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def split_creators(text: str | None) -> tuple[str, ...]:
    """``<dc:creator>`` names, in order: arXiv separates them with commas (a final "and"
    is accepted too)."""
    if not text:
        return ()
    return tuple(n for n in (collapse(x) for x in _AUTHOR_SPLIT.split(text.strip())) if n)


def _id_of(text: str | None) -> tuple[str, int | None] | None:
    if not text:
        return None
    return parse_arxiv_id(_GUID_PREFIX.sub("", text.strip()))


def item_to_record(item: Element, channel_day: date | None) -> RssItem:
    """The :class:`RssItem` of one ``<item>``. Raises :class:`RecordError` when it has no
    arXiv id, no title or an unknown announce type."""
    description = _text(item, "description") or ""
    m = _DESCRIPTION.match(description)
    guid = _id_of(_text(item, "guid"))
    from_description = _id_of(m.group("id")) if m else None
    link = _id_of(_text(item, "link"))
    found = guid or from_description or link
    if found is None:
        raise RecordError("no arXiv id in <guid>, <description> or <link>")
    paper_id = found[0]
    version = _version(paper_id, guid, from_description, link)

    title = collapse(_text(item, "title"))
    if not title:
        raise RecordError(f"{paper_id}: no <title>")
    announce = collapse(_text(item, "arxiv:announce_type") or (m.group("type") if m else ""))
    announce = announce.lower()
    if announce not in ANNOUNCE_TYPES:
        raise RecordError(f"{paper_id}: unknown announce type {announce or '(none)'!r}")
    abstract = collapse(m.group("rest") if m else description)

    categories: list[str] = []
    for cat in item.findall("category"):
        term = collapse(cat.text)
        if term and term not in categories:
            categories.append(term)

    pub = _rfc2822(_text(item, "pubDate"))
    # The announcement day as arXiv states it (US Eastern), not converted to UTC.
    day = pub.date() if pub is not None else channel_day
    # The feed gives no submission date. For a new or cross-listed paper the day of its
    # first announcement is the closest date it gives (v1 was submitted a day or few
    # before); the store keeps the earliest date it ever sees, so a better one from the
    # API or OAI-PMH wins. A replacement's first version came out earlier on a day the
    # feed does not say: its published date is left empty and merge keeps the stored one.
    published = day if announce in FIRST_ANNOUNCEMENTS else None
    paper = Paper(
        id=paper_id,
        title=title,
        abstract=abstract,
        authors=split_creators(_text(item, "dc:creator")),
        categories=tuple(categories),
        primary_category=categories[0] if categories else None,
        version=version,
        published=published,
        updated=day,
        journal_ref=collapse(_text(item, "arxiv:journal_reference")) or None,
        doi=first_doi(collapse(_text(item, "arxiv:DOI"))),
        source=SOURCE,
    )
    return RssItem(paper=paper, announce_type=announce)


def _version(paper_id: str, *found: tuple[str, int | None] | None) -> int | None:
    """The first version number given for ``paper_id`` by the guid, description or link."""
    for f in found:
        if f is not None and f[0] == paper_id and f[1] is not None:
            return f[1]
    return None


def read_feed(content: bytes, where: str = "feed") -> RssFeed:
    """Parse one feed. Raises :class:`SourceError` naming ``where`` when the body is empty,
    HTML, malformed or truncated XML, or not an RSS channel; an item that cannot be read goes
    to ``RssFeed.skipped`` and the rest is kept."""
    root = parse_xml(content, source=SOURCE, where=where, expected="an RSS feed")
    channel = root.find("channel")
    if root.tag != "rss" or channel is None:
        raise SourceError(
            SOURCE, f"{where}: not an RSS feed (root element <{root.tag}>, expected <rss>)"
        )
    channel_pub = _rfc2822(_text(channel, "pubDate"))
    built = _rfc2822(_text(channel, "lastBuildDate")) or channel_pub
    announced = channel_pub.date() if channel_pub is not None else None
    items: list[RssItem] = []
    skipped: list[tuple[str, str]] = []
    for n, item in enumerate(channel.findall("item"), 1):
        try:
            items.append(item_to_record(item, announced))
        except RecordError as exc:
            skipped.append((f"{where}, item {n}", str(exc)))
    return RssFeed(
        items=items,
        skipped=skipped,
        last_build=built.astimezone(UTC) if built is not None else None,
        announced=announced,
    )


def parse_feed(xml: bytes) -> list[RssItem]:
    """The readable items of one feed, in feed order (see :func:`read_feed`)."""
    return read_feed(xml).items


# --------------------------------------------------------------------------- the source


def _cursor_time(cursor: Cursor | None) -> datetime | None:
    value = (cursor or {}).get("last_build")
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


class ArxivRssSource:
    """The latest announcement of ``categories`` from arXiv's listing RSS feed.

    Replacements (``replace``/``replace-cross``) are yielded with the rest, their ids listed
    in ``Batch.updates_only``: the ingest runner keeps them only for papers it already has
    (a replacement of a paper it never saw is an old paper, not a new one).
    """

    def __init__(self, categories: Sequence[str], fetcher: Fetcher, base_url: str) -> None:
        cats = list(dict.fromkeys(c.strip() for c in categories if c.strip()))
        if not cats:
            raise ValueError("ArxivRssSource needs at least one category")
        self.categories = cats
        self.fetcher = fetcher
        self.base_url = base_url.rstrip("/")

    @property
    def key(self) -> str:
        return SOURCE + ":" + "+".join(sorted(self.categories))

    @property
    def url(self) -> str:
        return f"{self.base_url}/{'+'.join(self.categories)}"

    def batches(self, cursor: Cursor | None) -> Iterator[Batch]:
        response = self.fetcher.get(self.url)
        feed = read_feed(response.content, where=str(response.url))
        label = f"arXiv RSS {'+'.join(self.categories)}"
        if feed.announced is not None:
            label += f" {feed.announced.isoformat()}"
        seen = _cursor_time(cursor)
        if feed.last_build is not None and seen is not None and feed.last_build <= seen:
            yield Batch(papers=[], cursor=None, note=f"{label}: nothing new since {seen}")
            return
        new_cursor = (
            {"last_build": feed.last_build.isoformat()} if feed.last_build is not None else None
        )
        counts = feed.counts()
        if feed.items:
            note = f"{label}: " + ", ".join(f"{counts[t]} {t}" for t in ANNOUNCE_TYPES)
        else:
            note = f"{label}: no announcements"
        if feed.skipped:
            note += f", {len(feed.skipped)} skipped"
        yield Batch(
            papers=[item.paper for item in feed.items],
            cursor=new_cursor,
            skipped=feed.skipped,
            note=note,
            updates_only=replacement_ids(feed.items),
        )


def replacement_ids(items: Sequence[RssItem]) -> frozenset[str]:
    """Ids announced only as replacements (a paper also announced as new or cross-listed in
    the same feed is a new paper)."""
    first = {i.paper.id for i in items if not i.is_replacement}
    return frozenset(i.paper.id for i in items if i.is_replacement and i.paper.id not in first)
