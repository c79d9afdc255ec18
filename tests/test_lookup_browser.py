"""Looking a paper up in real Chromium: typing an arXiv link (with a version) in the search
box lands on the paper's page; an id not stored says so, with a link to arXiv."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from live_server import served
from paperwire.app import Paperwire
from paperwire.config import Settings
from paperwire.models import Paper
from paperwire.store import Store
from paperwire.web.app import create_app
from test_browser import ARGS, _playwright

TARGET = Paper(id="2606.30534", title="Parallel Hybrid Architectures for Long Contexts",
               authors=("Ada Lovelace",), categories=("cs.LG",), primary_category="cs.LG",
               published=date(2026, 6, 20), version=2)
# papers that share the words of an arXiv link, so a plain search would list them instead
DECOYS = [Paper(id=f"2606.{20000 + n:05d}", title=f"Arxiv abs https org paper {n}",
                abstract="https arxiv org abs 2606 30534 v2", categories=("cs.LG",),
                published=date(2026, 6, n)) for n in range(1, 6)]


@pytest.fixture(scope="module")
def page() -> Iterator[Any]:
    sync_playwright, executable = _playwright()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=ARGS)
        try:
            yield browser.new_page(viewport={"width": 1000, "height": 900})
        finally:
            browser.close()


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> Iterator[str]:
    home = tmp_path_factory.mktemp("lookup")
    url = f"sqlite:///{home / 'paperwire.db'}"
    store = Store.open(url)
    store.write_batch([TARGET, *DECOYS], [])
    settings = Settings(home=home, database_url=url, models_dir=models_dir)
    with served(create_app(Paperwire(settings, store))) as served_url:
        yield served_url
    store.close()


@pytest.mark.parametrize("box", ["header", "search page"])
def test_typing_an_arxiv_link_lands_on_the_paper(page: Any, base_url: str, box: str) -> None:
    page.goto(base_url + ("/about/trending" if box == "header" else "/search"))
    field = page.get_by_role("searchbox", name="Search papers")
    field.fill(f"https://arxiv.org/abs/{TARGET.id}v2")
    field.press("Enter")
    page.wait_for_url(f"{base_url}/papers/{TARGET.id}")
    assert page.locator("h1").inner_text() == TARGET.title
    assert page.locator(".paper-id").inner_text().startswith(TARGET.id)


def test_an_id_not_stored_says_so(page: Any, base_url: str) -> None:
    page.goto(base_url + "/search")
    field = page.get_by_role("searchbox", name="Search papers")
    field.fill("arXiv:2606.99999")
    field.press("Enter")
    page.wait_for_url(f"{base_url}/search?q=arXiv%3A2606.99999")
    alert = page.get_by_role("alert")
    assert alert.inner_text().startswith("No paper 2606.99999 here.")
    link = alert.get_by_role("link")
    assert link.get_attribute("href") == "https://arxiv.org/abs/2606.99999"
    assert page.locator("li.paper").count() == 0
    field = page.get_by_role("searchbox", name="Search papers")
    field.fill("2606.3053x")
    field.press("Enter")
    page.wait_for_url(f"{base_url}/search?q=2606.3053x")
    assert page.get_by_role("alert").inner_text() == "2606.3053x is not a valid arXiv id."
