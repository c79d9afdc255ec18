"""The preferences page: each bad field is named next to itself and every edit is kept (status
400, nothing saved); time zones come from a list; interests are one per line; the preview
links back. The last test drives the page in Chromium."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import available_timezones

import pytest
from fastapi.testclient import TestClient

from live_server import served as served_app
from paperwire.app import Paperwire
from paperwire.clock import utcnow
from paperwire.config import Settings
from paperwire.digests.service import DigestContext
from paperwire.models import Paper, Signal
from paperwire.records import Subscriber
from paperwire.store import Store
from paperwire.web.app import create_app
from test_browser import _playwright

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
FORM = {"frequency": "weekly", "weekday": "2", "hour": "6", "timezone": "Europe/Berlin",
        "categories": "cs.IR, cs.CL", "queries": "retrieval, reranking and fusion\nauthor:lovelace",
        "papers": "2606.00001", "size": "5", "mode": "personal", "skip_empty": "on"}


@pytest.fixture
def web(settings: Settings) -> tuple[TestClient, Store, str]:
    s = replace(settings, secret_key="k" * 32)
    store = Store.open(s.resolved_database_url)
    store.write_batch(
        [Paper(id="2606.00001", title="Sparse retrieval with learned weights",
               abstract="We study SPLADE.", authors=("Ada Lovelace",), categories=("cs.IR",),
               primary_category="cs.IR", published=date(2026, 6, 8))],
        [Signal("2606.00001", "hf_upvotes", date(2026, 6, 9), 12)])
    sub = store.digests.activate(Subscriber(id=0, email="max@example.org"), utcnow())
    url = urlsplit(DigestContext(store, s).links(sub, utcnow()).preferences)
    return TestClient(create_app(Paperwire(s, store))), store, f"{url.path}?{url.query}"


def field_value(page: str, name: str) -> str:
    m = re.search(rf'name="{name}"[^>]*value="([^"]*)"', page)
    assert m, f"no {name} field"
    return html.unescape(m.group(1))


def textarea(page: str, name: str) -> str:
    m = re.search(rf'<textarea name="{name}"[^>]*>(.*?)</textarea>', page, re.S)
    assert m, f"no {name} textarea"
    return html.unescape(m.group(1))


def selected(page: str, name: str) -> str:
    m = re.search(rf'<select name="{name}".*?</select>', page, re.S)
    assert m, f"no {name} select"
    [value] = re.findall(r'<option(?: value="([^"]*)")? selected>([^<]*)<', m.group(0))
    return html.unescape(value[0] or value[1])


def test_interests_are_one_per_line_commas_included(web: tuple[TestClient, Store, str]) -> None:
    client, store, target = web
    r = client.post(target, data=FORM)
    assert r.status_code == 200 and "Saved." in r.text
    got = store.digests.get(1) or next(iter(store.digests.active()))
    assert got.queries == ("retrieval, reranking and fusion", "author:lovelace")
    assert got.categories == ("cs.IR", "cs.CL") and got.timezone == "Europe/Berlin"
    assert textarea(r.text, "queries") == "retrieval, reranking and fusion\nauthor:lovelace"


@pytest.mark.parametrize(("field", "bad", "message"), [
    ("categories", "cs.IR, not a category!", "'not a category!' is not an arXiv category"),
    ("categories", "cs.IR cs.CL", "'cs.IR cs.CL' is not an arXiv category"),
    ("timezone", "Mars/Olympus", "'Mars/Olympus' is not a time zone"),
    ("hour", "25", "The hour must be a whole number from 0 to 23"),
    ("papers", "2606.00001, ../etc/passwd", "'../etc/passwd' is not an arXiv id"),
])
def test_a_bad_field_is_named_in_place_and_every_edit_is_kept(
        web: tuple[TestClient, Store, str], field: str, bad: str, message: str) -> None:
    client, store, target = web
    before = next(iter(store.digests.active()))
    r = client.post(target, data={**FORM, field: bad})
    assert r.status_code == 400
    page = r.text
    assert "Nothing was saved" in page
    err = re.search(rf'<span class="field-error" id="{field}-error">([^<]*)</span>', page)
    assert err and message in html.unescape(err.group(1)), page
    assert f'aria-describedby="{field}-error"' in page
    # the user's edits are all still in the form, the bad one included
    assert textarea(page, "queries") == FORM["queries"]
    assert selected(page, "frequency") == "weekly" and selected(page, "weekday") == "2"
    expect = {**FORM, field: bad}
    for name in ("categories", "papers", "hour", "size"):
        assert field_value(page, name) == expect[name]
    assert selected(page, "timezone") == expect["timezone"]
    assert "checked" in re.search(r'name="skip_empty"[^>]*>', page).group(0)  # type: ignore[union-attr]
    assert next(iter(store.digests.active())) == before  # nothing saved


def test_time_zones_are_a_list(web: tuple[TestClient, Store, str]) -> None:
    client, _, target = web
    page = client.get(target).text
    m = re.search(r'<select name="timezone".*?</select>', page, re.S)
    assert m
    options = re.findall(r"<option[^>]*>([^<]*)</option>", m.group(0))
    assert set(options) == available_timezones() | {"UTC"}
    assert selected(page, "timezone") == "UTC"


def test_the_preview_links_back(web: tuple[TestClient, Store, str]) -> None:
    client, _, target = web
    preview = client.get(target.replace("/preferences?", "/preferences/preview?"))
    assert preview.status_code == 200 and "Sparse retrieval with learned weights" in preview.text
    back = re.search(r'<a href="(/preferences\?token=[^"]+)">Back to your preferences</a>',
                     preview.text)
    assert back and html.unescape(back.group(1)) == target
    assert '<a href="/">Paperwire home</a>' in preview.text
    assert client.get(html.unescape(back.group(1))).status_code == 200


# -- in Chromium -------------------------------------------------------------------------------


@pytest.fixture
def served(settings: Settings, tmp_path: Path) -> Iterator[tuple[str, Store, str]]:
    s = replace(settings, secret_key="k" * 32)
    store = Store.open(s.resolved_database_url)
    sub = store.digests.activate(Subscriber(id=0, email="web@example.org"), utcnow())
    url = urlsplit(DigestContext(store, s).links(sub, utcnow()).preferences)
    with served_app(create_app(Paperwire(s, store))) as base:
        yield base, store, f"{url.path}?{url.query}"


def test_in_chromium_a_bad_category_keeps_the_form(served: tuple[str, Store, str]) -> None:
    sync_playwright, executable = _playwright()
    base, store, target = served
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=ARGS)
        try:
            page: Any = browser.new_page()
            page.goto(base + target)
            page.select_option("select[name=timezone]", "America/Sao_Paulo")
            page.fill("textarea[name=queries]", "speculative decoding, drafts\nmixture of experts")
            page.fill("input[name=categories]", "cs.CL, cs.Nope!")
            page.click("button[type=submit]")
            page.wait_for_load_state()
            error = page.locator("#categories-error")
            assert "not an arXiv category" in error.inner_text()
            assert page.input_value("textarea[name=queries]") == (
                "speculative decoding, drafts\nmixture of experts")
            assert page.input_value("select[name=timezone]") == "America/Sao_Paulo"
            assert page.input_value("input[name=categories]") == "cs.CL, cs.Nope!"
            assert next(iter(store.digests.active())).queries == ()  # nothing saved
            page.fill("input[name=categories]", "cs.CL")
            page.click("button[type=submit]")
            page.wait_for_load_state()
            assert page.locator(".saved").inner_text() == "Saved."
            saved = next(iter(store.digests.active()))
            assert saved.queries == ("speculative decoding, drafts", "mixture of experts")
            assert saved.timezone == "America/Sao_Paulo" and saved.categories == ("cs.CL",)
        finally:
            browser.close()
