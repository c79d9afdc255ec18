"""The relevance floor (search/floor.py): its thresholds calibrated on SciFact *train*, then
measured once on SciFact *test*.

    .venv/bin/python bench/floor_bench.py [--apply]

For every query, hybrid's candidates (top 100 of each retriever, fused) are computed once
through the real engine, with each candidate's BM25 score and cosine similarity to the query
(max over its windows, as the fusion sees it);
the floor is a pure function of those, so the grid is cheap. Two figures (issue 14):

- keep: of the judged-relevant papers hybrid ranks in its top 10, the share the floor keeps
  as matches (target ≥ 95%);
- cut: of hybrid's top-20 slots that hold a dense-only candidate (not among the lexical
  candidates) with no judged relevance, the share the floor removes (target ≥ 50%).

Also shown: the share of the top-20 slots held by lexical candidates with no judged relevance
that the floor removes ("lex. cut"), and the mean matches per query. The choice on train: the
lowest cosine bar for any candidate that removes ≥ 60% of the unjudged dense-only top-20
slots (a margin over the 50% target; lower keeps more papers found by meaning alone), then
the bars for candidates holding some of the words that remove the most unjudged lexical
top-20 slots while keeping ≥ 97% (a margin over 95%). ``--apply`` reports the engine's
FloorParams on test and chooses nothing (what bench/search_bench.py prints).
The store and vectors are kept in bench/out/scifact (shared with bench/tune_fusion.py).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "beir" / "scifact"
HOME = ROOT / "bench" / "out" / "scifact"
sys.path.insert(0, str(ROOT / "src"))

from paperwire.config import Settings  # noqa: E402
from paperwire.evaluate import PREFIX, evaluate, load_qrels, load_queries  # noqa: E402
from paperwire.search.engine import SearchEngine  # noqa: E402
from paperwire.search.floor import FloorParams, matches, required_words  # noqa: E402
from paperwire.search.query import literal_query  # noqa: E402
from paperwire.store import Store  # noqa: E402

COSINES = [round(0.20 + 0.01 * i, 2) for i in range(51)]  # 0.20 … 0.70
LEXICAL_COSINES = [0.15, 0.20, 0.25, 0.30, 0.35]
RELATIVES = [0.0, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75]
KEEP_ON_TRAIN = 0.97
CUT_ON_TRAIN = 0.60


@dataclass(frozen=True)
class Query:
    top: list[str]  # hybrid's top 20, best first
    every_word: set[str]  # the candidates holding every required word
    lexical: set[str]  # the lexical candidates
    cosine: dict[str, float]  # each candidate's cosine similarity to the query
    relevant: set[str]


def candidates(engine: SearchEngine, text: str, relevant: set[str]) -> Query:
    view = engine.lexical.view()
    q = literal_query(text)
    fused, lex_hits, _, cosine = engine._ranked(q, "hybrid", 100, view)
    assert view is not None
    whole = view.with_every_word(q, required_words(q.terms), [pid for pid, _ in fused])
    return Query([pid for pid, _ in fused[:20]], whole, set(lex_hits), cosine, relevant)


def measure(queries: list[Query], params: FloorParams) -> dict[str, float]:
    kept = relevant = cut = dense_junk = lex_cut = lex_junk = count = 0
    for q in queries:
        found = matches(q.every_word, q.lexical, q.cosine, params)
        count += len(found)
        for i, pid in enumerate(q.top):
            if pid in q.relevant:
                if i < 10:
                    relevant += 1
                    kept += pid in found
            elif pid in q.lexical:
                lex_junk += 1
                lex_cut += pid not in found
            else:
                dense_junk += 1
                cut += pid not in found
    return {"keep": kept / max(relevant, 1), "cut": cut / max(dense_junk, 1),
            "lexical_cut": lex_cut / max(lex_junk, 1),
            "removed": (cut + lex_cut) / max(dense_junk + lex_junk, 1),
            "matches": count / max(len(queries), 1)}


def load(engine: SearchEngine, split: str) -> list[Query]:
    texts, qrels = load_queries(DATA), load_qrels(DATA, split)
    return [candidates(engine, texts[q], {PREFIX + d for d, s in qrels[q].items() if s > 0})
            for q in qrels if q in texts]


def row(name: str, r: dict[str, float]) -> str:
    return (f"{name:<52} {r['keep']:>7.1%} {r['cut']:>9.1%} {r['lexical_cut']:>9.1%} "
            f"{r['matches']:>8.1f}")


HEADER = f"{'setting':<52} {'keep':>7} {'cut':>9} {'lex. cut':>9} {'matches':>8}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--apply", action="store_true",
                    help="report the engine's FloorParams; choose nothing")
    run(ap.parse_args().apply)


def run(apply: bool) -> None:
    """Calibrate on train and report on test; with ``apply``, only report the engine's
    FloorParams on test (what bench/search_bench.py prints)."""
    settings = Settings(home=HOME)
    if not (HOME / "paperwire.db").is_file():
        evaluate(DATA, "train", "hybrid", home=HOME)  # imports and embeds the corpus once
    engine = SearchEngine(Store.open(settings.resolved_database_url), settings)
    engine.sync(embed=False)
    if apply:
        chosen = engine.floor
    else:
        train = load(engine, "train")
        print(f"## SciFact train ({len(train)} queries): the calibration curve")
        ok = choose(train)
        chosen = ok[0]
        print(f"\nchosen on train: {name(chosen)}")
        print(row("  on train", measure(train, chosen)))
        print("\nneighbours of the choice on train:")
        print(HEADER)
        for p in ok[1:]:
            print(row(name(p), measure(train, p)))
    test = load(engine, "test")
    print(f"\n## SciFact test ({len(test)} queries), read once")
    print(HEADER)
    print(row(name(chosen), measure(test, chosen)))
    print(row("no floor", measure(test, FloorParams(-1.0, -1.0, 0.0))))


def name(p: FloorParams) -> str:
    return (f"cos ≥ {p.min_cosine:.2f}; words + cos ≥ max({p.lexical_cosine:.2f}, "
            f"{p.relative:.2f}·best)")


def choose(train: list[Query]) -> list[FloorParams]:
    """The setting chosen on train, then a few neighbours. First the dense threshold: the
    lowest (the most papers matched by meaning alone) that removes ≥ CUT_ON_TRAIN of the
    unjudged dense-only top-20 slots, the curve printed; then, for the candidates holding
    some of the words, the bars that remove the most unjudged lexical top-20 slots with
    keep ≥ KEEP_ON_TRAIN."""
    print(HEADER)
    curve = {c: measure(train, FloorParams(c, c, 0.0)) for c in COSINES}
    for c, r in curve.items():
        if round(c * 100) % 5 == 0:
            print(row(f"cos ≥ {c:.2f} (one bar for all)", r))
    dense = min(c for c in COSINES if measure(train, FloorParams(c, -1.0, 0.0))["cut"]
                >= CUT_ON_TRAIN)
    grid = {(lc, rel): measure(train, FloorParams(dense, lc, rel))
            for lc in LEXICAL_COSINES for rel in RELATIVES}
    ok = sorted((k for k, r in grid.items() if r["keep"] >= KEEP_ON_TRAIN),
                key=lambda k: (-grid[k]["lexical_cut"], k))
    return [FloorParams(dense, lc, rel) for lc, rel in ok[:4]]


if __name__ == "__main__":
    main()
