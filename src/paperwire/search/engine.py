"""The search engine: lexical (BM25), dense (embeddings) and hybrid (fused) retrieval over the
store, with the query syntax of :mod:`paperwire.search.query` applied to all three.

Hybrid is the default: both retrievers take the query's free text; hard constraints (phrases,
exclusions, author:, cat:, title:, dates) are applied natively by the lexical index and as a
filter on the dense candidates; the two rankings are fused (a convex combination of
normalised scores whose lexical weight depends on the query's length, lexical candidates
scored by their vectors too; tuned on training data only — see BENCHMARKS.md).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from time import monotonic
from typing import Any

import numpy as np
from markupsafe import Markup

from paperwire import trending
from paperwire.config import Settings
from paperwire.errors import SearchError
from paperwire.memo import Memo
from paperwire.models import Paper
from paperwire.search import floor, fusion
from paperwire.search.lexical import LexicalHit, LexicalIndex, LexicalView
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
SYNC_WAIT = 1.0  # seconds sync() waits for the writer lock (held by a pass of another thread)


@dataclass(frozen=True)
class FusionParams:
    """How the two rankings are fused. Chosen on training data only (SciFact *train*, arXiv
    title lookups and sentence lookups: bench/tune_quality.py, BENCHMARKS.md): convex, the
    lexical weight from ``short_alpha`` (queries of up to ``short_words`` words) down to
    ``alpha`` (``long_words`` and more), with the dense similarity of every lexical candidate
    filled in (``fill_dense``) rather than 0 for those outside the dense top ``depth``."""

    method: str = "convex"  # or "rrf"
    rrf_k: float = fusion.RRF_K
    lexical_weight: float = 1.0  # RRF weight of the lexical ranking (dense weighs 1)
    alpha: float = 0.4  # convex: weight of the min-max-normalised lexical scores (long queries)
    short_alpha: float = 0.6  # ... of queries of up to short_words words
    short_words: int = 3
    long_words: int = 9
    fill_dense: bool = True  # score lexical candidates outside the dense top by their vectors
    depth: int = 100  # candidates taken from each retriever


@dataclass(frozen=True)
class Hit:
    paper: Paper
    score: float
    lexical_rank: int | None = None
    dense_rank: int | None = None
    title_html: Markup | None = None  # escaped title with matches in <b>
    snippet_html: Markup | None = None  # escaped abstract excerpt with matches in <b>
    match: bool = True  # above the relevance floor (search/floor.py); False: a related paper


def _dense_text(q: ParsedQuery, view: LexicalView | None) -> str:
    """The text to embed: the free words, a word no paper contains as its correction."""
    fixes = view.spelling(q) if view is not None else {}
    return " ".join(fixes.get(w, w) for w in q.free_text().split())


# a search's side work, run while its BM25 ranking runs: the query's embedding (ONNX Runtime)
# and the count of papers holding every word (tantivy); both leave the GIL while they work
_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="paperwire-search")
# the whole-index count of papers holding every word runs beside the ranking, not after it
# (bench/scale_profile.py --switch COUNT_ALONGSIDE times both)
COUNT_ALONGSIDE = True
SIMILAR_CACHE = 4096  # similar-paper rankings kept (a few hundred bytes each)
VECTORS_CHECK_SECONDS = 1.0  # how often a store without vectors is asked again


@dataclass
class SearchEngine:
    store: Store
    settings: Settings
    embedder: Any = None  # paperwire.embed.Embedder; loaded on first dense use when None
    params: FusionParams = field(default_factory=FusionParams)
    floor: floor.FloorParams = field(default_factory=floor.FloorParams)

    def __post_init__(self) -> None:
        self.lexical = LexicalIndex(self.settings.index_dir / "lexical")
        self._dense: Any = None
        self._bulk: Any = None  # the index writer's GPU embedder (PAPERWIRE_EMBED_DEVICE=cuda)
        self._dense_error: str | None = None
        self._vectors_seen = False
        self._vectors_checked: float | None = None  # when the store was last asked
        # this process's index writer (paperwire.search.writer.IndexWriter), once one runs
        self._writer: Any = None
        # request threads share one engine: one model and one dense index, made once
        self._lazy_lock = threading.RLock()
        # similar papers' rankings, per question and index generation (see similar())
        self._similar: Memo[list[tuple[str, float]]] = Memo(SIMILAR_CACHE)

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
        on_progress: Callable[[int, int], None] | None = None, wait: float = SYNC_WAIT,
    ) -> bool:
        """Be the index writer for one pass (:class:`~paperwire.search.writer.IndexWriter`):
        take in what the store holds and, with ``embed`` (and a mode that uses vectors),
        embed new and changed papers first (slow: minutes for thousands), then publish.
        Waits up to ``wait`` s for the writer lock; when another process keeps it (it is the
        writer), only follows what it published and returns False. Never for requests:
        they :meth:`refresh`."""
        from paperwire.search.writer import writer_of

        embed = embed and any(m in ("dense", "hybrid") for m in modes)
        writer = writer_of(self)
        deadline = monotonic() + wait
        while True:
            if writer.run_once(embed=embed, on_progress=on_progress):
                self.recheck_vectors()  # what this pass embedded counts at once
                return True
            if monotonic() >= deadline:
                log.info("another process is the index writer: following what it publishes")
                self.refresh()
                return False
            time.sleep(0.05)

    def refresh(self) -> None:
        """Follow what the index writer published (a stat of each index's manifest, at most
        every few hundred ms). Never writes, syncs or embeds: what a request calls. In the
        process that is the writer, a store ahead of the indexes first gets a catch-up pass
        from the writer thread (waited for briefly), so what was just stored is found."""
        writer = self._writer
        if writer is not None and writer.behind():
            writer.request()
        self.lexical.refresh()
        if self._dense is not None:
            self._dense.refresh()

    def dense_model(self) -> str | None:
        """The model whose vectors the dense index holds, once known (None before)."""
        return str(self.embedder.name) if self.embedder is not None else None

    def dense_wanted(self) -> bool:
        """Whether the writer keeps a dense index: some paper has a vector and the model
        loads."""
        return self._has_vectors() and self.dense_available()

    def bulk_embedder(self) -> Any:
        """The model for embedding the corpus (the index writer): the query embedder, or with
        PAPERWIRE_EMBED_DEVICE=cuda its GPU twin (same name, so the same vectors up to
        rounding), made once; SearchError where it cannot run."""
        if self.settings.embed_device == "cpu":
            return self._embedder()
        if self._bulk is None:
            with self._lazy_lock:
                if self._bulk is None:
                    from paperwire.embed import default_embedder

                    bulk = default_embedder(self.settings.resolved_models_dir,
                                            device=self.settings.embed_device)
                    if bulk.name != self._embedder().name:
                        raise SearchError(f"the {self.settings.embed_device} embedder "
                                          f"({bulk.name}) is not the query embedder "
                                          f"({self._embedder().name})")
                    self._bulk = bulk
        return self._bulk

    def recheck_vectors(self) -> None:
        """Let the next :meth:`_has_vectors` ask the store (vectors may have been written)."""
        self._vectors_checked = None

    def _has_vectors(self) -> bool:
        """Whether any paper has a vector yet; until then the model is not even loaded.
        Once seen, always; until then the store is asked at most every
        ``VECTORS_CHECK_SECONDS`` (a store without vectors would otherwise be asked by every
        search and every paper's page), and at once after :meth:`recheck_vectors` (the index
        writer's passes)."""
        if not self._vectors_seen:
            now = monotonic()
            if self._vectors_checked is None or now - self._vectors_checked >= \
                    VECTORS_CHECK_SECONDS:
                self._vectors_seen = self.store.has_embeddings()
                self._vectors_checked = now
        return self._vectors_seen

    def dense_available(self) -> bool:
        """Whether the embedding model can be loaded; if not, hybrid search falls back to
        lexical (logged once)."""
        if self.embedder is not None:
            return True
        if self._dense_error is None and not self.settings.semantic:
            self._dense_error = "PAPERWIRE_SEMANTIC is off"
            log.info("semantic search is off (PAPERWIRE_SEMANTIC=off): search is lexical")
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
        ranked = self._ranked(literal_query(text), mode, k, self.lexical.view(),
                              for_floor=False)[0]
        return [pid for pid, _ in ranked]

    def _ranked(
        self, q: ParsedQuery, mode: str, k: int, view: LexicalView | None,
        for_floor: bool = True,
    ) -> tuple[list[tuple[str, float]], dict[str, LexicalHit], dict[str, int], dict[str, float]]:
        """The fused ranking, the lexical hits by id (their stored documents give the
        highlights later), the dense ranks and each candidate's cosine similarity to the
        query (empty without a query vector), what the relevance floor decides on (without
        ``for_floor``, dense mode skips BM25 and no cosine is gathered: the ranking alone)."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        depth = max(k, self.params.depth)
        lex_hits: list[LexicalHit] = []
        den: list[tuple[str, float]] = []
        vector: Future[np.ndarray] | None = None
        if (mode in ("dense", "hybrid") and q.free_text().strip() and self._has_vectors()
                and self.dense_available()):
            # the query's embedding (ONNX Runtime, outside the GIL) runs while BM25 ranks
            vector = _POOL.submit(self._embedder().embed_query, _dense_text(q, view))
        if view is not None and (mode != "dense" or for_floor):
            lex_hits = view.search(q, limit=depth, highlight=False)  # dense: for the floor
        lex = [(h.paper_id, h.score) for h in lex_hits]
        p = self.params
        cosine: dict[str, float] = {}  # one similarity for the floor and the fusion
        if vector is not None:
            den = self._dense_candidates(q, depth, vector.result(), view)
            fill = mode == "hybrid" and p.method == "convex" and p.fill_dense
            if for_floor or fill:
                cosine = self._cosines(vector.result(), den, lex)
        by_id = {h.paper_id: h for h in lex_hits}
        den_rank = {pid: i for i, (pid, _) in enumerate(den, 1)}
        floor_cosine = cosine if for_floor else {}
        if mode == "dense":
            return den[:k], by_id, den_rank, floor_cosine
        if mode == "lexical" or not den:
            return lex[:k], by_id, den_rank, floor_cosine
        if not lex:
            return den[:k], by_id, den_rank, floor_cosine
        if p.method == "convex":
            dense_scores = cosine if p.fill_dense else dict(den)
            alpha = fusion.query_alpha(len(q.free_text().split()), p.short_alpha, p.alpha,
                                       p.short_words, p.long_words)
            fused = fusion.convex(dict(lex), dense_scores, alpha)
        else:
            fused = fusion.rrf([[d for d, _ in lex], [d for d, _ in den]], k=p.rrf_k,
                               weights=[p.lexical_weight, 1.0])
        return fused[:k], by_id, den_rank, floor_cosine

    def _cosines(self, vector: np.ndarray, den: list[tuple[str, float]],
                 lex: list[tuple[str, float]]) -> dict[str, float]:
        """Each candidate's cosine similarity to the query, max-pooled over a paper's windows:
        the dense side's scores, and for lexical candidates it did not return, exact scores
        of their vectors (:meth:`DenseIndex.scores`, when indexed). The relevance floor and
        the convex fusion both read these, so they judge a paper by the same similarity."""
        cosine = dict(den)
        missing = [pid for pid, _ in lex if pid not in cosine]
        if missing:
            cosine.update(self.dense().scores(vector, missing))
        return cosine

    def _matches(self, q: ParsedQuery, ranked: list[tuple[str, float]],
                 lex_hits: dict[str, LexicalHit], cosine: dict[str, float],
                 view: LexicalView | None, depth: int | None = None,
                 counting: Future[int] | None = None) -> tuple[set[str], int]:
        """The candidates above the relevance floor (:func:`floor.matches`), and how many
        papers beyond the candidates match too: with the lexical list cut at ``depth``,
        papers holding every word that BM25 ranked lower (counted, not read; ``counting``:
        that count, already started)."""
        if view is None:
            return floor.matches(set(), lex_hits.keys(), cosine, self.floor), 0
        words = floor.required_words(q.terms)
        whole = view.with_every_word(q, words, (p for p, _ in ranked))
        beyond = 0
        if depth is not None and len(lex_hits) >= depth:
            every = (counting.result() if counting is not None
                     else view.count_with_every_word(q, words))
            beyond = max(every - len(whole), 0)
        elif counting is not None:
            counting.cancel()  # not wanted; one already running is left to end
        return floor.matches(whole, lex_hits.keys(), cosine, self.floor), beyond

    def _dense_candidates(self, q: ParsedQuery, depth: int, vector: np.ndarray,
                          view: LexicalView | None) -> list[tuple[str, float]]:
        constrained = q.has_constraints()
        found = self.dense().search(vector, depth * 5 if constrained else depth)
        if not constrained:
            return list(found)
        # the same constraints, with the same semantics, as the lexical side applies
        ok = view.satisfying(q, [pid for pid, _ in found]) if view is not None else set()
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
        side found them. One lexical view serves the whole search: ranking, the constraint
        filter of dense candidates, and the highlights of the page shown (marked from the
        ranked hits' stored documents: BM25 runs once)."""
        return self.search_page(query, mode, options, highlight)[0]

    def search_page(
        self,
        query: str | ParsedQuery,
        mode: str = "hybrid",
        options: SearchOptions | None = None,
        highlight: bool = False,
        depth: int | None = None,
        related: int = 0,
    ) -> tuple[list[Hit], int]:
        """:meth:`search`, and how many papers match the query in all: the candidates above
        the relevance floor (:mod:`paperwire.search.floor`), the only ones counted, sorted
        and paged (and, when BM25's list was cut at ``depth``, the papers past it holding
        every word: counted, not listed). With ``related``, a page that reaches the end of
        the matches goes on with up to that many other candidates, best first, as
        ``match=False`` hits (never counted). ``depth``: the candidates taken from each
        retriever (default: enough for the page); pages of one query asked with one fixed
        ``depth`` (the API's paging) are slices of one ranking, so walking them sees each
        match once."""
        options = options or SearchOptions()
        q = parse_query(query) if isinstance(query, str) else query
        q = merge_options(q, options)
        if q.is_empty:
            return [], 0
        want = options.offset + options.limit
        pool = max(want, depth or 0)
        depth = max(pool, self.params.depth)
        view = self.lexical.view()
        rest: list[tuple[str, float]] = []
        beyond = 0  # matches past the candidates: counted, never listed
        if not q.has_text:  # filters alone: every paper they keep matches, newest first
            hits = view.search(q, limit=pool, sort="date", highlight=False) if view else []
            ranked = [(h.paper_id, h.score) for h in hits]
            lex_hits = {h.paper_id: h for h in hits}
            den_rank: dict[str, int] = {}
        else:
            # the whole-index count of papers holding every word is nearly always wanted
            # (BM25's list is cut at ``depth`` for all but rare words): it runs meanwhile
            counting = (_POOL.submit(view.count_with_every_word, q,
                                     floor.required_words(q.terms))
                        if view is not None and COUNT_ALONGSIDE else None)
            ranked, lex_hits, den_rank, cosine = self._ranked(q, mode, depth, view)
            matched, beyond = self._matches(q, ranked, lex_hits, cosine, view, depth,
                                            counting)
            ranked, rest = floor.split(ranked, matched)
        lex_rank = {pid: i for i, pid in enumerate(lex_hits, 1)}
        # in relevance order only the page is read (plus slack for papers deleted meanwhile);
        # re-sorting needs every match
        reads = ranked if options.sort != "relevance" else ranked[: want + 10]
        papers = self.store.get_papers(pid for pid, _ in reads)
        if len(papers) < len(reads) and len(reads) < len(ranked):
            reads = ranked
            papers = self.store.get_papers(pid for pid, _ in ranked)
        total = len(ranked) - (len(reads) - len(papers)) + beyond  # less those deleted
        ranked = [(pid, sc) for pid, sc in ranked if pid in papers]
        if options.sort == "date":
            ranked.sort(key=lambda r: (papers[r[0]].published or date.min), reverse=True)
        elif options.sort == "trending":
            heat = self._trending_scores({pid for pid, _ in ranked})
            ranked.sort(key=lambda r: heat.get(r[0], 0.0), reverse=True)  # stable: ties keep
        page = [(pid, sc, True) for pid, sc in ranked[options.offset : want]]
        if related and want >= len(ranked) and rest:  # the matches end on this page
            others = self.store.get_papers(pid for pid, _ in rest[: related + 10])
            papers.update(others)
            page += [(pid, sc, False) for pid, sc in rest if pid in others][:related]
        html: dict[str, tuple[str, str]] = {}
        if highlight and view is not None:
            shown = [lex_hits[pid] for pid, _, _ in page if pid in lex_hits]
            html = {h.paper_id: (h.title_html, h.snippet_html)
                    for h in view.highlight(q, shown) if h.title_html}
        def marked(pid: str, which: int) -> Markup | None:
            text = html.get(pid, ("", ""))[which]
            return Markup(text) if text else None

        return [
            Hit(papers[pid], score, lex_rank.get(pid), den_rank.get(pid),
                title_html=marked(pid, 0), snippet_html=marked(pid, 1), match=match)
            for pid, score, match in page
        ], total

    def state(self) -> tuple[object, ...]:
        """What a search's answer depends on besides its question and the stored papers: the
        fusion and floor settings and the generations of the indexes it reads (the dense
        one once loaded). A caller keeping answers keys them by this too."""
        dense = self._dense.generation() if self._dense is not None else None
        return (self.params, self.floor, self.lexical.generation(), dense)

    def spelling(self, query: str | ParsedQuery) -> dict[str, str]:
        """The query's words no paper contains, each with the corpus word it is also
        searched as (see :meth:`LexicalView.spelling`): what a page says it showed."""
        q = parse_query(query) if isinstance(query, str) else query
        view = self.lexical.view()
        return view.spelling(q) if view is not None and q.terms else {}

    def name_words(self, query: str | ParsedQuery) -> set[str] | None:
        """The free words of ``query`` that count alone in author names (see
        :meth:`LexicalView.name_words`); None without an index (every word)."""
        q = parse_query(query) if isinstance(query, str) else query
        view = self.lexical.view()
        return view.name_words(q) if view is not None else None

    def similar(
        self, ids: Sequence[str] = (), text: str | None = None, limit: int = 10
    ) -> list[Hit]:
        """Papers like the given ones (the mean of their vectors: one paper, or a reading
        list) and/or like a pasted text (an abstract). Without vectors or a model, falls
        back to BM25 on the papers' titles and the text."""
        given = self.store.get_papers(ids)
        if not given and not (text and text.strip()):
            return []
        # a paper page asks this for every view: the ranking is kept per question and per
        # generation of the indexes it read (a new generation is a new key), papers re-read
        by_vectors = self._has_vectors() and self.dense_available()
        key = (tuple(sorted(given)), text or "", limit, *self._generations(by_vectors))
        ranked = self._similar.get(
            key, lambda: self._similar_ranking(given, text, limit, by_vectors))
        papers = self.store.get_papers(pid for pid, _ in ranked)
        return [Hit(papers[pid], score) for pid, score in ranked if pid in papers]

    def generations(self) -> str:
        """Which generations of the indexes :meth:`similar` reads now (the lexical one, and
        the dense one once papers have vectors and the model loads): a new value whenever
        a similar list may change without the store's data version moving."""
        return repr(self._generations(self._has_vectors() and self.dense_available()))

    def _generations(self, by_vectors: bool) -> tuple[Any, Any]:
        return (self.lexical.generation(), self.dense().generation() if by_vectors else None)

    def _similar_ranking(self, given: dict[str, Paper], text: str | None, limit: int,
                         by_vectors: bool) -> list[tuple[str, float]]:
        exclude = set(given)
        if by_vectors:
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
        return ranked

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
