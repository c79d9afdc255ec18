"""Hugging Face–compatible endpoints, on real Hugging Face daily-papers files: the official
``huggingface_hub`` client (``hf papers …`` and ``HfApi(endpoint=…)``) against a served app,
and ``/api/daily_papers`` checked against answers computed here from the raw files."""

from __future__ import annotations

import ast
import gzip
import json
import os
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from huggingface_hub import HfApi

from live_server import served
from paperwire import daily
from paperwire.app import Paperwire
from paperwire.config import Settings
from paperwire.models import Signal
from paperwire.store import Store
from paperwire.web.app import create_app

DAYS = Path(__file__).parent / "fixtures" / "trending" / "hf_daily"
STARS_DAY = Path(__file__).parent / "fixtures" / "hf_meta" / "2026-08-20.json.gz"
HF_BIN = Path(sys.executable).with_name("hf")


@dataclass
class Raw:
    """What the files say, read here without Paperwire's code."""

    listed: dict[date, list[str]]  # day → ids with upvotes on that day's list
    upvotes: dict[tuple[str, date], float]
    published: dict[str, date]
    titles: dict[str, str]
    submitter: dict[str, str]
    meta: dict[str, dict[str, Any]]  # id → the newest value of each metadata field


META_KEYS = ("githubRepo", "githubStars", "projectPage", "ai_summary", "ai_keywords")


def newest_meta(old: dict[str, Any], entry: dict[str, Any]) -> dict[str, Any]:
    """``old`` with the fields ``entry`` (a newer day's) has: a newer value wins, a missing
    or empty one leaves the older value."""
    paper = entry["paper"]
    by = entry.get("submittedBy") or {}
    new = {**{k: paper.get(k) for k in META_KEYS}, "numComments": entry.get("numComments"),
           "thumbnail": entry.get("thumbnail"), "fullname": by.get("fullname"),
           "user": by.get("name"), "organization": entry.get("organization")}
    if not paper.get("githubRepo"):
        new["githubStars"] = None  # stars count only with the repository they are of
    return {**old, **{k: v for k, v in new.items() if v not in (None, "", [])}}


def raw_entries(path: Path) -> list[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        doc = json.load(fh)
    return [ast.literal_eval(e) if isinstance(e, str) else e
            for e in (doc["data"] if isinstance(doc, dict) else doc)]


def read_raw() -> Raw:
    raw = Raw(defaultdict(list), {}, {}, {}, {}, defaultdict(dict))
    for path in sorted(DAYS.glob("*.json.gz")):
        day = date.fromisoformat(path.name[:10])
        for entry in raw_entries(path):
            paper = entry["paper"]
            pid = paper["id"]
            raw.published[pid] = date.fromisoformat(paper["publishedAt"][:10])
            raw.titles[pid] = " ".join((paper.get("title") or entry["title"]).split())
            raw.submitter[pid] = (entry.get("submittedBy") or {}).get("name")
            raw.meta[pid] = newest_meta(raw.meta[pid], entry)
            if paper.get("upvotes") is not None:
                raw.upvotes[(pid, day)] = float(paper["upvotes"])
                raw.listed[day].append(pid)
    return raw


RAW = read_raw()


def newest_upvotes(pid: str) -> int:
    days = [(d, v) for (p, d), v in RAW.upvotes.items() if p == pid]
    return round(max(days)[1])


def expected(start: date, end: date, sort: str = "publishedAt") -> list[str]:
    first: dict[str, date] = {}
    total: dict[str, float] = defaultdict(float)
    for (pid, day), value in RAW.upvotes.items():
        if start <= day <= end:
            first[pid] = min(first.get(pid, day), day)
            total[pid] += value
    if sort == "trending":
        return sorted(first, key=lambda pid: (-total[pid], pid))
    return sorted(first, key=lambda pid: (-first[pid].toordinal(),
                                          -RAW.published[pid].toordinal(), pid))


@pytest.fixture
def hub(settings: Settings, store: Store) -> Iterator[Paperwire]:
    app = Paperwire(settings, store)
    report = app.import_files([DAYS], fmt="hf")
    assert report.papers.new > 100
    yield app


@pytest.fixture
def client(hub: Paperwire) -> TestClient:
    return TestClient(create_app(hub))


def ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["paper"]["id"] for item in response.json()]


BUSY_DAY = max(RAW.listed, key=lambda d: len(RAW.listed[d]))
WEEK = BUSY_DAY.isocalendar()
MONTH_START = BUSY_DAY.replace(day=1)


def test_daily_papers_of_a_day_week_and_month(client: TestClient) -> None:
    day = ids(client.get("/api/daily_papers", params={"date": BUSY_DAY.isoformat(),
                                                      "limit": 100}))
    assert day == expected(BUSY_DAY, BUSY_DAY) and len(day) >= 30
    monday = BUSY_DAY - timedelta(days=BUSY_DAY.weekday())
    week = ids(client.get("/api/daily_papers", params={
        "week": f"{WEEK.year}-W{WEEK.week:02d}", "limit": 100}))
    assert week == expected(monday, monday + timedelta(days=6))[:100]
    assert len(week) > len(day)
    month = ids(client.get("/api/daily_papers", params={
        "month": f"{BUSY_DAY:%Y-%m}", "sort": "trending", "limit": 100}))
    next_month = (MONTH_START + timedelta(days=32)).replace(day=1)
    assert month == expected(MONTH_START, next_month - timedelta(days=1), "trending")[:100]


def test_daily_papers_fields_sort_and_pages(client: TestClient) -> None:
    params = {"date": BUSY_DAY.isoformat()}
    items = client.get("/api/daily_papers", params=params).json()
    assert len(items) == min(50, len(RAW.listed[BUSY_DAY]))  # the default limit
    for item in items:
        pid = item["paper"]["id"]
        assert item["title"] == RAW.titles[pid]
        assert item["paper"]["upvotes"] == newest_upvotes(pid)
        assert item["paper"]["publishedAt"] == f"{RAW.published[pid]}T00:00:00.000Z"
        assert item["publishedAt"] == f"{BUSY_DAY}T00:00:00.000Z"
        assert item["paper"]["authors"] and all("name" in a for a in item["paper"]["authors"])
    trending = ids(client.get("/api/daily_papers", params={**params, "sort": "trending"}))
    assert trending == expected(BUSY_DAY, BUSY_DAY, "trending")[:50]
    walked: list[str] = []
    for p in range(10):
        page = ids(client.get("/api/daily_papers", params={**params, "p": p, "limit": 7}))
        if not page:
            break
        walked += page
    assert walked == expected(BUSY_DAY, BUSY_DAY)


def by_submitter(day: date) -> tuple[str, list[str]]:
    """The user who submitted most of ``day``'s papers, and those papers in list order."""
    listed = expected(day, day)
    someone = max(listed, key=lambda pid: sum(RAW.submitter[p] == RAW.submitter[pid]
                                              for p in listed))
    user = RAW.submitter[someone]
    return user, [pid for pid in listed if RAW.submitter[pid] == user]


def test_daily_papers_default_day_and_submitter(client: TestClient, hub: Paperwire) -> None:
    newest = max(RAW.listed)
    assert ids(client.get("/api/daily_papers?limit=100")) == expected(newest, newest)
    user, theirs = by_submitter(BUSY_DAY)
    assert 1 < len(theirs) < len(RAW.listed[BUSY_DAY])
    for name in (user, user.upper()):  # Hub usernames match in any case
        assert ids(client.get("/api/daily_papers", params={
            "date": BUSY_DAY.isoformat(), "limit": 100, "submitter": name})) == theirs
    assert ids(client.get("/api/daily_papers", params={
        "date": BUSY_DAY.isoformat(), "submitter": "nobody-at-all"})) == []
    period = daily.Period("day", BUSY_DAY, BUSY_DAY)
    found = daily.daily_papers(hub.store, period, limit=100, submitter=user)
    assert [h.paper.id for h in found] == theirs


def check_meta(item: dict[str, Any], raw: dict[str, Any]) -> None:
    """The Hugging Face metadata fields of an entry (or of /api/papers/{id}) against the
    files (``raw``: :func:`newest_meta`): each at the top level (where ``PaperInfo`` reads
    it)."""
    if raw.get("githubRepo"):
        assert item["githubRepo"] == raw["githubRepo"]
        assert item["githubStars"] == raw.get("githubStars")
    if raw.get("projectPage"):
        assert item["projectPage"] == raw["projectPage"]
    assert item["ai_summary"] == (" ".join(raw["ai_summary"].split())
                                  if raw.get("ai_summary") else None)
    assert item["ai_keywords"] == raw.get("ai_keywords", [])
    assert item["numComments"] == raw.get("numComments", 0)
    assert item["thumbnail"] == raw.get("thumbnail")
    assert item["submittedBy"] == {"name": raw["user"], "user": raw["user"],
                                   "fullname": raw["fullname"]}
    org = raw.get("organization")
    assert item["organization"] == ({"fullname": org["fullname"]} if org else None)


def test_hub_metadata_fields(client: TestClient, hub: Paperwire) -> None:
    items = client.get("/api/daily_papers", params={"date": BUSY_DAY.isoformat(),
                                                    "limit": 100}).json()
    for item in items:
        pid = item["paper"]["id"]
        check_meta(item, RAW.meta[pid])
        assert item["paper"]["githubRepo"] == item["githubRepo"]
        assert item["paper"]["ai_summary"] == item["ai_summary"]
    with_code = [i for i in items if RAW.meta[i["paper"]["id"]].get("githubRepo")]
    assert with_code and any(i["projectPage"] for i in items)
    assert any(i["numComments"] for i in items) and any(i["ai_keywords"] for i in items)
    pid = with_code[0]["paper"]["id"]
    check_meta(client.get(f"/api/papers/{pid}").json(), RAW.meta[pid])
    # these files hold no stars nor organization: a day of 2026 that has both
    hub.import_files([STARS_DAY], fmt="hf")
    listed = client.get("/api/daily_papers", params={"date": STARS_DAY.name[:10]}).json()
    assert len(listed) == len(raw_entries(STARS_DAY))
    for item in listed:
        raw = next(newest_meta({}, e) for e in raw_entries(STARS_DAY)
                   if e["paper"]["id"] == item["paper"]["id"])
        check_meta(item, raw)
        check_meta(client.get(f"/api/papers/{item['paper']['id']}").json(), raw)
    assert any(i["githubStars"] for i in listed) and any(i["organization"] for i in listed)


@pytest.mark.parametrize("query", [
    "date=0001-01-01", "date=9999-12-31", "date=yesterday", "date=2025-02-30",
    "week=2025-W54", "week=2025-9", "month=2025-13", "month=0001-01", "sort=best",
    "p=-1", "p=x", "limit=0", "limit=101", "date=2025-06-10&week=2025-W99",
    "week=2025-W20&month=May"])
def test_daily_papers_bad_parameters_are_400(client: TestClient, query: str) -> None:
    r = client.get(f"/api/daily_papers?{query}")
    assert r.status_code == 400
    assert r.json()["detail"]


def test_daily_papers_the_first_period_given_counts(client: TestClient) -> None:
    """date, then week, then month: the OpenAPI schema cannot say "only one of them", and
    what the schema allows is never refused (tests/test_api_schema.py)."""
    day = BUSY_DAY.isoformat()
    week = f"{BUSY_DAY.isocalendar()[0]}-W{BUSY_DAY.isocalendar()[1]:02d}"
    alone = ids(client.get("/api/daily_papers", params={"date": day}))
    assert alone and ids(client.get("/api/daily_papers", params={
        "date": day, "week": "2025-W01", "month": "2025-01"})) == alone
    by_week = ids(client.get("/api/daily_papers", params={"week": week}))
    assert by_week != alone and ids(client.get("/api/daily_papers", params={
        "week": week, "month": "2025-01"})) == by_week


def test_paper_api_is_a_superset_and_markdown(client: TestClient, hub: Paperwire) -> None:
    pid = RAW.listed[BUSY_DAY][0]
    doc = client.get(f"/api/papers/{pid}").json()
    assert {"id", "title", "abstract", "authors", "categories", "signals", "url"} <= set(doc)
    assert doc["summary"] == doc["abstract"] and doc["upvotes"] == newest_upvotes(pid)
    assert doc["paper"]["authors"] == [{"name": a} for a in doc["authors"]]
    # upvotes here add to Hugging Face's
    hub.store.write_batch([], [Signal(pid, "upvote", BUSY_DAY + timedelta(days=1), 3.0)])
    assert client.get(f"/api/papers/{pid}").json()["upvotes"] == newest_upvotes(pid) + 3
    first_listed = min(d for (p, d) in RAW.upvotes if p == pid)
    assert doc["submittedOnDailyAt"] == f"{first_listed}T00:00:00.000Z"
    md = client.get(f"/papers/{pid}.md")
    assert md.status_code == 200 and md.headers["content-type"].startswith("text/markdown")
    assert md.text.startswith(f"# {RAW.titles[pid]}\n")
    assert client.get(f"/papers/{pid}v9.md", follow_redirects=False).headers[
        "location"] == f"/papers/{pid}.md"
    assert client.get("/papers/2501.99999.md").status_code == 404
    assert client.get(f"/papers/{pid}").status_code == 200  # the page is still the page


def test_search_by_id_or_link_gives_that_paper_first(client: TestClient) -> None:
    pid = RAW.listed[BUSY_DAY][0]
    for q in (pid, f"arXiv:{pid}", f"{pid}v2", f"https://arxiv.org/abs/{pid}v2",
              f"https://arxiv.org/pdf/{pid}", f"https://huggingface.co/papers/{pid}"):
        found = ids(client.get("/api/papers/search", params={"q": q, "limit": 5}))
        assert found[0] == pid, q
        assert len(found) == len(set(found)) <= 5
    # an id of no stored paper, or a malformed one, is a search like any other
    assert client.get("/api/papers/search", params={"q": "2501.99999"}).status_code == 200
    assert client.get("/api/papers/search", params={"q": "2501.9999x"}).status_code == 200


# ---- the real client ---------------------------------------------------------------------


def hf_env(endpoint: str, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING"))}
    env.update(HF_ENDPOINT=endpoint, HF_HOME=str(home), HF_HUB_DISABLE_TELEMETRY="1",
               NO_COLOR="1", COLUMNS="250")
    return env


def hf(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([str(HF_BIN), "papers", *args], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_hf_client_reads_paperwire(hub: Paperwire, tmp_path: Path) -> None:
    with served(create_app(hub)) as url:
        env = hf_env(url, tmp_path / "hf-home")
        listed = json.loads(hf(env, "ls", "--date", BUSY_DAY.isoformat(), "--limit", "100",
                               "--format", "json"))
        assert [p["id"] for p in listed] == expected(BUSY_DAY, BUSY_DAY)
        table = hf(env, "ls", "--date", BUSY_DAY.isoformat())
        assert expected(BUSY_DAY, BUSY_DAY)[0] in table
        pid = RAW.listed[BUSY_DAY][0]
        title = RAW.titles[pid]
        found = json.loads(hf(env, "search", title, "--format", "json"))
        assert found[0]["id"] == pid
        by_link = json.loads(hf(env, "search", f"https://arxiv.org/abs/{pid}v1", "--format",
                                "json"))
        assert by_link[0]["id"] == pid
        info = json.loads(hf(env, "info", pid, "--format", "json"))
        assert info["id"] == pid and info["title"] == title
        assert info["upvotes"] == newest_upvotes(pid)
        assert info["published_at"].startswith(RAW.published[pid].isoformat())
        text = hf(env, "read", pid)
        assert title in text and "## Abstract" in text
        coded = next(p for p in expected(BUSY_DAY, BUSY_DAY) if RAW.meta[p].get("githubRepo")
                     and RAW.meta[p].get("projectPage") and RAW.meta[p].get("ai_summary"))
        page = hf(env, "read", coded)
        raw = RAW.meta[coded]
        assert f"[Code]({raw['githubRepo']})" in page
        assert f"[Project page]({raw['projectPage']})" in page
        assert "## AI summary (Hugging Face)\n\n" + " ".join(raw["ai_summary"].split()) in page
        missing = subprocess.run([str(HF_BIN), "papers", "info", "2501.99999"], env=env,
                                 capture_output=True, text=True, timeout=120)
        assert missing.returncode != 0 and "not found" in missing.stderr

        api = HfApi(endpoint=url, token=False)
        papers = list(api.list_daily_papers(date=BUSY_DAY.isoformat(), limit=100))
        assert [p.id for p in papers] == expected(BUSY_DAY, BUSY_DAY)
        assert all(p.title == RAW.titles[p.id] for p in papers)
        assert papers[0].authors and papers[0].authors[0].name
        assert papers[0].submitted_at and papers[0].submitted_at.date() == BUSY_DAY
        one = api.paper_info(pid)
        assert (one.id, one.title, one.upvotes) == (pid, title, newest_upvotes(pid))
        for paper in [*papers, one]:
            raw = RAW.meta[paper.id]
            assert paper.submitted_by is not None
            assert (paper.submitted_by.username, paper.submitted_by.fullname) == (
                raw["user"], raw["fullname"])
            assert paper.comments == raw.get("numComments", 0)
            assert paper.ai_keywords == raw.get("ai_keywords", [])
            if raw.get("githubRepo"):
                assert (paper.github_repo, paper.github_stars) == (
                    raw["githubRepo"], raw.get("githubStars"))
            if raw.get("projectPage"):
                assert paper.project_page == raw["projectPage"]
        assert any(p.github_repo for p in papers) and any(p.project_page for p in papers)
        assert any(p.ai_summary for p in papers)
        user, theirs = by_submitter(BUSY_DAY)
        mine = json.loads(hf(env, "ls", "--date", BUSY_DAY.isoformat(), "--submitter", user,
                             "--limit", "100", "--format", "json"))
        assert [p["id"] for p in mine] == theirs
        assert one.published_at and one.published_at.date() == RAW.published[pid]
        assert next(p.id for p in api.list_papers(query=title, limit=3)) == pid
        assert api.read_paper(pid).startswith(f"# {title}")
