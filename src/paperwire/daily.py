"""Daily papers the way Hugging Face lists them, from this site's store: the papers of a day,
an ISO week or a month, their upvotes, sorted and paged, and a paper as Markdown. The web's
Hugging Face–compatible routes (``/api/daily_papers``, ``/api/papers/search``,
``/api/papers/{id}``, ``/papers/{id}.md``) shape what this returns.

- A paper is listed in a period when it has a signal on a day of it (a Hugging Face daily
  list of that day, or an upvote, save or digest click here); its "submitted" day is the first
  such day.
- Its upvotes are its Hugging Face upvotes (the value of its newest ``hf_upvotes`` signal:
  each one is the count Hugging Face showed that day) plus its upvotes here (the ``upvote``
  signals, one per standing vote).
- ``sort`` "publishedAt" (the default): the newest submitted first, then the newest first
  version, then the id; "trending": the top of the period, by the weighted total of the
  period's signals with no decay (trending's "top" order), then the id.
"""

from __future__ import annotations

import calendar
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from paperwire import listings
from paperwire.metadata import Extras
from paperwire.models import Paper, Signal
from paperwire.search.query import check_day
from paperwire.store import Store

SORTS: tuple[str, ...] = ("publishedAt", "trending")
DEFAULT_LIMIT, MAX_LIMIT = 50, 100
MAX_PAGE = 10_000
HF_SOURCE, UPVOTE_SOURCE = "hf_upvotes", "upvote"
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Period:
    """Days ``start`` to ``end`` (inclusive): one day, an ISO week or a calendar month."""

    kind: str
    start: date
    end: date


@dataclass(frozen=True)
class HubPaper:
    """A paper as the daily lists show it: its upvotes, the day it was listed (None:
    never), and its stored metadata (code, stars, AI summary, submitter, …)."""

    paper: Paper
    upvotes: int
    submitted: date | None
    extras: Extras | None = None


def parse_period(day: str | None = None, week: str | None = None,
                 month: str | None = None) -> Period | None:
    """The period of the one parameter given (``2025-02-03``, ``2025-W09``, ``2025-02``);
    None when none is. Raises ValueError with a message a reader can act on."""
    given = [(k, v) for k, v in (("date", day), ("week", week), ("month", month)) if v]
    if len(given) > 1:
        names = " and ".join(k for k, _ in given)
        raise ValueError(f"Give one of date, week and month, not {names}")
    if not given:
        return None
    kind, value = given[0]
    try:
        period = {"date": _day_period, "week": _week_period, "month": _month_period}[kind](value)
    except ValueError:
        forms = {"date": "YYYY-MM-DD", "week": "YYYY-Www (ISO week)", "month": "YYYY-MM"}
        raise ValueError(f"Invalid {kind} {value!r}: use the form {forms[kind]}") from None
    check_day(period.start, f"The {kind} {value}")
    check_day(period.end, f"The {kind} {value}")
    return period


def _day_period(value: str) -> Period:
    if not _DAY.match(value):
        raise ValueError(value)
    day = date.fromisoformat(value)
    return Period("day", day, day)


def _week_period(value: str) -> Period:
    found = _WEEK.match(value)
    if not found:
        raise ValueError(value)
    start = date.fromisocalendar(int(found[1]), int(found[2]), 1)
    return Period("week", start, start + timedelta(days=6))


def _month_period(value: str) -> Period:
    found = _MONTH.match(value)
    if not found:
        raise ValueError(value)
    year, month = int(found[1]), int(found[2])
    start = date(year, month, 1)
    return Period("month", start, date(year, month, calendar.monthrange(year, month)[1]))


def upvotes(signals: Iterable[Signal]) -> int:
    """Hugging Face's newest count plus the upvotes here (see the module's text)."""
    hf: tuple[date, float] | None = None
    here = 0.0
    for s in signals:
        if s.source == HF_SOURCE and (hf is None or s.day >= hf[0]):
            hf = (s.day, s.value)
        elif s.source == UPVOTE_SOURCE:
            here += s.value
    return round((hf[1] if hf else 0.0) + here)


def ordered(signals: Iterable[Signal], papers: Mapping[str, Paper], sort: str,
            weights: Mapping[str, float]) -> list[str]:
    """The ids of the stored papers with a signal among ``signals`` (one period's), in the
    order ``sort`` names (see the module's text)."""
    first: dict[str, date] = {}
    total: dict[str, float] = defaultdict(float)
    for s in signals:
        if s.paper_id not in papers:
            continue
        first[s.paper_id] = min(first.get(s.paper_id, s.day), s.day)
        total[s.paper_id] += weights.get(s.source, 0.0) * s.value
    ids = sorted(first)  # the id breaks ties: the order is the same for the same data
    if sort == "trending":
        return sorted(ids, key=lambda pid: -total[pid])
    ids.sort(key=lambda pid: (papers[pid].published or date.min), reverse=True)
    return sorted(ids, key=lambda pid: first[pid], reverse=True)


def hub_papers(store: Store, papers: Iterable[Paper],
               within: Period | None = None) -> list[HubPaper]:
    """``papers`` with their upvotes, the first day they were listed (in ``within``) and
    their stored metadata."""
    papers = list(papers)
    signals = store.signals_for_papers([p.id for p in papers])
    extras = listings.extras_for(store, papers)
    return [hub_paper(p, signals.get(p.id, []), extras.get(p.id), within) for p in papers]


def hub_paper(paper: Paper, signals: list[Signal], extras: Extras | None = None,
              within: Period | None = None) -> HubPaper:
    """``paper`` from its signals and extras, already read: its upvotes and the first day
    it was listed (in ``within``; without, on Hugging Face's daily papers)."""
    if within is None:
        days = [s.day for s in signals if s.source == HF_SOURCE]
    else:
        days = [s.day for s in signals if within.start <= s.day <= within.end]
    return HubPaper(paper, upvotes(signals), min(days, default=None), extras)


def daily_papers(store: Store, period: Period | None, sort: str = "publishedAt",
                 page: int = 0, limit: int = DEFAULT_LIMIT, submitter: str | None = None,
                 weights: Mapping[str, float] | None = None) -> list[HubPaper]:
    """Page ``page`` (from 0) of ``limit`` papers of ``period`` (default: the newest day with
    data), sorted by ``sort``; with ``submitter`` (a Hub username, any case), only the papers
    the stored metadata says they submitted to Hugging Face's daily list."""
    if sort not in SORTS:
        raise ValueError(f"Invalid sort {sort!r}: use one of {', '.join(SORTS)}")
    if period is None:
        newest = listings.data_day(store, weights)
        if newest is None:
            return []
        period = Period("day", newest, newest)
    signals = store.signals_between(period.start, period.end)
    papers = store.get_papers({s.paper_id for s in signals})
    ids = ordered(signals, papers, sort, weights or {})
    if submitter is not None:
        metas = store.get_metas(ids)
        wanted = submitter.strip().casefold()
        ids = [pid for pid in ids if pid in metas
               and (metas[pid].submitter or "").casefold() == wanted]
    shown = ids[page * limit:(page + 1) * limit]
    return hub_papers(store, [papers[pid] for pid in shown], within=period)


def markdown(item: HubPaper, url: str) -> str:
    """The paper as a Markdown page (what ``hf papers read`` prints): title, authors, facts,
    links (with its code and project page), Hugging Face's AI summary and the abstract, as
    stored (raw text: a terminal shows it as it is)."""
    p, x = item.paper, item.extras
    lines = [f"# {p.title}", ""]
    if p.authors:
        lines += [f"**Authors:** {', '.join(p.authors)}", ""]
    facts = [f"**arXiv:** {p.id}" if p.abs_url else f"**Id:** {p.id}"]
    if p.published:
        facts.append(f"**Published:** {p.published.isoformat()}")
    if p.categories:
        facts.append(f"**Categories:** {', '.join(p.categories)}")
    facts.append(f"**Upvotes:** {item.upvotes}")
    lines += [" · ".join(facts), ""]
    named = (("arXiv", p.abs_url), ("PDF", p.pdf_url), ("Code", x.code_url if x else None),
             ("Project page", x.project_url if x else None))
    links = [f"[Paperwire]({url})"] + [f"[{name}]({link})" for name, link in named if link]
    lines += [" · ".join(links), ""]
    if x is not None and x.meta is not None and x.meta.ai_summary:
        lines += ["## AI summary (Hugging Face)", "", x.meta.ai_summary, ""]
    if p.abstract:
        lines += ["## Abstract", "", p.abstract.strip(), ""]
    if p.comment:
        lines += [f"**Comment:** {p.comment}", ""]
    return "\n".join(lines)
