"""Signing in in a real browser: Debian's chromium, driven by Playwright, asks for a link on
the sign-in page of the app served by uvicorn, follows the link in the mail the real SMTP
server received, sees its account page, signs out; a second account signed in the same way
sees its own data only.

Skipped (with the reason) when playwright or /usr/bin/chromium is missing, unless
PAPERWIRE_TEST_REQUIRE_BROWSER=1 (CI sets it): then it fails instead."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from live_server import loopback_socket, served, url_of
from paperwire.app import Paperwire
from paperwire.config import Settings
from paperwire.models import Paper
from paperwire.store import Store
from paperwire.web.app import create_app
from smtp_server import FaultySmtpServer
from test_browser import ARGS, _playwright

PAPERS = [Paper(id=f"2606.0000{i}", title=f"Paper {i}", abstract="…", version=1,
                published=date(2026, 6, 1)) for i in (1, 2)]


class Site:
    def __init__(self, url: str, app: Any, store: Store, smtp: FaultySmtpServer) -> None:
        self.url, self.app, self.store, self.smtp = url, app, store, smtp

    def link_for(self, email: str) -> str:
        """The sign-in link of the latest mail to ``email`` (sent by the server's queue)."""
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
    url = f"sqlite:///{tmp_path / 'paperwire.db'}"
    store = Store.open(url)
    store.write_batch(PAPERS)
    sock = loopback_socket()
    with FaultySmtpServer() as smtp:
        settings = Settings(home=tmp_path, database_url=url, models_dir=models_dir,
                            base_url=url_of(sock), smtp_url=smtp.url, secret_key="b" * 32)
        app = create_app(Paperwire(settings, store))
        try:
            with served(app, sock) as base:
                yield Site(base, app, store, smtp)
        finally:
            store.close()


def sign_in(page: Any, site: Site, email: str) -> None:
    """Ask for a link on the page, open the one mailed, press the button."""
    page.goto(f"{site.url}/")
    page.locator("header").get_by_role("link", name="Sign in", exact=True).click()
    page.wait_for_url(f"{site.url}/signin")
    page.get_by_label("Email").fill(email)
    with page.expect_navigation():
        page.get_by_role("button", name="Mail me a sign-in link").click()
    assert "sign-in link is on its way" in page.content()
    page.goto(site.link_for(email))
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()


def test_sign_in_by_the_mailed_link_and_sign_out(browser: Any, site: Site) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        sign_in(page, site, "ada@example.org")
        assert page.url == f"{site.url}/account"
        assert page.locator("h1").inner_text() == "Your account"
        assert page.locator("header").get_by_role("link", name="ada@example.org").count() == 1
        [cookie] = [c for c in context.cookies() if c["name"] == "paperwire_session"]
        assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and not cookie["secure"]
        assert page.evaluate("document.cookie") == ""  # no script can read the session
        ada = site.store.accounts.by_email("ada@example.org")
        assert ada is not None and ada.status == "active"
        site.store.library.save(ada.id, PAPERS[0].id, ada.confirmed_at)  # type: ignore[arg-type]
        # the same link a second time signs nobody in
        again = context.new_page()
        again.goto(site.link_for("ada@example.org"))
        with again.expect_navigation():
            again.get_by_role("button", name="Sign in").click()
        assert "already used" in again.content()
        again.close()
        # sign out from the header
        with page.expect_navigation():
            page.locator("header").get_by_role("button", name="Sign out").click()
        assert page.url == f"{site.url}/"
        assert page.locator("header").get_by_role("link", name="Sign in").count() == 1
        assert [c for c in context.cookies() if c["name"] == "paperwire_session"] == []
        response = page.goto(f"{site.url}/account")
        assert response is not None and response.status == 401
        # a second account, signed in the same way, sees its own data only
        sign_in(page, site, "bob@example.org")
        assert page.locator("header").get_by_role("link", name="bob@example.org").count() == 1
        assert "ada@example.org" not in page.content()
        with page.expect_download() as download:
            page.get_by_role("link", name="Download everything").click()
        doc = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
        assert doc["account"]["email"] == "bob@example.org" and doc["library"] == []
    finally:
        context.close()
