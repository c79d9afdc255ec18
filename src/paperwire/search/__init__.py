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
    """Rank stored papers for ``query``, for a one-shot caller (the CLI): it is the index
    writer for one pass when no other process is (taking in new papers and stored vectors,
    embedding nothing: that is the writer loop's and ``paperwire index``'s work), else it
    follows what the writer published. Request handlers never call this: they only
    :meth:`SearchEngine.refresh` and search."""
    engine = engine or SearchEngine(store, settings)
    engine.sync(modes=(mode,), embed=False)
    options = options or SearchOptions(limit=limit)
    return engine.search(query, mode, options, highlight=highlight)
