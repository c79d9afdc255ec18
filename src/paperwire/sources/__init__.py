"""Live sources behind one interface (:class:`Source`), and builders that wire each to its
settings. Each source lives in its own module; ``paperwire.ingest`` runs them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import httpx

from paperwire.config import Settings
from paperwire.sources.base import Batch, Cursor, Source
from paperwire.sources.http import Fetcher

__all__ = ["VIAS", "Batch", "Cursor", "Source", "arxiv_sources", "hf_source", "oai_set_for"]

VIAS = ("api", "oai", "rss")
# arXiv archives whose OAI-PMH set sits under "physics:"
_PHYSICS_ARCHIVES = {
    "astro-ph", "cond-mat", "gr-qc", "hep-ex", "hep-lat", "hep-ph", "hep-th", "math-ph",
    "nlin", "nucl-ex", "nucl-th", "physics", "quant-ph",
}


def oai_set_for(category: str) -> str:
    """The OAI-PMH set holding ``category``: cs.LG → cs, hep-th → physics:hep-th."""
    archive = category.split(".", 1)[0]
    return f"physics:{archive}" if archive in _PHYSICS_ARCHIVES else archive


def arxiv_sources(
    settings: Settings,
    categories: Sequence[str],
    via: str = "api",
    since: date | None = None,
    until: date | None = None,
    today: date | None = None,
    client: httpx.Client | None = None,
) -> list[Source]:
    """The sources that together cover ``categories`` (OAI-PMH needs one per set)."""
    from paperwire.sources.arxiv_api import ArxivApiSource
    from paperwire.sources.arxiv_oai import ArxivOaiSource
    from paperwire.sources.arxiv_rss import ArxivRssSource

    if via not in VIAS:
        raise ValueError(f"via must be one of {', '.join(VIAS)}")
    cats = sorted(set(categories))
    if via == "api":
        fetcher = Fetcher("arxiv-api", client, min_interval=settings.arxiv_delay_seconds)
        return [ArxivApiSource(cats, fetcher, settings.arxiv_api_url, since=since, until=until,
                               today=today, lookback_days=settings.ingest_lookback_days,
                               page_size=settings.arxiv_page_size)]
    if via == "rss":
        fetcher = Fetcher("arxiv-rss", client, min_interval=settings.arxiv_delay_seconds)
        return [ArxivRssSource(cats, fetcher, settings.arxiv_rss_url)]
    sets = sorted({oai_set_for(c) for c in cats})
    fetcher = Fetcher("arxiv-oai", client, min_interval=settings.arxiv_delay_seconds)
    return [
        ArxivOaiSource(s, fetcher, settings.arxiv_oai_url, since=since, until=until, today=today,
                       lookback_days=settings.ingest_lookback_days,
                       categories=[c for c in cats if oai_set_for(c) == s])
        for s in sets
    ]


def hf_source(
    settings: Settings,
    day: date | None = None,
    since: date | None = None,
    until: date | None = None,
    today: date | None = None,
    client: httpx.Client | None = None,
) -> Source:
    from paperwire.sources.hf import HfDailySource

    fetcher = Fetcher("hf-daily", client)
    return HfDailySource(fetcher, settings.hf_api_url, since=since, until=until, day=day,
                         today=today, lookback_days=settings.ingest_lookback_days)
