"""Search quality with a lexical switch off and on, in one run (SciFact, lexical mode).

    .venv/bin/python bench/lexical_switches.py [--split train]
        [--switches STOP_WORDS_RANKED FLAT_WORDS]

For each switch of paperwire.search.lexical (a module constant), ``paperwire eval``'s
measure (``paperwire.evaluate.evaluate``, a throwaway home per run) with the switch at its
other value (the baseline) and at the shipped one: nDCG@10, Recall@100, MRR@10, p50/p99 ms.
``STOP_WORDS_RANKED`` (shipped False: free stop words rank only a query of nothing else) and
``FLAT_WORDS`` (shipped True: free words as one flat union of term queries; the same scores,
so the same figures).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from paperwire.evaluate import evaluate  # noqa: E402
from paperwire.search import lexical  # noqa: E402

SCIFACT = ROOT.parent / "shared" / "data" / "beir" / "scifact"
SHOWN = ("ndcg@10", "recall@100", "mrr@10", "p50_ms", "p99_ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--split", default="train")
    ap.add_argument("--switches", nargs="*", default=["STOP_WORDS_RANKED", "FLAT_WORDS"])
    args = ap.parse_args()
    print(f"SciFact {args.split}, lexical\n")
    print("| switch | value | " + " | ".join(SHOWN) + " |")
    print("|---|---|" + "---:|" * len(SHOWN))
    for name in args.switches:
        shipped = getattr(lexical, name)
        for value in (not shipped, shipped):
            setattr(lexical, name, value)
            got = evaluate(SCIFACT, split=args.split, mode="lexical").to_dict()
            label = f"{value}{' (shipped)' if value == shipped else ''}"
            print(f"| {name} | {label} | " + " | ".join(str(got[k]) for k in SHOWN) + " |",
                  flush=True)
        setattr(lexical, name, shipped)


if __name__ == "__main__":
    main()
