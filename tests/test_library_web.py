"""The library on the web (and its use cases over the store), on SQLite and PostgreSQL:
tags, a note with hostile HTML and a state set from a paper's page; the /library page's
filters, search and sorts; export read back by bibtexparser; import of BibTeX and id lists
with malformed entries reported by line; the private Atom feeds; and every state-changing
route refusing a missing or wrong CSRF token (403, nothing changed) and a signed-out user."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime, timedelta
from html import unescape
from html.parser import HTMLParser
from typing import Any

import bibtexparser
import feedparser
import pytest
from bibtexparser import middlewares
from fastapi.testclient import TestClient
from pylatexenc.latex2text import LatexNodes2Text

from accounts import make_account, sign_in
from paperwire.app import Paperwire
from paperwire.config import Settings
from paperwire.library import service
from paperwire.models import Paper
from paperwire.store import Store
from paperwire.web.app import create_app
from paperwire.web.library_routes import RedactFeedSecrets

BASE = "https://papers.example.org"
T0 = datetime(2026, 6, 1, 9, 0, 0)
HOSTILE_NOTE = ('# My take\n\n<script>document.title="pwned"</script>\n\n'
                '<img src=x onerror="alert(1)"> [click](javascript:alert(2)) '
                '![px](https://evil.example/track.png) **bold** and [ok](https://ok.example)')
PAPERS = [
    Paper(id="1706.03762", title="Attention Is All You Need",
          authors=("Ashish Vaswani", "Noam Shazeer"), abstract="Transformers replace recurrence.",
          categories=("cs.CL", "cs.LG"), primary_category="cs.CL", published=date(2017, 6, 12)),
    Paper(id="1810.04805", title="BERT: Pre-training of Deep Bidirectional Transformers",
          authors=("Jacob Devlin", "Ming-Wei Chang"), abstract="Masked language models.",
          categories=("cs.CL",), primary_category="cs.CL", published=date(2018, 10, 11)),
    Paper(id="hep-th/9901001", title="Branes & Strings: 100% of #1",
          authors=("Jörg Müller",), abstract="Old-style ids.", categories=("hep-th",),
          primary_category="hep-th", published=date(1999, 1, 4)),
    Paper(id="2005.14165", title="Language Models are Few-Shot Learners",
          authors=("Tom Brown",), abstract="GPT-3.", categories=("cs.CL",),
          primary_category="cs.CL", published=date(2020, 5, 28)),
]


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


@pytest.fixture
def web(settings: Settings) -> Iterator[tuple[TestClient, Paperwire]]:
    store = Store.open(settings.resolved_database_url)
    store.write_batch(PAPERS, [])
    paperwire = Paperwire(replace(settings, secret_key="k" * 32, base_url=BASE), store,
                          clock=Clock())
    with TestClient(create_app(paperwire), base_url=BASE) as client:
        yield client, paperwire


def post(client: TestClient, path: str, data: dict[str, str], **kw: Any) -> Any:
    return client.post(path, data=data, follow_redirects=False, **kw)


def entry_of(paperwire: Paperwire, email: str, paper_id: str) -> Any:
    account = paperwire.store.accounts.by_email(email)
    assert account is not None
    return paperwire.store.library.entry(account.id, paper_id)


class Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))


def elements(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Elements()
    parser.feed(html)
    return parser.found


def visible_text(html: str) -> str:
    return unescape(re.sub(r"<[^>]+>", " ", html))


# ---- tags, note and state from a paper's page ------------------------------------------------


def test_tags_note_and_state_save_the_paper_and_show_on_its_page(
        web: tuple[TestClient, Paperwire]) -> None:
    client, paperwire = web
    csrf = sign_in(client, paperwire, "ada@example.org")
    page = client.get("/papers/1706.03762")
    assert page.status_code == 200
    assert 'id="library"' in page.text and "Not in your library" in page.text
    assert f'name="csrf" value="{csrf}"' in page.text

    r = post(client, "/papers/1706.03762/tags", {"csrf": csrf, "tags": "transformers, To Read,"
                                                  " transformers , nlp"})
    assert r.status_code == 303 and r.headers["location"] == "/papers/1706.03762#library"
    entry = entry_of(paperwire, "ada@example.org", "1706.03762")
    assert entry is not None and set(entry.tags) == {"transformers", "To Read", "nlp"}

    assert post(client, "/papers/1706.03762/note",
                {"csrf": csrf, "note": HOSTILE_NOTE}).status_code == 303
    assert post(client, "/papers/1706.03762/state",
                {"csrf": csrf, "state": "to-read"}).status_code == 303
    entry = entry_of(paperwire, "ada@example.org", "1706.03762")
    assert entry.note == HOSTILE_NOTE and entry.state == "to-read"

    html = client.get("/papers/1706.03762").text
    panel = html[html.index('id="library"'):]
    panel = panel[:panel.index("</section>")]
    # the note rendered inert: no element or attribute of its own, its HTML shown as text
    for tag, attrs in elements(panel):
        assert tag not in ("script", "img", "iframe", "style"), panel
        assert not any(name.startswith("on") for name in attrs), panel
        assert not (attrs.get("href") or "").lower().startswith(("javascript:", "data:"))
    assert "&lt;script&gt;" in panel
    assert "<strong>bold</strong>" in panel
    assert '<a href="https://ok.example" rel="nofollow noopener">ok</a>' in panel
    assert '<a href="https://evil.example/track.png" rel="nofollow noopener">px</a>' in panel
    assert "<h3>My take</h3>" in panel
    assert re.search(r'value="to-read" checked', panel)
    shown = re.search(r'name="tags" value="([^"]*)"', panel)
    assert shown and set(shown.group(1).split(", ")) == {"transformers", "To Read", "nlp"}
    # clearing: state none, empty note, no tags — still saved
    assert post(client, "/papers/1706.03762/state", {"csrf": csrf, "state": "none"}
                ).status_code == 303
    assert post(client, "/papers/1706.03762/note", {"csrf": csrf, "note": "  "}
                ).status_code == 303
    assert post(client, "/papers/1706.03762/tags", {"csrf": csrf, "tags": ""}).status_code == 303
    entry = entry_of(paperwire, "ada@example.org", "1706.03762")
    assert (entry.state, entry.note, entry.tags) == (None, None, ())


def test_control_characters_never_reach_the_database(web: tuple[TestClient, Paperwire]) -> None:
    client, paperwire = web
    csrf = sign_in(client, paperwire, "ada@example.org")
    assert post(client, "/papers/1706.03762/note",
                {"csrf": csrf, "note": "a\x00b\r\nc\x1b[31m\u202ed"}).status_code == 303
    assert post(client, "/papers/1706.03762/tags",
                {"csrf": csrf, "tags": "x\x00y, \x07bell\t tab"}).status_code == 303
    entry = entry_of(paperwire, "ada@example.org", "1706.03762")
    assert entry.note == "ab\nc[31md"
    assert set(entry.tags) == {"xy", "bell tab"}


def test_old_style_ids_and_a_next_path(web: tuple[TestClient, Paperwire]) -> None:
    client, paperwire = web
    csrf = sign_in(client, paperwire, "ada@example.org")
    r = post(client, "/papers/hep-th/9901001/state",
             {"csrf": csrf, "state": "read", "next": "/library?state=read"})
    assert r.status_code == 303 and r.headers["location"] == "/library?state=read"
    r = post(client, "/papers/hep-th/9901001v2/tags",
             {"csrf": csrf, "tags": "strings", "next": "https://evil.example/"})
    assert r.status_code == 303 and r.headers["location"] == "/papers/hep-th/9901001#library"
    entry = entry_of(paperwire, "ada@example.org", "hep-th/9901001")
    assert entry.state == "read" and entry.tags == ("strings",)


@pytest.mark.parametrize(("path", "data", "status"), [
    ("/papers/1706.03762/state", {"state": "finished"}, 400),
    ("/papers/1706.03762/tags", {"tags": ",".join(f"t{i}" for i in range(21))}, 400),
    ("/papers/1706.03762/tags", {"tags": "x" * 65}, 400),
    ("/papers/1706.03762/note", {"note": "n" * 20_001}, 400),
    ("/papers/9999.99999/tags", {"tags": "x"}, 404),
])
def test_bad_forms_change_nothing(web: tuple[TestClient, Paperwire], path: str,
                                  data: dict[str, str], status: int) -> None:
    client, paperwire = web
    csrf = sign_in(client, paperwire, "ada@example.org")
    assert post(client, path, {"csrf": csrf, **data}).status_code == status
    account = paperwire.store.accounts.by_email("ada@example.org")
    assert account is not None and paperwire.store.library.entries(account.id) == []


# ---- CSRF and signed out: nothing changes ----------------------------------------------------

POSTS = [
    ("/papers/1706.03762/tags", {"tags": "evil"}),
    ("/papers/1706.03762/note", {"note": "evil"}),
    ("/papers/1706.03762/state", {"state": "read"}),
    ("/library/import", {"ids": "1810.04805"}),
    ("/library/feed", {}),
]


def snapshot(paperwire: Paperwire, account_id: int) -> tuple[Any, ...]:
    return (paperwire.store.library.entries(account_id),
            paperwire.store.accounts.feed_secret(account_id))


@pytest.mark.parametrize(("path", "data"), POSTS)
def test_every_post_needs_the_csrf_token(web: tuple[TestClient, Paperwire], path: str,
                                         data: dict[str, str]) -> None:
    client, paperwire = web
    assert post(client, path, {**data, "csrf": "x"}).status_code == 401  # signed out
    csrf = sign_in(client, paperwire, "ada@example.org")
    account = paperwire.store.accounts.by_email("ada@example.org")
    assert account is not None
    paperwire.store.library.set_tags(account.id, "1706.03762", ["mine"], T0)
    before = snapshot(paperwire, account.id)
    assert post(client, path, data).status_code == 403
    assert post(client, path, {**data, "csrf": csrf[:-1] + ("0" if csrf[-1] != "0" else "1")}
                ).status_code == 403
    assert post(client, path, {**data, "csrf": csrf},
                headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
    other = TestClient(client.app, base_url=BASE)
    sign_in(other, paperwire, "eve@example.org")
    assert post(other, path, {**data, "csrf": csrf}).status_code == 403
    assert snapshot(paperwire, account.id) == before
    ok = post(client, path, {**data, "csrf": csrf})
    assert ok.status_code in (200, 303)
    assert snapshot(paperwire, account.id) != before  # the same post with the token works


def test_signed_out_pages_ask_to_sign_in(web: tuple[TestClient, Paperwire]) -> None:
    client, _ = web
    for path in ("/library", "/library/export.bib", "/library/export.json"):
        r = client.get(path, headers={"Accept": "text/html,*/*"})  # a browser's link
        assert r.status_code == 401, path
        assert "/signin?next=" in r.text
    assert 'id="library"' not in client.get("/papers/1706.03762").text
    assert 'href="/library"' not in client.get("/").text


# ---- the library page ------------------------------------------------------------------------


def fill(paperwire: Paperwire, email: str) -> int:
    """ada's library: four papers, saved one after the other, with tags, states, notes."""
    account = make_account(paperwire, email)
    lib, t = paperwire.store.library, T0
    lib.set_tags(account.id, "1706.03762", ["transformers", "nlp"], t)
    lib.set_note(account.id, "1706.03762", "Read **section 3** on multi-head attention.", t)
    lib.set_state(account.id, "1706.03762", "read", t)
    lib.set_tags(account.id, "1810.04805", ["NLP"], t + timedelta(hours=1))
    lib.set_state(account.id, "1810.04805", "to-read", t + timedelta(hours=1))
    lib.save(account.id, "hep-th/9901001", t + timedelta(hours=2))
    lib.set_note(account.id, "hep-th/9901001", "Gödel would like the <b>branes</b>.",
                 t + timedelta(hours=2))
    lib.save(account.id, "2005.14165", t + timedelta(hours=3))
    return account.id


def listed(html: str) -> list[str]:
    """The paper ids the library page lists, in order."""
    body = html[html.index('<ul class="papers library">'):] if "papers library" in html else ""
    body = body[:body.index("</ul>")] if body else ""
    return [m.replace("/papers/", "") for m in re.findall(r'class="title" href="([^"]+)"',
                                                           body)]


@pytest.mark.parametrize(("query", "expected"), [
    ("", ["2005.14165", "hep-th/9901001", "1810.04805", "1706.03762"]),
    ("tag=nlp", ["1810.04805", "1706.03762"]),  # a tag in any case
    ("tag=NLP&state=to-read", ["1810.04805"]),
    ("state=read", ["1706.03762"]),
    ("state=none", ["2005.14165", "hep-th/9901001"]),
    ("q=multi-head", ["1706.03762"]),  # the note
    ("q=godel", ["hep-th/9901001"]),  # the note, accents folded
    ("q=muller", ["hep-th/9901001"]),  # an author
    ("q=transformers", ["1810.04805", "1706.03762"]),  # a title, a tag
    ("q=%22few-shot+learners%22", ["2005.14165"]),  # a phrase
    ("q=masked+devlin", ["1810.04805"]),  # abstract and author: every word
    ("q=nothing-like-this", []),
    ("sort=title", ["1706.03762", "1810.04805", "hep-th/9901001", "2005.14165"]),
    ("sort=published", ["2005.14165", "1810.04805", "1706.03762", "hep-th/9901001"]),
])
def test_the_library_page_filters_searches_and_sorts(
        web: tuple[TestClient, Paperwire], query: str, expected: list[str]) -> None:
    client, paperwire = web
    fill(paperwire, "ada@example.org")
    name, value = ("paperwire_session", paperwire.open_session(
        paperwire.store.accounts.by_email("ada@example.org")))  # type: ignore[arg-type]
    client.cookies.set(name, value)
    r = client.get("/library?" + query)
    assert r.status_code == 200
    assert r.headers["cache-control"] == "private, no-store"
    assert listed(r.text) == expected


def test_the_library_page_shows_notes_inert_and_tags(web: tuple[TestClient, Paperwire]) -> None:
    client, paperwire = web
    fill(paperwire, "ada@example.org")
    client.cookies.set("paperwire_session", paperwire.open_session(
        paperwire.store.accounts.by_email("ada@example.org")))  # type: ignore[arg-type]
    html = client.get("/library").text
    assert "<strong>section 3</strong>" in html
    assert "&lt;b&gt;branes&lt;/b&gt;" in html and "<b>branes" not in html
    assert 'href="/library?tag=transformers"' in html
    assert "4 saved papers" in html
    assert 'href="/library"' in html  # the nav link for a signed-in reader
    # each paper's action bar: its save toggle takes it out of the library, back to this page
    bar = html[html.index('action="/papers/1706.03762/save"'):]
    bar = bar[:bar.index("</form>")]
    assert 'value="unsave"' in bar and 'aria-pressed="true"' in bar
    assert re.search(r'name="next" value="/library#', bar)
    for bad in ("?state=done", "?sort=stars", "?tag=" + "x" * 65):
        assert client.get("/library" + bad).status_code == 400


def test_another_account_sees_none_of_it(web: tuple[TestClient, Paperwire]) -> None:
    client, paperwire = web
    fill(paperwire, "ada@example.org")
    sign_in(client, paperwire, "eve@example.org")
    html = client.get("/library").text
    assert listed(html) == [] and "Your library is empty" in html
    assert "multi-head" not in html and "transformers" not in html
    page = client.get("/papers/1706.03762").text
    assert "Not in your library" in page and "section 3" not in page
    assert client.get("/library/export.bib").text == ""
    assert json.loads(client.get("/library/export.json").text)["papers"] == []
    # eve's own feed holds nothing of ada's
    eve = paperwire.store.accounts.by_email("eve@example.org")
    assert eve is not None
    feed = client.get(f"/feeds/library/{paperwire.store.accounts.feed_secret(eve.id)}.atom")
    assert feed.status_code == 200 and "Attention" not in feed.text


# ---- export ----------------------------------------------------------------------------------


def test_export_bibtex_parses_back_to_the_library(web: tuple[TestClient, Paperwire]) -> None:
    client, paperwire = web
    fill(paperwire, "ada@example.org")
    sign_in(client, paperwire, "ada@example.org")
    r = client.get("/library/export.bib")
    assert r.status_code == 200
    assert r.headers["content-disposition"] == 'attachment; filename="paperwire-library.bib"'
    assert r.headers["content-type"].startswith("application/x-bibtex")
    library = bibtexparser.parse_string(
        r.text, append_middleware=[middlewares.SeparateCoAuthors()])
    assert library.failed_blocks == []
    decode = LatexNodes2Text().latex_to_text
    got = {e.fields_dict["eprint"].value: e for e in library.entries}
    assert list(got) == ["2005.14165", "hep-th/9901001", "1810.04805", "1706.03762"]
    for paper in PAPERS:
        fields = got[paper.id].fields_dict
        assert decode(fields["title"].value) == paper.title
        assert [decode(a) for a in fields["author"].value] == list(paper.authors)
        assert fields["archivePrefix"].value == "arXiv"
        assert fields["primaryClass"].value == paper.primary_category
    assert got["1706.03762"].key == "vaswani2017attention"
    assert got["1706.03762"].fields_dict["keywords"].value == "nlp, transformers"

    tagged = client.get("/library/export.bib?tag=NLP")
    assert tagged.headers["content-disposition"].endswith('-nlp.bib"')
    assert [e.fields_dict["eprint"].value for e in bibtexparser.parse_string(
        tagged.text).entries] == ["1810.04805", "1706.03762"]


def test_export_csl_and_json(web: tuple[TestClient, Paperwire]) -> None:
    client, paperwire = web
    fill(paperwire, "ada@example.org")
    sign_in(client, paperwire, "ada@example.org")
    csl = client.get("/library/export.csl.json?tag=transformers")
    assert csl.headers["content-type"].startswith("application/vnd.citationstyles.csl+json")
    items = csl.json()
    assert [i["id"] for i in items] == ["vaswani2017attention"]
    assert items[0]["type"] == "article" and items[0]["number"] == "1706.03762"
    doc = client.get("/library/export.json").json()
    assert doc["format"] == "paperwire-library" and doc["count"] == 4
    first = {p["id"]: p for p in doc["papers"]}["1706.03762"]
    assert first["tags"] == ["nlp", "transformers"] and first["state"] == "read"
    assert first["note"].startswith("Read **section 3**") and first["key"] == "vaswani2017attention"
    assert client.get("/library/export.pdf").status_code == 404


# ---- import ----------------------------------------------------------------------------------

BIB = """@misc{vaswani2017attention,
  title = {Attention Is All You Need},
  eprint = {1706.03762}, archivePrefix = {arXiv}
}

@article{broken,
  title = {Never closed,

@article{bert, title = {BERT}, journal = {arXiv preprint arXiv:1810.04805}}
@misc{unknown, title = {Not here}, eprint = {2401.00001}}
@book{knuth, title = {The TeXbook}}
"""


def test_import_a_bibtex_file_reports_malformed_entries_by_line(
        web: tuple[TestClient, Paperwire]) -> None:
    client, paperwire = web
    csrf = sign_in(client, paperwire, "ada@example.org")
    account = paperwire.store.accounts.by_email("ada@example.org")
    assert account is not None
    paperwire.store.library.save(account.id, "1706.03762", T0)
    r = client.post("/library/import", data={"csrf": csrf, "tag": "reading group"},
                    files={"file": ("refs.bib", BIB.encode(), "application/x-bibtex")})
    assert r.status_code == 200
    text = " ".join(visible_text(r.text).split())
    assert "imported 1, already there 1, unknown ids 1, problems 2" in text
    assert "line 6: malformed entry" in text  # @article{broken
    assert "line 10: 2401.00001 (unknown): not stored here, not saved" in text
    assert "line 11: no arXiv id: knuth: The TeXbook" in text
    entries = {e.paper_id: e for e in paperwire.store.library.entries(account.id)}
    assert set(entries) == {"1706.03762", "1810.04805"}  # the unknown paper is not saved
    assert all(e.tags == ("reading group",) for e in entries.values())
    assert paperwire.store.get_paper("2401.00001") is None


def test_import_pasted_ids(web: tuple[TestClient, Paperwire]) -> None:
    client, paperwire = web
    csrf = sign_in(client, paperwire, "ada@example.org")
    r = client.post("/library/import", data={
        "csrf": csrf, "ids": "https://arxiv.org/abs/2005.14165v4\nhep-th/9901001\nnot an id"})
    assert r.status_code == 200
    text = " ".join(visible_text(r.text).split())
    assert "imported 2" in text and "line 3: not an arXiv id: not" in text
    assert "Language Models are Few-Shot Learners" in text
    assert post(client, "/library/import", {"csrf": csrf, "ids": "  "}).status_code == 400
    big = client.post("/library/import", data={"csrf": csrf}, files={
        "file": ("big.bib", b"%" * (service.MAX_IMPORT_BYTES + 1), "text/plain")})
    assert big.status_code == 413


def test_import_text_on_the_store(store: Store) -> None:
    store.write_batch(PAPERS, [])
    account = store.accounts.add("cli@example.org", T0)
    report = service.import_text(store, account.id, "1706.03762\n1706.03762v2\n2401.00001\n",
                                 T0, ["a"])
    assert (report.imported, report.already, [f.arxiv_id for f in report.unknown]) == (
        ["1706.03762"], [], ["2401.00001"])
    again = service.import_text(store, account.id, "1706.03762\n", T0)
    assert again.already == ["1706.03762"] and again.ok
    assert store.library.entry(account.id, "1706.03762").tags == ("a",)  # type: ignore[union-attr]


# ---- private feeds ---------------------------------------------------------------------------


def test_private_feeds_by_secret_renewed_and_per_tag(web: tuple[TestClient, Paperwire]) -> None:
    client, paperwire = web
    account_id = fill(paperwire, "ada@example.org")
    csrf = sign_in(client, paperwire, "ada@example.org")
    html = client.get("/library").text
    secret = paperwire.store.accounts.feed_secret(account_id)
    url = f"{BASE}/feeds/library/{secret}.atom"
    assert f'value="{url}"' in html and f'value="{url}?tag=nlp"' in html

    reader = TestClient(client.app, base_url=BASE)  # a feed reader: no session
    r = reader.get(f"/feeds/library/{secret}.atom")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/atom+xml")
    assert "private" in r.headers["cache-control"] and r.headers["x-robots-tag"] == "noindex"
    feed = feedparser.parse(r.content)
    assert feed.bozo == 0
    assert [e.link for e in feed.entries] == [
        f"{BASE}/papers/2005.14165", f"{BASE}/papers/hep-th/9901001",
        f"{BASE}/papers/1810.04805", f"{BASE}/papers/1706.03762"]
    assert feed.feed.links[0].href == url
    vaswani = feed.entries[-1]
    assert {t.term for t in vaswani.tags} == {"nlp", "transformers"}
    assert "Note: Read section 3 on multi-head attention." in vaswani.summary
    tagged = feedparser.parse(reader.get(f"/feeds/library/{secret}.atom?tag=transformers")
                              .content)
    assert [e.title for e in tagged.entries] == ["Attention Is All You Need"]
    assert tagged.feed.title.endswith("transformers")

    assert reader.get("/feeds/library/not-the-secret.atom").status_code == 404
    assert post(client, "/library/feed", {"csrf": csrf}).headers["location"] == "/library#feeds"
    assert reader.get(f"/feeds/library/{secret}.atom").status_code == 404  # revoked
    renewed = paperwire.store.accounts.feed_secret(account_id)
    assert renewed != secret
    assert reader.get(f"/feeds/library/{renewed}.atom").status_code == 200
    paperwire.store.accounts.set_disabled("ada@example.org", True, T0)
    assert reader.get(f"/feeds/library/{renewed}.atom").status_code == 404


def test_the_feed_secret_stays_out_of_the_access_log() -> None:
    record = logging.LogRecord("uvicorn.access", logging.INFO, "", 0, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1", "GET", "/feeds/library/s3cr3tS3CR3Ts3cr3t.atom?tag=x",
                                "1.1", 200), None)
    RedactFeedSecrets().filter(record)
    assert record.getMessage() == '127.0.0.1 - "GET /feeds/library/….atom?tag=x HTTP/1.1" 200'
