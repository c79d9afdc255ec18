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
HF_BIN = Path(sys.executable).with_name("hf")


@dataclass
class Raw:
    """What the files say, read here without Paperwire's code."""

    listed: dict[date, list[str]]  # day → ids with upvotes on that day's list
    upvotes: dict[tuple[str, date], float]
    published: dict[str, date]
    titles: dict[str, str]
    submitter: dict[str, str]


def read_raw() -> Raw:
    raw = Raw(defaultdict(list), {}, {}, {}, {})
    for path in sorted(DAYS.glob("*.json.gz")):
        day = date.fromisoformat(path.name[:10])
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            doc = json.load(fh)
        for entry in doc["data"] if isinstance(doc, dict) else doc:
            entry = ast.literal_eval(entry) if isinstance(entry, str) else entry
            paper = entry["paper"]
            pid = paper["id"]
            raw.published[pid] = date.fromisoformat(paper["publishedAt"][:10])
            raw.titles[pid] = " ".join((paper.get("title") or entry["title"]).split())
            raw.submitter[pid] = (entry.get("submittedBy") or {}).get("name")
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


def test_daily_papers_default_day_and_submitter(client: TestClient, hub: Paperwire) -> None:
    newest = max(RAW.listed)
    assert ids(client.get("/api/daily_papers?limit=100")) == expected(newest, newest)
    # who submitted a paper is not stored: the filter matches nothing rather than everything
    someone = RAW.submitter[RAW.listed[BUSY_DAY][0]]
    assert ids(client.get("/api/daily_papers", params={"submitter": someone})) == []
    # the filter itself, given who submitted what (read from the files here)
    period = daily.Period("day", BUSY_DAY, BUSY_DAY)
    found = daily.daily_papers(hub.store, period, limit=100, submitter=someone,
                               submitters=RAW.submitter)
    assert [h.paper.id for h in found] == [pid for pid in expected(BUSY_DAY, BUSY_DAY)
                                           if RAW.submitter[pid] == someone]
    assert found


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
        info = json.loads(hf(env, "info", pid, "--format", "json"))
        assert info["id"] == pid and info["title"] == title
        assert info["upvotes"] == newest_upvotes(pid)
        assert info["published_at"].startswith(RAW.published[pid].isoformat())
        text = hf(env, "read", pid)
        assert title in text and "## Abstract" in text
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
        assert one.published_at and one.published_at.date() == RAW.published[pid]
        assert next(p.id for p in api.list_papers(query=title, limit=3)) == pid
        assert api.read_paper(pid).startswith(f"# {title}")
