"""Author names against topic words (issue 15): a free word counts in the authors field only
where the query names someone (NAME_WORDS), beside every word in authors (before), in the
same run, on TRAIN queries only.

    .venv/bin/python bench/tune_names.py [--home DIR] [--seed 11] [--n 800]

* SciFact *train* lexical nDCG@10 (claims; must not get worse). Its test split is not used.
* title lookups (the first 3-6 title words of a real arXiv paper → that paper, MRR@10).
* name lookups: an author's full name and two title words ("Jannis Vamvas romansh
  varieties"), and the surname alone with them, → that paper (MRR@10): names still count.
* word queries: each word of the title lookups (4+ letters, no stop word) that is also in
  some author's name and more often in titles and abstracts ("model": "Charlotte Model"),
  alone; how many of their top-10 hits hold the word in an author's name.
* the query of the report ("large language model", shipped and with acronym concepts off).

Queries are split into train and test by a seeded hash of the paper id, as
bench/tune_terms.py does; this script reads the train half only.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from tune_terms import DATA, is_train, load_papers, mrr, open_arxiv, run  # noqa: E402

import paperwire.search.lexical as lexical  # noqa: E402
from paperwire.evaluate import evaluate  # noqa: E402
from paperwire.search.terms import STOP_WORDS  # noqa: E402

EXAMPLES = ("large language model", "language model", "model", "Charlotte Model")


def lookups(papers: list[dict], n: int, seed: int) -> dict[str, list[tuple[str, str]]]:
    rng = random.Random(seed)
    out: dict[str, list[tuple[str, str]]] = {"title": [], "name": [], "surname": []}
    for p in rng.sample(papers, n):
        if not is_train(p["id"], seed):
            continue
        words = " ".join(p["title"].split()).lower().split()
        out["title"].append((" ".join(words[: rng.randint(3, 6)]), p["id"]))
        authors = p.get("authors") or []
        names = [a for a in authors if len(a.split()) >= 2]
        if names:
            name = rng.choice(names)
            topic = " ".join(rng.sample(words, min(2, len(words))))
            out["name"].append((f"{name} {topic}", p["id"]))
            out["surname"].append((f"{name.split()[-1]} {topic}", p["id"]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--home", type=Path, help="the 75k store and index (reused)")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--n", type=int, default=800, help="papers drawn (train and test)")
    args = ap.parse_args()
    tmp = tempfile.TemporaryDirectory()
    home = args.home or Path(tmp.name)
    store, index = open_arxiv(home)
    index.sync(store)
    papers = load_papers()
    authors = {p["id"]: " ".join(p.get("authors") or []) for p in papers}
    sets = lookups(papers, args.n, args.seed)
    print(f"{store.count_papers()} papers; train lookups: {len(sets['title'])} title, "
          f"{len(sets['name'])} name (seed {args.seed})")
    view = index.view()
    assert view is not None
    analyze = lexical.ANALYZERS[lexical.TEXT_ANALYZER].analyze
    names = lexical.ANALYZERS[lexical.NAME_ANALYZER].analyze
    # topic words that are also someone's name: the title lookups' words (4+ letters, no
    # stop word) that some paper holds in its authors field, and more in title or abstract
    words = sorted({w for q, _ in sets["title"] for w in names(q)
                    if len(w) >= 4 and w.isalpha() and w not in STOP_WORDS
                    and 0 < view.searcher.doc_freq("authors", w)
                    <= max((view.searcher.doc_freq("text", t) for t in analyze(w)),
                           default=0)})
    print(f"{len(words)} topic words that are also in author names")

    def by_name(pid: str, word: str) -> bool:
        """The paper holds ``word`` in an author's name."""
        return word in names(authors.get(pid, ""))
    header = (f"{'name words':>10} {'SciFact train nDCG@10':>22} {'title MRR@10':>13} "
              f"{'name MRR@10':>12} {'surname MRR@10':>15} "
              f"{'topic words: top-10 hits by an author':>38} {'name lookup ms':>15}")
    run(index, [q for q, _ in sets["name"]])  # warm the caches before timing anything
    rows = []
    for on in (False, True):
        lexical.NAME_WORDS = on
        sf = evaluate(DATA / "beir" / "scifact", "train", "lexical",
                      home=home / "scifact").ndcg10
        figures = {}
        for name, qs in sets.items():
            ranked, ms = run(index, [q for q, _ in qs])
            figures[name] = mrr(ranked, [pid for _, pid in qs])
            figures[f"{name} ms"] = statistics.median(ms)
        ranked, _ = run(index, words)
        stray = sum(by_name(pid, w) for w, ids in zip(words, ranked, strict=True)
                    for pid in ids[:10])
        rows.append(f"{on!s:>10} {sf:>22.4f} {figures['title']:>13.4f} "
                    f"{figures['name']:>12.4f} {figures['surname']:>15.4f} {stray:>38} "
                    f"{figures['name ms']:>15.1f}")
        for meet in (lexical.MEET_WEIGHT, 0.0):
            shipped, lexical.MEET_WEIGHT = lexical.MEET_WEIGHT, meet
            for q in EXAMPLES:
                top = [(h.paper_id, round(h.score, 2))
                       for h in view.search(q, 3, highlight=False)]
                print(f"NAME_WORDS={on} MEET_WEIGHT={meet} {q!r}: {top}")
            lexical.MEET_WEIGHT = shipped
    print(header, *rows, sep="\n")


if __name__ == "__main__":
    main()
