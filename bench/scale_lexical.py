"""The BM25 ranking of a large home, in process: today's query shape beside the nested one.

    .venv/bin/python bench/scale_lexical.py --home bench/out/scale/home-3000000 \
        --papers bench/out/scale/papers-3000000.jsonl.gz [--queries 200]

Title queries (the first 3–6 words of titles sampled from the file, as bench/scale_serve.py
makes them), each ranked to its top 100 by ``LexicalView.search`` without highlights, first
with ``FLAT_WORDS`` off (each word a nested group: tantivy scores every paper holding a word)
as the baseline, then on (a query of one-token free words is one flat union of term queries,
ranked by block-max WAND), in one run. Prints p50/p99 ms, how often the sampled paper is in
the top 10, and the top-10 overlap with the baseline (1.000: the same papers).

``--phrase WORD WORD`` times, instead, what a two-word phrase costs over title and abstract:
the share of papers holding each word and the phrase, and ms for the first word alone (the
baseline), both words as a conjunction, and the phrase (top 100 with the count, as the
search's own queries run).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from scale_serve import sample  # noqa: E402

from paperwire.search import lexical  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--home", type=Path, required=True)
    ap.add_argument("--papers", type=Path, required=True)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--phrase", nargs=2, metavar="WORD", help="time a phrase instead")
    args = ap.parse_args()
    view = lexical.LexicalIndex(args.home / "index" / "lexical").view()
    if view is None:
        sys.exit(f"no lexical index in {args.home}")
    if args.phrase:
        phrase(view, args.phrase)
        return
    items = sample(args.papers, args.queries)

    def ranked(q: str) -> list[str]:
        return [h.paper_id for h in view.search(q, limit=100, highlight=False)]

    def timed(f: Callable[[str], list[str]]) -> tuple[float, float, list[list[str]]]:
        f(items[0][1])  # warm-up
        times, out = [], []
        for _, q in items:
            t = time.perf_counter()
            out.append(f(q))
            times.append(1000 * (time.perf_counter() - t))
        return float(np.percentile(times, 50)), float(np.percentile(times, 99)), out

    print(f"# {view.searcher.num_docs:,} papers, {len(items)} title queries, top 100, "
          f"{time.strftime('%Y-%m-%d')}\n")
    print("| query shape | p50 ms | p99 ms | paper in top 10 | top-10 overlap with baseline |")
    print("|---|---:|---:|---:|---:|")
    base: list[list[str]] = []
    for name, flat in (("nested groups per word (baseline)", False),
                       ("FLAT_WORDS: one union of term queries", True)):
        lexical.FLAT_WORDS = flat
        p50, p99, out = timed(ranked)
        base = base or out
        found = np.mean([pid in o[:10] for (pid, _), o in zip(items, out, strict=True)])
        same = np.mean([len(set(a[:10]) & set(b[:10])) / 10
                        for a, b in zip(base, out, strict=True)])
        print(f"| {name} | {p50:.2f} | {p99:.2f} | {found:.3f} | {same:.3f} |", flush=True)


def phrase(view: lexical.LexicalView, words: list[str]) -> None:
    from tantivy import Occur, Query

    schema, searcher = view.schema, view.searcher
    a, b = (lexical.ANALYZERS[lexical.TEXT_ANALYZER].analyze(w)[0] for w in words)
    term = Query.term_query(schema, "text", a)
    shapes = {
        f"the word {a!r} alone (baseline)": term,
        f"{a!r} and {b!r}, anywhere": Query.boolean_query(
            [(Occur.Must, term), (Occur.Must, Query.term_query(schema, "text", b))]),
        f"the phrase {a!r} {b!r}": Query.phrase_query(schema, "text", [a, b]),
    }
    n = int(searcher.num_docs)
    print(f"# {n:,} papers; {a!r} in {searcher.doc_freq('text', a) / n:.0%} of them, {b!r} "
          f"in {searcher.doc_freq('text', b) / n:.0%}; {time.strftime('%Y-%m-%d')}\n")
    print("| query over title and abstract | papers matching | ms (median of 9) |")
    print("|---|---:|---:|")
    for name, q in shapes.items():
        searcher.search(q, 100, count=True)  # warm-up
        times = []
        for _ in range(9):
            t = time.perf_counter()
            got = searcher.search(q, 100, count=True)
            times.append(1000 * (time.perf_counter() - t))
        print(f"| {name} | {got.count:,} ({got.count / n:.0%}) | "  # type: ignore[attr-defined]
              f"{float(np.median(times)):.1f} |", flush=True)


if __name__ == "__main__":
    main()
