"""Vector pseudo-relevance feedback (Rocchio on the query's embedding), chosen on train only.

    .venv/bin/python bench/tune_vprf.py [--arxiv-docs 4000]

The shipped hybrid (windows max-pooled, dense fill-in, lexical weight by query length) is the
baseline. Each variant moves the query's vector toward the mean vector of the top ``k`` papers
of a first ranking (the fused one, or the dense one), ``q' = q + β · mean(top k)``, scores the
collection again with ``q'`` and fuses that with the same lexical ranking. Training signals as
in bench/tune_quality.py (SciFact train, the train halves of the arXiv lookups); SciFact test is
never read here.
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
from tune_quality import CACHE, Corpus, fused, lexical_runs  # noqa: E402

from paperwire.config import Settings  # noqa: E402
from paperwire.embed import OnnxEmbedder  # noqa: E402
from paperwire.evaluate import PREFIX, evaluate, load_qrels, load_queries  # noqa: E402
from paperwire.importers import run_import  # noqa: E402
from paperwire.search import fusion  # noqa: E402
from paperwire.search.metrics import ndcg_at_k  # noqa: E402
from paperwire.store import Store  # noqa: E402

SHORT, LONG = 0.6, 0.4
KS = (1, 3, 5, 10)
BETAS = (0.25, 0.5, 1.0)


def report(name: str, corpus: Corpus, qtexts: dict[str, str], qvecs: np.ndarray,
           lex: dict[str, list[tuple[str, float]]], metric: Callable[[str, list[str]], float]
           ) -> None:
    qids = list(qtexts)
    alphas = [fusion.query_alpha(len(qtexts[q].split()), SHORT, LONG) for q in qids]

    def mean(rankings: list[list[str]]) -> float:
        return float(np.mean([metric(q, r) for q, r in zip(qids, rankings, strict=True)]))

    def hybrid(s: np.ndarray) -> list[list[str]]:
        return [fused(s[i], corpus.ids, corpus.pos, lex[q], alphas[i], True)
                for i, q in enumerate(qids)]

    s0 = corpus.scores(qvecs, "windows")
    base = hybrid(s0)
    print(f"\n## {name} ({len(qids)} queries)")
    dense = mean([[corpus.ids[j] for j in np.argsort(-r)[:100]] for r in s0])
    print(f"shipped hybrid {mean(base):.4f}   dense {dense:.4f}")
    dense_top = [[corpus.pos[corpus.ids[j]] for j in np.argsort(-row)[:max(KS)]] for row in s0]
    fused_top = [[corpus.pos[d] for d in r[:max(KS)]] for r in base]
    for source, tops in (("fused", fused_top), ("dense", dense_top)):
        cells = []
        for k in KS:
            for beta in BETAS:
                q2 = np.array(qvecs, copy=True)
                for i, top in enumerate(tops):
                    q2[i] = qvecs[i] + beta * corpus.first[top[:k]].mean(axis=0)
                q2 /= np.linalg.norm(q2, axis=1, keepdims=True)
                cells.append(f"k{k} β{beta} {mean(hybrid(corpus.scores(q2, 'windows'))):.4f}")
        print(f"{source:<6} " + " | ".join(cells), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--arxiv-docs", type=int, default=4000)
    args = ap.parse_args()
    CACHE.mkdir(parents=True, exist_ok=True)
    emb = OnnxEmbedder(CACHE / "models")

    with gzip.open(SCIFACT / "corpus.jsonl.gz", "rt", encoding="utf-8") as fh:
        docs = [json.loads(line) for line in fh]
    corpus = Corpus("scifact", [d["_id"] for d in docs], [d["title"] for d in docs],
                    [d["text"] for d in docs], emb)
    home = OUT / "scifact-train"
    evaluate(SCIFACT, "train", "lexical", home=home)
    qrels = load_qrels(SCIFACT, "train")
    queries = {q: t for q, t in load_queries(SCIFACT).items() if q in qrels}
    lex = lexical_runs(home, queries, PREFIX)
    report("SciFact train nDCG@10", corpus, queries, emb.embed(list(queries.values())), lex,
           lambda q, r: ndcg_at_k(r, qrels[q], 10))

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
