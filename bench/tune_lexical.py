"""Tune the lexical field weights on training data only.

    .venv/bin/python bench/tune_lexical.py

Two training signals: BEIR SciFact *train* split (claims → abstracts, nDCG@10), and known-item
title lookups over the real arXiv papers (the first 3–6 words of a paper's title → that paper,
MRR@10), the most common thing a researcher types. SciFact *test* is never used here.
"""

from __future__ import annotations

import gzip
import json
import random
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT / "src"))

import paperwire.search.lexical as lexical  # noqa: E402
from paperwire.config import Settings  # noqa: E402
from paperwire.evaluate import evaluate  # noqa: E402
from paperwire.importers import run_import  # noqa: E402
from paperwire.search.query import literal_query  # noqa: E402
from paperwire.store import Store  # noqa: E402

GRID = [(t, a) for t in (0.0, 0.25, 0.5, 1.0, 2.0) for a in (1.0,)]


def title_lookups(n: int = 400, seed: int = 11) -> list[tuple[str, str]]:
    papers = []
    for f in sorted((DATA / "arxiv").glob("papers-*.jsonl.gz")):
        with gzip.open(f, "rt", encoding="utf-8") as fh:
            papers += [json.loads(line) for line in fh]
    rng = random.Random(seed)
    return [(" ".join(p["title"].split()[: rng.randint(3, 6)]).lower(), p["id"])
            for p in rng.sample(papers, n)]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "arxiv"
        store = Store.open(Settings(home=home).resolved_database_url)
        run_import(store, sorted((DATA / "arxiv").glob("papers-*.jsonl.gz")), progress=True)
        index = lexical.LexicalIndex(home / "index")
        index.sync(store)
        lookups = title_lookups()
        scifact_home = Path(tmp) / "scifact"
        print(f"{'title':>6} {'authors':>7} {'SciFact train nDCG@10':>22} "
              f"{'title lookup MRR@10':>20}")
        for t, a in GRID:
            lexical.FIELD_BOOSTS.update({"title": t, "authors": a})
            sf = evaluate(DATA / "beir" / "scifact", "train", "lexical", home=scifact_home)
            mrr = 0.0
            for text, pid in lookups:
                ids = [h.paper_id for h in index.search(literal_query(text), 10, highlight=False)]
                mrr += 1 / (ids.index(pid) + 1) if pid in ids else 0.0
            print(f"{t:>6} {a:>7} {sf.ndcg10:>22.4f} {mrr / len(lookups):>20.4f}")


if __name__ == "__main__":
    main()
