"""Search: lexical (BM25), semantic (embeddings) and hybrid, with a query language.

``search()`` is the entry point for callers that do not keep an engine; long-lived callers
(the web app) keep one :class:`SearchEngine` so the model loads once.
"""

from __future__ import annotations

from paperwire.config import Settings
from paperwire.search.engine import MODES, Hit, SearchEngine
from paperwire.search.lexical import LexicalHit, LexicalIndex
from paperwire.search.query import ParsedQuery, SearchOptions, parse_query
from paperwire.store import Store

SearchHit = Hit

__all__ = [
    "MODES", "Hit", "LexicalHit", "LexicalIndex", "ParsedQuery", "SearchEngine", "SearchHit",
    "SearchOptions", "parse_query", "search",
]


def search(
    store: Store,
    settings: Settings,
    query: str | ParsedQuery,
    limit: int = 20,
    mode: str = "hybrid",
    options: SearchOptions | None = None,
    engine: SearchEngine | None = None,
    highlight: bool = False,
) -> list[Hit]:
    """Rank stored papers for ``query``. The indexes are brought up to date with what is
    stored (new papers, new vectors) but nothing is embedded here: that is ``paperwire index``'s
    and the server's background work, so a search never waits for the model on the corpus."""
    engine = engine or SearchEngine(store, settings)
    engine.sync(modes=(mode,), embed=False)
    options = options or SearchOptions(limit=limit)
    return engine.search(query, mode, options, highlight=highlight)
