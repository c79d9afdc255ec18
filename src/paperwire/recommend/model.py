"""The per-reader model behind "For you" and the digest's personal section — pure, numpy only.

Given the papers a reader liked (saved, upvoted, rated 👍: the positives), the ones they
turned down (👎: the negatives), a background sample of the collection and the candidates, with
each paper's stored MiniLM vector and its TF-IDF row (:mod:`paperwire.recommend.lexical`),
:func:`rank` scores every candidate with three parts, added with fixed weights:

1. a logistic-regression classifier on [vector ⊕ TF-IDF row], the positives against the
   background and the negatives (each class weighing the same; a 👎 weighs as much as
   ``negative_weight`` positives): what the reader's papers have that papers in general do not
   (arxiv-sanity-lite's idea: one linear model per reader, here on both sides);
2. the similarity of the candidate to its nearest positive, by vector: a reader with two
   interests gets papers near either, where the mean of the library falls between them
   (weight 0 by the train readers' choice: the classifier's vector side carries the topic,
   and this similarity still serves the explanations, the match rule and the 👎 penalty);
3. the same by TF-IDF row, authors included: the next paper of a group the reader follows.

A candidate nearer to a 👎 paper than to any positive loses the difference
(``penalty_weight`` times), so one 👎 pushes its neighbours down at once.

The raw sum means little on its own: a classifier trained on four papers in a collection of
300 gives logits on another scale than one trained on forty among 20,000. So each reader's
scores are put on the reader's own scale (:func:`on_scale`): the model is trained again
``folds`` times, each time without a share of the background, and scores the background
papers it did not see; a score is then how many (robust) standard deviations a candidate
stands above the median of those, the typical paper of the collection. One ``floor`` on that
scale, the same for every reader and every collection size, tells a match from the rest:
below it a candidate is never called a match. A match must also be something the reader
would recognise (:func:`matches`): by an author of one of their papers, or near one of them
by vector. Every background and candidate paper is scored by classifiers that did not see it
(a candidate by the mean of those), so the two stand on the same scale. The weights and the
floors are chosen on simulated TRAIN users of real arXiv data by ``bench/recommend_bench.py``
(BENCHMARKS.md has the figures); the test users only report.

Each recommendation names the (at most two) positives it is nearest to (vector cosine plus
half the TF-IDF cosine), whatever the blend: "because you saved X and Y".
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from paperwire.recommend.lexical import Floats, LexicalSpace, Rows, build_space

MIN_POSITIVES = 2  # below this there is nothing to learn from
NEAR_LEXICAL = 0.5  # nearness to a liked or 👎 paper: vector cosine + this x TF-IDF cosine


@dataclass(frozen=True)
class Params:
    """The model's settings; the defaults are the ones chosen on the benchmark's train users."""

    classifier_weight: float = 1.0  # weight of the classifier's logit
    knn_weight: float = 0.0  # weight of the nearest positive's vector cosine
    lexical_knn_weight: float = 2.0  # weight of the nearest positive's TF-IDF cosine
    lexical_scale: float = 4.0  # scale of the TF-IDF block in the classifier's features
    l2: float = 1e-3  # the classifier's L2 penalty
    iterations: int = 150
    negative_weight: float = 3.0  # a 👎 counts as much as this many positives (classifier)
    penalty_weight: float = 12.0  # times how much nearer a 👎 paper is than any positive
    floor: float = 2.5  # on the reader's scale: deviations above a typical paper
    near_floor: float = 1.0  # a match's text: deviations above a typical paper's nearness
    folds: int = 2  # trainings that score unseen background papers, for the reader's scale
    because_ratio: float = 0.75  # a second positive is named when it is this near


DEFAULT = Params()


@dataclass(frozen=True)
class Recommendation:
    paper_id: str
    score: float  # on the reader's scale: deviations above a typical paper of the collection
    match: bool  # at or above the floor, and by a followed author or near a liked paper
    because: tuple[str, ...]  # the positives most responsible (one or two)


@dataclass(frozen=True)
class Items:
    """Every paper one ranking looks at (positives, negatives, background, candidates): row
    ``i`` of ``vectors`` (unit length, float32) and of ``lexical`` belongs to ``ids[i]``."""

    ids: tuple[str, ...]
    pos: dict[str, int]
    vectors: Floats
    lexical: Rows
    author_columns: npt.NDArray[np.bool_]  # which columns of ``lexical`` are author names

    @classmethod
    def of(cls, ids: Sequence[str], vectors: npt.ArrayLike, lexical: Rows,
           author_columns: npt.ArrayLike | None = None) -> Items:
        matrix = np.asarray(vectors, dtype=np.float32)
        if len(ids) != len(matrix) or len(ids) != len(lexical):
            raise ValueError("one vector and one lexical row per id")
        authors = (np.zeros(lexical.width, dtype=bool) if author_columns is None
                   else np.asarray(author_columns, dtype=bool))
        return cls(tuple(ids), {pid: i for i, pid in enumerate(ids)}, matrix, lexical, authors)

    @classmethod
    def build(cls, papers: Sequence[tuple[str, str, Sequence[str]]], vectors: npt.ArrayLike,
              author_weight: float = 0.5) -> Items:
        """From (id, title + abstract, authors) and the vectors in the same order."""
        space: LexicalSpace = build_space(papers, author_weight=author_weight)
        authors = np.zeros(space.rows.width, dtype=bool)
        authors[[c for term, c in space.vocabulary.items() if term.startswith("@")]] = True
        return cls.of(space.ids, vectors, space.rows, authors)

    def rows(self, ids: Sequence[str]) -> npt.NDArray[np.int64]:
        return np.asarray([self.pos[i] for i in ids], dtype=np.int64)


@dataclass(frozen=True)
class Profile:
    """A reader's trained model: the classifier and the papers it was trained from."""

    weights_dense: Floats
    weights_lexical: Floats
    bias: float
    positives: tuple[str, ...]
    negatives: tuple[str, ...]


def _known(items: Items, positives: Sequence[str], negatives: Sequence[str]
           ) -> tuple[list[str], list[str]]:
    """The positives and negatives that ``items`` holds, once each (a paper both liked and
    turned down counts as liked)."""
    pos = [p for p in dict.fromkeys(positives) if p in items.pos]
    neg = [n for n in dict.fromkeys(negatives) if n in items.pos and n not in set(pos)]
    return pos, neg


def train(items: Items, positives: Sequence[str], negatives: Sequence[str],
          background: Sequence[str], params: Params = DEFAULT) -> Profile:
    """Fit the classifier: logistic loss, class-balanced, L2, Nesterov's accelerated gradient
    (the loss is smooth and the features bounded, so a fixed step of 1/L converges)."""
    pos, neg = _known(items, positives, negatives)
    taken = set(pos) | set(neg)
    bg = [b for b in dict.fromkeys(background) if b in items.pos and b not in taken]
    rows = items.rows(pos + neg + bg)
    dense = items.vectors[rows]
    lex = items.lexical.take(rows)
    scale = params.lexical_scale
    y = np.concatenate([np.ones(len(pos)), -np.ones(len(neg) + len(bg))]).astype(np.float32)
    # class weights: the positives weigh 1/2 together, the rest 1/2; a 👎 as much as
    # negative_weight positives, taken from the background's share
    w_pos = 0.5 / max(len(pos), 1)
    w_neg = min(params.negative_weight * w_pos, 0.5 / max(len(neg), 1)) if neg else 0.0
    w_bg = (0.5 - w_neg * len(neg)) / max(len(bg), 1)
    c = np.concatenate([np.full(len(pos), w_pos), np.full(len(neg), w_neg),
                        np.full(len(bg), w_bg)]).astype(np.float32)
    norms2 = (dense * dense).sum(1) + scale * scale * np.bincount(
        lex.row_of, weights=lex.data * lex.data, minlength=len(lex))
    lipschitz = float(norms2.max(initial=1.0)) / 4 + 1.0 / 4 + params.l2  # + the bias
    step = 1.0 / lipschitz
    # float32 throughout (a float64 vector against the float32 matrix leaves BLAS behind)
    wd: np.ndarray = np.zeros(dense.shape[1], dtype=np.float32)
    wl: np.ndarray = np.zeros(lex.width, dtype=np.float32)
    b = 0.0
    vd, vl, vb = wd.copy(), wl.copy(), b
    t = 1.0
    for _ in range(params.iterations):
        z = dense @ vd + scale * lex.dot(vl) + vb
        # d loss / d z for the logistic loss log(1 + exp(-y z)), weighted
        g = (-c * y / (1.0 + np.exp(np.clip(y * z, -30, 30)))).astype(np.float32)
        gd = g @ dense + params.l2 * vd
        gl = scale * lex.t_dot(g) + params.l2 * vl
        gb = float(g.sum())
        nd, nl, nb = vd - step * gd, vl - step * gl, vb - step * gb
        t_next = (1 + math.sqrt(1 + 4 * t * t)) / 2
        momentum = (t - 1) / t_next
        vd, vl, vb = nd + momentum * (nd - wd), nl + momentum * (nl - wl), nb + momentum * (nb - b)
        wd, wl, b, t = nd, nl, nb, t_next
    return Profile(wd.astype(np.float32), wl.astype(np.float32), float(b), tuple(pos),
                   tuple(neg))


def _lexical_similarities(cands: Rows, refs: Rows) -> Floats:
    """(len(cands), len(refs)) dot products of TF-IDF rows, through the few columns the
    reference rows use."""
    out = np.zeros((len(cands), len(refs)), dtype=np.float32)
    if len(refs) == 0 or len(cands) == 0:
        return out
    used = np.unique(refs.indices)
    compact = np.full(refs.width, -1, dtype=np.int64)
    compact[used] = np.arange(len(used))
    table = np.zeros((len(used), len(refs)), dtype=np.float32)
    table[compact[refs.indices], refs.row_of] = refs.data
    hit = compact[cands.indices] >= 0
    rows = cands.row_of[hit]
    contrib = table[compact[cands.indices[hit]]] * cands.data[hit, None]
    for j in range(len(refs)):
        out[:, j] = np.bincount(rows, weights=contrib[:, j], minlength=len(cands))
    return out


@dataclass(frozen=True)
class Scores:
    """Every part of the score of each candidate (arrays in candidate order)."""

    ids: tuple[str, ...]
    classifier: Floats
    knn: Floats  # cosine to the nearest positive (vectors)
    lexical_knn: Floats  # the same by TF-IDF rows
    penalty: Floats  # how much nearer a 👎 paper is than the nearest positive (>= 0)
    per_positive: Floats  # (candidates, positives): nearness to each, for explanations
    shares_author: npt.NDArray[np.bool_]  # an author of a positive is among its authors


def score_parts(items: Items, profile: Profile, candidates: Sequence[str],
                params: Params = DEFAULT) -> Scores:
    rows = items.rows(candidates)
    dense = items.vectors[rows]
    lex = items.lexical.take(rows)
    classifier = dense @ profile.weights_dense + params.lexical_scale * lex.dot(
        profile.weights_lexical) + profile.bias
    prow = items.rows(profile.positives)
    dense_sim = dense @ items.vectors[prow].T
    lex_sim = _lexical_similarities(lex, items.lexical.take(prow))
    per_positive = (dense_sim + NEAR_LEXICAL * lex_sim).astype(np.float32)
    knn = dense_sim.max(1) if len(prow) else np.zeros(len(rows), np.float32)
    lexical_knn = lex_sim.max(1) if len(prow) else np.zeros(len(rows), np.float32)
    penalty = np.zeros(len(rows), dtype=np.float32)
    if profile.negatives:
        nrow = items.rows(profile.negatives)
        neg_near = ((dense @ items.vectors[nrow].T) + NEAR_LEXICAL * _lexical_similarities(
            lex, items.lexical.take(nrow))).max(1)
        pos_near = per_positive.max(1) if len(prow) else np.zeros(len(rows), np.float32)
        penalty = np.maximum(neg_near - pos_near, 0).astype(np.float32)
    own_authors = np.unique(items.lexical.take(prow).indices)
    own_authors = own_authors[items.author_columns[own_authors]]
    hit = np.isin(lex.indices, own_authors)
    shares_author = np.bincount(lex.row_of[hit], minlength=len(rows)) > 0
    return Scores(tuple(candidates), classifier.astype(np.float32), knn.astype(np.float32),
                  lexical_knn.astype(np.float32), penalty, per_positive, shares_author)


def combine(parts: Scores, params: Params = DEFAULT) -> Floats:
    total = (params.classifier_weight * parts.classifier + params.knn_weight * parts.knn
             + params.lexical_knn_weight * parts.lexical_knn
             - params.penalty_weight * parts.penalty)
    out: Floats = total.astype(np.float32)
    return out


def _classifier(items: Items, profile: Profile, ids: Sequence[str], params: Params) -> Floats:
    rows = items.rows(ids)
    out: Floats = (items.vectors[rows] @ profile.weights_dense + params.lexical_scale
                   * items.lexical.take(rows).dot(profile.weights_lexical)
                   + profile.bias).astype(np.float32)
    return out


@dataclass(frozen=True)
class Scored:
    """A reader's candidates and background papers, each part scored by models that did not
    see them: ``folds`` classifiers, each trained without one fold of the background (a
    background paper falls in a fold by a hash of its id). A background paper gets the
    classifier of the one model that did not see it; a candidate the mean of those that did
    not (all of them, unless the candidate is in the background too)."""

    positives: tuple[str, ...]  # the columns of ``per_positive``
    candidates: Scores
    background: Scores


def score(items: Items, positives: Sequence[str], negatives: Sequence[str],
          candidates: Sequence[str], background: Sequence[str], params: Params = DEFAULT
          ) -> Scored | None:
    """Every part of the score of ``candidates`` and of the background (see :class:`Scored`);
    None with fewer than :data:`MIN_POSITIVES` known positives. The candidates are taken as
    given (the caller drops the reader's own papers)."""
    pos, neg = _known(items, positives, negatives)
    if len(pos) < MIN_POSITIVES:
        return None
    dim = items.vectors.shape[1]
    whole = Profile(np.zeros(dim, np.float32), np.zeros(items.lexical.width, np.float32), 0.0,
                    tuple(pos), tuple(neg))  # the nearest-paper parts; no classifier yet
    taken = set(whole.positives) | set(whole.negatives)
    bg = [b for b in dict.fromkeys(background) if b in items.pos and b not in taken]
    k = max(2, params.folds)
    fold_of = {b: zlib.crc32(b.encode()) % k for b in bg}
    cands = list(candidates)
    parts = score_parts(items, whole, cands, params)
    total = np.zeros(len(cands), dtype=np.float64)
    counted = np.zeros(len(cands), dtype=np.float64)
    cand_fold = np.array([fold_of.get(c, -1) for c in cands], dtype=np.int64)
    unseen_parts: list[Scores] = []
    for j in range(k):
        unseen = [b for b in bg if fold_of[b] == j]
        model = train(items, whole.positives, whole.negatives,
                      [b for b in bg if fold_of[b] != j], params)
        if unseen:
            unseen_parts.append(score_parts(items, model, unseen, params))
        use = (cand_fold == -1) | (cand_fold == j)
        if cands and use.any():
            total[use] += _classifier(items, model, [cands[i] for i in np.flatnonzero(use)],
                                      params)
            counted[use] += 1
    classifier = (total / np.maximum(counted, 1)).astype(np.float32)
    return Scored(whole.positives, replace(parts, classifier=classifier),
                  _concat(unseen_parts, whole))


def _concat(parts: Sequence[Scores], profile: Profile) -> Scores:
    if not parts:
        empty = np.zeros(0, dtype=np.float32)
        return Scores((), empty, empty, empty, empty,
                      np.zeros((0, len(profile.positives)), dtype=np.float32),
                      np.zeros(0, dtype=bool))
    return Scores(tuple(i for p in parts for i in p.ids),
                  *(np.concatenate([getattr(p, f) for p in parts])
                    for f in ("classifier", "knn", "lexical_knn", "penalty", "per_positive",
                              "shares_author")))


def on_scale(scored: Scored, params: Params = DEFAULT) -> Floats:
    """The candidates' scores on the reader's scale: how many (robust) standard deviations
    above the typical background paper; ``-inf`` for all when the background has no spread
    (nothing then clears a floor)."""
    return _robust_z(combine(scored.candidates, params), combine(scored.background, params))


def _robust_z(values: Floats, reference: Floats) -> Floats:
    """How many robust standard deviations (1.4826 x the median absolute deviation) each
    value stands above the reference's median; ``-inf`` when the reference has no spread."""
    if len(reference) == 0:
        return np.full(len(values), -np.inf, dtype=np.float32)
    middle = float(np.median(reference))
    spread = 1.4826 * float(np.median(np.abs(reference - middle)))
    if spread <= 1e-6:
        return np.full(len(values), -np.inf, dtype=np.float32)
    out: Floats = ((values - middle) / spread).astype(np.float32)
    return out


def matches(scored: Scored, params: Params = DEFAULT) -> npt.NDArray[np.bool_]:
    """Which candidates are matches: a score on the reader's scale at or above ``floor``,
    and something a reader would recognise besides the model's say-so: an author of one of
    their papers, or a text near one of them (the vector cosine to the nearest positive at
    least ``near_floor`` robust deviations above the background's). A small collection's
    classifier can latch on a rare shared word ("recognition" in a speech reader's papers
    and in a robot paper); this asks the paper to be near the reader's papers too."""
    return (on_scale(scored, params) >= params.floor) & supported(scored, params)


def supported(scored: Scored, params: Params = DEFAULT) -> npt.NDArray[np.bool_]:
    """The second half of :func:`matches`: by an author of the reader's papers, or near one
    of them."""
    near = _robust_z(scored.candidates.knn, scored.background.knn)
    out: npt.NDArray[np.bool_] = scored.candidates.shares_author | (near >= params.near_floor)
    return out


def rank(
    items: Items,
    positives: Sequence[str],
    negatives: Sequence[str],
    candidates: Sequence[str],
    background: Sequence[str],
    params: Params = DEFAULT,
    limit: int | None = None,
) -> list[Recommendation]:
    """The candidates (less the reader's own positives and negatives) best first, each with
    its score on the reader's scale (:func:`on_scale`), whether it clears the floor, and the
    positives that explain it. Empty when fewer than :data:`MIN_POSITIVES` positives are
    known."""
    own = set(positives) | set(negatives)
    cands = [c for c in dict.fromkeys(candidates) if c in items.pos and c not in own]
    scored = score(items, positives, negatives, cands, background, params)
    if scored is None or not cands:
        return []
    parts = scored.candidates
    total = on_scale(scored, params)
    match = matches(scored, params)
    order = np.argsort(-combine(parts, params), kind="stable")
    if limit is not None:
        order = order[:limit]
    out = []
    for i in order:
        shares = parts.per_positive[i]
        best = np.argsort(-shares, kind="stable")[:2]
        because = [scored.positives[best[0]]]
        if len(best) > 1 and shares[best[1]] >= params.because_ratio * shares[best[0]] > 0:
            because.append(scored.positives[best[1]])
        out.append(Recommendation(cands[i], float(total[i]), bool(match[i]), tuple(because)))
    return out
