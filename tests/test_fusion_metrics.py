import math

import pytest

from paperwire.search.fusion import convex, rrf
from paperwire.search.metrics import mrr_at_k, ndcg_at_k, percentile, recall_at_k


def test_rrf_rewards_agreement_and_breaks_ties_by_id() -> None:
    fused = rrf([["a", "b", "c"], ["b", "a", "d"]], k=60)
    assert [d for d, _ in fused] == ["a", "b", "c", "d"]  # a and b tie; a < b
    assert fused[0][1] == pytest.approx(1 / 61 + 1 / 62)
    assert fused[2][1] == pytest.approx(1 / 63)
    weighted = rrf([["a"], ["b"]], weights=[1.0, 2.0])
    assert [d for d, _ in weighted] == ["b", "a"]
    with pytest.raises(ValueError):
        rrf([["a"]], weights=[1.0, 2.0])


def test_convex_normalises_each_list() -> None:
    lex = {"a": 10.0, "b": 5.0, "c": 0.0}
    den = {"b": 0.9, "d": 0.5}
    fused = dict(convex(lex, den, alpha=0.5))
    assert fused == pytest.approx({"a": 0.5, "b": 0.75, "c": 0.0, "d": 0.0})
    assert [d for d, _ in convex(lex, den, alpha=1.0)][:2] == ["a", "b"]
    assert convex(lex, den, alpha=0.0)[0][0] == "b"
    with pytest.raises(ValueError):
        convex(lex, den, alpha=1.5)


def test_ndcg_recall_mrr_on_hand_computed_cases() -> None:
    qrels = {"x": 1, "y": 2}
    assert ndcg_at_k(["y", "x"], qrels) == pytest.approx(1.0)
    dcg = 1 / math.log2(2) + 2 / math.log2(4)
    idcg = 2 / math.log2(2) + 1 / math.log2(3)
    assert ndcg_at_k(["x", "n", "y"], qrels) == pytest.approx(dcg / idcg)
    assert ndcg_at_k(["n"] * 10 + ["x"], qrels, k=10) == 0.0
    assert recall_at_k(["x", "n"], qrels, k=100) == 0.5
    assert recall_at_k(["n", "y"], qrels, k=1) == 0.0
    assert mrr_at_k(["n", "n", "y"], qrels) == pytest.approx(1 / 3)
    assert mrr_at_k(["n"], qrels) == 0.0 and ndcg_at_k([], {}) == 0.0


def test_percentile() -> None:
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([5], 99) == 5
    assert percentile(list(range(101)), 99) == 99
    assert percentile([], 50) == 0.0
