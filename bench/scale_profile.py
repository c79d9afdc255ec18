"""Where a hybrid search page's time goes over a large home: ``cProfile`` of
``SearchEngine.search_page`` in process.

    .venv/bin/python bench/scale_profile.py --home bench/out/scale/home-3000000 \
        --papers bench/out/scale/papers-3000000.jsonl.gz [--queries 40] [--mode hybrid]

Title queries as bench/scale_serve.py makes them; the first is a warm-up (it loads the model
and the HNSW graph). Prints ms per search page and the functions by cumulative time.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from scale_serve import sample  # noqa: E402

from paperwire.app import Paperwire  # noqa: E402
from paperwire.config import Settings  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--home", type=Path, required=True)
    ap.add_argument("--papers", type=Path, required=True)
    ap.add_argument("--queries", type=int, default=40)
    ap.add_argument("--mode", default="hybrid")
    ap.add_argument("--lines", type=int, default=28)
    args = ap.parse_args()
    engine = Paperwire(Settings(home=args.home)).engine
    items = sample(args.papers, args.queries)
    engine.search_page(items[0][1], mode=args.mode)
    profile = cProfile.Profile()
    t = time.perf_counter()
    profile.enable()
    for _, q in items[1:]:
        engine.search_page(q, mode=args.mode)
    profile.disable()
    per = (time.perf_counter() - t) / max(len(items) - 1, 1) * 1000
    print(f"{per:.1f} ms per {args.mode} search page ({len(items) - 1} queries)")
    pstats.Stats(profile).sort_stats("cumulative").print_stats(args.lines)


if __name__ == "__main__":
    main()
