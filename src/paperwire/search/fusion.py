"""Fusing rankings (pure functions, no I/O).

- Reciprocal rank fusion: ``score(d) = Σ_r w_r / (k + rank_r(d))`` over the rankings that hold d
  (rank 1 is the best). Needs no score calibration.
- Convex combination: ``score(d) = α · norm(lexical(d)) + (1 − α) · norm(dense(d))`` where norm
  is min-max over each list; a document missing from a list gets 0 from it.
- Query-dependent weight (:func:`query_alpha`): short keyword queries lean lexical, long
  natural-language ones lean dense.

Ties break on the document id so the order is deterministic.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

RRF_K = 60


def rrf(
    rankings: Sequence[Sequence[str]],
    k: float = RRF_K,
    weights: Sequence[float] | None = None,
) -> list[tuple[str, float]]:
    weights = weights or [1.0] * len(rankings)
    if len(weights) != len(rankings):
        raise ValueError("one weight per ranking")
    score: dict[str, float] = defaultdict(float)
    for ranking, w in zip(rankings, weights, strict=True):
        for rank, doc in enumerate(ranking, start=1):
            score[doc] += w / (k + rank)
    return sorted(score.items(), key=lambda item: (-item[1], item[0]))


def _minmax(scores: Mapping[str, float]) -> dict[str, float]:
    if not scores:
        return {}
    lo, hi = min(scores.values()), max(scores.values())
    if hi == lo:
        return {d: 1.0 for d in scores}
    return {d: (s - lo) / (hi - lo) for d, s in scores.items()}


def convex(
    lexical: Mapping[str, float], dense: Mapping[str, float], alpha: float
) -> list[tuple[str, float]]:
    if not 0.0 <= alpha <= 1.0:
        raise ValueError("alpha must be between 0 and 1")
    lex, den = _minmax(lexical), _minmax(dense)
    fused = {d: alpha * lex.get(d, 0.0) + (1 - alpha) * den.get(d, 0.0) for d in lex.keys() | den}
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))


def query_alpha(words: int, short_alpha: float, long_alpha: float, short_words: int = 3,
                long_words: int = 9) -> float:
    """The lexical weight for a query of ``words`` words: ``short_alpha`` up to
    ``short_words``, ``long_alpha`` from ``long_words`` on, linear in between."""
    if long_words <= short_words:
        return long_alpha if words > short_words else short_alpha
    t = min(max((words - short_words) / (long_words - short_words), 0.0), 1.0)
    return short_alpha + (long_alpha - short_alpha) * t
