"""Acronyms and their long forms meeting, and the query-term fixes of issue 14, measured on
training data only; ``--test`` reads the test halves and SciFact *test* instead, once, for
the settings chosen on train.

    .venv/bin/python bench/tune_meet.py --home /tmp/terms-bench [--hybrid] [--only NAME ...]

For each configuration (module switches of :mod:`paperwire.search.lexical`), on the *train*
halves of bench/tune_terms.py's arXiv sets (75k papers): acronym swaps (swap MRR@10, own-words
MRR@10, agree@10: the share of the top 10 the two forms have in common), typo and rare-typo
lookups (MRR@10), title lookups (bench/tune_lexical.py's, MRR@10); and SciFact *train*
lexical nDCG@10 (hybrid too with ``--hybrid``; its vectors are embedded once into
``--home``/scifact). Also the top-10 overlap of a few acronym / long-form pairs typed alone.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from tune_lexical import title_lookups  # noqa: E402
from tune_terms import (  # noqa: E402
    DATA,
    acronym_swaps,
    agreement,
    is_train,
    load_papers,
    mrr,
    run,
    typo_lookups,
)

import paperwire.search.lexical as lexical  # noqa: E402
from paperwire.config import Settings  # noqa: E402
from paperwire.evaluate import evaluate  # noqa: E402
from paperwire.importers import run_import  # noqa: E402
from paperwire.store import Store  # noqa: E402

PAIRS = (("LLM", "large language model"), ("RAG", "retrieval augmented generation"),
         ("ViT", "vision transformer"), ("GNN", "graph neural network"),
         ("RL", "reinforcement learning"), ("LLMs", "large language models"))
Config = dict[str, object]
GRID = [(w, t, ww, b) for w in (0.25, 0.35, 0.5, 0.75, 1.0) for t in (0.0, 0.1, 0.5)
        for ww in (0.0, 0.25, 0.5) for b in (0.0, 0.1, 0.25, 0.5)]
CONFIGS: dict[str, Config] = {
    "as merged (terms)": {"ACRONYMS_AS_WRITTEN": False, "MEET_WEIGHT": 0.0},
    "task 1 fixes": {"MEET_WEIGHT": 0.0},
    **{f"meet {w} tie {t} words {ww} typed {b}": {
        "MEET_WEIGHT": w, "MEET_TIE": t, "MEET_WORDS": ww, "MEET_TYPED": b}
       for w, t, ww, b in GRID},
}


def configure(base: dict[str, object], cfg: Config) -> None:
    for k, v in base.items():
        setattr(lexical, k, v)
    for k, v in cfg.items():
        setattr(lexical, k, v)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--home", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--n", type=int, default=800)
    ap.add_argument("--hybrid", action="store_true")
    ap.add_argument("--only", nargs="*", help="configurations to run (names)")
    ap.add_argument("--test", action="store_true",
                    help="read the TEST halves and SciFact test instead (once, at the end, "
                         "for the settings chosen on train)")
    args = ap.parse_args()
    store = Store.open(Settings(home=args.home).resolved_database_url)
    if store.count_papers() == 0:
        run_import(store, sorted((DATA / "arxiv").glob("papers-*.jsonl.gz")), progress=True)
    index = lexical.LexicalIndex(args.home / "index" / "bench-lexical")
    index.sync(store)
    papers = load_papers()
    part = "test" if args.test else "train"

    def half(pid: str) -> bool:
        return is_train(pid, args.seed) != args.test

    swaps = [q for q in acronym_swaps(papers, args.n, args.seed) if half(q[2])]
    typos = [q for q in typo_lookups(papers, args.n, args.seed, index) if half(q[2])]
    rare = [q for q in typo_lookups(papers, args.n, args.seed, index, rare=True)
            if half(q[2])]
    titles = [(t, pid) for t, pid in title_lookups() if half(pid)]
    print(f"{part}: {len(swaps)} swaps, {len(typos)} typos, {len(rare)} rare typos, "
          f"{len(titles)} title lookups; SciFact {part}")
    base = {k: getattr(lexical, k) for c in CONFIGS.values() for k in c}
    names = args.only or list(CONFIGS)

    def top(qs: list[str]) -> list[list[str]]:
        return run(index, qs)[0]

    def sf(mode: str) -> Callable[[], float]:
        return lambda: evaluate(DATA / "beir" / "scifact", part, mode,
                                home=args.home / "scifact").ndcg10

    print(f"{'config':<28} {'swap':>7} {'own':>7} {'agree':>7} {'typo':>7} {'rare':>7} "
          f"{'titles':>7} {'SF lex':>7} {'SF hyb':>7}  pairs (shared of 10)")
    for name in names:
        configure(base, CONFIGS[name])
        s, o = top([q for q, _, _ in swaps]), top([o for _, o, _ in swaps])
        ids = [pid for _, _, pid in swaps]
        ty = mrr(top([q for q, _, _ in typos]), [p for _, _, p in typos])
        ra = mrr(top([q for q, _, _ in rare]), [p for _, _, p in rare])
        ti = mrr(top([t for t, _ in titles]), [p for _, p in titles])
        lex = sf("lexical")()
        hyb = sf("hybrid")() if args.hybrid else float("nan")
        shared = [len(set(a[:10]) & set(b[:10])) for a, b in
                  zip(top([a for a, _ in PAIRS]), top([b for _, b in PAIRS]), strict=True)]
        print(f"{name:<28} {mrr(s, ids):>7.4f} {mrr(o, ids):>7.4f} {agreement(s, o):>7.4f} "
              f"{ty:>7.4f} {ra:>7.4f} {ti:>7.4f} {lex:>7.4f} {hyb:>7.4f}  {shared}",
              flush=True)
    if args.test:  # dense reads none of the switches (spelling as merged): once
        print(f"SciFact test dense nDCG@10 {sf('dense')():.4f}")
    store.close()


if __name__ == "__main__":
    main()
