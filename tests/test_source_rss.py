"""The arXiv listing RSS source, on synthetic feeds that follow arXiv's documented format
with real papers (tests/fixtures/sources/rss, see its README), served through
httpx.MockTransport so the real Fetcher and parser run."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import httpx
import pytest

from paperwire.errors import SourceError
from paperwire.models import Paper
from paperwire.sources.arxiv_rss import (
    ArxivRssSource,
    RssItem,
    parse_feed,
    read_feed,
    replacement_ids,
    split_creators,
)
from paperwire.sources.base import Batch, Cursor
from paperwire.sources.http import Fetcher
from paperwire.store import Store

FIX = Path(__file__).parent / "fixtures" / "sources" / "rss"
FEED = (FIX / "synthetic-arxiv-rss-cs.CL+cs.LG.xml").read_bytes()
EMPTY_DAY = (FIX / "synthetic-arxiv-rss-cs.CL+cs.LG-empty-day.xml").read_bytes()
BASE = "https://rss.arxiv.org/rss"
ANNOUNCED = date(2025, 6, 13)


class FakeArxiv:
    def __init__(self, *bodies: bytes | httpx.Response) -> None:
        self.bodies = list(bodies)
        self.urls: list[str] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.urls.append(str(request.url))
        body = self.bodies.pop(0)
        if isinstance(body, httpx.Response):
            return body
        return httpx.Response(200, content=body, headers={"Content-Type": "application/xml"})

    def source(self, categories: list[str] | None = None) -> ArxivRssSource:
        client = httpx.Client(transport=httpx.MockTransport(self.handler))
        fetcher = Fetcher("arxiv-rss", client, sleep=lambda s: None)
        return ArxivRssSource(categories or ["cs.CL", "cs.LG"], fetcher, BASE)


def run(source: ArxivRssSource, cursor: Cursor | None = None) -> list[Batch]:
    return list(source.batches(cursor))


def by_id(items: list[RssItem]) -> dict[str, RssItem]:
    return {i.paper.id: i for i in items}


def edit_item(paper_id: str, old: str, new: str, feed: bytes = FEED) -> bytes:
    """``feed`` with ``old`` replaced by ``new`` inside the item of ``paper_id`` only."""
    text = feed.decode()
    start = text.index(f"<link>https://arxiv.org/abs/{paper_id}</link>")
    end = text.index("</item>", start)
    part = text[start:end]
    assert old in part, (paper_id, old)
    return (text[:start] + part.replace(old, new) + text[end:]).encode()


# --------------------------------------------------------------------------- parsing


def test_parse_feed_tells_announce_types_apart() -> None:
    items = parse_feed(FEED)
    assert [(i.paper.id, i.announce_type) for i in items] == [
        ("2506.10139", "new"),
        ("2506.10095", "new"),
        ("2506.10920", "new"),
        ("2506.10887", "new"),
        ("2506.10821", "cross"),
        ("2506.10027", "cross"),
        ("2505.00358", "replace"),
        ("2504.21023", "replace"),
        ("2503.15457", "replace-cross"),
    ]
    assert [i.is_replacement for i in items] == [False] * 6 + [True] * 3
    feed = read_feed(FEED)
    assert feed.counts() == {"new": 4, "cross": 2, "replace": 2, "replace-cross": 1}
    assert feed.skipped == []
    assert feed.announced == ANNOUNCED
    assert feed.last_build is not None
    assert feed.last_build.isoformat() == "2025-06-13T04:00:27+00:00"


def test_new_item_fields() -> None:
    p = by_id(parse_feed(FEED))["2506.10139"].paper
    assert p.title == "Unsupervised Elicitation of Language Models"
    assert p.version == 1
    # the announcement day stands in for v1's date (the feed gives no submission date)
    assert (p.published, p.updated) == (ANNOUNCED, ANNOUNCED)
    assert p.categories == ("cs.CL", "cs.AI") and p.primary_category == "cs.CL"
    assert len(p.authors) == 13
    assert p.authors[:3] == ("Jiaxin Wen", "Zachary Ankner", "Arushi Somani")
    assert p.authors[-2:] == ("Ethan Perez", "Jan Leike")
    assert p.abstract.startswith(
        "To steer pretrained language models for downstream tasks, today's post-training"
    )
    assert p.abstract.endswith("outperform their human-supervised counterparts.")
    assert "Announce Type" not in p.abstract and "arXiv:" not in p.abstract
    assert "Abstract:" not in p.abstract and "\n" not in p.abstract
    assert (p.comment, p.journal_ref, p.doi, p.source) == (None, None, None, "arxiv-rss")
    assert p.abs_url == "https://arxiv.org/abs/2506.10139"


def test_cross_list_keeps_the_papers_own_primary_category() -> None:
    items = by_id(parse_feed(FEED))
    video = items["2506.10821"].paper
    assert video.categories == ("cs.CV", "cs.AI", "cs.CL")
    assert video.primary_category == "cs.CV"  # listed in cs.CL, but primary elsewhere
    assert (video.version, video.published) == (1, ANNOUNCED)
    assert video.authors[0] == "Huaying Yuan" and len(video.authors) == 5
    density = items["2506.10027"].paper
    assert density.primary_category == "cs.GR"
    assert density.authors == ("Yanwen Huang", "Lok Ming Lui", "Gary P. T. Choi")


def test_replacements_have_the_new_version_but_no_first_version_date() -> None:
    items = by_id(parse_feed(FEED))
    rb = items["2505.00358"].paper
    assert rb.title.startswith("R&B: Domain Regrouping and Data Mixture Balancing")  # &amp;
    assert (rb.version, rb.published, rb.updated) == (2, None, ANNOUNCED)
    assert rb.categories == ("cs.LG", "cs.AI", "cs.CL") and rb.primary_category == "cs.LG"
    assert rb.abstract and "Announce Type" not in rb.abstract
    param = items["2504.21023"].paper
    assert param.title.startswith("Param$Δ$ for Direct Weight Mixing")  # Unicode and LaTeX kept
    assert (param.version, param.published) == (2, None)
    dimo = items["2503.15457"]
    assert dimo.announce_type == "replace-cross"
    assert dimo.paper.title.startswith(r"Di$\mathtt{[M]}$O: Distilling Masked Diffusion")
    assert (dimo.paper.version, dimo.paper.published) == (3, None)
    assert dimo.paper.primary_category == "cs.CV"


def test_optional_doi_and_journal_reference() -> None:
    extra = (
        "<arxiv:DOI>10.5555/synthetic.1 10.5555/synthetic.erratum</arxiv:DOI>\n"
        "<arxiv:journal_reference>Synthetic Journal 1 (2025) 1-10</arxiv:journal_reference>\n"
        "<dc:creator>"
    )
    feed = edit_item("2505.00358", "<dc:creator>", extra)
    p = by_id(parse_feed(feed))["2505.00358"].paper
    assert p.doi == "10.5555/synthetic.1"
    assert p.journal_ref == "Synthetic Journal 1 (2025) 1-10"
    assert len(p.authors) == 10  # still read after the optional elements


def test_announce_type_falls_back_to_the_description() -> None:
    feed = edit_item("2504.21023", "<arxiv:announce_type>replace</arxiv:announce_type>\n", "")
    item = by_id(parse_feed(feed))["2504.21023"]
    assert item.announce_type == "replace" and item.paper.published is None


def test_unreadable_items_are_skipped_and_the_rest_kept() -> None:
    feed = edit_item(
        "2506.10095", "<arxiv:announce_type>new</arxiv:announce_type>",
        "<arxiv:announce_type>withdrawn</arxiv:announce_type>",
    )
    feed = edit_item("2506.10920", "oai:arXiv.org:2506.10920v1", "oai:example.org:x", feed)
    feed = edit_item("2506.10920", "arXiv:2506.10920v1", "paper 2506.10920", feed)
    feed = feed.replace(
        b"<link>https://arxiv.org/abs/2506.10920</link>", b"<link>https://example.org/</link>"
    )
    parsed = read_feed(feed, where="test feed")
    assert len(parsed.items) == 7
    assert parsed.skipped == [
        ("test feed, item 2", "2506.10095: unknown announce type 'withdrawn'"),
        ("test feed, item 3", "no arXiv id in <guid>, <description> or <link>"),
    ]


def test_split_creators() -> None:
    assert split_creators("Antonin Monteil, Paul Pegon") == ("Antonin Monteil", "Paul Pegon")
    assert split_creators(" A. One,\n B. Two and C. Three ") == ("A. One", "B. Two", "C. Three")
    assert split_creators("Anand Rao, Ferdinand Braun") == ("Anand Rao", "Ferdinand Braun")
    assert split_creators(None) == ()


# --------------------------------------------------------------------------- the source


def test_source_yields_the_whole_feed_as_one_batch() -> None:
    arxiv = FakeArxiv(FEED)
    source = arxiv.source(["cs.LG", "cs.CL"])
    assert source.key == "arxiv-rss:cs.CL+cs.LG"
    [batch] = run(source)
    assert arxiv.urls == ["https://rss.arxiv.org/rss/cs.LG+cs.CL"]
    assert len(batch.papers) == 9 and batch.skipped == [] and batch.signals == []
    assert batch.cursor == {"last_build": "2025-06-13T04:00:27+00:00"}
    assert batch.note == (
        "arXiv RSS cs.LG+cs.CL 2025-06-13: 4 new, 2 cross, 2 replace, 1 replace-cross"
    )


def test_same_last_build_is_nothing_new() -> None:
    arxiv = FakeArxiv(FEED, FEED)
    [first] = run(arxiv.source())
    [again] = run(arxiv.source(), first.cursor)
    assert again.papers == [] and again.cursor is None
    assert "nothing new" in again.note
    # a stale copy, built before the feed already read, is nothing new either
    [stale] = run(FakeArxiv(FEED).source(), {"last_build": "2025-06-14T04:00:31+00:00"})
    assert stale.papers == [] and stale.cursor is None


def test_empty_day_is_an_empty_batch_that_moves_the_cursor() -> None:
    arxiv = FakeArxiv(EMPTY_DAY)
    [batch] = run(arxiv.source(), {"last_build": "2025-06-13T04:00:27+00:00"})
    assert batch.papers == [] and batch.skipped == []
    assert batch.cursor == {"last_build": "2025-06-14T04:00:31+00:00"}
    assert batch.note == "arXiv RSS cs.CL+cs.LG 2025-06-14: no announcements"


def test_replacements_are_marked_updates_only() -> None:
    [batch] = run(FakeArxiv(FEED).source())
    assert batch.updates_only == frozenset({"2505.00358", "2504.21023", "2503.15457"})
    # a paper announced both as new and as a replacement in one feed counts as new
    twice = FEED.replace(b"</channel>", _item_of("2506.10139").replace(
        b"Announce Type: new", b"Announce Type: replace").replace(
        b">new</arxiv:announce_type>", b">replace</arxiv:announce_type>") + b"\n</channel>")
    items = parse_feed(twice)
    assert [i.announce_type for i in items if i.paper.id == "2506.10139"] == ["new", "replace"]
    assert replacement_ids(items) == frozenset({"2505.00358", "2504.21023", "2503.15457"})


def _item_of(paper_id: str) -> bytes:
    text = FEED.decode()
    start = text.rindex("<item>", 0, text.index(f"<link>https://arxiv.org/abs/{paper_id}</link>"))
    return text[start : text.index("</item>", start) + len("</item>")].encode()


def test_replacement_keeps_the_stored_first_version_date(store: Store) -> None:
    """What the ingest runner does with the batch: replacements of papers the store lacks are
    dropped, the others merged (new version and text, first-version date kept)."""
    old = Paper(
        id="2505.00358", title="R&B (v1)", abstract="first version", version=1,
        published=date(2025, 5, 1), updated=date(2025, 5, 1), source="arxiv",
    )
    store.write_batch([old])
    [batch] = run(FakeArxiv(FEED).source())
    unknown = batch.updates_only - store.get_papers(batch.updates_only).keys()
    assert unknown == {"2504.21023", "2503.15457"}
    kept = [p for p in batch.papers if p.id not in unknown]
    store.write_batch(kept, cursor=("arxiv-rss:cs.CL+cs.LG", batch.cursor or {}))
    got = store.get_paper("2505.00358")
    assert got is not None
    assert (got.version, got.published, got.updated) == (2, date(2025, 5, 1), ANNOUNCED)
    assert got.title.startswith("R&B: Domain Regrouping") and got.abstract != "first version"
    new = store.get_paper("2506.10139")
    assert new is not None and new.published == ANNOUNCED
    assert store.get_cursor("arxiv-rss:cs.CL+cs.LG") == {"last_build": "2025-06-13T04:00:27+00:00"}


# --------------------------------------------------------------------------- failures

HTML = b"<!DOCTYPE html>\n<html><head><title>503 Service Unavailable</title></head></html>"
ATOM = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
    b"<title>cs.CL updates on arXiv.org</title></feed>"
)
BOMB = (
    b'<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa">'
    b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>\n<rss version="2.0"><channel>'
    b"<title>&b;</title></channel></rss>"
)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (HTML, "got an HTML page, not an RSS feed"),
        (FEED[: len(FEED) // 2], "truncated or malformed XML"),
        (b"", "empty response"),
        (ATOM, "not an RSS feed (root element <{http://www.w3.org/2005/Atom}feed>"),
        (b'<?xml version="1.0"?><rss version="2.0"></rss>', "not an RSS feed"),
        (BOMB, "refused unsafe XML"),
    ],
)
def test_bad_feed_raises_source_error(body: bytes, reason: str) -> None:
    with pytest.raises(SourceError) as err:
        run(FakeArxiv(body).source())
    assert err.value.source == "arxiv-rss"
    assert reason in str(err.value)
    assert "https://rss.arxiv.org/rss/cs.CL+cs.LG" in str(err.value)


def test_http_error_is_a_source_error() -> None:
    with pytest.raises(SourceError, match="HTTP 404"):
        run(FakeArxiv(httpx.Response(404, text="no such category")).source(["cs.XX"]))
