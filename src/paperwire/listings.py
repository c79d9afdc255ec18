"""Listings read from the store and ranked by pure code: the trending view of a window and
day, the newest day trending has data for, and which given ids name stored papers. No SQL
here (that is the store's), no output shapes (the application's and the surfaces')."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime

from paperwire import trending
from paperwire.clock import utcnow
from paperwire.metadata import STARS_SIGNAL, Extras, extras, latest_stars
from paperwire.models import Paper, Signal, parse_arxiv_id
from paperwire.store import Store


def data_day(store: Store, weights: Mapping[str, float] | None = None) -> date | None:
    """The newest day trending has data for (see :func:`paperwire.trending.data_day`)."""
    return trending.data_day(store.signal_day_totals(),
                             trending.SOURCE_WEIGHTS if weights is None else weights)


def extras_for(store: Store, papers: Iterable[Paper]) -> dict[str, Extras]:
    """What pages show of each paper besides its text (:func:`paperwire.metadata.extras`):
    its stored metadata and newest GitHub stars, two queries for a whole list."""
    papers = list(papers)
    ids = [p.id for p in papers]
    metas = store.get_metas(ids)
    stars = store.latest_signals(ids, STARS_SIGNAL)
    return {p.id: extras(p, metas.get(p.id), stars.get(p.id)) for p in papers}


def paper_extras(store: Store, paper: Paper, signals: list[Signal]) -> Extras:
    """:func:`extras_for` of one paper whose signals are already read."""
    return extras(paper, store.get_metas([paper.id]).get(paper.id), latest_stars(signals))


def stored_ids(store: Store, ids: Iterable[str]) -> tuple[list[str], list[str]]:
    """The stored papers' ids for ``ids`` (a versioned arXiv id ``2501.00001v2`` or ``arXiv:``
    prefix names the same paper), and the ids given that name no stored paper."""
    given = list(dict.fromkeys(i.strip() for i in ids))
    canonical = {i: (parsed[0] if (parsed := parse_arxiv_id(i)) else i) for i in given}
    found = store.get_papers([*given, *canonical.values()])
    known = [i if i in found else canonical[i] for i in given
             if i in found or canonical[i] in found]
    return list(dict.fromkeys(known)), [i for i in given if i not in found
                                        and canonical[i] not in found]


def trending_view(
    store: Store,
    window: str = "week",
    requested: date | None = None,
    now: datetime | None = None,
    limit: int = 20,
    category: str | None = None,
    weights: Mapping[str, float] | None = None,
    order: str = "trending",
    offset: int = 0,
) -> trending.TrendingView:
    """Trending papers for ``window`` as of ``requested`` (default: today), falling back to the
    newest day that has signals when the data stops earlier. ``category`` keeps papers listed
    in that category; ``weights`` (default: trending.SOURCE_WEIGHTS) weigh each source;
    ``order`` "top" ranks by the window's total; ``limit`` entries after the first ``offset``."""
    trending.window_bounds(window, date.today())  # validates the window name
    if order not in trending.ORDERS:
        raise ValueError(f"unknown order {order!r}; choose one of {', '.join(trending.ORDERS)}")
    requested = requested or (now or utcnow()).date()
    weights = trending.SOURCE_WEIGHTS if weights is None else weights
    # a day without signals (a weekend) inside the data is computed as asked; only a day after
    # the newest day with data falls back to that day (a stray click does not count as data)
    as_of = trending.effective_as_of(requested, data_day(store, weights))
    if as_of is None:
        return trending.TrendingView(window, requested, None, [], category, order=order)
    start, end = trending.window_bounds(window, as_of)
    signals = store.signals_between(start, end)
    papers = store.get_papers({s.paper_id for s in signals})
    if category:
        keep = {pid for pid, p in papers.items() if category in p.categories}
        signals = [s for s in signals if s.paper_id in keep]
    born = {pid: p.published for pid, p in papers.items()}
    primary = {pid: p.primary_category or (p.categories[0] if p.categories else None)
               for pid, p in papers.items()}
    entries = trending.rank(
        signals, as_of, window, weights=weights,
        first_version=born, primary=primary, scope=category,
        current=as_of >= requested, order=order,
    )
    shown = entries[offset:offset + limit]
    return trending.TrendingView(
        window, requested, as_of, [(e, papers[e.paper_id]) for e in shown], category,
        order=order, offset=offset, listed=len(entries),
    )
