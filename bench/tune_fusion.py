"""Tune the hybrid fusion on SciFact *train* only, then report the chosen setting on test.

    .venv/bin/python bench/tune_fusion.py

Lexical and dense rankings (top 100) are computed once per query; the fusions are pure
functions, so the grid is cheap. The store and vectors are kept in bench/out/scifact.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "beir" / "scifact"
sys.path.insert(0, str(ROOT / "src"))

from paperwire.config import Settings  # noqa: E402
from paperwire.evaluate import PREFIX, evaluate, load_qrels, load_queries  # noqa: E402
from paperwire.search import fusion  # noqa: E402
from paperwire.search.engine import SearchEngine  # noqa: E402
from paperwire.search.metrics import ndcg_at_k  # noqa: E402
from paperwire.search.query import literal_query  # noqa: E402
from paperwire.store import Store  # noqa: E402

HOME = ROOT / "bench" / "out" / "scifact"


def rankings(engine: SearchEngine, queries: dict[str, str], qids: list[str]) -> dict[str, tuple[
    dict[str, float], dict[str, float]
]]:
    out = {}
    for qid in qids:
        q = literal_query(queries[qid])
        view = engine.lexical.view()
        lex = dict(engine._ranked(q, "lexical", 100, view)[0])
        den = dict(engine._ranked(q, "dense", 100, view)[0])
        out[qid] = (lex, den)
    return out


def score(fused: dict[str, list[str]], qrels: dict[str, dict[str, int]]) -> float:
    return sum(ndcg_at_k([d.removeprefix(PREFIX) for d in fused[q]], qrels[q])
               for q in fused) / len(fused)


def main() -> None:
    evaluate(DATA, "train", "hybrid", home=HOME)  # imports and embeds the corpus once
    settings = Settings(home=HOME)
    engine = SearchEngine(Store.open(settings.resolved_database_url), settings)
    engine.sync(embed=False)
    queries = load_queries(DATA)
    results = {}
    for split in ("train", "test"):
        qrels = load_qrels(DATA, split)
        qids = [q for q in qrels if q in queries]
        ranks = rankings(engine, queries, qids)
        grid: dict[str, dict[str, list[str]]] = {
            "lexical": {q: list(lex) for q, (lex, _) in ranks.items()},
            "dense": {q: list(den) for q, (_, den) in ranks.items()},
        }
        for k in (10, 20, 40, 60, 100):
            for w in (0.5, 0.75, 1.0, 1.25, 1.5, 2.0):
                grid[f"rrf k={k} w_lex={w}"] = {
                    q: [d for d, _ in fusion.rrf([list(lex), list(den)], k=k, weights=[w, 1.0])]
                    for q, (lex, den) in ranks.items()}
        for a in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
            grid[f"convex alpha={a}"] = {
                q: [d for d, _ in fusion.convex(lex, den, a)] for q, (lex, den) in ranks.items()}
        results[split] = {name: score(f, qrels) for name, f in grid.items()}
    train = results["train"]
    best = max((n for n in train if n not in ("lexical", "dense")), key=lambda n: train[n])
    print(f"{'setting':<26} {'train nDCG@10':>14} {'test nDCG@10':>13}")
    for name in ("lexical", "dense", "rrf k=60 w_lex=1.0", best):
        print(f"{name:<26} {train[name]:>14.4f} {results['test'][name]:>13.4f}")
    print(f"chosen on train: {best}")


if __name__ == "__main__":
    main()
