"""The search engine: lexical (BM25), dense (embeddings) and hybrid (fused) retrieval over the
store, with the query syntax of :mod:`paperwire.search.query` applied to all three.

Hybrid is the default: both retrievers take the query's free text; hard constraints (phrases,
exclusions, author:, cat:, title:, dates) are applied natively by the lexical index and as a
filter on the dense candidates; the two rankings are fused (a convex combination of
normalised scores, tuned on the SciFact *train* split — see BENCHMARKS.md).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
from markupsafe import Markup

from paperwire import trending
from paperwire.config import Settings
from paperwire.errors import SearchError
from paperwire.models import Paper
from paperwire.search import fusion
from paperwire.search.lexical import LexicalIndex
from paperwire.search.query import (
    ParsedQuery,
    SearchOptions,
    literal_query,
    merge_options,
    parse_query,
)
from paperwire.store import Store

log = logging.getLogger(__name__)
MODES = ("lexical", "dense", "hybrid")


@dataclass(frozen=True)
class FusionParams:
    """How the two rankings are fused. The defaults were chosen on SciFact *train* by
    bench/tune_fusion.py (convex 0.6: train nDCG@10 0.7306 against 0.7141 for plain RRF)."""

    method: str = "convex"  # or "rrf"
    rrf_k: float = 60.0
    lexical_weight: float = 1.0  # RRF weight of the lexical ranking (dense weighs 1)
    alpha: float = 0.6  # convex: weight of the min-max-normalised lexical scores
    depth: int = 100  # candidates taken from each retriever


@dataclass(frozen=True)
class Hit:
    paper: Paper
    score: float
    lexical_rank: int | None = None
    dense_rank: int | None = None
    title_html: Markup | None = None  # escaped title with matches in <b>
    snippet_html: Markup | None = None  # escaped abstract excerpt with matches in <b>


_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="paperwire-embed-query")


@dataclass
class SearchEngine:
    store: Store
    settings: Settings
    embedder: Any = None  # paperwire.embed.Embedder; loaded on first dense use when None
    params: FusionParams = field(default_factory=FusionParams)

    def __post_init__(self) -> None:
        self.lexical = LexicalIndex(self.settings.index_dir / "lexical")
        self._dense: Any = None
        self._dense_error: str | None = None
        self._vectors_seen = False
        # request threads share one engine: one model and one dense index, made once
        self._lazy_lock = threading.RLock()

    # ---- the dense side is loaded lazily: lexical search never pays for the model ----------

    def _embedder(self) -> Any:
        if self.embedder is None:
            with self._lazy_lock:
                if self.embedder is None:
                    from paperwire.embed import default_embedder

                    self.embedder = default_embedder(self.settings.resolved_models_dir)
        return self.embedder

    def dense(self) -> Any:
        if self._dense is None:
            with self._lazy_lock:
                if self._dense is None:
                    from paperwire.search.dense import DenseIndex

                    emb = self._embedder()
                    name = re.sub(r"[^\w.-]+", "_", emb.name)
                    self._dense = DenseIndex(self.settings.index_dir / "dense" / name,
                                             emb.name, emb.dim)
        return self._dense

    def sync(
        self, modes: Sequence[str] = ("hybrid",), embed: bool = True,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> None:
        """Bring the indexes the modes need up to date. With ``embed``, first embed new and
        changed papers (slow: minutes for thousands); without, only take in vectors that are
        already stored — the cheap path a web request may take."""
        self.lexical.sync(self.store)
        wants_dense = any(m in ("dense", "hybrid") for m in modes)
        if wants_dense and (embed or self._has_vectors()) and self.dense_available():
            if embed:
                from paperwire.search.dense import embed_pending

                embed_pending(self.store, self._embedder(), on_progress)
            self.dense().sync(self.store)

    def _has_vectors(self) -> bool:
        """Whether any paper has a vector yet; until then the model is not even loaded."""
        if not self._vectors_seen:
            self._vectors_seen = self.store.has_embeddings()
        return self._vectors_seen

    def dense_available(self) -> bool:
        """Whether the embedding model can be loaded; if not, hybrid search falls back to
        lexical (logged once)."""
        if self.embedder is not None:
            return True
        if self._dense_error is None:
            try:
                self._embedder()
                self._dense_error = ""
            except SearchError as exc:
                self._dense_error = str(exc)
                log.warning("semantic search is off: %s", exc)
        return not self._dense_error

    # ---- ranking ------------------------------------------------------------------------

    def rank_ids(self, text: str, mode: str = "hybrid", k: int = 100) -> list[str]:
        """Ids for literal text (no query syntax), best first: what ``paperwire eval`` runs."""
        return [pid for pid, _ in self._ranked(literal_query(text), mode, k)[0]]

    def _ranked(
        self, q: ParsedQuery, mode: str, k: int
    ) -> tuple[list[tuple[str, float]], dict[str, int], dict[str, int]]:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        depth = max(k, self.params.depth)
        lex: list[tuple[str, float]] = []
        den: list[tuple[str, float]] = []
        vector: Future[np.ndarray] | None = None
        if (mode in ("dense", "hybrid") and q.free_text().strip() and self._has_vectors()
                and self.dense_available()):
            # the query's embedding (ONNX Runtime, outside the GIL) runs while BM25 ranks
            vector = _POOL.submit(self._embedder().embed_query, q.free_text())
        if mode in ("lexical", "hybrid"):
            hits = self.lexical.search(q, limit=depth, highlight=False)
            lex = [(h.paper_id, h.score) for h in hits]
        if vector is not None:
            den = self._dense_candidates(q, depth, vector.result())
        lex_rank = {pid: i for i, (pid, _) in enumerate(lex, 1)}
        den_rank = {pid: i for i, (pid, _) in enumerate(den, 1)}
        if mode == "lexical" or not den:
            return lex[:k], lex_rank, den_rank
        if mode == "dense" or not lex:
            return den[:k], lex_rank, den_rank
        p = self.params
        if p.method == "convex":
            fused = fusion.convex(dict(lex), dict(den), p.alpha)
        else:
            fused = fusion.rrf([[d for d, _ in lex], [d for d, _ in den]], k=p.rrf_k,
                               weights=[p.lexical_weight, 1.0])
        return fused[:k], lex_rank, den_rank

    def _dense_candidates(self, q: ParsedQuery, depth: int,
                          vector: np.ndarray) -> list[tuple[str, float]]:
        constrained = q.has_constraints()
        found = self.dense().search(vector, depth * 5 if constrained else depth)
        if not constrained:
            return list(found)
        # the same constraints, with the same semantics, as the lexical side applies
        ok = self.lexical.satisfying(q, [pid for pid, _ in found])
        return [(pid, s) for pid, s in found if pid in ok][:depth]

    def search(
        self,
        query: str | ParsedQuery,
        mode: str = "hybrid",
        options: SearchOptions | None = None,
        highlight: bool = False,
    ) -> list[Hit]:
        """Papers for ``query`` (the search language), filtered and sorted by ``options``.
        With ``highlight``, hits carry HTML (escaped text, matches in <b>) where the lexical
        side found them."""
        options = options or SearchOptions()
        q = parse_query(query) if isinstance(query, str) else query
        q = merge_options(q, options)
        if q.is_empty:
            return []
        want = options.offset + options.limit
        depth = max(want, self.params.depth)
        if not q.has_text or (options.sort == "date" and mode == "lexical"):
            hits = self.lexical.search(q, limit=want, sort="date", highlight=highlight)
            ranked = [(h.paper_id, h.score) for h in hits]
            lex_rank: dict[str, int] = {h.paper_id: i for i, h in enumerate(hits, 1)}
            den_rank: dict[str, int] = {}
        else:
            ranked, lex_rank, den_rank = self._ranked(q, mode, depth)
            hits = (self.lexical.search(q, limit=depth, highlight=True) if highlight else [])
        html = {h.paper_id: (h.title_html, h.snippet_html) for h in hits if h.title_html}
        # in relevance order only the page is read (plus slack for papers deleted meanwhile);
        # re-sorting needs every candidate
        reads = ranked if options.sort != "relevance" else ranked[: want + 10]
        papers = self.store.get_papers(pid for pid, _ in reads)
        if len(papers) < len(reads) and len(reads) < len(ranked):
            papers = self.store.get_papers(pid for pid, _ in ranked)
        ranked = [(pid, sc) for pid, sc in ranked if pid in papers]
        if options.sort == "date":
            ranked.sort(key=lambda r: (papers[r[0]].published or date.min), reverse=True)
        elif options.sort == "trending":
            heat = self._trending_scores({pid for pid, _ in ranked})
            ranked.sort(key=lambda r: heat.get(r[0], 0.0), reverse=True)  # stable: ties keep
        page = ranked[options.offset : want]
        return [
            Hit(papers[pid], score, lex_rank.get(pid), den_rank.get(pid),
                *(Markup(x) if x else None for x in html.get(pid, (None, None))))
            for pid, score in page
        ]

    def similar(
        self, ids: Sequence[str] = (), text: str | None = None, limit: int = 10
    ) -> list[Hit]:
        """Papers like the given ones (the mean of their vectors: one paper, or a reading
        list) and/or like a pasted text (an abstract). Without vectors or a model, falls
        back to BM25 on the papers' titles and the text."""
        given = self.store.get_papers(ids)
        if not given and not (text and text.strip()):
            return []
        exclude = set(given)
        if self._has_vectors() and self.dense_available():
            from paperwire.embed import l2_normalise, paper_text

            emb, dense = self._embedder(), self.dense()
            vectors = []
            for paper in given.values():
                v = dense.vector(paper.id)
                vectors.append(v if v is not None
                               else emb.embed([paper_text(paper.title, paper.abstract)])[0])
            if text and text.strip():
                vectors.append(emb.embed([text])[0])
            query = l2_normalise(np.mean(np.stack(vectors), axis=0))
            found = dense.search(query, limit + len(exclude))
            ranked = [(pid, sc) for pid, sc in found if pid not in exclude][:limit]
        else:
            words = " ".join([*(p.title for p in given.values()), text or ""])
            hits = self.lexical.search(literal_query(words), limit=limit + len(exclude),
                                       highlight=False)
            ranked = [(h.paper_id, h.score) for h in hits if h.paper_id not in exclude][:limit]
        papers = self.store.get_papers(pid for pid, _ in ranked)
        return [Hit(papers[pid], score) for pid, score in ranked if pid in papers]

    def _trending_scores(self, ids: set[str]) -> dict[str, float]:
        """The month-window trending score of each paper, as of the newest signal day."""
        as_of = trending.data_day(self.store.signal_day_totals(),
                                  self.settings.trending_weights)
        if as_of is None:
            return {}
        start, end = trending.window_bounds("month", as_of)
        sigs = [s for s in self.store.signals_between(start, end) if s.paper_id in ids]
        return {e.paper_id: e.score for e in trending.rank(
            sigs, as_of, "month", weights=self.settings.trending_weights)}
