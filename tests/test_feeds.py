"""The trending feeds, read as a feed reader reads them: Atom through feedparser (strict XML
first, so ``bozo == 0`` means well formed), checked against RFC 4287's required elements; JSON
Feed 1.1 checked field by field (feedparser 6.0 does not read JSON Feed). On SQLite and
PostgreSQL."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import feedparser
import pytest
from fastapi.testclient import TestClient

from paperwire.app import Paperwire
from paperwire.config import Settings
from paperwire.metadata import PaperMeta
from paperwire.models import Paper, Signal
from paperwire.store import Store
from paperwire.trending import TrendingView
from paperwire.web.app import create_app
from paperwire.web.feeds import atom_feed, entry_id, json_feed, xml_text

BASE = "https://papers.example.org"
AS_OF = date(2025, 6, 13)
ATOM = "{http://www.w3.org/2005/Atom}"
WINDOWS = ("day", "week", "month")
HOSTILE = ('<script>alert("x")</script> & <b>bold</b> — Gödel, 漢字, emoji 🧪'
           "\x01\x08\x0b\x0c\x1b\x7f end")  # no NUL: PostgreSQL text cannot hold one
HOSTILE_CLEAN = ('<script>alert("x")</script> & <b>bold</b> — Gödel, 漢字, emoji 🧪 end')

LANG = Paper(id="2506.01001", title="Small Language Models Reason", authors=("Ada", "Grace"),
             abstract="We show that small models reason.\n\nSecond paragraph.",
             categories=("cs.CL", "cs.LG"), primary_category="cs.CL",
             published=AS_OF - timedelta(days=4), updated=AS_OF - timedelta(days=1), version=2)
EVIL = Paper(id="2506.01002", title=HOSTILE, authors=(f"Mallory {HOSTILE}",),
             abstract=f"Abstract {HOSTILE}", categories=("cs.CL",), primary_category="cs.CL",
             published=AS_OF - timedelta(days=2))
VISION = Paper(id="seed:vision 7", title="Seeing & Believing", categories=("cs.CV",),
               primary_category="cs.CV", published=AS_OF - timedelta(days=20))
PAPERS = [LANG, EVIL, VISION]
SIGNALS = [
    Signal(LANG.id, "hf_upvotes", AS_OF, 30), Signal(LANG.id, "save", AS_OF - timedelta(days=2), 2),
    Signal(EVIL.id, "hf_upvotes", AS_OF, 12),
    Signal(VISION.id, "hf_upvotes", AS_OF - timedelta(days=10), 50),
]


@pytest.fixture
def site(settings: Settings) -> Settings:
    return replace(settings, base_url=BASE)


@pytest.fixture
def client(site: Settings, store: Store) -> TestClient:
    store.write_batch(PAPERS, SIGNALS)
    return TestClient(create_app(Paperwire(site, store)))


def get_atom(client: TestClient, **params: str) -> tuple[Any, ET.Element]:
    r = client.get("/feeds/trending.atom", params={"date": AS_OF.isoformat(), **params})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/atom+xml; charset=utf-8"
    parsed = feedparser.parse(r.content)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    root = ET.fromstring(r.content)
    check_rfc4287(root)
    return parsed, root


def check_rfc4287(feed: ET.Element) -> None:
    """The elements RFC 4287 requires: one id, title and updated on the feed and every entry,
    an author on the feed (the entries inherit it), an alternate link per entry."""
    assert feed.tag == f"{ATOM}feed"
    for el in [feed, *feed.findall(f"{ATOM}entry")]:
        for name in ("id", "title", "updated"):
            assert len(el.findall(f"{ATOM}{name}")) == 1, (el.tag, name)
        datetime.fromisoformat(el.findtext(f"{ATOM}updated", "").replace("Z", "+00:00"))
        alternate = [ln for ln in el.findall(f"{ATOM}link") if ln.get("rel") == "alternate"]
        assert len(alternate) == 1 and urlsplit(alternate[0].get("href", "")).scheme == "https"
    assert feed.find(f"{ATOM}author/{ATOM}name") is not None
    ids = [e.findtext(f"{ATOM}id") for e in feed.findall(f"{ATOM}entry")]
    assert len(ids) == len(set(ids))


def get_json(client: TestClient, **params: str) -> dict[str, Any]:
    r = client.get("/feeds/trending.json", params={"date": AS_OF.isoformat(), **params})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/feed+json"
    data: dict[str, Any] = json.loads(r.content.decode("utf-8"))
    check_json_feed(data)
    return data


def check_json_feed(feed: dict[str, Any]) -> None:
    """JSON Feed 1.1: the required and typed fields, absolute URLs, RFC 3339 dates."""
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert isinstance(feed["title"], str) and feed["title"]
    for key in ("home_page_url", "feed_url"):
        assert urlsplit(feed[key]).scheme == "https"
    assert isinstance(feed["items"], list)
    for item in feed["items"]:
        assert isinstance(item["id"], str) and item["id"]
        assert item.get("content_text") or item.get("content_html")
        assert urlsplit(item["url"]).scheme == "https"
        for key in ("date_published", "date_modified"):
            if key in item:
                assert item[key].endswith("Z")
                datetime.fromisoformat(item[key].replace("Z", "+00:00"))
        assert all(isinstance(a["name"], str) for a in item.get("authors", []))
        assert all(isinstance(t, str) for t in item["tags"])
        assert all(k in JSON_ITEM_KEYS or k.startswith("_") for k in item)
    assert len({i["id"] for i in feed["items"]}) == len(feed["items"])


JSON_ITEM_KEYS = {"id", "url", "external_url", "title", "content_html", "content_text",
                  "summary", "image", "banner_image", "date_published", "date_modified",
                  "authors", "tags", "language", "attachments"}


# ---- Atom --------------------------------------------------------------------------------


@pytest.mark.parametrize("window", WINDOWS)
@pytest.mark.parametrize("cat", [None, "cs.CL", "cs.CV"])
def test_atom_is_well_formed_for_every_window_and_category(
    client: TestClient, window: str, cat: str | None
) -> None:
    parsed, _ = get_atom(client, window=window, **({"cat": cat} if cat else {}))
    assert parsed.feed.title.startswith("Paperwire · trending ")
    for entry in parsed.entries:
        assert entry.link.startswith(f"{BASE}/papers/")
        if cat:
            assert cat in [t.term for t in entry.tags]


def test_atom_feed_metadata(client: TestClient) -> None:
    parsed, root = get_atom(client, cat="cs.CL", window="week")
    feed = parsed.feed
    assert feed.title == "Paperwire · trending this week in cs.CL (as of 2025-06-13)"
    self_url = f"{BASE}/feeds/trending.atom?window=week&cat=cs.CL&date=2025-06-13"
    assert feed.id == self_url  # canonical: window, then cat, whatever the request's order
    links = {ln["rel"]: ln["href"] for ln in feed.links}
    page = f"{BASE}/?window=week&cat=cs.CL&date=2025-06-13"
    assert links == {"self": self_url, "alternate": page}
    assert feed.updated == "2025-06-13T00:00:00Z"
    without_date = client.get("/feeds/trending.atom", params={"cat": "cs.CL", "window": "day"})
    assert feedparser.parse(without_date.content).feed.id == (
        f"{BASE}/feeds/trending.atom?window=day&cat=cs.CL")
    assert root.get("{http://www.w3.org/XML/1998/namespace}lang") == "en"


def test_atom_entries(client: TestClient) -> None:
    parsed, _ = get_atom(client, window="week")
    assert [e.id for e in parsed.entries] == [f"https://arxiv.org/abs/{LANG.id}",
                                              f"https://arxiv.org/abs/{EVIL.id}"]
    lang = parsed.entries[0]
    assert lang.title == LANG.title
    assert lang.link == f"{BASE}/papers/{LANG.id}"
    assert lang.published == "2025-06-09T00:00:00Z" and lang.updated == "2025-06-13T00:00:00Z"
    assert [a["name"] for a in lang.authors] == ["Ada", "Grace"]
    assert [t.term for t in lang.tags] == ["cs.CL", "cs.LG"]  # primary first
    tldr, reason, abstract = lang.summary.split("\n\n", 2)
    assert tldr == "TL;DR (extracted from the abstract): We show that small models reason."
    assert reason.startswith("30 upvotes on Hugging Face, 2 saves here since ")
    assert reason.endswith("#1 this week, #1 in cs.CL")
    assert abstract == "We show that small models reason. Second paragraph."
    month, _ = get_atom(client, window="month")
    [vision] = [e for e in month.entries if e.id.startswith("tag:")]
    assert vision.id == "tag:papers.example.org,2025:paper/seed:vision%207"
    assert vision.link == f"{BASE}/papers/seed:vision%207"
    assert vision.title == "Seeing & Believing"
    assert "author" not in vision  # no authors: the feed's author applies


def test_atom_carries_hostile_text_exactly_minus_illegal_characters(client: TestClient) -> None:
    r = client.get("/feeds/trending.atom", params={"window": "day", "date": AS_OF.isoformat()})
    assert b"<script>" not in r.content and b"&lt;script&gt;" in r.content
    assert b"\x01" not in r.content and b"\x1b" not in r.content
    parsed, _ = get_atom(client, window="day")
    evil = parsed.entries[1]
    assert evil.title == HOSTILE_CLEAN
    assert evil.authors == [{"name": f"Mallory {HOSTILE_CLEAN}"}]
    assert evil.summary.endswith(f"Abstract {HOSTILE_CLEAN}")


def test_empty_views_are_valid_feeds(site: Settings, store: Store) -> None:
    client = TestClient(create_app(Paperwire(site, store)))  # nothing stored at all
    for window in WINDOWS:
        parsed, root = get_atom(client, window=window)
        assert parsed.entries == [] and root.findall(f"{ATOM}entry") == []
        assert parsed.feed.subtitle.startswith("No trending signals yet")
        assert get_json(client, window=window)["items"] == []
    store.write_batch(PAPERS, SIGNALS)
    parsed, _ = get_atom(client, cat="math.AG")  # data, but none in this category
    assert parsed.entries == [] and parsed.feed.title.endswith("in math.AG (as of 2025-06-13)")


@pytest.mark.parametrize("query", [{"window": "year"}, {"cat": "CS.CL"}, {"cat": "<b>"},
                                   {"date": "13/06/2025"}])
def test_bad_parameters_are_400(client: TestClient, query: dict[str, str]) -> None:
    for path in ("/feeds/trending.atom", "/feeds/trending.json"):
        r = client.get(path, params=query)
        assert r.status_code == 400, (path, query)
        if path.endswith(".json"):  # a JSON address answers its errors in JSON
            assert r.headers["content-type"] == "application/json" and r.json()["detail"]
        else:
            assert "Bad request" in r.text and "<b>" not in r.text


AI_SUMMARY = r"Small models reason in $O(N^2)$ steps with \textit{few} tokens, 24\% better."
AI_PLAIN = "Small models reason in O(N²) steps with few tokens, 24% better."


def test_every_feed_starts_an_entry_with_its_tldr(client: TestClient, store: Store) -> None:
    store.write_batch([], metas=[PaperMeta(LANG.id, ai_summary=AI_SUMMARY, day=AS_OF)])
    line = f"TL;DR (AI summary from Hugging Face): {AI_PLAIN}"
    parsed, _ = get_atom(client, window="week")
    assert parsed.entries[0].summary.startswith(line + "\n\n30 upvotes on Hugging Face")
    assert get_json(client, window="week")["items"][0]["summary"].startswith(line + "\n\n")
    for url in ("/feeds/search.atom?q=small+models+reason", "/feeds/category/cs.CL.atom"):
        feed = feedparser.parse(client.get(url).content)
        assert feed.bozo == 0, feed.get("bozo_exception")
        lang = next(e for e in feed.entries if e.id.endswith(LANG.id))
        assert lang.summary == f"{line}\n\nWe show that small models reason. Second paragraph."
    # a one-sentence abstract is not repeated as its own TL;DR
    evil = next(e for e in parsed.entries if e.id.endswith(EVIL.id))
    assert not evil.summary.startswith("TL;DR")


# ---- JSON Feed ---------------------------------------------------------------------------


@pytest.mark.parametrize("window", WINDOWS)
@pytest.mark.parametrize("cat", [None, "cs.CL"])
def test_json_feed_for_every_window_and_category(
    client: TestClient, window: str, cat: str | None
) -> None:
    data = get_json(client, window=window, **({"cat": cat} if cat else {}))
    query = dict(parse_qsl(urlsplit(data["feed_url"]).query))
    assert query == {"window": window, **({"cat": cat} if cat else {}), "date": "2025-06-13"}
    atom, _ = get_atom(client, window=window, **({"cat": cat} if cat else {}))
    assert [i["id"] for i in data["items"]] == [e.id for e in atom.entries]  # the same list
    assert [i["title"] for i in data["items"]] == [e.title for e in atom.entries]


def test_json_feed_items(client: TestClient) -> None:
    data = get_json(client, window="week")
    assert data["title"] == "Paperwire · trending this week (as of 2025-06-13)"
    assert data["home_page_url"] == f"{BASE}/?window=week&date=2025-06-13"
    lang, evil = data["items"]
    assert lang["id"] == f"https://arxiv.org/abs/{LANG.id}"
    assert lang["url"] == f"{BASE}/papers/{LANG.id}"
    assert lang["external_url"] == f"https://arxiv.org/abs/{LANG.id}"
    assert lang["date_published"] == "2025-06-09T00:00:00Z"
    assert lang["authors"] == [{"name": "Ada"}, {"name": "Grace"}]
    assert lang["tags"] == ["cs.CL", "cs.LG"]
    assert lang["summary"].endswith("#1 this week, #1 in cs.CL")
    assert lang["content_text"].startswith(lang["summary"] + "\n\n")
    assert lang["content_text"].endswith("Second paragraph.")
    assert lang["_paperwire"]["rank"] == 1 and lang["_paperwire"]["score"] > 0
    assert evil["title"] == HOSTILE_CLEAN  # raw text (JSON is not HTML), minus control chars


# ---- the pure builders -------------------------------------------------------------------


def test_builders_are_deterministic_and_strip_illegal_characters() -> None:
    view = TrendingView("week", AS_OF, AS_OF, [], "cs.CL")
    assert atom_feed(view, BASE) == atom_feed(view, BASE)
    assert json_feed(view, BASE)["feed_url"] == f"{BASE}/feeds/trending.json?window=week&cat=cs.CL"
    assert xml_text("a\x00b\x1fc\ud800d\ufffee\tf\ng\rh") == "abcde\tf\ng\rh"
    assert xml_text("Gödel 漢字 🧪 \u2028") == "Gödel 漢字 🧪 \u2028"
    assert entry_id("http://localhost:8000", VISION) == "tag:localhost,2025:paper/seed:vision%207"
    assert entry_id(BASE, LANG) == "https://arxiv.org/abs/2506.01001"
