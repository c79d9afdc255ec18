"""Trending: a published, pure formula over dated signals (no I/O in ``rank``).

    score(p) = Σ  weight(source) · value · 2^(−age / half_life(window))
              over p's signals whose day lies in the window (as_of − days + 1 … as_of),
              age = (as_of − day) in days

    window   days  half-life
    day        1     1
    week       7     3
    month     30    10

A signal is a count a source gave a paper on a day:

    source        what it counts                                            default weight
    hf_upvotes    the upvotes Hugging Face shows for the paper on the daily-     1
                  papers page of that day (a later poll of the day replaces it)
    upvote        upvotes here: one per signed-in, confirmed account and         1
                  paper, counted on the day it was given
    save          saves here: papers put in an account's library, likewise       2
    digest_click  clicks on the paper's links in this site's digests (one per    0.5
                  subscriber and paper, only from the signed links of a mail)

Upvotes and saves here count once per account, only while the account is active and the
vote or save stands: undoing one, or disabling or deleting the account, takes it out, and
nothing anonymous can add one. Each source has a weight (PAPERWIRE_TRENDING_WEIGHTS; 0 turns
one off). Older evidence counts for less: a signal loses half its weight every half-life, so
what a paper gathered recently counts most. A reason names each source's count apart: "12
upvotes here, 80 on Hugging Face".

A paper needs at least MIN_EVIDENCE (2) weighted signal in the window to be listed, and its
first version must be at most MAX_AGE_DAYS (30) older than the window's first day: trending is
about new papers, so an old paper that is revised (v2, v3) or rediscovered does not come back
as new. Ties break on window total, then on the most recent signal day, then on the paper id,
so the order is always the same for the same data.

Top of the period: the same papers, ordered by their window total instead of the decayed
score: Σ weight(source) · value over the window's signals, no decay (what Hugging Face's
Month tab shows). Ties break on the decayed score, then the most recent signal day, then the
paper id. Browse with "Top" beside "Trending" on the home page (?order=top).

Worked example: the week as of Fri 13 Jun 2025 (half-life 3 days).
    Paper A: 40 upvotes on 13 Jun             40 · 2^(−0/3)                   = 40.00
    Paper B: 20 upvotes on each of 7, 10 and 12 Jun
             20 · 2^(−6/3) + 20 · 2^(−3/3) + 20 · 2^(−1/3) = 5.00 + 10.00 + 15.87 = 30.87
A (40 upvotes today) ranks above B (60 spread over the week) in trending; in the top of the
week, B (total 60) ranks above A (total 40).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from paperwire.metadata import STARS_SIGNAL
from paperwire.models import Paper, Signal

WINDOWS: dict[str, tuple[int, float]] = {"day": (1, 1.0), "week": (7, 3.0), "month": (30, 10.0)}
# Default weight per signal source; PAPERWIRE_TRENDING_WEIGHTS overrides them. A source with no
# weight (or weight 0) is ignored.
SOURCE_WEIGHTS: dict[str, float] = {"hf_upvotes": 1.0, "upvote": 1.0, "save": 2.0,
                                     "digest_click": 0.5}
# how a view is ordered: the decayed score, or the window's undecayed total
ORDERS: tuple[str, ...] = ("trending", "top")
MIN_EVIDENCE = 2.0
MAX_AGE_DAYS = 30
# The sources something in Paperwire records signals of (the Hugging Face import and ingest,
# the accounts' upvotes and saves, the digests' paper links): only these are shown and
# explained. A weight for any other name ranks nothing, as no signal of it exists.
PRODUCED_SOURCES: tuple[str, ...] = ("hf_upvotes", "upvote", "save", "digest_click")
SOURCE_LABELS = {
    "hf_upvotes": "upvotes on Hugging Face",
    "upvote": "upvotes here",
    "save": "saves here",
    "digest_click": "clicks from digests",
    STARS_SIGNAL: "GitHub stars (not ranked)",
}
# Dated measurements stored beside the signals that never rank, whatever weight they are given:
# a repository's GitHub stars (paperwire.metadata.STARS_SIGNAL) say how popular its code is,
# not what readers of papers look at now.
NOT_RANKED = frozenset({STARS_SIGNAL})
_UNITS = {"hf_upvotes": ("upvote", "upvotes"), "upvote": ("upvote", "upvotes"),
          "save": ("save", "saves"), "digest_click": ("digest click", "digest clicks")}
_PLACE = {"hf_upvotes": " on Hugging Face", "upvote": " here", "save": " here"}
_WHERE = {"day": "today", "week": "this week", "month": "this month"}
# arXiv announces nothing on weekends and holidays: a gap in the data longer than this many
# days is not one of those, more likely a stopped ingestion
QUIET_DAYS = 5


def window_phrase(window: str, as_of: date, current: bool = True) -> str:
    """'this week' for a view of now; 'in the week to Tue 9 Jun' for one whose data stops
    before the day asked for (its papers are not this week's)."""
    if current:
        return _WHERE[window]
    name = f"{as_of:%a} {as_of.day} {as_of:%b}"
    return {"day": f"on {name}", "week": f"in the week to {name}",
            "month": f"in the 30 days to {name}"}[window]


@dataclass(frozen=True)
class Part:
    """One source's share of a score: its raw count in the window, its weight, and what it
    adds to the score after decay (``points``). The parts of an entry sum to its score."""

    source: str
    count: float
    weight: float
    points: float


@dataclass(frozen=True)
class TrendingEntry:
    paper_id: str
    rank: int
    score: float
    total: float  # weighted signal in the window, undecayed
    last_day: date
    series: tuple[tuple[date, float], ...]  # weighted signal per day in the window
    reason: str
    parts: tuple[Part, ...] = ()
    first_day: date | None = None
    category: str | None = None  # the primary category its ``category_rank`` is in
    category_rank: int | None = None

    def count(self, source: str) -> float:
        """The raw count ``source`` gave the paper in the window (0 when none)."""
        return next((p.count for p in self.parts if p.source == source), 0.0)


def shift_day(day: date, days: int) -> date:
    """``day`` moved by ``days``, held at the ends of the calendar (``date.min``/``date.max``)
    instead of overflowing: date arithmetic on a user-given day must never raise."""
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return date.min if days < 0 else date.max


def adjacent_days(window: str, as_of: date) -> tuple[date, date]:
    """The "as of" days of the windows just before and just after the one as of ``as_of``
    (they share no day with it), held at the ends of the calendar."""
    days, _ = WINDOWS[window]
    return shift_day(as_of, -days), shift_day(as_of, days)


def window_bounds(window: str, as_of: date) -> tuple[date, date]:
    if window not in WINDOWS:
        raise ValueError(f"unknown window {window!r}; choose one of {', '.join(WINDOWS)}")
    days, _ = WINDOWS[window]
    return shift_day(as_of, -(days - 1)), as_of


def rank(
    signals: Iterable[Signal],
    as_of: date,
    window: str = "week",
    weights: Mapping[str, float] = SOURCE_WEIGHTS,
    limit: int | None = None,
    first_version: Mapping[str, date | None] | None = None,
    primary: Mapping[str, str | None] | None = None,
    scope: str | None = None,
    current: bool = True,
    order: str = "trending",
) -> list[TrendingEntry]:
    """Rank papers by the formula above (``order`` "top": by the window total, undecayed).
    Signals outside the window are ignored, and so are papers whose first-version date
    (from ``first_version``; unknown dates pass) is older than the window's first day minus
    MAX_AGE_DAYS.

    ``primary`` maps paper ids to their primary category: each entry then also carries its
    position among the listed papers of that category. ``scope`` names the category the
    signals were limited to (it only changes the wording of the reasons). ``current``
    False (the data stops before the day asked for) dates the reasons' "this week"."""
    start, end = window_bounds(window, as_of)
    oldest = shift_day(start, -MAX_AGE_DAYS)
    half_life = WINDOWS[window][1]
    points: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    counts: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    series: dict[str, dict[date, float]] = defaultdict(lambda: defaultdict(float))
    for s in signals:
        w = 0.0 if s.source in NOT_RANKED else weights.get(s.source, 0.0)
        if not (start <= s.day <= end) or w <= 0.0:
            continue
        age = (as_of - s.day).days
        points[s.paper_id][s.source] += w * s.value * 2.0 ** (-age / half_life)
        counts[s.paper_id][s.source] += s.value
        series[s.paper_id][s.day] += w * s.value
    score = {pid: sum(p.values()) for pid, p in points.items()}
    total = {pid: sum(series[pid].values()) for pid in points}
    last = {pid: max(series[pid]) for pid in points}
    born = first_version or {}

    def fresh(pid: str) -> bool:
        first = born.get(pid)
        return first is None or first >= oldest

    eligible = [pid for pid in score if total[pid] >= MIN_EVIDENCE and fresh(pid)]
    if order == "top":
        eligible.sort(key=lambda pid: (-total[pid], -score[pid], -last[pid].toordinal(), pid))
    else:
        eligible.sort(key=lambda pid: (-score[pid], -total[pid], -last[pid].toordinal(), pid))
    cat_rank: dict[str, int] = {}
    seen: dict[str, int] = defaultdict(int)
    for pid in eligible:
        cat = (primary or {}).get(pid)
        if cat:
            seen[cat] += 1
            cat_rank[pid] = seen[cat]
    if limit is not None:
        eligible = eligible[:limit]
    entries = []
    for i, pid in enumerate(eligible, start=1):
        parts = tuple(
            Part(src, counts[pid][src], weights[src], round(points[pid][src], 6))
            for src in sorted(points[pid], key=lambda src: (-points[pid][src], src))
        )
        cat = (primary or {}).get(pid)
        entries.append(TrendingEntry(
            paper_id=pid, rank=i, score=round(score[pid], 6), total=total[pid],
            last_day=last[pid], series=tuple(sorted(series[pid].items())),
            reason=explain(parts, min(series[pid]), last[pid], as_of, window, i, scope,
                           cat if scope is None else None, cat_rank.get(pid), current),
            parts=parts, first_day=min(series[pid]),
            category=cat, category_rank=cat_rank.get(pid),
        ))
    return entries


def explain(
    parts: Iterable[Part], first: date, last: date, as_of: date, window: str, position: int,
    scope: str | None = None, category: str | None = None, category_rank: int | None = None,
    current: bool = True,
) -> str:
    """'38 upvotes on Hugging Face since Tue 10 Jun; #2 in cs.CL this week' from the numbers."""
    counts = count_phrases(parts)
    when = _day_phrase(first, last, as_of)
    where = window_phrase(window, as_of, current)
    rank_text = f"#{position} in {scope} {where}" if scope else f"#{position} {where}"
    if category and category_rank is not None:
        rank_text += f", #{category_rank} in {category}"
    return f"{', '.join(counts)} {when}; {rank_text}"


def count_phrase(source: str, count: float) -> str:
    """'38 upvotes on Hugging Face', '12 upvotes here', '1 save here', '2 digest clicks'."""
    one, many = _UNITS.get(source, (source, source))
    return f"{count:g} {one if count == 1 else many}{_PLACE.get(source, '')}"


def count_phrases(parts: Iterable[Part]) -> list[str]:
    """Each part's count, in the parts' order; upvotes here and on Hugging Face stay apart
    but read as one phrase, the local ones first: '12 upvotes here, 80 on Hugging Face'."""
    parts = list(parts)
    counts = {part.source: part.count for part in parts}
    both = "upvote" in counts and "hf_upvotes" in counts
    phrases: list[str] = []
    for part in parts:
        if both and part.source in ("upvote", "hf_upvotes"):
            phrase = (f"{count_phrase('upvote', counts['upvote'])}, "
                      f"{counts['hf_upvotes']:g} on Hugging Face")
            if phrase not in phrases:
                phrases.append(phrase)
        else:
            phrases.append(count_phrase(part.source, part.count))
    return phrases


def _day_phrase(first: date, last: date, as_of: date) -> str:
    """Dates, not 'today': a reason is read later (in a mail, a feed) than it is written."""
    def name(d: date) -> str:
        return f"{d:%a} {d.day} {d:%b}"

    return f"on {name(first)}" if first == last else f"since {name(first)}"


@dataclass(frozen=True)
class TrendingView:
    """What a trending page or command shows: entries with their papers, and whether the
    data stops before the requested date (``as_of < requested``)."""

    window: str
    requested: date
    as_of: date | None
    entries: list[tuple[TrendingEntry, Paper]]
    category: str | None = None
    order: str = "trending"
    offset: int = 0  # entries before this page's first
    listed: int | None = None  # entries on every page together (None: this page is all)

    @property
    def more(self) -> bool:
        """Whether entries follow this page's."""
        return self.listed is not None and self.offset + len(self.entries) < self.listed

    @property
    def stale(self) -> bool:
        return self.as_of is not None and self.as_of < self.requested

    @property
    def note(self) -> str | None:
        if self.as_of is None:
            return "No trending signals yet: import Hugging Face daily papers to see trends."
        if self.stale:
            note = (
                f"The newest signals are from {self.as_of.isoformat()}; showing trending as of "
                f"that day instead of {self.requested.isoformat()}."
            )
            if (self.requested - self.as_of).days > QUIET_DAYS:
                note += " Nothing newer has been imported: ingestion may have stopped."
            return note
        return None


# this site's own reactions, not a feed
SITE_SOURCES = frozenset({"upvote", "save", "digest_click"})


def data_day(totals: Iterable[tuple[date, str, float]],
             weights: Mapping[str, float] = SOURCE_WEIGHTS) -> date | None:
    """The newest day trending has data for, from (day, source, total value) rows: the
    latest day on which the sources from outside (Hugging Face daily papers) gave at least
    MIN_EVIDENCE weighted signal. This site's own upvotes, saves and clicks react to what is
    shown; they never move the day on their own, so a stray click today cannot turn the lists to
    an empty today. With no such day: the latest day with that much signal of any source,
    else the latest day with any signal, else None."""
    outside: dict[date, float] = defaultdict(float)
    every: dict[date, float] = defaultdict(float)
    for day, source, total in totals:
        if source in NOT_RANKED:
            continue
        w = weights.get(source, 0.0)
        every[day] += w * total
        if source not in SITE_SOURCES:
            outside[day] += w * total
    for found in (outside, every):
        days = [d for d, v in found.items() if v >= MIN_EVIDENCE]
        if days:
            return max(days)
    return max(every) if every else None


def effective_as_of(requested: date, latest_signal_day: date | None) -> date | None:
    """The day a view is computed for: the requested day, or the last day with data."""
    if latest_signal_day is None:
        return None
    return min(requested, latest_signal_day)


