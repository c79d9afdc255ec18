"""Compose a digest: pure code over the period's trending list and interest matches.

    period      a daily digest for day D covers the days after the subscriber's last delivered
                digest up to D − 1 (just D − 1 the first time; at most 7 days back); a weekly
                one the 7 days before D (or since the last one, at most 14)
    matches     the period's new papers that match an interest (a query, a category, an
                example paper) or that the reader's own model recommends (the account with
                the subscriber's address: its saves, upvotes and 👍), best first, each with
                why
    trending    the week's trending list as of the period's end, each with its reason

A personal digest (mode ``personal`` with interests) leads with matches, up to two thirds of
its size, and fills the rest with trending papers; a trending digest is trending only. A paper
the subscriber was ever sent is left out, so nothing comes twice. With nothing to send the
digest says so plainly (its ``note``), or is skipped when the subscriber asked for that.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date

from paperwire.models import Paper, shorten
from paperwire.records import Digest, DigestItem, Subscriber
from paperwire.trending import QUIET_DAYS, TrendingEntry, shift_day

MAX_DAILY_SPAN = 7
MAX_WEEKLY_SPAN = 14


@dataclass(frozen=True)
class Match:
    """A new paper of the period and the interest it matched (``why``); higher score first."""

    paper: Paper
    score: float
    why: str


def digest_period(subscriber: Subscriber, day: date, last_end: date | None) -> tuple[date, date]:
    """The days a digest for ``day`` covers (inclusive), given the end of the last one sent."""
    end = shift_day(day, -1)
    weekly = subscriber.frequency == "weekly"
    span = MAX_WEEKLY_SPAN if weekly else MAX_DAILY_SPAN
    default_start = shift_day(end, -(6 if weekly else 0))
    start = shift_day(last_end, 1) if last_end is not None else default_start
    start = max(start, shift_day(end, -(span - 1)))
    return min(start, end), end


def _fmt(d: date) -> str:
    return f"{d:%a} {d.day} {d:%b}"


def quoted(text: str, limit: int = 60) -> str:
    """``text`` in quotes, once: a search that is itself one quoted phrase keeps its own
    quotes (no ``""speculative decoding""``); one with quotes inside gets curly ones."""
    short = shorten(text, limit)
    if short.startswith('"') and short.endswith('"') and short.count('"') == 2:
        return short
    return f"“{short}”" if '"' in short else f'"{short}"'


def _interests(sub: Subscriber) -> str:
    """' ("x", cs.CL and 2 example papers)': what a subscriber asked for, briefly."""
    named = [quoted(q, 40) for q in sub.queries[:3]]
    named += list(sub.categories[:3])
    if sub.papers:
        named.append(f"{len(sub.papers)} example paper{'s' if len(sub.papers) > 1 else ''}")
    if not named:
        return ""
    return " (" + (named[0] if len(named) == 1 else ", ".join(named[:-1]) + " and "
                   + named[-1]) + ")"


def compose(
    subscriber: Subscriber,
    day: date,
    period: tuple[date, date],
    trending: Sequence[tuple[TrendingEntry, Paper]],
    matches: Sequence[Match],
    already_sent: Collection[str],
    new_papers: int,
    *,
    last_paper_day: date | None = None,
    trending_as_of: date | None = None,
    problems: Sequence[str] = (),
) -> Digest:
    """The digest ``subscriber`` gets for ``day``. ``new_papers`` is how many papers were first
    released in the period (0 on arXiv holidays and weekends); ``last_paper_day`` is the
    newest first-version date stored up to the period's end and ``trending_as_of`` the day
    the trending list is as of: when either lies more than QUIET_DAYS before the period's
    end, the digest says that nothing newer was imported rather than blame a weekend. A
    personal digest without a match says why (none of the new papers matched, or the
    matches were all sent before); ``problems`` (interests that could not be used) are
    added to its note."""
    size = max(1, subscriber.size)
    chosen: list[DigestItem] = []
    taken: set[str] = set(already_sent)
    # interests, or a reader whose account's model found matches (its own saves and votes)
    personal = subscriber.mode == "personal" and (subscriber.has_interests or bool(matches))
    if personal:
        quota = max(1, math.ceil(size * 2 / 3))
        for m in sorted(matches, key=lambda m: (-m.score, m.paper.id)):
            if len(chosen) >= quota:
                break
            if m.paper.id not in taken:
                chosen.append(DigestItem(m.paper, m.why, "match"))
                taken.add(m.paper.id)
    for entry, paper in trending:
        if len(chosen) >= size:
            break
        if paper.id not in taken:
            chosen.append(DigestItem(paper, f"Trending: {entry.reason}", "trending"))
            taken.add(paper.id)
    if personal and len(chosen) < size:  # few trending papers: more matches instead
        for m in sorted(matches, key=lambda m: (-m.score, m.paper.id)):
            if len(chosen) >= size:
                break
            if m.paper.id not in taken:
                chosen.append(DigestItem(m.paper, m.why, "match"))
                taken.add(m.paper.id)
    start, end = period
    when = _fmt(end) if start == end else f"{_fmt(start)} – {_fmt(end)}"
    stopped = last_paper_day is not None and (end - last_paper_day).days > QUIET_DAYS
    since = f"no new papers since {_fmt(last_paper_day)}" if last_paper_day else ""
    notes: list[str] = []
    if not chosen:
        if new_papers:
            notes.append(f"Nothing new for you for {when}: none of the {new_papers} new papers "
                         f"matched your interests{_interests(subscriber)}, and nothing new is "
                         "trending.")
        elif stopped:
            notes.append(f"Nothing new for you for {when}: {since} (ingestion may have "
                         "stopped), and nothing new is trending.")
        else:
            notes.append(f"Nothing new for you for {when}: no new papers were announced and "
                         "nothing new is trending (arXiv does not announce on weekends and "
                         "holidays).")
    elif new_papers == 0:
        if stopped:
            notes.append(f"{since[0].upper()}{since[1:]}: ingestion may have stopped. Here is "
                         "what was trending last.")
        else:
            notes.append(f"No new papers were announced for {when} (arXiv does not announce on "
                         "weekends and holidays); here is what is trending.")
    elif personal and not any(it.kind == "match" for it in chosen):
        if not matches:
            notes.append(f"None of the {new_papers} new papers for {when} matched your "
                         f"interests{_interests(subscriber)}; here is what is trending.")
        else:
            notes.append(f"The new papers matching your interests for {when} were all in "
                         "earlier digests; here is what is trending.")
    notes += problems
    if (trending_as_of is not None and (end - trending_as_of).days > QUIET_DAYS
            and any(it.kind == "trending" for it in chosen)):
        notes.append(f"Trending is as of {_fmt(trending_as_of)}: no newer signals have been "
                     "imported.")
    note = " ".join(notes) or None
    items = sorted(chosen, key=lambda it: it.kind != "match")  # matches first, order kept
    return Digest(subscriber, day, period, tuple(items), note)
