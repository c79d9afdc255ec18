"""Use cases shared by the CLI and the web app: they fetch from the store and call the
pure ranking code. No SQL here (that is the store's), no HTML (the web's)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from paperwire import trending
from paperwire.store import Store


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def trending_view(
    store: Store,
    window: str = "week",
    requested: date | None = None,
    now: datetime | None = None,
    limit: int = 20,
    category: str | None = None,
) -> trending.TrendingView:
    """Trending papers for ``window`` as of ``requested`` (default: today), falling back to the
    newest day that has signals when the data stops earlier."""
    trending.window_bounds(window, date.today())  # validates the window name
    requested = requested or (now or utcnow()).date()
    as_of = trending.effective_as_of(requested, store.latest_signal_day(on_or_before=requested))
    if as_of is None:
        return trending.TrendingView(window, requested, None, [])
    start, end = trending.window_bounds(window, as_of)
    signals = store.signals_between(start, end)
    papers = store.get_papers({s.paper_id for s in signals})
    if category:
        keep = {pid for pid, p in papers.items() if category in p.categories}
        signals = [s for s in signals if s.paper_id in keep]
    born = {pid: p.published for pid, p in papers.items()}
    entries = trending.rank(signals, as_of, window, limit=limit, first_version=born)
    return trending.TrendingView(
        window, requested, as_of, [(e, papers[e.paper_id]) for e in entries]
    )
