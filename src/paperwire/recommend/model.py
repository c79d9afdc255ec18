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
   interests gets papers near either, where the mean of the library falls between them;
3. the same by TF-IDF row, authors included: the next paper of a group the reader follows.

A candidate nearer to a 👎 paper than to any positive loses the difference
(``negative_weight`` times), so one 👎 pushes its neighbours down at once.

Scores are on one absolute scale (a logit and two cosines), the same for every reader, so
one ``floor`` tells a match from the rest: below it a candidate is never called a match. The
weights and the floor are chosen on simulated TRAIN users of real arXiv data by
``bench/recommend_bench.py`` (BENCHMARKS.md has the figures); the test users only report.

Each recommendation names the (at most two) positives that contribute most to parts 2 and 3:
"because you saved X and Y".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from paperwire.recommend.lexical import Floats, LexicalSpace, Rows, build_space

MIN_POSITIVES = 2  # below this there is nothing to learn from


@dataclass(frozen=True)
class Params:
    """The model's settings; the defaults are the ones chosen on the benchmark's train users."""

    classifier_weight: float = 1.0  # weight of the classifier's logit
    knn_weight: float = 4.0  # weight of the nearest positive's vector cosine
    lexical_knn_weight: float = 2.0  # weight of the nearest positive's TF-IDF cosine
    lexical_scale: float = 1.0  # scale of the TF-IDF block in the classifier's features
    l2: float = 1e-3  # the classifier's L2 penalty
    iterations: int = 150
    negative_weight: float = 3.0  # a 👎 counts as much as this many positives
    floor: float = 2.0  # a candidate scoring below is never labelled a match
    because_ratio: float = 0.75  # a second positive is named when it explains this much


DEFAULT = Params()


@dataclass(frozen=True)
class Recommendation:
    paper_id: str
    score: float
    match: bool  # at or above the floor
    because: tuple[str, ...]  # the positives most responsible (one or two)


@dataclass(frozen=True)
class Items:
    """Every paper one ranking looks at (positives, negatives, background, candidates): row
    ``i`` of ``vectors`` (unit length, float32) and of ``lexical`` belongs to ``ids[i]``."""

    ids: tuple[str, ...]
    pos: dict[str, int]
    vectors: Floats
    lexical: Rows

    @classmethod
    def of(cls, ids: Sequence[str], vectors: npt.ArrayLike, lexical: Rows) -> Items:
        matrix = np.asarray(vectors, dtype=np.float32)
        if len(ids) != len(matrix) or len(ids) != len(lexical):
            raise ValueError("one vector and one lexical row per id")
        return cls(tuple(ids), {pid: i for i, pid in enumerate(ids)}, matrix, lexical)

    @classmethod
    def build(cls, papers: Sequence[tuple[str, str, Sequence[str]]], vectors: npt.ArrayLike,
              author_weight: float = 0.5) -> Items:
        """From (id, title + abstract, authors) and the vectors in the same order."""
        space: LexicalSpace = build_space(papers, author_weight=author_weight)
        return cls.of(space.ids, vectors, space.rows)

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


def train(items: Items, positives: Sequence[str], negatives: Sequence[str],
          background: Sequence[str], params: Params = DEFAULT) -> Profile:
    """Fit the classifier: logistic loss, class-balanced, L2, Nesterov's accelerated gradient
    (the loss is smooth and the features bounded, so a fixed step of 1/L converges)."""
    pos = [p for p in dict.fromkeys(positives) if p in items.pos]
    neg = [n for n in dict.fromkeys(negatives) if n in items.pos and n not in set(pos)]
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
    per_positive: Floats  # (candidates, positives): each positive's share, for explanations


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
    per_positive = (params.knn_weight * dense_sim
                    + params.lexical_knn_weight * lex_sim).astype(np.float32)
    knn = dense_sim.max(1) if len(prow) else np.zeros(len(rows), np.float32)
    lexical_knn = lex_sim.max(1) if len(prow) else np.zeros(len(rows), np.float32)
    penalty = np.zeros(len(rows), dtype=np.float32)
    if profile.negatives:
        nrow = items.rows(profile.negatives)
        neg_near = (params.knn_weight * (dense @ items.vectors[nrow].T)
                    + params.lexical_knn_weight * _lexical_similarities(
                        lex, items.lexical.take(nrow))).max(1)
        pos_near = per_positive.max(1) if len(prow) else np.zeros(len(rows), np.float32)
        penalty = np.maximum(neg_near - pos_near, 0).astype(np.float32)
    return Scores(tuple(candidates), classifier.astype(np.float32), knn.astype(np.float32),
                  lexical_knn.astype(np.float32), penalty, per_positive)


def combine(parts: Scores, params: Params = DEFAULT) -> Floats:
    total = (params.classifier_weight * parts.classifier + params.knn_weight * parts.knn
             + params.lexical_knn_weight * parts.lexical_knn
             - params.negative_weight * parts.penalty)
    out: Floats = total.astype(np.float32)
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
    its score, whether it clears the floor, and the positives that explain it. Empty when
    fewer than :data:`MIN_POSITIVES` positives are known."""
    profile = train(items, positives, negatives, background, params)
    if len(profile.positives) < MIN_POSITIVES:
        return []
    own = set(profile.positives) | set(profile.negatives)
    cands = [c for c in dict.fromkeys(candidates) if c in items.pos and c not in own]
    if not cands:
        return []
    parts = score_parts(items, profile, cands, params)
    total = combine(parts, params)
    order = np.argsort(-total, kind="stable")
    if limit is not None:
        order = order[:limit]
    out = []
    for i in order:
        shares = parts.per_positive[i]
        best = np.argsort(-shares, kind="stable")[:2]
        because = [profile.positives[best[0]]]
        if len(best) > 1 and shares[best[1]] >= params.because_ratio * shares[best[0]] > 0:
            because.append(profile.positives[best[1]])
        out.append(Recommendation(cands[i], float(total[i]), bool(total[i] >= params.floor),
                                  tuple(because)))
    return out
