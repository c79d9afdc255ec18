"""Lexical pseudo-relevance feedback (RM3-style, ``paperwire.search.lexical.PRF_*``), on
training data only (SciFact *test* and the test halves are never read here).

    .venv/bin/python bench/tune_prf.py --home /tmp/terms-bench [--hybrid NAME ...]

Per setting (feedback papers × words × weight): SciFact *train* lexical nDCG@10 and the
*train* half of the arXiv title lookups (bench/tune_lexical.py's, MRR@10 over the 75k
papers of ``--home``, built by bench/tune_terms.py or bench/tune_meet.py); ``--hybrid``:
SciFact train hybrid nDCG@10 for the named settings (and "off").
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from tune_lexical import title_lookups  # noqa: E402
from tune_terms import DATA, is_train, mrr, run  # noqa: E402

import paperwire.search.lexical as lexical  # noqa: E402
from paperwire.config import Settings  # noqa: E402
from paperwire.evaluate import evaluate  # noqa: E402
from paperwire.store import Store  # noqa: E402

GRID = {"off": (5, 10, 0.0), **{f"{d} docs {t} words {w}": (d, t, w)
                                 for d in (3, 5, 10) for t in (10, 20)
                                 for w in (0.1, 0.2, 0.3, 0.5)}}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--home", type=Path, required=True)
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--hybrid", nargs="*", default=[])
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()
    store = Store.open(Settings(home=args.home).resolved_database_url)
    index = lexical.LexicalIndex(args.home / "index" / "bench-lexical")
    index.sync(store)
    titles = [(t, pid) for t, pid in title_lookups() if is_train(pid, args.seed)]
    sf = DATA / "beir" / "scifact"
    print(f"{'setting':<24} {'SF train lex':>12} {'titles MRR':>10} {'ms/query':>8}")
    for name in args.only or list(GRID):
        lexical.PRF_DOCS, lexical.PRF_TERMS, lexical.PRF_WEIGHT = GRID[name]
        t0 = time.perf_counter()
        lex = evaluate(sf, "train", "lexical", home=args.home / "scifact")
        took = lex.p50_ms
        ti = mrr(run(index, [t for t, _ in titles])[0], [p for _, p in titles])
        print(f"{name:<24} {lex.ndcg10:>12.4f} {ti:>10.4f} {took:>8.2f}  "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)
    for name in ["off", *args.hybrid] if args.hybrid else []:
        lexical.PRF_DOCS, lexical.PRF_TERMS, lexical.PRF_WEIGHT = GRID[name]
        hyb = evaluate(sf, "train", "hybrid", home=args.home / "scifact")
        print(f"hybrid {name:<17} {hyb.ndcg10:>12.4f}", flush=True)
    store.close()


if __name__ == "__main__":
    main()
