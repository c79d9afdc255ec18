"""Search over the store: ``search()`` syncs the index incrementally, then ranks."""

from __future__ import annotations

from dataclasses import dataclass

from paperwire.config import Settings
from paperwire.models import Paper
from paperwire.search.lexical import LexicalHit, LexicalIndex
from paperwire.store import Store

__all__ = ["LexicalHit", "LexicalIndex", "SearchHit", "search"]


@dataclass(frozen=True)
class SearchHit:
    paper: Paper
    score: float


def search(store: Store, settings: Settings, query: str, limit: int = 20) -> list[SearchHit]:
    """Rank stored papers for ``query`` (BM25 over title, abstract and authors)."""
    index = LexicalIndex(settings.index_dir / "lexical")
    index.sync(store)
    hits = index.search(query, limit)
    papers = store.get_papers(h.paper_id for h in hits)
    return [SearchHit(papers[h.paper_id], h.score) for h in hits if h.paper_id in papers]
