"""Confirmation mail limits hold under concurrency, per mailbox (aliases and case folded) and
per client; cross-site posts are refused; the answer never waits for the mail server.
Mail goes to the real SMTP server of tests/smtp_server.py; the store is SQLite and
PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from live_server import served
from paperwire.app import Paperwire
from paperwire.config import Settings
from paperwire.digests.mailer import SmtpMailer
from paperwire.digests.service import DigestContext
from paperwire.digests.subscriptions import mailbox_key, subscribe
from paperwire.smtp_url import parse_smtp_url
from paperwire.store import Store
from paperwire.web.app import create_app
from smtp_server import FaultySmtpServer

NOW = datetime(2026, 7, 1, 9, 0)


def rcpts(server: FaultySmtpServer) -> list[str]:
    return [r for m in server.received for r in m.rcpt_tos]


def concurrently(n: int, action: Callable[[int], object]) -> list[BaseException]:
    """Run ``action(i)`` for i in range(n) in n threads released together; their errors."""
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            action(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return errors


def test_mailbox_key_folds_tags_and_case() -> None:
    assert mailbox_key("Ada+News@Example.ORG") == "ada@example.org"
    assert mailbox_key("ada@example.org") == "ada@example.org"
    assert mailbox_key("+only@x.org") == "+only@x.org"  # no local part left: kept whole


def test_limit_counters_reset_with_their_window_and_are_purged(store: Store) -> None:
    d = store.digests
    day1, day2 = datetime(2026, 7, 1), datetime(2026, 7, 2)
    assert [d.take_limit("mailbox:a@x.org", day1, 2) for _ in range(3)] == [True, True, False]
    assert d.take_limit("client:10.0.0.1", day1, 5)
    assert d.take_limit("mailbox:a@x.org", day2, 2)  # a new window starts from one
    assert d.take_limit("mailbox:a@x.org", day2, 2) and not d.take_limit(
        "mailbox:a@x.org", day2, 2)
    assert d.purge_limits(day2) == 1  # the client's day-1 counter
    assert d.take_limit("client:10.0.0.1", day1, 1)  # forgotten: counts from one again


def test_twenty_concurrent_requests_for_one_address_send_at_most_three(
        settings: Settings, smtp_server: FaultySmtpServer) -> None:
    """Twenty requests at once for one address (three addresses in turn, to give the race
    every chance) never send more than the three mails a day allowed."""
    store = Store.open(settings.resolved_database_url)
    ctx = DigestContext(store, replace(settings, secret_key="k" * 32))
    target = parse_smtp_url(smtp_server.url)
    for address in ("race1@example.org", "race2@example.org", "race3@example.org"):
        def one(i: int, address: str = address) -> None:
            with SmtpMailer(target) as mailer:
                subscribe(ctx, mailer, address, now=NOW)

        assert concurrently(20, one) == []
        assert rcpts(smtp_server).count(address) == 3
    assert len(smtp_server.received) == 9
    store.close()


def test_aliases_and_case_count_as_one_mailbox(settings: Settings,
                                               smtp_server: FaultySmtpServer) -> None:
    """``user+tag@x`` and ``USER@x`` reach the mailbox ``user@x``: twenty of them, at once,
    get three mails between them."""
    store = Store.open(settings.resolved_database_url)
    ctx = DigestContext(store, replace(settings, secret_key="k" * 32))
    target = parse_smtp_url(smtp_server.url)

    def one(i: int) -> None:
        address = f"Reader+{i}@Example.org" if i % 2 else f"READER+tag{i}@example.org"
        with SmtpMailer(target) as mailer:
            subscribe(ctx, mailer, address, now=NOW)

    assert concurrently(20, one) == []
    assert len(smtp_server.received) == 3
    assert all(r.startswith("reader+") for r in rcpts(smtp_server))
    store.close()


@pytest.fixture
def web(settings: Settings, smtp_server: FaultySmtpServer) -> tuple[TestClient, Settings]:
    s = replace(settings, smtp_url=smtp_server.url, secret_key="k" * 32,
                base_url="https://papers.example.org")
    return TestClient(create_app(Paperwire(s)), base_url="https://papers.example.org"), s


def drain(client: TestClient) -> None:
    client.app.state.mail_queue.join()  # type: ignore[attr-defined]


def test_one_client_is_limited_per_hour(web: tuple[TestClient, Settings],
                                        smtp_server: FaultySmtpServer) -> None:
    """Forty different addresses from one client: the first ten (the default allowance an
    hour) are taken, the rest are answered 429 and send nothing."""
    client, s = web
    assert s.subscribe_client_limit == 10
    codes = [client.post("/api/subscribe", json={"email": f"person{i}@example.org"}).status_code
             for i in range(20)]
    codes += [client.post("/subscribe", data={"email": f"form{i}@example.org"}).status_code
              for i in range(20)]
    drain(client)
    assert codes[:10] == [202] * 10 and set(codes[10:]) == {429}
    assert len(smtp_server.received) == 10
    limited = client.post("/subscribe", data={"email": "late@example.org"})
    assert limited.status_code == 429 and "Too many subscription requests" in limited.text


@pytest.mark.parametrize("headers", [
    {"Origin": "https://evil.example"},
    {"Origin": "null"},
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site", "Origin": "https://sub.papers.example.org"},
])
def test_cross_site_posts_are_refused(web: tuple[TestClient, Settings],
                                      smtp_server: FaultySmtpServer,
                                      headers: dict[str, str]) -> None:
    client, _ = web
    form = client.post("/subscribe", data={"email": "victim@example.org"}, headers=headers)
    assert form.status_code == 403 and "accepted only from this site" in form.text
    api = client.post("/api/subscribe", json={"email": "victim@example.org"}, headers=headers)
    assert api.status_code == 403
    drain(client)
    assert smtp_server.received == []


def test_same_site_posts_and_scripts_are_accepted(web: tuple[TestClient, Settings],
                                                  smtp_server: FaultySmtpServer) -> None:
    client, _ = web
    own = {"Origin": "https://papers.example.org", "Sec-Fetch-Site": "same-origin"}
    assert client.post("/subscribe", data={"email": "a@example.org"}, headers=own
                       ).status_code == 200
    assert client.post("/api/subscribe", json={"email": "b@example.org"}).status_code == 202
    # behind a reverse proxy that passes the public host on
    proxied = {"Origin": "https://lab.example.net", "Host": "127.0.0.1:8000",
               "X-Forwarded-Host": "lab.example.net"}
    assert client.post("/subscribe", data={"email": "c@example.org"}, headers=proxied
                       ).status_code == 200
    drain(client)
    assert sorted(rcpts(smtp_server)) == ["a@example.org", "b@example.org", "c@example.org"]


def test_the_api_takes_only_json(web: tuple[TestClient, Settings],
                                 smtp_server: FaultySmtpServer) -> None:
    """A cross-site HTML form can post urlencoded, multipart or text/plain bodies, never
    application/json: the API refuses them all."""
    client, _ = web
    body = '{"email": "victim@example.org"}'
    for ctype in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        r = client.post("/api/subscribe", content=body, headers={"Content-Type": ctype})
        assert r.status_code == 415, ctype
    assert client.post("/api/subscribe", content="{", headers={
        "Content-Type": "application/json"}).status_code == 400
    drain(client)
    assert smtp_server.received == []


def test_the_answer_does_not_wait_for_the_mail_server(
        web: tuple[TestClient, Settings], smtp_server: FaultySmtpServer) -> None:
    """The mail server takes 3 s to accept: the answer comes at once all the same, and the
    mail arrives afterwards. A limited address gets the same answer by the same path."""
    client, _ = web
    smtp_server.stall(at="rcpt", seconds=3)
    times, answers = [], set()
    for _ in range(5):  # the last two are over the address's limit of three
        started = time.monotonic()
        r = client.post("/api/subscribe", json={"email": "slow@example.org"})
        times.append(time.monotonic() - started)
        answers.add((r.status_code, r.text))
    assert len(answers) == 1 and max(times) < 1.5, times
    assert smtp_server.received == []  # not yet: the first mail is still stalled
    drain(client)
    assert rcpts(smtp_server) == ["slow@example.org"] * 3


def test_twenty_concurrent_posts_to_a_real_server_send_at_most_three(
        settings: Settings, smtp_server: FaultySmtpServer) -> None:
    """The whole path over real HTTP: uvicorn on loopback, twenty clients at once."""


    s = replace(settings, smtp_url=smtp_server.url, secret_key="k" * 32,
                subscribe_client_limit=100)
    app = create_app(Paperwire(s))
    with served(app) as site:
        codes: list[int] = []

        def one(i: int) -> None:
            r = httpx.post(f"{site}/api/subscribe",
                           json={"email": f"Crowd+{i}@example.org"}, timeout=30)
            codes.append(r.status_code)

        assert concurrently(20, one) == []
        assert codes == [202] * 20
        app.state.mail_queue.join()
        assert len(smtp_server.received) == 3


def test_in_chromium_another_site_cannot_post_the_form(settings: Settings,
                                                       smtp_server: FaultySmtpServer) -> None:
    """A page on another site auto-submits a form (urlencoded, and text/plain carrying JSON)
    to the subscribe endpoints: Chromium sends it with its Origin, and nothing is mailed.
    The site's own form, in the same browser, still works."""


    from test_browser import ARGS, _playwright

    sync_playwright, executable = _playwright()
    s = replace(settings, smtp_url=smtp_server.url, secret_key="k" * 32)
    app = create_app(Paperwire(s))
    with served(app) as site:
        _refuse_cross_site_posts(site, sync_playwright, executable, ARGS)
        app.state.mail_queue.join()
        assert rcpts(smtp_server) == ["own@example.org"]


def _refuse_cross_site_posts(site: str, sync_playwright: Any, executable: str,
                             args: list[str]) -> None:
    """Another site's forms are refused; the site's own form still works."""
    attack = f"""<!doctype html><html><body>
      <form id="f" method="post" action="{site}/subscribe">
        <input name="email" value="victim@example.org"></form>
      <form id="j" method="post" action="{site}/api/subscribe" enctype="text/plain">
        <input name='{{"email": "victim2@example.org", "x": "' value='"}}'></form>
    </body></html>"""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=args)
        try:
            page = browser.new_page()
            page.route("http://attacker.test/**", lambda route: route.fulfill(
                status=200, content_type="text/html", body=attack))
            for form in ("f", "j"):
                page.goto("http://attacker.test/")
                with page.expect_navigation(url=f"{site}/**") as nav:
                    page.evaluate(f"document.getElementById('{form}').submit()")
                status = nav.value.status if nav.value else None
                assert status in (403, 415), (form, status)
                page.wait_for_load_state()
            page.goto(site + "/")
            page.fill("input[name=email]", "own@example.org")
            with page.expect_navigation(url=f"{site}/subscribe") as nav:
                page.click(".subscribe-form button[type=submit]")
            assert nav.value is not None and nav.value.status == 200
        finally:
            browser.close()


def test_a_stopping_server_still_sends_the_mails_it_answered_for(
        web: tuple[TestClient, Settings], smtp_server: FaultySmtpServer) -> None:
    client, _ = web
    smtp_server.stall(at="rcpt", seconds=1)
    with client:  # starts the app's lifespan; leaving the block shuts it down
        r = client.post("/api/subscribe", json={"email": "last@example.org"})
        assert r.status_code == 202 and smtp_server.received == []
    assert rcpts(smtp_server) == ["last@example.org"]
