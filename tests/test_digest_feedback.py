"""The digest learns from its reader (issue 12): each item of a digest carries a 👍 / 👎 /
save link signed per subscriber and paper; its GET only shows buttons (mail scanners follow
links), its POST records the choice for the account of the subscriber's address; and the
next digest's personal section, ranked by that account's own model, changes with it.

Real papers (tests/fixtures/personal), a real SMTP server (aiosmtpd) receiving the digests,
the web app through its HTTP interface; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from paperwire.app import Paperwire
from paperwire.config import Settings
from paperwire.digests.service import gather
from paperwire.models import Signal
from paperwire.records import Subscriber
from paperwire.store import Store
from paperwire.web.app import create_app
from smtp_server import FaultySmtpServer

FIXTURE = Path(__file__).parent / "fixtures" / "personal" / "papers.jsonl"
BACKGROUND = FIXTURE.with_name("background.jsonl.gz")  # 250 more: the rest of a collection
RECORDS = [json.loads(line) for line in FIXTURE.read_text(encoding="utf-8").splitlines()]
IDS = [r["id"] for r in RECORDS]
RETRIEVAL, SPEECH, ROBOTS = IDS[0:20], IDS[20:32], IDS[32:44]
DAY1, DAY2 = date(2026, 6, 16), date(2026, 6, 17)  # digests of the papers of 15 and 16 Jun
NOW = datetime(2026, 6, 16, 6, 0)


@pytest.fixture
def site(settings: Settings, store: Store, tmp_path: Path,
         smtp_server: FaultySmtpServer) -> Iterator[tuple[Paperwire, TestClient]]:
    # even papers first listed on 15 Jun, odd ones on 16 Jun: each digest has every topic
    dates = tmp_path / "listing-dates.tsv"
    dates.write_text("id\tfirst_listing_file_date\tall_listing_file_dates\n" + "".join(
        f"{pid}\t{d}\t{d}\n" for i, pid in enumerate(IDS)
        for d in ["2026-06-15" if i % 2 == 0 else "2026-06-16"]), encoding="utf-8")
    clock = [NOW]
    paperwire = Paperwire(replace(settings, smtp_url=smtp_server.url, secret_key="f" * 32,
                                  base_url="http://papers.test"), store, clock=lambda: clock[0])
    report = paperwire.import_files([FIXTURE, BACKGROUND, dates])
    assert report.papers.new == 306
    paperwire.index()  # the vectors the readers' models use, as the index writer makes them
    # two robot papers trend on 15 Jun: they are in the first digest's trending part
    store.write_batch([], [Signal(ROBOTS[0], "hf_upvotes", date(2026, 6, 15), 30),
                           Signal(ROBOTS[2], "hf_upvotes", date(2026, 6, 15), 25)])
    ada = store.accounts.ensure_active("ada@example.org", NOW)
    assert ada is not None
    for pid in RETRIEVAL[0:8:2]:  # four papers on retrieval, saved
        store.library.save(ada.id, pid, NOW)
    store.digests.activate(Subscriber(id=0, email="ada@example.org", size=8), NOW)
    with TestClient(create_app(paperwire), base_url="http://papers.test") as client:
        yield paperwire, client


def mail_text(smtp: FaultySmtpServer, n: int) -> str:
    assert len(smtp.received) >= n
    return str(smtp.received[n - 1].message.get_body(("plain",)).get_content()).replace(
        "\r\n", "\n")


def feedback_link(text: str, title_start: str) -> str:
    """The 👍 / 👎 / save link of the item whose title starts with ``title_start``."""
    block = text.split(title_start, 1)[1].split("\n\n", 1)[0]
    [link] = re.findall(r"More or less like this, or save it: (\S+)", block)
    return str(link)


def personal(paperwire: Paperwire, day: date) -> dict[str, str]:
    sub = paperwire.store.digests.by_email("ada@example.org")
    assert sub is not None
    digest = gather(paperwire.digest_context(), sub, day)
    return {it.paper.id: it.why for it in digest.items if it.kind == "match"}


def test_a_thumbs_up_in_one_digest_changes_the_next_ones_personal_section(
        site: tuple[Paperwire, TestClient], smtp_server: FaultySmtpServer) -> None:
    paperwire, client = site
    store = paperwire.store
    assert paperwire.send_digests(DAY1).sent == 1
    first = mail_text(smtp_server, 1)
    # the personal section: the day's papers like the saved ones, each saying why
    assert "Recommended because you saved" in first
    before = personal(paperwire, DAY2)
    assert not set(before) & set(ROBOTS)  # nothing on robots yet

    ada = store.accounts.by_email("ada@example.org")
    assert ada is not None
    for pid in (ROBOTS[0], ROBOTS[2]):  # 👍 both robot papers the digest had
        paper = store.get_paper(pid)
        assert paper is not None
        link = feedback_link(first, " ".join(paper.title.split())[:40])
        assert link.startswith("http://papers.test/d/feedback?")
        page = client.get(link.removeprefix("http://papers.test") + "&a=up")  # a click
        assert page.status_code == 200 and "More or less like this?" in page.text
        assert store.library.ratings(ada.id) == [] or pid != ROBOTS[0]  # a GET records nothing
        query = parse_qs(urlsplit(link).query)
        done = client.post("/d/feedback", data={"t": query["t"][0], "id": query["id"][0],
                                                "a": "up"})
        assert done.status_code == 200 and "more like this" in done.text
    assert sorted((r.paper_id, r.value, r.source) for r in store.library.ratings(ada.id)) == [
        (ROBOTS[0], 1, "digest"), (ROBOTS[2], 1, "digest")]

    # the next digest's personal section changed, and says the 👍 brought it
    after = personal(paperwire, DAY2)
    brought = {pid: why for pid, why in after.items() if pid not in before and "liked" in why}
    assert brought, (before, after)
    assert paperwire.send_digests(DAY2).sent == 1
    second = " ".join(mail_text(smtp_server, 2).split())
    for pid in brought:
        paper = store.get_paper(pid)
        assert paper is not None and " ".join(paper.title.split())[:30] in second


def test_a_forged_or_other_papers_link_records_nothing(
        site: tuple[Paperwire, TestClient], smtp_server: FaultySmtpServer) -> None:
    paperwire, client = site
    assert paperwire.send_digests(DAY1).sent == 1
    link = re.findall(r"More or less like this, or save it: (\S+)", mail_text(smtp_server, 1))[0]
    query = parse_qs(urlsplit(link).query)
    token, paper_id = query["t"][0], query["id"][0]
    other = next(pid for pid in IDS if pid != paper_id)
    for t, pid in [(token[:-2] + "xx", paper_id), (token, other), ("", paper_id)]:
        assert client.get("/d/feedback", params={"t": t, "id": pid}).status_code == 400
        r = client.post("/d/feedback", data={"t": t, "id": pid, "a": "up"})
        assert r.status_code == 400
    r = client.post("/d/feedback", data={"t": token, "id": paper_id, "a": "upp"})
    assert r.status_code == 400
    ada = paperwire.store.accounts.by_email("ada@example.org")
    assert ada is not None and paperwire.store.library.ratings(ada.id) == []
    # the genuine link saves the paper
    assert client.post("/d/feedback", data={"t": token, "id": paper_id,
                                            "a": "save"}).status_code == 200
    assert paperwire.store.library.saved_of(ada.id, [paper_id]) == {paper_id}
