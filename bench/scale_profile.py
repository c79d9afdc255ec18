"""Where a hybrid search page's time goes over a large home: ``cProfile`` of
``SearchEngine.search_page`` in process.

    .venv/bin/python bench/scale_profile.py --home bench/out/scale/home-3000000 \
        --papers bench/out/scale/papers-3000000.jsonl.gz [--queries 40] [--mode hybrid]
        [--switch COUNT_ALONGSIDE]

Title queries as bench/scale_serve.py makes them; the first is a warm-up (it loads the model
and the HNSW graph). Prints ms per search page and the functions by cumulative time. With
``--switch NAME`` (a True/False constant of paperwire.search.engine) no profile: each query
runs with the switch at both values, in alternating order, and p50/p99 of each are printed
(the other value is the baseline, in the same run). With ``--shapes``, no profile either:
p50/p99 of the search pages whose BM25 query holds a phrase (a hyphenated word, an acronym's
long form, a name) beside those that hold none.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from scale_serve import sample  # noqa: E402

from paperwire.app import Paperwire  # noqa: E402
from paperwire.config import Settings  # noqa: E402
from paperwire.search import engine as engine_module  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--home", type=Path, required=True)
    ap.add_argument("--papers", type=Path, required=True)
    ap.add_argument("--queries", type=int, default=40)
    ap.add_argument("--mode", default="hybrid")
    ap.add_argument("--lines", type=int, default=28)
    ap.add_argument("--switch", help="a True/False constant of paperwire.search.engine")
    ap.add_argument("--shapes", action="store_true", help="phrase queries beside the others")
    args = ap.parse_args()
    engine = Paperwire(Settings(home=args.home)).engine
    items = sample(args.papers, args.queries)
    engine.search_page(items[0][1], mode=args.mode)
    if args.switch:
        switch(engine, [q for _, q in items[1:]], args.mode, args.switch)
        return
    if args.shapes:
        shapes(engine, [q for _, q in items[1:]], args.mode)
        return
    profile = cProfile.Profile()
    t = time.perf_counter()
    profile.enable()
    for _, q in items[1:]:
        engine.search_page(q, mode=args.mode)
    profile.disable()
    per = (time.perf_counter() - t) / max(len(items) - 1, 1) * 1000
    print(f"{per:.1f} ms per {args.mode} search page ({len(items) - 1} queries)")
    pstats.Stats(profile).sort_stats("cumulative").print_stats(args.lines)


def switch(engine: object, queries: list[str], mode: str, name: str) -> None:
    shipped = getattr(engine_module, name)
    if not isinstance(shipped, bool):
        sys.exit(f"{name} is not a True/False constant of paperwire.search.engine")
    times: dict[bool, list[float]] = {True: [], False: []}
    for i, q in enumerate(queries):
        for value in ((not shipped, shipped) if i % 2 else (shipped, not shipped)):
            setattr(engine_module, name, value)
            t = time.perf_counter()
            engine.search_page(q, mode=mode)  # type: ignore[attr-defined]
            times[value].append((time.perf_counter() - t) * 1000)
    setattr(engine_module, name, shipped)
    print(f"| {name} | {mode} search pages | p50 ms | p99 ms |\n|---|---:|---:|---:|")
    for value in (not shipped, shipped):
        got = np.array(times[value])
        print(f"| {value}{' (shipped)' if value == shipped else ' (baseline)'} | {len(got)} | "
              f"{np.percentile(got, 50):.2f} | {np.percentile(got, 99):.2f} |")


def shapes(engine: object, queries: list[str], mode: str) -> None:
    from paperwire.search.query import parse_query

    view = engine.lexical.view()  # type: ignore[attr-defined]
    times: dict[str, list[float]] = {"with a phrase": [], "words only": []}
    for q in queries:
        parsed = parse_query(q)
        built, _ = view._builder(parsed).build(parsed)
        shape = "with a phrase" if "PhraseQuery" in repr(built) else "words only"
        t = time.perf_counter()
        engine.search_page(q, mode=mode)  # type: ignore[attr-defined]
        times[shape].append((time.perf_counter() - t) * 1000)
    print(f"| BM25 query | {mode} search pages | p50 ms | p99 ms |\n|---|---:|---:|---:|")
    for shape, got in times.items():
        if got:
            print(f"| {shape} | {len(got)} | {np.percentile(got, 50):.2f} | "
                  f"{np.percentile(got, 99):.2f} |")


if __name__ == "__main__":
    main()
