"""The search quality step-up, chosen on training data only; SciFact *test* is never read here.

    .venv/bin/python bench/tune_quality.py [--arxiv-docs 4000]

Training signals: SciFact *train* (809 claims, nDCG@10) and the *train* halves of the arXiv
title and sentence lookups of bench/search_bench.py (MRR@10, over a seeded sample of papers).
Vectors are computed once with Paperwire's embedder and cached in bench/out/quality/: the
first window of every paper (``paper_text``, what Paperwire embedded before windows), its
later windows (``OnnxEmbedder.windows``) and its title alone. Lexical rankings (top 100, with
BM25 scores) come from Paperwire's own index. The variants, each alone:

- dense: first window only / max over windows / title vector mixed in (weight w);
- hybrid: convex α over min-max scores, with or without the dense scores of lexical
  candidates outside the dense top 100 filled in; α by query length
  (:func:`paperwire.search.fusion.query_alpha`).
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from search_bench import OUT, SCIFACT, arxiv_papers, arxiv_query_sets  # noqa: E402

from paperwire.config import Settings  # noqa: E402
from paperwire.embed import OnnxEmbedder, paper_text  # noqa: E402
from paperwire.evaluate import PREFIX, evaluate, load_qrels, load_queries  # noqa: E402
from paperwire.importers import run_import  # noqa: E402
from paperwire.search import fusion  # noqa: E402
from paperwire.search.lexical import LexicalIndex  # noqa: E402
from paperwire.search.metrics import ndcg_at_k  # noqa: E402
from paperwire.search.query import literal_query  # noqa: E402
from paperwire.store import Store  # noqa: E402

CACHE = OUT / "quality"
ALPHAS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)


class Corpus:
    """Cached vectors of one corpus: first windows, later windows (with their owner) and
    titles, one row per document in ``ids`` order."""

    def __init__(self, name: str, ids: list[str], titles: list[str], abstracts: list[str],
                 emb: OnnxEmbedder) -> None:
        self.ids, self.pos = ids, {pid: i for i, pid in enumerate(ids)}
        first, title, later = (CACHE / f"{name}-{x}.npy" for x in ("base", "title", "wins"))
        owner = CACHE / f"{name}-owner.npy"
        if not first.exists():
            np.save(first, emb.embed([paper_text(t, a) for t, a in zip(titles, abstracts,
                                                                          strict=True)]))
        if not title.exists():
            np.save(title, emb.embed(titles))
        if not later.exists():
            texts, owners = [], []
            for i, (t, a) in enumerate(zip(titles, abstracts, strict=True)):
                for w in emb.windows(t, a):
                    texts.append(w)
                    owners.append(i)
            np.save(later, emb.embed(texts))
            np.save(owner, np.array(owners, dtype=np.int64))
        self.first, self.title = np.load(first), np.load(title)
        self.later, self.owner = np.load(later), np.load(owner)

    def scores(self, queries: np.ndarray, how: str, w: float = 0.0) -> np.ndarray:
        """(queries × documents) similarities for one dense variant."""
        s = queries @ self.first.T
        if how.startswith("windows") and len(self.later):
            later = queries @ self.later.T
            for j, doc in enumerate(self.owner):
                np.maximum(s[:, doc], later[:, j], out=s[:, doc])
        if how.endswith("title"):
            s = (1 - w) * s + w * (queries @ self.title.T)
        return s


def _minmax(d: dict[str, float]) -> dict[str, float]:
    lo, hi = min(d.values()), max(d.values())
    return {k: (v - lo) / (hi - lo) if hi > lo else 1.0 for k, v in d.items()}


def fused(s: np.ndarray, ids: list[str], pos: dict[str, int], lex: list[tuple[str, float]],
          alpha: float, fill: bool) -> list[str]:
    top = np.argpartition(-s, 100)[:100]
    den = {ids[j]: float(s[j]) for j in top}
    if fill:
        for pid, _ in lex:
            den.setdefault(pid, float(s[pos[pid]]))
    return [d for d, _ in fusion.convex(dict(lex), den, alpha)]


def lexical_runs(home: Path, queries: dict[str, str], strip: str = "") -> dict[str, list[
        tuple[str, float]]]:
    index = LexicalIndex(home / "index" / "lexical")
    index.sync(Store.open(Settings(home=home).resolved_database_url))
    view = index.view()
    assert view is not None
    return {q: [(h.paper_id.removeprefix(strip), h.score)
                for h in view.search(literal_query(t), 100, highlight=False)]
            for q, t in queries.items()}


def report(name: str, corpus: Corpus, qtexts: dict[str, str], qvecs: np.ndarray,
           lex: dict[str, list[tuple[str, float]]], metric: Callable[[str, list[str]], float]
           ) -> None:
    qids = list(qtexts)
    words = [len(qtexts[q].split()) for q in qids]

    def mean(rankings: list[list[str]]) -> float:
        return float(np.mean([metric(q, r) for q, r in zip(qids, rankings, strict=True)]))

    print(f"\n## {name} ({len(qids)} queries)")
    print(f"lexical: {mean([[d for d, _ in lex[q]] for q in qids]):.4f}")
    for how, w in (("first", 0.0), ("windows", 0.0), ("first+title", 0.1),
                   ("first+title", 0.2), ("windows+title", 0.1)):
        s = corpus.scores(qvecs, how, w)
        dense = mean([[corpus.ids[j] for j in np.argsort(-row)[:100]] for row in s])
        cells = []
        for fill in (False, True):
            for a in ALPHAS:
                r = [fused(s[i], corpus.ids, corpus.pos, lex[q], a, fill)
                     for i, q in enumerate(qids)]
                cells.append(f"{'fill ' if fill else ''}α{a} {mean(r):.4f}")
        if how == "windows":
            for short in (0.6, 0.7):
                r = [fused(s[i], corpus.ids, corpus.pos, lex[q],
                           fusion.query_alpha(words[i], short, 0.4), True)
                     for i, q in enumerate(qids)]
                cells.append(f"fill α(len) {short}→0.4 {mean(r):.4f}")
        label = how + (f" w={w}" if w else "")
        print(f"{label:<18} dense {dense:.4f} | " + " | ".join(cells), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--arxiv-docs", type=int, default=4000)
    args = ap.parse_args()
    CACHE.mkdir(parents=True, exist_ok=True)
    emb = OnnxEmbedder(CACHE / "models")

    # SciFact train
    with gzip.open(SCIFACT / "corpus.jsonl.gz", "rt", encoding="utf-8") as fh:
        docs = [json.loads(line) for line in fh]
    corpus = Corpus("scifact", [d["_id"] for d in docs], [d["title"] for d in docs],
                    [d["text"] for d in docs], emb)
    home = OUT / "scifact-train"
    evaluate(SCIFACT, "train", "lexical", home=home)  # imports and indexes once
    qrels = load_qrels(SCIFACT, "train")
    queries = {q: t for q, t in load_queries(SCIFACT).items() if q in qrels}
    lex = lexical_runs(home, queries, PREFIX)
    report("SciFact train nDCG@10", corpus, queries, emb.embed(list(queries.values())), lex,
           lambda q, r: ndcg_at_k(r, qrels[q], 10))

    # arXiv lookups, train halves
    papers = arxiv_papers(args.arxiv_docs)
    name = f"arxiv{len(papers)}"
    corpus = Corpus(name, [p["id"] for p in papers], [p["title"] for p in papers],
                    [p["summary"] for p in papers], emb)
    home = OUT / f"{name}-train"
    store = Store.open(Settings(home=home).resolved_database_url)
    if store.count_papers() < len(papers):
        home.mkdir(parents=True, exist_ok=True)
        with gzip.open(home / "papers.jsonl.gz", "wt", encoding="utf-8") as fh:
            for p in papers:
                fh.write(json.dumps(p) + "\n")
        run_import(store, [home / "papers.jsonl.gz"], fmt="arxiv", progress=False)
    for set_name, split in arxiv_query_sets(papers).items():
        train = split["train"]
        texts = {q: t for q, (t, _) in train.items()}
        lex = lexical_runs(home, texts)

        def mrr(q: str, r: list[str], train: Any = train) -> float:
            top = r[:10]
            return 1 / (top.index(train[q][1]) + 1) if train[q][1] in top else 0.0

        report(f"arXiv {set_name} lookups, train half, MRR@10", corpus, texts,
               emb.embed(list(texts.values())), lex, mrr)



if __name__ == "__main__":
    main()
