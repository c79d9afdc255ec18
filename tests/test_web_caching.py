"""Caching of the read path (issue 16): trending's pages, API and feeds answered with
validators and 304s, computed once per interval and data version and shared between
requests; a vote changes them at once; pages of a signed-in reader are never shared; static
files under fingerprinted addresses kept a year; large answers gzip'd. On SQLite and
PostgreSQL, through the real app."""

from __future__ import annotations

import gzip
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from accounts import sign_in
from paperwire.app import Paperwire
from paperwire.config import Settings
from paperwire.metadata import PaperMeta
from paperwire.models import Paper, Signal
from paperwire.records import Account
from paperwire.store import Store
from paperwire.web.app import create_app
from paperwire.web.caching import fingerprint

START = datetime(2026, 7, 1, 9, 30)
TODAY = START.date()
SHARED = ["/", "/?window=day", "/?window=month&order=top", "/api/trending",
          "/api/trending?window=day", "/api/trending?window=month", "/feeds/trending.atom",
          "/feeds/trending.json?window=day"]


def paper(n: int) -> Paper:
    return Paper(id=f"2607.{n:05d}", title=f"Paper {n} on caching retrieval results",
                 abstract=f"We cache case {n}. " * 20, authors=("Ada", "Grace"),
                 categories=("cs.IR",), primary_category="cs.IR",
                 published=TODAY - timedelta(days=2))


PAPERS = [paper(n) for n in range(1, 41)]
A = PAPERS[0]


class Clock:
    """Now, moved by the test."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def pw(settings: Settings, store: Store, clock: Clock) -> Paperwire:
    store.write_batch(PAPERS, [Signal(p.id, "hf_upvotes", TODAY, 100 - i)
                               for i, p in enumerate(PAPERS)], now=START - timedelta(hours=1))
    return Paperwire(replace(settings, secret_key="k" * 32), store, clock=clock)


@pytest.fixture
def client(pw: Paperwire) -> Iterator[TestClient]:
    with TestClient(create_app(pw), follow_redirects=False) as c:
        yield c


@pytest.fixture
def reader(client: TestClient) -> TestClient:
    """A second browser on the same app, never signed in."""
    return TestClient(client.app, follow_redirects=False)


def listening(store: Store, seconds: float = 5.0) -> bool:
    """Whether ``store`` keeps its data version from notifications (PostgreSQL), waiting
    up to ``seconds`` for its listener to be listening; False on SQLite."""
    if store.dialect != "postgresql":
        return False
    deadline = time.monotonic() + seconds
    while store.version_source()["source"] != "notifications":
        assert time.monotonic() < deadline, store.version_source()
        time.sleep(0.02)
    return True


def until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "not within the time"
        time.sleep(0.01)


def upvotes_of(response: httpx.Response, paper_id: str) -> str:
    """The anonymous action bar's upvote count of ``paper_id`` on a page."""
    bar = response.text.split(f'href="/papers/{paper_id}"', 1)[1]
    found = re.search(r"Upvote \((\d+)\)", bar)
    assert found, bar[:2000]
    return found.group(1)


@pytest.mark.parametrize("url", SHARED)
def test_a_repeated_conditional_request_is_a_304(reader: TestClient, url: str) -> None:
    first = reader.get(url)
    assert first.status_code == 200
    etag = first.headers["etag"]
    assert etag.startswith('W/"') and first.headers["cache-control"] == "public, no-cache"
    assert "cookie" in first.headers["vary"].lower()
    again = reader.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag and again.headers["cache-control"] == "public, no-cache"
    # the same tag among others, or strong, still matches; another one does not
    assert reader.get(url, headers={"If-None-Match": f'"x", {etag[2:]}'}).status_code == 304
    other = reader.get(url, headers={"If-None-Match": 'W/"other"'})
    assert other.status_code == 200 and other.content == first.content
    assert reader.head(url, headers={"If-None-Match": etag}).status_code == 304


def test_if_modified_since(reader: TestClient, clock: Clock) -> None:
    first = reader.get("/api/trending")
    stamp = first.headers["last-modified"]  # the data's last write (today)
    assert parsedate_to_datetime(stamp).replace(tzinfo=None) == START - timedelta(hours=1)
    assert reader.get("/api/trending", headers={"If-Modified-Since": stamp}).status_code == 304
    earlier = format_datetime(parsedate_to_datetime(stamp) - timedelta(seconds=1), usegmt=True)
    assert reader.get("/api/trending", headers={"If-Modified-Since": earlier}).status_code == 200
    # If-None-Match wins over If-Modified-Since
    stale = reader.get("/api/trending", headers={"If-Modified-Since": stamp,
                                                 "If-None-Match": 'W/"other"'})
    assert stale.status_code == 200
    # the next day, trending's default day moves on: a new entity
    clock.now = START + timedelta(days=1)
    assert reader.get("/api/trending", headers={"If-Modified-Since": stamp}).status_code == 200
    assert reader.get("/api/trending", headers={
        "If-None-Match": first.headers["etag"]}).status_code == 200


def test_a_vote_changes_the_etag_and_the_body_at_once(client: TestClient, reader: TestClient,
                                                      pw: Paperwire, clock: Clock) -> None:
    before = {url: reader.get(url) for url in ("/?window=day", "/api/trending?window=day")}
    assert upvotes_of(before["/?window=day"], A.id) == "0"
    csrf = sign_in(client, pw, "ada@example.org")
    clock.now += timedelta(milliseconds=5)  # the same interval: only the data moved
    voted = client.post(f"/papers/{A.id}/vote", data={"csrf": csrf, "action": "vote",
                                                      "next": "/"})
    assert voted.status_code == 303
    for url, old in before.items():
        now = reader.get(url, headers={"If-None-Match": old.headers["etag"]})
        assert now.status_code == 200, url
        assert now.headers["etag"] != old.headers["etag"] and now.content != old.content
    page = reader.get("/?window=day")
    assert upvotes_of(page, A.id) == "1"
    api = reader.get("/api/trending?window=day").json()
    first = next(e for e in api["entries"] if e["id"] == A.id)
    assert "upvote" in {part["source"] for part in first["parts"]}
    # taking it back deletes the vote's rows: the version moves again (not back)
    etag = page.headers["etag"]
    client.post(f"/papers/{A.id}/vote", data={"csrf": csrf, "action": "unvote", "next": "/"})
    after = reader.get("/?window=day", headers={"If-None-Match": etag})
    assert after.status_code == 200 and upvotes_of(after, A.id) == "0"


def test_pages_of_a_signed_in_reader_are_private(client: TestClient, reader: TestClient,
                                                 pw: Paperwire) -> None:
    shared = reader.get("/?window=day")
    csrf = sign_in(client, pw, "ada@example.org")
    client.post(f"/papers/{A.id}/vote", data={"csrf": csrf, "action": "vote", "next": "/"})
    for url in ("/?window=day", "/", f"/papers/{A.id}", "/search?q=caching&mode=lexical",
                "/library", "/account"):
        r = client.get(url, headers={"If-None-Match": shared.headers["etag"]})
        assert r.status_code == 200, url
        assert r.headers["cache-control"].startswith("private"), url
        assert "public" not in r.headers["cache-control"] and "etag" not in r.headers, url
        assert "cookie" in r.headers.get("vary", "").lower(), url
    mine = client.get("/?window=day").text
    assert f'value="{csrf}"' in mine and 'aria-pressed="true"' in mine
    assert csrf not in reader.get("/?window=day").text
    # the feeds and the API show nobody's state: shared whoever asks
    assert client.get("/api/trending").headers["cache-control"] == "public, no-cache"


def test_trending_is_computed_once_per_interval_and_version(reader: TestClient, pw: Paperwire,
                                                            clock: Clock) -> None:
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    def ranked() -> list[str]:  # what computing a trending view reads
        return [s for s in seen if "signals.day >=" in s or "sum(signals.value)" in s]

    reader.get("/?window=week")
    follows = listening(pw.store)  # PostgreSQL: the version comes from notifications
    event.listen(pw.store.engine, "before_cursor_execute", record)
    try:
        again = reader.get("/?window=week")  # no validator sent: the shared body
        # the data version only, read on SQLite; nothing at all on PostgreSQL
        assert again.status_code == 200 and len(seen) == (0 if follows else 1), seen
        assert follows or "FROM cursors" in seen[0]
        # another shape of the same view (all of it, for the API's paging): not ranked again
        assert reader.get("/api/trending?window=week&limit=5").status_code == 200
        assert reader.get("/feeds/trending.atom?window=week").status_code == 200
        assert ranked() == []
        clock.now += timedelta(seconds=61)  # the next interval: computed again, once
        seen.clear()
        reader.get("/?window=week")
        assert len(ranked()) == 2  # the newest day with data, the window's signals
        reader.get("/api/trending?window=week")
        assert len(ranked()) == 2
    finally:
        event.remove(pw.store.engine, "before_cursor_execute", record)


def test_static_files_under_fingerprinted_addresses(client: TestClient,
                                                    reader: TestClient) -> None:
    html = reader.get("/").text
    href = re.search(r'<link rel="stylesheet" href="([^"]+)"', html)
    assert href and href.group(1) == f"/static/style.css?v={fingerprint('style.css')}"
    css = reader.get(href.group(1))
    assert css.status_code == 200 and "text/css" in css.headers["content-type"]
    assert css.headers["cache-control"] == "public, max-age=31536000, immutable"
    plain = reader.get("/static/style.css")
    assert plain.status_code == 200 and plain.content == css.content
    assert plain.headers["cache-control"] == "public, max-age=300"
    old = reader.get("/static/style.css?v=000000000000")
    assert old.headers["cache-control"] == "public, max-age=300"
    script = re.search(r'<script src="(/static/docs\.js\?v=[0-9a-f]{12})"',
                       reader.get("/docs").text)
    assert script and "immutable" in reader.get(script.group(1)).headers["cache-control"]


@pytest.mark.parametrize("url", ["/", "/api/trending?limit=100", "/feeds/trending.atom"])
def test_large_answers_are_gzipped_and_still_validated(reader: TestClient, url: str) -> None:
    plain = reader.get(url, headers={"Accept-Encoding": "identity"})
    packed = reader.get(url, headers={"Accept-Encoding": "gzip"})
    assert len(plain.content) > 5000 and packed.headers["content-encoding"] == "gzip"
    assert "accept-encoding" in packed.headers["vary"].lower()
    assert "cookie" in packed.headers["vary"].lower()
    assert packed.headers["etag"] == plain.headers["etag"]  # weak: the same entity
    assert int(packed.headers["content-length"]) < len(plain.content) / 2
    raw = reader.get(url, headers={"Accept-Encoding": "gzip"}).read()  # httpx decodes it
    assert raw == plain.content or gzip.decompress(raw) == plain.content
    assert reader.get(url, headers={"Accept-Encoding": "gzip",
                                    "If-None-Match": packed.headers["etag"]}).status_code == 304


def test_the_data_version_moves_with_every_write(store: Store) -> None:
    """Every write of papers, signals (upvotes and saves too) or metadata gives the data a
    new version, whatever the clock says; writing nothing new, or a vote that counts
    nowhere, does not."""
    seen = [store.data_version()]
    assert seen[0].changed is None
    times = iter([START] * 100)  # one fixed time: the version does not depend on clocks

    def moved() -> None:
        version = store.data_version()
        assert version not in seen
        seen.append(version)

    store.write_batch([A], [], now=next(times))
    moved()
    store.write_batch([A], [], now=next(times))  # the same again: no row changes
    assert store.data_version() == seen[-1]
    at = next(times)
    store.write_batch([], [Signal(A.id, "hf_upvotes", TODAY, 3)], now=at)
    moved()
    assert seen[-1].changed == at
    store.write_batch([replace(A, title="A new title", version=2)], [], now=next(times))
    moved()
    store.write_batch([replace(A, title="A new title", version=2)], [], metas=[
        PaperMeta(A.id, code_url="https://github.com/a/b", source="hf_daily", day=TODAY)],
        now=next(times))
    moved()
    store.write_batch([], [Signal(A.id, "hf_upvotes", TODAY, 5)], now=next(times))  # a bump
    moved()
    pending = store.accounts.add("bob@example.org", next(times))
    store.library.vote(pending.id, A.id, next(times))  # counts nowhere until confirmed
    assert store.data_version() == seen[-1]
    account = active_account(store, "ada@example.org", next(times))
    store.library.vote(account.id, A.id, next(times))
    moved()
    store.library.unvote(account.id, A.id, next(times))  # its signal row is removed
    moved()
    store.library.save(account.id, A.id, next(times))
    moved()
    store.write_batch([], [Signal(A.id, "hf_upvotes", TODAY, 9)], now=next(times))
    moved()
    store.library.unsave(account.id, A.id, next(times))  # an older row goes
    moved()
    # bob confirms: his vote counts now
    store.accounts.request_signin("bob@example.org", "n", next(times), create=False)
    assert store.accounts.confirm_signin(pending.id, "n", next(times)) is not None
    moved()


def active_account(store: Store, email: str, now: datetime) -> Account:
    """A confirmed account, as its first sign-in leaves it."""
    account = store.accounts.add(email, now)
    assert store.accounts.request_signin(email, "n", now, create=False) is not None
    confirmed = store.accounts.confirm_signin(account.id, "n", now)
    assert confirmed is not None
    return confirmed


def test_a_vote_in_one_process_shows_at_once_in_another(client: TestClient, reader: TestClient,
                                                        pw: Paperwire, db_url: str) -> None:
    """Two web processes on one database (each its own Paperwire, store connections and
    caches): the other one's shared answer moves as soon as it knows the new data version
    (with the next request on SQLite; its notification's delivery on PostgreSQL)."""
    own_store = Store.open(db_url)
    with TestClient(create_app(Paperwire(pw.settings, own_store, clock=pw.clock)),
                    follow_redirects=False) as other:
        urls = ("/?window=day", "/api/trending?window=day", "/feeds/trending.json?window=day")
        before = {url: other.get(url) for url in urls}
        assert all(other.get(url, headers={"If-None-Match": r.headers["etag"]}).status_code
                   == 304 for url, r in before.items())
        csrf = sign_in(client, pw, "ada@example.org")
        client.post(f"/papers/{A.id}/vote", data={"csrf": csrf, "action": "vote", "next": "/"})
        # PostgreSQL: the other process hears the new version (a notification) within
        # milliseconds; SQLite: it reads it with each request
        until(lambda: own_store.data_version() == pw.store.data_version())
        for url, old in before.items():
            now = other.get(url, headers={"If-None-Match": old.headers["etag"]})
            assert now.status_code == 200 and now.content != old.content, url
            assert now.headers["etag"] == reader.get(url).headers["etag"], url
        assert upvotes_of(other.get("/?window=day"), A.id) == "1"
    own_store.close()


def similar_ids(response: httpx.Response) -> list[str]:
    """The papers a paper's page lists as similar (none when it shows no such section)."""
    if "Similar papers" not in response.text:
        return []
    section = response.text.split("Similar papers", 1)[1].split("</section>", 1)[0]
    return re.findall(r'<a class="title" href="/papers/([^"]+)"', section)


def test_a_paper_page_is_shared_for_readers_not_signed_in(
        client: TestClient, reader: TestClient, pw: Paperwire, clock: Clock) -> None:
    """The second anonymous view of a paper's page is the shared one (nothing rendered:
    a hit of the memo of papers' pages), validated with an ETag, gzip'd once, and kept
    while its tag holds (it shows nothing of the hour); a signed-in reader's view is
    rendered for them, private, and never shared."""
    papers = client.app.state.cache.papers  # type: ignore[attr-defined]
    url = f"/papers/{A.id}"
    first = reader.get(url, headers={"Accept-Encoding": "gzip"})
    assert first.status_code == 200 and A.title in first.text
    assert (papers.misses, papers.hits) == (1, 0)
    assert first.headers["cache-control"] == "public, no-cache"
    assert first.headers["content-encoding"] == "gzip"
    assert [v.strip() for v in first.headers["vary"].lower().split(",")] == [
        "cookie", "accept-encoding"]
    etag = first.headers["etag"]
    again = reader.get(url, headers={"Accept-Encoding": "gzip"})
    assert (papers.misses, papers.hits) == (1, 1)
    assert again.content == first.content and again.headers["etag"] == etag
    plain = reader.get(url, headers={"Accept-Encoding": "identity"})  # unpacked for it
    assert plain.content == first.content and "content-encoding" not in plain.headers
    assert int(plain.headers["content-length"]) == len(plain.content)
    assert reader.get(url, headers={"If-None-Match": etag}).status_code == 304
    assert (papers.misses, papers.hits) == (1, 2)  # a 304 renders and looks up nothing
    clock.now += timedelta(minutes=10)  # the same day and data: the same page, still kept
    later = reader.get(url, headers={"Accept-Encoding": "gzip"})
    assert later.headers["etag"] == etag and (papers.misses, papers.hits) == (1, 3)
    csrf = sign_in(client, pw, "ada@example.org")
    mine = client.get(url, headers={"If-None-Match": etag})
    assert mine.status_code == 200 and mine.headers["cache-control"].startswith("private")
    assert "etag" not in mine.headers and f'value="{csrf}"' in mine.text
    assert (papers.misses, papers.hits) == (1, 3)
    assert csrf not in reader.get(url).text


def test_a_paper_page_moves_with_the_data_and_the_search_index(
        settings: Settings, store: Store, clock: Clock) -> None:
    """A web process that follows the index writer: a write gives a fresh page at once,
    and so does a new generation of the index alone (its similar papers), with the data
    version unchanged."""
    store.write_batch(PAPERS[:3], [], now=START - timedelta(hours=1))
    writer = Paperwire(settings, store, clock=clock)
    writer.engine.sync(modes=("lexical",), embed=False)
    web = Paperwire(settings, store, clock=clock)
    web.indexer = False  # a follower, as in a scaled-out deployment
    reader = TestClient(create_app(web), follow_redirects=False)
    url = f"/papers/{A.id}"
    first = reader.get(url)
    assert first.status_code == 200 and A.id not in similar_ids(first)
    assert set(similar_ids(first)) <= {p.id for p in PAPERS[1:3]}
    twin = replace(paper(99), id="2607.99999", title=A.title)
    store.write_batch([twin], [], now=START)  # the data moves: a new page at once
    moved = reader.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert moved.status_code == 200 and moved.headers["etag"] != first.headers["etag"]
    assert twin.id not in similar_ids(moved)  # not indexed yet
    version = store.data_version()
    writer.engine.sync(modes=("lexical",), embed=False)  # only the index moves
    assert store.data_version() == version
    time.sleep(0.25)  # a follower looks for a new generation every 0.1 s
    fresh = reader.get(url, headers={"If-None-Match": moved.headers["etag"]})
    assert fresh.status_code == 200 and fresh.headers["etag"] != moved.headers["etag"]
    assert similar_ids(fresh)[0] == twin.id
    writer.close()
    web.close()


def test_a_paper_record_reads_each_table_once_and_is_shared(reader: TestClient,
                                                            pw: Paperwire) -> None:
    """``/api/papers/{id}``: the paper, its signals and its metadata, one query each (the
    Hub's fields come from the same rows); then shared and validated like trending's API."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    url = f"/api/papers/{A.id}"
    follows = listening(pw.store)
    event.listen(pw.store.engine, "before_cursor_execute", record)
    try:
        first = reader.get(url)
        assert first.status_code == 200 and first.json()["upvotes"] == 100
        read = [s for s in seen if "FROM cursors" not in s]  # all but the data version
        assert len(read) == 3, read
        assert first.headers["cache-control"] == "public, no-cache"
        seen.clear()
        again = reader.get(url)
        assert again.json() == first.json()
        # a hit: the data version only (SQLite), nothing (PostgreSQL: its notifications)
        assert seen == [] if follows else len(seen) == 1 and "FROM cursors" in seen[0], seen
        assert reader.get(url, headers={
            "If-None-Match": first.headers["etag"]}).status_code == 304
    finally:
        event.remove(pw.store.engine, "before_cursor_execute", record)
    assert reader.get("/api/papers/2607.77777").status_code == 404


def test_a_shared_paper_page_reads_only_the_data_version(pw: Paperwire) -> None:
    """In a web process that follows the index writer, a hit of a paper's page asks the
    store one thing, the data version: whether papers have vectors yet (which index its
    similar papers come from) is asked again at most once a second while they have none."""
    pw.engine.sync(modes=("lexical",), embed=False)
    web = Paperwire(pw.settings, pw.store, clock=pw.clock)
    web.indexer = False
    reader = TestClient(create_app(web))
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    url = f"/papers/{A.id}"
    assert reader.get(url).status_code == 200
    event.listen(pw.store.engine, "before_cursor_execute", record)
    try:
        for _ in range(3):
            assert reader.get(url).status_code == 200
        assert len(seen) == 3 and all("FROM cursors" in s for s in seen), seen
    finally:
        event.remove(pw.store.engine, "before_cursor_execute", record)
