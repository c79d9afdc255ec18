"""Trending on real Hugging Face daily-papers files, checked against an independent
recomputation written from the raw files and the documented formula (not from our code)."""

from __future__ import annotations

import ast
import gzip
import json
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from paperwire.cli import main

DAYS = Path(__file__).parent / "fixtures" / "trending" / "hf_daily"
# the documented constants (the docstring of paperwire.trending, /about/trending)
WINDOW = {"day": (1, 1.0), "week": (7, 3.0), "month": (30, 10.0)}
MIN_EVIDENCE, MAX_AGE_DAYS = 2, 30


def raw_entries(path: Path) -> list[dict[str, Any]]:
    """A day file as saved: a list of entries, of their Python reprs, or a wrapper object."""
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        doc = json.load(fh)
    if isinstance(doc, dict):
        doc = doc["data"]
    return [ast.literal_eval(e) if isinstance(e, str) else e for e in doc]


def recompute(window: str, as_of: date) -> list[tuple[str, float]]:
    days, half_life = WINDOW[window]
    start = as_of - timedelta(days=days - 1)
    upvotes: dict[tuple[str, date], float] = {}
    first_version: dict[str, date] = {}
    for path in sorted(DAYS.glob("*.json.gz")):
        day = date.fromisoformat(path.name[:10])
        for entry in raw_entries(path):
            paper = entry["paper"]
            pid = paper["id"]
            first_version[pid] = date.fromisoformat(paper["publishedAt"][:10])
            if paper.get("upvotes") is not None:
                upvotes[(pid, day)] = float(paper["upvotes"])  # a re-poll replaces the count
    score: dict[str, float] = defaultdict(float)
    total: dict[str, float] = defaultdict(float)
    last: dict[str, date] = {}
    for (pid, day), value in upvotes.items():
        if start <= day <= as_of:
            score[pid] += value * 0.5 ** ((as_of - day).days / half_life)
            total[pid] += value
            last[pid] = max(day, last.get(pid, day))
    listed = [pid for pid in score if total[pid] >= MIN_EVIDENCE
              and first_version[pid] >= start - timedelta(days=MAX_AGE_DAYS)]
    listed.sort(key=lambda pid: (-score[pid], -total[pid], -last[pid].toordinal(), pid))
    return [(pid, score[pid]) for pid in listed]


@pytest.fixture
def imported(cli_env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["import", str(DAYS), "--format", "hf"])
    capsys.readouterr()
    assert info.value.code == 0


@pytest.mark.parametrize(("window", "as_of"), [
    ("week", date(2025, 6, 13)), ("month", date(2025, 6, 13)), ("day", date(2025, 6, 11)),
    ("week", date(2025, 6, 1)), ("week", date(2025, 1, 10)),
])
def test_cli_matches_independent_recomputation(
    imported: None, capsys: pytest.CaptureFixture[str], window: str, as_of: date
) -> None:
    expected = recompute(window, as_of)
    assert len(expected) >= 5, "the fixture should give a real ranking"
    with pytest.raises(SystemExit) as info:
        main(["trending", "--window", window, "--date", as_of.isoformat(), "--limit", "500",
              "--json"])
    assert info.value.code == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["as_of"] == as_of.isoformat()
    got = [(e["id"], e["score"]) for e in doc["entries"]]
    assert [pid for pid, _ in got] == [pid for pid, _ in expected]
    for (_, ours), (_, theirs) in zip(got, expected, strict=True):
        assert ours == pytest.approx(theirs, abs=1e-5)
    for e in doc["entries"]:
        assert sum(p["points"] for p in e["parts"]) == pytest.approx(e["score"], abs=1e-5)
        assert e["reason"].endswith(f"#{e['rank']} " + {"day": "today", "week": "this week",
                                                        "month": "this month"}[window])
    start = as_of - timedelta(days=WINDOW[window][0] - 1)
    assert all(start.isoformat() <= d <= as_of.isoformat()
               for e in doc["entries"] for d, _ in e["series"])
