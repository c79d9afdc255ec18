"""The personal loop end to end, in real Chromium against uvicorn with a real SMTP server
(issue 12's "done when"): sign in through the mailed link, upvote with the keyboard, save a
paper with two tags, write a note holding hostile HTML (it runs nothing), export the library
as BibTeX (read back by bibtexparser and compared with the store), take the digest from the
account page, 👍 papers from the digest received and see the next digest's personal section
change, sign out, and a second account that sees nothing of the first one's library.

Skipped (with the reason) when playwright or /usr/bin/chromium is missing, unless
PAPERWIRE_TEST_REQUIRE_BROWSER=1 (CI sets it): then it fails instead."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import bibtexparser
import pytest
from pylatexenc.latex2text import LatexNodes2Text

from live_server import loopback_socket, served, url_of
from paperwire.app import Paperwire
from paperwire.config import Settings
from paperwire.digests.service import gather
from paperwire.models import Signal
from paperwire.store import Store
from paperwire.web.app import create_app
from paperwire.web.common import paper_path
from smtp_server import FaultySmtpServer
from test_browser import ARGS, _playwright

FIXTURE = Path(__file__).parent / "fixtures" / "personal" / "papers.jsonl"
BACKGROUND = FIXTURE.with_name("background.jsonl.gz")  # 250 more: the rest of a collection
DAY1, DAY2 = date(2026, 6, 16), date(2026, 6, 17)  # digests of the papers of 15 and 16 Jun
HOSTILE_NOTE = ('**Read §4** <img src=x onerror="window.__pwned=1">'
                "<script>window.__pwned=1</script> [x](javascript:window.__pwned=1)")
WATCH = "window.__pwned = 0;"
IDS = [json.loads(line)["id"] for line in FIXTURE.read_text(encoding="utf-8").splitlines()]
RETRIEVAL, ROBOTS = IDS[0:20], IDS[32:44]


@dataclass
class Site:
    url: str
    app: Any
    paperwire: Paperwire
    smtp: FaultySmtpServer

    @property
    def store(self) -> Store:
        return self.paperwire.store

    def mail_text(self, email: str) -> str:
        """The text of the latest mail to ``email``."""
        mails = [m for m in self.smtp.received if list(m.rcpt_tos) == [email]]
        assert mails, f"no mail to {email}"
        body = mails[-1].message.get_body(("plain",)).get_content()
        return str(body).replace("\r\n", "\n")

    def title(self, paper_id: str) -> str:
        paper = self.store.get_paper(paper_id)
        assert paper is not None
        return paper.title

    def feedback_link(self, text: str, paper_id: str) -> str:
        """The 👍 / 👎 / save link of a paper's item in a digest's text."""
        block = text.split(" ".join(self.title(paper_id).split())[:40], 1)[1].split("\n\n")[0]
        [link] = re.findall(r"More or less like this, or save it: (\S+)", block)
        return str(link)

    def signin_link(self, email: str) -> str:
        """The sign-in link of the latest mail to ``email``."""
        self.app.state.mail_queue.join()
        mails = [m for m in self.smtp.received if list(m.rcpt_tos) == [email]]
        assert mails, f"no mail to {email}"
        text = mails[-1].message.get_body(("plain",)).get_content()
        [link] = re.findall(re.escape(self.url) + r"/signin/confirm/\S+", text)
        return str(link)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_playwright, executable = _playwright()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def site(tmp_path: Path, models_dir: Path) -> Iterator[Site]:
    # even papers first listed on 15 Jun, odd ones on 16 Jun: each digest has every topic
    dates = tmp_path / "listing-dates.tsv"
    dates.write_text("id\tfirst_listing_file_date\tall_listing_file_dates\n" + "".join(
        f"{pid}\t{d}\t{d}\n" for i, pid in enumerate(IDS)
        for d in ["2026-06-15" if i % 2 == 0 else "2026-06-16"]), encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'paperwire.db'}"
    store = Store.open(url)
    sock = loopback_socket()
    with FaultySmtpServer() as smtp:
        settings = Settings(home=tmp_path, database_url=url, models_dir=models_dir,
                            base_url=url_of(sock), smtp_url=smtp.url, secret_key="p" * 32)
        paperwire = Paperwire(settings, store)
        report = paperwire.import_files([FIXTURE, BACKGROUND, dates])
        assert report.papers.new == 306
        paperwire.index()  # the vectors, as the index writer makes them
        # three robot papers trend on 15 Jun: they are in the first digest
        store.write_batch([], [Signal(ROBOTS[0], "hf_upvotes", date(2026, 6, 15), 30),
                               Signal(ROBOTS[2], "hf_upvotes", date(2026, 6, 15), 25),
                               Signal(ROBOTS[4], "hf_upvotes", date(2026, 6, 15), 20)])
        app = create_app(paperwire)
        try:
            with served(app, sock) as base:
                yield Site(base, app, paperwire, smtp)
        finally:
            store.close()


def sign_in(page: Any, site: Site, email: str) -> None:
    page.goto(f"{site.url}/")
    page.locator("header").get_by_role("link", name="Sign in", exact=True).click()
    page.get_by_label("Email").fill(email)
    with page.expect_navigation():
        page.get_by_role("button", name="Mail me a sign-in link").click()
    page.goto(site.signin_link(email))
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    assert page.locator("header").get_by_role("link", name=email).count() == 1


def press(page: Any, locator: Any) -> None:
    """Reach a control with the keyboard and press Enter (a real, keyboard-usable button)."""
    locator.focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")


def personal(site: Site, day: date) -> dict[str, str]:
    """The personal section (papers and why) ada's digest of ``day`` would have now."""
    sub = site.store.digests.by_email("ada@example.org")
    assert sub is not None
    digest = gather(site.paperwire.digest_context(), sub, day)
    return {it.paper.id: it.why for it in digest.items if it.kind == "match"}


def bibtex_of(download: Any) -> list[Any]:
    library = bibtexparser.parse_string(Path(download.path()).read_text(encoding="utf-8"))
    assert library.failed_blocks == []
    return list(library.entries)


def test_sign_in_vote_save_tag_note_export_and_sign_out(browser: Any, site: Site) -> None:
    first, second = IDS[0], IDS[1]  # two papers on retrieval
    context = browser.new_context(accept_downloads=True)
    context.add_init_script(WATCH)
    try:
        page = context.new_page()
        sign_in(page, site, "ada@example.org")
        ada = site.store.accounts.by_email("ada@example.org")
        assert ada is not None and ada.active

        # upvote from the paper's page, with the keyboard
        page.goto(site.url + paper_path(first))
        bar = page.locator(".actions").first
        assert bar.locator("button.act.vote").inner_text().startswith("▲ Upvote (0)")
        press(page, bar.locator("button.act.vote"))
        bar = page.locator(".actions").first
        assert bar.locator("button.act.vote").get_attribute("aria-pressed") == "true"
        assert "Upvoted (1)" in bar.locator("button.act.vote").inner_text()
        assert site.store.library.vote_counts([first]) == {first: 1}

        # save it with two tags, and write a note holding hostile HTML
        press(page, page.locator(".actions").first.locator("button.act.save"))
        page.locator("#library-tags").fill("dense retrieval, to cite")
        press(page, page.get_by_role("button", name="Save tags"))
        page.locator("#library-note").fill(HOSTILE_NOTE)
        press(page, page.get_by_role("button", name="Save note"))
        note = page.locator(".note-text")
        assert note.locator("strong").inner_text() == "Read §4"
        assert note.locator("script, img, [onerror]").count() == 0
        assert note.locator("a[href^='javascript']").count() == 0
        assert page.evaluate("window.__pwned") == 0
        entry = site.store.library.entry(ada.id, first)
        assert entry is not None and sorted(entry.tags) == ["dense retrieval", "to cite"]
        assert entry.note == HOSTILE_NOTE  # kept as written, rendered inert
        # a second paper, saved from a list
        page.goto(site.url + paper_path(second))
        press(page, page.locator(".actions").first.locator("button.act.save"))

        # export BibTeX from the library page and read it back with a BibTeX parser
        page.goto(f"{site.url}/library")
        assert page.evaluate("window.__pwned") == 0
        with page.expect_download() as download:
            page.get_by_role("link", name="BibTeX").click()
        entries = bibtex_of(download.value)
        by_eprint = {e.fields_dict["eprint"].value: e for e in entries}
        assert set(by_eprint) == {first, second}
        for pid, e in by_eprint.items():
            stored = site.store.get_paper(pid)
            assert stored is not None
            assert e.entry_type == "misc"
            assert e.fields_dict["archivePrefix"].value == "arXiv"
            assert e.fields_dict["primaryClass"].value == stored.primary_category
            title = LatexNodes2Text().latex_to_text(e.fields_dict["title"].value)
            assert " ".join(title.split()) == " ".join(stored.title.split())
            authors = e.fields_dict["author"].value.split(" and ")
            assert len(authors) == len(stored.authors)
        assert "dense retrieval" in by_eprint[first].fields_dict["keywords"].value

        # the digest, taken on the account page (active at once: the address is confirmed)
        for pid in RETRIEVAL[2:8:2]:  # three more papers on retrieval, saved
            page.goto(site.url + paper_path(pid))
            press(page, page.locator(".actions").first.locator("button.act.save"))
        page.goto(f"{site.url}/account")
        press(page, page.get_by_role("button", name="Subscribe"))
        sub = site.store.digests.by_email("ada@example.org")
        assert sub is not None and sub.status == "active"
        assert site.paperwire.send_digests(DAY1).sent == 1
        mail = site.mail_text("ada@example.org")
        assert "Recommended because you saved" in mail  # its personal section
        before = personal(site, DAY2)
        assert not set(before) & set(ROBOTS)
        # 👍 the three robot papers of the digest, from the links of the mail received
        liked = (ROBOTS[0], ROBOTS[2], ROBOTS[4])
        for pid in liked:
            page.goto(site.feedback_link(mail, pid) + "&a=up")
            # the GET alone records nothing
            assert pid not in {r.paper_id for r in site.store.library.ratings(ada.id)}
            press(page, page.get_by_role("button", name="👍 More like this"))
            assert "more like this" in page.content()
        assert {r.paper_id for r in site.store.library.ratings(ada.id)} == set(liked)
        # the next digest's personal section changed, and says the 👍 brought it
        after = personal(site, DAY2)
        brought = {pid: why for pid, why in after.items()
                   if pid not in before and "liked" in why}
        assert brought, (before, after)
        assert site.paperwire.send_digests(DAY2).sent == 1
        second = " ".join(site.mail_text("ada@example.org").split())
        for pid in brought:
            assert " ".join(site.title(pid).split())[:30] in second

        # sign out: the library is closed to this browser
        with page.expect_navigation():
            page.locator("header").get_by_role("button", name="Sign out").click()
        response = page.goto(f"{site.url}/library")
        assert response is not None and response.status == 401

        # a second account sees nothing of the first one's library
        sign_in(page, site, "bob@example.org")
        page.goto(f"{site.url}/library")
        assert page.locator("ul.library li.paper").count() == 0
        assert "to cite" not in page.content() and "Read §4" not in page.content()
        with page.expect_download() as download:
            page.get_by_role("link", name="BibTeX").click()
        assert bibtex_of(download.value) == []
        page.goto(site.url + paper_path(first))
        assert page.locator(".note-text").count() == 0
        assert "Upvoted" not in page.locator(".actions").first.inner_text()
    finally:
        context.close()
