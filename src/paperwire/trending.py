"""Trending: a published, pure formula over dated signals (no I/O in ``rank``).

    score(p) = Σ  weight(source) · value · 2^(−age / half_life(window))
              over p's signals whose day lies in the window (as_of − days + 1 … as_of),
              age = (as_of − day) in days

    window   days  half-life
    day        1     1
    week       7     3
    month     30    10

A paper needs at least MIN_EVIDENCE weighted signal in the window to be listed, and its first
version must be at most MAX_AGE_DAYS older than the window's first day: trending is about new
papers, so an old paper that is revised (v2, v3) or rediscovered does not come back as new.
Ties break on window total, then on the most recent signal day, then on the paper id, so the
order is always the same for the same data.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from paperwire.models import Paper, Signal

WINDOWS: dict[str, tuple[int, float]] = {"day": (1, 1.0), "week": (7, 3.0), "month": (30, 10.0)}
SOURCE_WEIGHTS: dict[str, float] = {"hf_upvotes": 1.0}
MIN_EVIDENCE = 2.0
MAX_AGE_DAYS = 30
SOURCE_LABELS = {"hf_upvotes": "upvotes on Hugging Face"}


@dataclass(frozen=True)
class TrendingEntry:
    paper_id: str
    rank: int
    score: float
    total: float  # weighted signal in the window, undecayed
    last_day: date
    series: tuple[tuple[date, float], ...]
    reason: str


def window_bounds(window: str, as_of: date) -> tuple[date, date]:
    if window not in WINDOWS:
        raise ValueError(f"unknown window {window!r}; choose one of {', '.join(WINDOWS)}")
    days, _ = WINDOWS[window]
    return as_of - timedelta(days=days - 1), as_of


def rank(
    signals: Iterable[Signal],
    as_of: date,
    window: str = "week",
    weights: Mapping[str, float] = SOURCE_WEIGHTS,
    limit: int | None = None,
    first_version: Mapping[str, date | None] | None = None,
) -> list[TrendingEntry]:
    """Rank papers by the formula above. Signals outside the window are ignored, and so are
    papers whose first-version date (from ``first_version``; unknown dates pass) is older than
    the window's first day minus MAX_AGE_DAYS."""
    start, end = window_bounds(window, as_of)
    oldest = start - timedelta(days=MAX_AGE_DAYS)
    half_life = WINDOWS[window][1]
    score: dict[str, float] = defaultdict(float)
    total: dict[str, float] = defaultdict(float)
    last: dict[str, date] = {}
    series: dict[str, dict[date, float]] = defaultdict(lambda: defaultdict(float))
    for s in signals:
        w = weights.get(s.source, 0.0)
        if not (start <= s.day <= end) or w == 0.0:
            continue
        age = (as_of - s.day).days
        score[s.paper_id] += w * s.value * 2.0 ** (-age / half_life)
        total[s.paper_id] += w * s.value
        series[s.paper_id][s.day] += w * s.value
        last[s.paper_id] = max(last.get(s.paper_id, s.day), s.day)
    born = first_version or {}

    def fresh(pid: str) -> bool:
        first = born.get(pid)
        return first is None or first >= oldest

    eligible = [pid for pid in score if total[pid] >= MIN_EVIDENCE and fresh(pid)]
    eligible.sort(key=lambda pid: (-score[pid], -total[pid], -last[pid].toordinal(), pid))
    if limit is not None:
        eligible = eligible[:limit]
    return [
        TrendingEntry(
            paper_id=pid,
            rank=i,
            score=round(score[pid], 6),
            total=total[pid],
            last_day=last[pid],
            series=tuple(sorted(series[pid].items())),
            reason=_reason(total[pid], window, i, min(series[pid]), last[pid]),
        )
        for i, pid in enumerate(eligible, start=1)
    ]


def _reason(total: float, window: str, position: int, first: date, last: date) -> str:
    where = {"day": "of the day", "week": "this week", "month": "this month"}[window]
    when = f"on {last}" if first == last else f"from {first} to {last}"
    return f"#{position} {where}: {total:g} upvotes on Hugging Face {when}"


@dataclass(frozen=True)
class TrendingView:
    """What a trending page or command shows: entries with their papers, and whether the
    data stops before the requested date (``as_of < requested``)."""

    window: str
    requested: date
    as_of: date | None
    entries: list[tuple[TrendingEntry, Paper]]

    @property
    def stale(self) -> bool:
        return self.as_of is not None and self.as_of < self.requested

    @property
    def note(self) -> str | None:
        if self.as_of is None:
            return "No trending signals yet: import Hugging Face daily papers to see trends."
        if self.stale:
            return (
                f"The newest signals are from {self.as_of.isoformat()}; showing trending as of "
                f"that day instead of {self.requested.isoformat()}."
            )
        return None


def effective_as_of(requested: date, latest_signal_day: date | None) -> date | None:
    """The day a view is computed for: the requested day, or the last day with data."""
    if latest_signal_day is None:
        return None
    return min(requested, latest_signal_day)


def today(now: datetime) -> date:
    return now.date()
