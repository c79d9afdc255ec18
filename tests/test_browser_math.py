"""Math in real Chromium: ``$O(N^2)$`` in a real abstract renders as MathML (a ``<math>``
element, the exponent raised above its base) on the paper page and in search results, with
no Content-Security-Policy complaint; the author list folded without script opens on a
click; a hostile formula runs nothing. Skipped like tests/test_browser.py without a browser."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from live_server import served
from paperwire.app import Paperwire
from paperwire.config import Settings
from paperwire.store import Store
from paperwire.web.app import create_app
from test_browser import ARGS, _playwright
from test_paper_page import CROWD_ID, MATH_ID, TITLE_MATH_ID, demo_paper

HOSTILE_ID = "2606.99998"
HOSTILE_TITLE = (r"Attack $\href{javascript:window.__pwned=1}{x}$ and "
                 r"$\text{<img src=x onerror=window.__pwned=2>}$ <script>window.__pwned=3</script>")


@pytest.fixture(scope="module")
def browser_page() -> Iterator[tuple[Any, list[str]]]:
    """A chromium page and the console messages it logs (asked for before the server)."""
    sync_playwright, executable = _playwright()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=ARGS)
        try:
            tab = browser.new_page(viewport={"width": 1000, "height": 900})
            console: list[str] = []
            tab.on("console", lambda msg: console.append(msg.text))
            yield tab, console
        finally:
            browser.close()


@pytest.fixture(scope="module")
def site(browser_page: tuple[Any, list[str]], tmp_path_factory: pytest.TempPathFactory,
         models_dir: Path) -> Iterator[str]:
    home = tmp_path_factory.mktemp("math")
    url = f"sqlite:///{home / 'paperwire.db'}"
    store = Store.open(url)
    hostile = replace(demo_paper(MATH_ID), id=HOSTILE_ID, title=HOSTILE_TITLE)
    store.write_batch([demo_paper(i) for i in (MATH_ID, TITLE_MATH_ID, CROWD_ID)] + [hostile])
    settings = Settings(home=home, database_url=url, models_dir=models_dir)
    with served(create_app(Paperwire(settings, store))) as base:
        yield base
    store.close()


def _raised_exponent(math: Any) -> None:
    """The ``N^2`` of the formula is typeset: the 2 sits higher than the N."""
    base = math.locator("msup > mi").first.bounding_box()
    power = math.locator("msup > mn").first.bounding_box()
    assert base is not None and power is not None
    assert base["width"] > 0 and power["width"] > 0
    assert power["y"] < base["y"] and power["x"] >= base["x"] + base["width"] - 1


def test_math_renders_on_the_paper_page(browser_page: tuple[Any, list[str]],
                                        site: str) -> None:
    tab, console = browser_page
    console.clear()
    assert tab.goto(f"{site}/papers/{MATH_ID}").status == 200
    formula = tab.locator("section.abstract math", has_text="O").first
    formula.wait_for(state="visible")
    _raised_exponent(formula)
    annotation = formula.locator("annotation")
    assert annotation.text_content() == "O(N^2)" and not annotation.is_visible()
    text = tab.locator("section.abstract").inner_text()
    assert "24% higher throughput" in text and "\\textit" not in text and "$" not in text
    assert tab.locator("section.abstract i", has_text="Parallel Hybrid Architecture").count() == 1
    assert not [m for m in console if "Content Security Policy" in m], console


def test_math_renders_in_search_results(browser_page: tuple[Any, list[str]], site: str) -> None:
    tab, console = browser_page
    console.clear()
    assert tab.goto(f"{site}/search?q=quadratically+attention").status == 200
    hit = tab.locator("li.paper", has=tab.locator(f'a[href="/papers/{MATH_ID}"]')).first
    formula = hit.locator("p.abstract math").first
    formula.wait_for(state="visible")
    _raised_exponent(formula)
    assert hit.locator("p.abstract b").count() >= 1  # the query's words still highlighted
    tab.goto(f"{site}/search?q=spherical+priors")
    title = tab.locator(f'a.title[href="/papers/{TITLE_MATH_ID}"]')
    assert title.locator("math").count() == 1
    assert title.inner_text().replace("\n", "").startswith("SP3")
    assert not [m for m in console if "Content Security Policy" in m], console


def test_folded_authors_open_without_script(browser_page: tuple[Any, list[str]],
                                            site: str) -> None:
    tab, _ = browser_page
    tab.goto(f"{site}/papers/{CROWD_ID}")
    last = demo_paper(CROWD_ID).authors[-1]
    hidden = tab.locator("details.more-authors a", has_text=last)
    assert not hidden.is_visible()
    tab.locator("details.more-authors summary").click()
    assert hidden.is_visible()
    tab.locator("details.cite summary").click()
    assert "@misc{" in tab.locator("pre.bibtex").inner_text()


def test_hostile_formulas_run_nothing(browser_page: tuple[Any, list[str]], site: str) -> None:
    tab, _ = browser_page
    for path in (f"/papers/{HOSTILE_ID}", "/search?q=attack"):
        assert tab.goto(site + path).status == 200
        assert tab.evaluate("window.__pwned") is None
        assert tab.locator("a[href^='javascript'], [onerror], img[src='x']").count() == 0
