"""The "For you" page (issue 12): the signed-in reader's recommendations from a model of
their own, each explained by the papers of theirs that brought it ("because you saved …"),
only above the model's relevance floor, learning from each save, upvote and 👎. Real papers
(tests/fixtures/personal) with their real vectors; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from accounts import sign_in
from paperwire.app import Paperwire
from paperwire.config import Settings
from paperwire.store import Store
from paperwire.web.app import create_app

FIXTURE = Path(__file__).parent / "fixtures" / "personal" / "papers.jsonl"
BACKGROUND = FIXTURE.with_name("background.jsonl.gz")  # 250 more: the rest of a collection
RECORDS = [json.loads(line) for line in FIXTURE.read_text(encoding="utf-8").splitlines()]
IDS = [r["id"] for r in RECORDS]
AUTHORS = {r["id"]: set(r["authors"]) for r in RECORDS}
RETRIEVAL, SPEECH, ROBOTS, DIFFUSION = IDS[0:20], IDS[20:32], IDS[32:44], IDS[44:56]
NOW = datetime(2026, 7, 1, 9, 0)


@pytest.fixture
def web(settings: Settings, store: Store) -> Iterator[tuple[Paperwire, TestClient]]:
    paperwire = Paperwire(replace(settings, secret_key="y" * 32), store, clock=lambda: NOW)
    assert paperwire.import_files([FIXTURE, BACKGROUND]).papers.new == 306
    paperwire.index()
    with TestClient(create_app(paperwire)) as client:
        yield paperwire, client


def listed(html: str) -> list[str]:
    """The paper ids the page recommends, in order."""
    part = html.split('class="papers for-you"', 1)[1] if "papers for-you" in html else ""
    return re.findall(r'<a class="title" href="/papers/([^"]+)"', part)


def test_for_you_needs_a_reader_and_two_liked_papers(web: tuple[Paperwire, TestClient]
                                                     ) -> None:
    paperwire, client = web
    assert client.get("/for-you").status_code == 401
    sign_in(client, paperwire, "ada@example.org")
    page = client.get("/for-you")
    assert page.status_code == 200 and "Save or upvote at least 2 papers" in page.text
    assert listed(page.text) == []


def test_recommendations_follow_what_the_reader_saved(web: tuple[Paperwire, TestClient]
                                                      ) -> None:
    paperwire, client = web
    sign_in(client, paperwire, "ada@example.org")
    ada = paperwire.store.accounts.by_email("ada@example.org")
    assert ada is not None
    for pid in SPEECH[:4]:
        paperwire.store.library.save(ada.id, pid, NOW)
    page = client.get("/for-you")
    shown = listed(page.text)
    assert shown, page.text
    assert not set(shown) & set(SPEECH[:4])  # never the reader's own papers
    # what clears the floor is on the reader's topic (none of the fixture's papers on other
    # topics, unless by an author of a saved paper: a robot paper by the author of a saved
    # speech paper is there), and says which saved paper brought it
    assert set(shown) & set(SPEECH[4:]), shown
    followed = {a for pid in SPEECH[:4] for a in AUTHORS[pid]}
    elsewhere = {pid for pid in RETRIEVAL + ROBOTS + DIFFUSION if not followed & AUTHORS[pid]}
    assert not set(shown) & elsewhere, shown
    assert "Because you saved “" in page.text
    # an upvote on another topic adds that topic's papers once the model sees two of them
    for pid in ROBOTS[:3]:
        paperwire.store.library.vote(ada.id, pid, NOW)
    shown = listed(client.get("/for-you").text)
    assert set(shown) & set(ROBOTS[3:]), shown
