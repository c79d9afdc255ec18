"""Recommendations from what is stored: read the papers, vectors and candidates the model
needs (store, search engine), rank them (:func:`paperwire.recommend.model.rank`), and say
why in words.

Candidates, unless the caller names them (a digest: the period's new papers): the nearest
papers by vector of the reader's newest positives, the papers most like their titles by BM25,
and the newest papers of the collection. The background the classifier learns against is a
sample of the collection, the same for the same positives (so a page does not reshuffle
between two visits).
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from paperwire.embed import paper_text
from paperwire.models import Paper, shorten
from paperwire.recommend.model import DEFAULT, MIN_POSITIVES, Items, Params, rank
from paperwire.store import Store

if TYPE_CHECKING:
    from paperwire.search.engine import SearchEngine

BACKGROUND = 1000  # papers of the collection the classifier learns against
NEWEST_POSITIVES = 30  # the positives whose neighbours are candidates
NEIGHBOURS = 40  # candidates per positive, by vector
TITLE_NEIGHBOURS = 10  # candidates per positive, by BM25 on its title
LATEST = 300  # the collection's newest papers are candidates too


@dataclass(frozen=True)
class Suggestion:
    paper: Paper
    score: float
    match: bool  # above the model's relevance floor
    because: tuple[Paper, ...]  # the reader's papers that explain it (one or two)


def _dense_of(engine: SearchEngine | None) -> Any:
    """The dense index when it holds vectors, else None."""
    if engine is None or not engine.dense_wanted():
        return None
    dense = engine.dense()
    return dense if len(dense) else None


def _candidates(store: Store, engine: SearchEngine | None, positives: Sequence[Paper],
                dense: Any) -> list[str]:
    found: dict[str, None] = {}
    newest = positives[-NEWEST_POSITIVES:]
    if dense is not None:
        firsts = dense.first_vectors([p.id for p in newest])
        for p in newest:
            if p.id in firsts:
                found.update((pid, None) for pid, _ in dense.search(firsts[p.id], NEIGHBOURS))
    if engine is not None:
        from paperwire.search.query import literal_query

        for p in newest:
            for hit in engine.lexical.search(literal_query(p.title), limit=TITLE_NEIGHBOURS,
                                             highlight=False):
                found[hit.paper_id] = None
    found.update((p.id, None) for p in store.latest_papers(LATEST))
    return list(found)


def recommend(
    store: Store,
    engine: SearchEngine | None,
    positives: Sequence[str],
    negatives: Sequence[str] = (),
    *,
    candidates: Sequence[str] | None = None,
    exclude: Collection[str] = (),
    limit: int = 20,
    params: Params = DEFAULT,
    background: int = BACKGROUND,
) -> list[Suggestion]:
    """The best ``limit`` papers for a reader whose liked papers are ``positives`` (oldest
    first) and turned-down ones ``negatives``, among ``candidates`` (by default: see the
    module), less ``exclude``. Empty with fewer than :data:`MIN_POSITIVES` stored positives.
    Without vectors (no model, nothing embedded) the model runs on its lexical side alone."""
    liked = store.get_papers(positives)
    ordered = [liked[p] for p in dict.fromkeys(positives) if p in liked]
    if len(ordered) < MIN_POSITIVES:
        return []
    dense = _dense_of(engine)
    if candidates is None:
        candidates = _candidates(store, engine, ordered, dense)
    skip = set(exclude) | set(liked) | set(negatives)
    cands = [c for c in dict.fromkeys(candidates) if c not in skip]
    if not cands:
        return []
    seed = zlib.crc32("\n".join(sorted(liked)).encode())
    # the background is a sample of the whole collection less the reader's own papers, the
    # candidates included (the model scores each paper with classifiers that did not see it):
    # the reader's scale, and so the floor, then mean the same for the For you page and for
    # a digest's few new papers. With vectors, rows drawn from the dense index (no pass over
    # the collection); without, from every id in the store (a small collection's case).
    if dense is not None:
        bg = dense.sample_papers(background, seed, skip)
    else:
        rest = [b for b in sorted(store.all_ids()) if b not in skip]
        bg = random.Random(seed).sample(rest, min(len(rest), background))
    papers = store.get_papers([*liked, *negatives, *bg, *cands])
    ids = list(papers)
    vectors = np.zeros((len(ids), dense.dim if dense is not None else 1), dtype=np.float32)
    if dense is not None:
        firsts = dense.first_vectors(ids)
        for i, pid in enumerate(ids):
            if pid in firsts:
                vectors[i] = firsts[pid]
    items = Items.build([(pid, paper_text(p.title, p.abstract), p.authors)
                         for pid, p in papers.items()], vectors)
    ranked = rank(items, [p.id for p in ordered], [n for n in negatives if n in papers],
                  [c for c in cands if c in papers], bg, params, limit=limit)
    return [Suggestion(papers[r.paper_id], r.score, r.match,
                       tuple(papers[b] for b in r.because)) for r in ranked]


def because_text(because: Sequence[Paper], verbs: Mapping[str, str]) -> str:
    """'because you saved “A” and upvoted “B”': ``verbs`` maps a paper id to what the reader
    did with it (saved, upvoted, liked)."""
    parts = []
    last_verb = None
    for p in because:
        verb = verbs.get(p.id, "saved")
        title = f"“{shorten(' '.join(p.title.split()), 80)}”"
        parts.append(title if verb == last_verb else f"{verb} {title}")
        last_verb = verb
    return "because you " + " and ".join(parts) if parts else ""


@dataclass(frozen=True)
class Reader:
    """What an account told the model: its liked papers (saved, upvoted, 👍; oldest first),
    its 👎 papers, and what it did with each liked one (for "because you saved …")."""

    positives: tuple[str, ...]
    negatives: tuple[str, ...]
    verbs: Mapping[str, str]

    @property
    def enough(self) -> bool:
        return len(self.positives) >= MIN_POSITIVES


def reader(store: Store, account_id: int) -> Reader:
    """The account's positives and negatives, from its library, upvotes and ratings."""
    library = store.library
    stamped: dict[str, tuple[float, str]] = {}  # id -> (when, verb); a save names it first
    for rating in library.ratings(account_id):
        if rating.value > 0:
            stamped[rating.paper_id] = (rating.created_at.timestamp(), "liked")
    voted = library.voted_ids(account_id)  # newest first
    for n, pid in enumerate(voted):
        stamped.setdefault(pid, (-float(n), "upvoted"))
    for entry in library.entries(account_id):
        stamped[entry.paper_id] = (entry.saved_at.timestamp(), "saved")
    negatives = tuple(r.paper_id for r in library.ratings(account_id)
                      if r.value < 0 and r.paper_id not in stamped)
    ordered = sorted(stamped, key=lambda pid: (stamped[pid][0], pid))
    return Reader(tuple(ordered), negatives, {pid: stamped[pid][1] for pid in ordered})


def for_reader(store: Store, engine: SearchEngine | None, account_id: int, *,
               candidates: Sequence[str] | None = None, exclude: Collection[str] = (),
               limit: int = 20, only_matches: bool = True) -> list[tuple[Suggestion, str]]:
    """The account's recommendations, best first, each with its "because you saved …" line;
    only those above the model's relevance floor unless ``only_matches`` is off. Empty until
    the account liked :data:`MIN_POSITIVES` papers."""
    who = reader(store, account_id)
    if not who.enough:
        return []
    found = recommend(store, engine, who.positives, who.negatives, candidates=candidates,
                      exclude=exclude, limit=limit)
    return [(s, because_text(s.because, who.verbs)) for s in found
            if s.match or not only_matches]
