"""Query terms from the corpus itself: acronym ↔ expansion pairs and typo tolerance, each
measured alone beside the baseline (both off), in the same run.

    .venv/bin/python bench/tune_terms.py [--home DIR] [--seed 11]

Query sets, written from the real arXiv papers' own text (../shared/data/arxiv) and split
into train and test by a seeded hash of the paper id:

* **acronym swaps**: a paper that defines ``long form (SHORT)`` in its abstract and uses one
  of the two in its title; the query is a few title words around it with the other form
  put in (``RAG for tables`` → ``retrieval-augmented generation for tables``); the paper is
  the relevant one (MRR@10). "Agreement" is how much of the top 10 the swapped query shares
  with the query in the title's own words (|top10 ∩ top10'| / 10): the two forms should
  find the same papers.
* **typos**: a title lookup (the first 3–6 title words) with one word of 5+ letters changed
  by one edit (drop, swap, replace or add a letter) into a word no paper contains; the
  paper is the relevant one (MRR@10). The same lookups without the typo show that clean
  queries do not move.

SciFact *train* (lexical nDCG@10) must not get worse; its test split is not used. The
acronym weight is chosen on the train queries only; the test queries report it once.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import statistics
import sys
import tempfile
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT / "src"))

import paperwire.search.lexical as lexical  # noqa: E402
from paperwire.config import Settings  # noqa: E402
from paperwire.evaluate import evaluate, load_qrels, load_queries  # noqa: E402
from paperwire.importers import run_import  # noqa: E402
from paperwire.search.engine import SearchEngine  # noqa: E402
from paperwire.search.query import literal_query  # noqa: E402
from paperwire.search.terms import STOP_WORDS, find_acronyms  # noqa: E402
from paperwire.store import Store  # noqa: E402

WEIGHTS = (0.0, 0.1, 0.25, 0.5)
Query = tuple[str, str, str]  # query, its counterpart in the paper's own words, paper id


def load_papers() -> list[dict[str, str]]:
    papers = []
    for f in sorted((DATA / "arxiv").glob("papers-*.jsonl.gz")):
        with gzip.open(f, "rt", encoding="utf-8") as fh:
            papers += [json.loads(line) for line in fh]
    return papers


def is_train(pid: str, seed: int) -> bool:
    return zlib.crc32(f"{seed}:{pid}".encode()) % 2 == 0


def _words(text: str) -> list[str]:
    return text.split()


def acronym_swaps(papers: list[dict[str, str]], n: int, seed: int) -> list[Query]:
    """(swapped query, query in the title's own form, id) for papers defining an acronym
    they use in their title."""
    rng = random.Random(seed)
    out: list[Query] = []
    for p in rng.sample(papers, len(papers)):
        title = " ".join(p["title"].split())
        for short, long in find_acronyms(p.get("summary", "")):
            words = _words(title)
            low = [w.lower().strip(":,;.()") for w in words]
            lw = [w.lower() for w in long.split()]
            span = None
            for i in range(len(low) - len(lw) + 1):
                if low[i:i + len(lw)] == lw:
                    span, swap = (i, i + len(lw)), short
                    break
            if span is None:
                for i, w in enumerate(words):
                    if re.fullmatch(re.escape(short) + r"s?[:,;.]?", w):
                        span, swap = (i, i + 1), long
                        break
            if span is None:
                continue
            lo, hi = max(0, span[0] - 2), min(len(words), span[1] + 2)
            own = " ".join(words[lo:hi])
            swapped = " ".join([*words[lo:span[0]], swap, *words[span[1]:hi]])
            out.append((swapped, own, p["id"]))
            break
        if len(out) >= n:
            break
    return out


def _typo(word: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(word) - 1)
    kind = rng.choice(("drop", "swap", "replace", "add"))
    letters = "abcdefghijklmnopqrstuvwxyz"
    if kind == "drop":
        return word[:i] + word[i + 1:]
    if kind == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if kind == "replace":
        return word[:i] + rng.choice(letters.replace(word[i], "")) + word[i + 1:]
    return word[:i] + rng.choice(letters) + word[i:]


def typo_lookups(papers: list[dict[str, str]], n: int, seed: int,
                 index: lexical.LexicalIndex, rare: bool = False) -> list[Query]:
    """(lookup with a typo, the clean lookup, id): the typo in no paper, or (``rare``) in
    1 to RARE_DF papers (typos in abstracts)."""
    rng = random.Random(seed)
    view = index.view()
    assert view is not None
    stem = lexical.ANALYZERS[lexical.TEXT_ANALYZER].analyze
    out: list[Query] = []
    for p in rng.sample(papers, len(papers)):
        words = " ".join(p["title"].split()[: rng.randint(3, 6)]).lower().split()
        spots = [i for i, w in enumerate(words)
                 if len(w) >= 5 and w.isalpha() and w not in STOP_WORDS]
        if not spots:
            continue
        i = rng.choice(spots)
        bad = _typo(words[i], rng)
        tokens = stem(bad)
        if len(tokens) != 1:
            continue
        df = view.searcher.doc_freq("text", tokens[0])
        if (not 1 <= df <= lexical.RARE_DF) if rare else df:
            continue  # a real word: not what typo tolerance is for
        typo = " ".join([*words[:i], bad, *words[i + 1:]])
        out.append((typo, " ".join(words), p["id"]))
        if len(out) >= n:
            break
    return out


def run(index: lexical.LexicalIndex, queries: list[str]) -> tuple[list[list[str]], list[float]]:
    ranked, ms = [], []
    for q in queries:
        t0 = time.perf_counter()
        view = index.view()
        assert view is not None
        ranked.append([h.paper_id for h in view.search(literal_query(q), 100, highlight=False)])
        ms.append((time.perf_counter() - t0) * 1000)
    return ranked, ms


def mrr(ranked: list[list[str]], wanted: list[str]) -> float:
    total = 0.0
    for ids, pid in zip(ranked, wanted, strict=True):
        top = ids[:10]
        total += 1 / (top.index(pid) + 1) if pid in top else 0.0
    return total / max(len(wanted), 1)


def agreement(a: list[list[str]], b: list[list[str]]) -> float:
    return statistics.fmean(len(set(x[:10]) & set(y[:10])) / 10 for x, y in zip(a, b, strict=True))


def configure(weights: tuple[float, float], typos: bool) -> None:
    lexical.LONG_FORM_WEIGHT, lexical.ACRONYM_WEIGHT = weights
    lexical.TYPO_CORRECTION = typos


def open_arxiv(home: Path) -> tuple[Store, lexical.LexicalIndex]:
    """The store of the 74,728 arXiv papers under ``home`` (imported the first time) and its
    benchmark lexical index (not synced)."""
    store = Store.open(Settings(home=home).resolved_database_url)
    if store.count_papers() == 0:
        run_import(store, sorted((DATA / "arxiv").glob("papers-*.jsonl.gz")), progress=True)
    return store, lexical.LexicalIndex(home / "index" / "bench-lexical")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--home", type=Path, help="keep the 75k store and index here (reused)")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--n", type=int, default=800, help="queries per set (train + test)")
    ap.add_argument("--no-scifact", action="store_true")
    ap.add_argument("--hybrid", action="store_true",
                    help="also SciFact train in hybrid mode, baseline vs shipped (embeds the "
                         "5,183 SciFact abstracts once, a few minutes)")
    args = ap.parse_args()
    tmp = tempfile.TemporaryDirectory()
    home = args.home or Path(tmp.name)
    store, index = open_arxiv(home)
    t0 = time.perf_counter()
    index.sync(store)
    built = time.perf_counter() - t0
    t0 = time.perf_counter()
    lex = index.lexicon()
    loaded = time.perf_counter() - t0
    size = index.terms_file.stat().st_size / 1e6
    small = index.lexicon_file.stat().st_size / 1e6
    print(f"{store.count_papers()} papers; index sync {built:.1f} s; lexicon: "
          f"{len(lex.expansions)} acronyms, {len(lex.acronyms)} long forms, "
          f"{len(lex.words)} correctable words; terms.json {size:.1f} MB (the writer's), "
          f"lexicon.json {small:.1f} MB, loaded by a reader in {loaded * 1000:.0f} ms")

    papers = load_papers()
    swaps = acronym_swaps(papers, args.n, args.seed)
    typos = typo_lookups(papers, args.n, args.seed, index)
    rare = typo_lookups(papers, args.n, args.seed, index, rare=True)
    split = {name: {part: [q for q in qs if is_train(q[2], args.seed) == (part == "train")]
                    for part in ("train", "test")}
             for name, qs in (("swaps", swaps), ("typos", typos), ("rare", rare))}
    print(f"acronym swap queries: {len(split['swaps']['train'])} train, "
          f"{len(split['swaps']['test'])} test; typo lookups: {len(split['typos']['train'])} "
          f"train, {len(split['typos']['test'])} test; typos in 1-{lexical.RARE_DF} papers: "
          f"{len(split['rare']['train'])} train, {len(split['rare']['test'])} test "
          f"(seed {args.seed})")

    run(index, [q for q, _, _ in swaps[:200]])  # warm the caches before timing anything

    def swap_figures(part: str) -> tuple[float, float, float, float]:
        qs = split["swaps"][part]
        swapped, sms = run(index, [q for q, _, _ in qs])
        own, _ = run(index, [o for _, o, _ in qs])
        ids = [pid for _, _, pid in qs]
        return mrr(swapped, ids), mrr(own, ids), agreement(swapped, own), statistics.median(sms)

    def typo_figures(part: str, name: str = "typos") -> tuple[float, float, float]:
        qs = split[name][part]
        bad, tms = run(index, [q for q, _, _ in qs])
        clean, _ = run(index, [c for _, c, _ in qs])
        ids = [pid for _, _, pid in qs]
        return mrr(bad, ids), mrr(clean, ids), statistics.median(tms)

    def scifact(split_name: str = "train") -> float:
        if args.no_scifact:
            return float("nan")
        return evaluate(DATA / "beir" / "scifact", split_name, "lexical",
                        home=home / "scifact").ndcg10

    print("\nExpansion weights, TRAIN queries only (typo tolerance off): long form (added to "
          "an acronym typed), acronym (added to a long form typed, and an acronym's other "
          "number)")
    print(f"{'long':>5} {'acro':>5} {'swap MRR@10':>12} {'own-words MRR@10':>17} "
          f"{'agreement@10':>13} {'SciFact train nDCG@10':>22}")
    best: tuple[float, float] = (0.0, 0.0)
    best_key, floor = (-1.0, 0.0), float("-inf")
    for lw in WEIGHTS:
        for aw in WEIGHTS:
            configure((lw, aw), False)
            m, o, a, _ = swap_figures("train")
            sf = scifact()
            floor = sf if lw == aw == 0 else floor
            print(f"{lw:>5} {aw:>5} {m:>12.4f} {o:>17.4f} {a:>13.4f} {sf:>22.4f}")
            key = (round(m + o, 4), -(lw + aw))
            if key > best_key and not sf < floor:
                best, best_key = (lw, aw), key
    print(f"chosen on train: long form {best[0]}, acronym {best[1]} (best swap + own-words "
          "MRR@10 among the weights that keep SciFact train nDCG@10 at least at 0/0's; "
          "ties: the smaller)")

    print("\nEach idea alone beside the baseline (both off), TEST queries (reported once):")
    print(f"{'config':<24} {'swap MRR':>9} {'own MRR':>8} {'agree@10':>9} {'typo MRR':>9} "
          f"{'clean MRR':>10} {'rare typo':>10} {'SciFact train':>14}")
    off = (0.0, 0.0)
    configs = (("baseline (both off)", off, False), ("acronyms alone", best, False),
               ("typo tolerance alone", off, True), ("both (shipped)", best, True))
    for name, w, t in configs:
        configure(w, t)
        m, o, a, _ = swap_figures("test")
        tm, cm, _ = typo_figures("test")
        rm, _, _ = typo_figures("test", "rare")
        sf = scifact()
        print(f"{name:<24} {m:>9.4f} {o:>8.4f} {a:>9.4f} {tm:>9.4f} {cm:>10.4f} {rm:>10.4f} "
              f"{sf:>14.4f}")

    # latency: each query timed under every config in turn (the same noise for all), lexical
    # search with BM25 only, no highlights; p50 / p99 over the test queries of both sets
    timed = [q for qs in (split["swaps"]["test"], split["typos"]["test"], split["rare"]["test"])
             for query, own, _ in qs for q in (query, own)]
    ms: dict[str, list[float]] = {name: [] for name, _, _ in configs}
    for q in timed:
        for name, w, t in configs:
            configure(w, t)
            ms[name].extend(run(index, [q])[1])
    print(f"\nlatency over {len(timed)} test queries (75k papers, lexical, ms):")
    for name, _, _ in configs:
        xs = sorted(ms[name])
        print(f"{name:<24} p50 {statistics.median(xs):6.2f}  p99 {xs[int(len(xs) * 0.99)]:6.2f}")
    if args.hybrid:
        print("\nSciFact train, hybrid (convex fusion as shipped): nDCG@10, then p50 / p99 ms "
              "with each query timed under both configurations in turn (query embedding "
              "included):")
        pair = (configs[0], configs[-1])
        for name, w, t in pair:
            configure(w, t)
            r = evaluate(DATA / "beir" / "scifact", "train", "hybrid", home=home / "scifact")
            print(f"{name:<24} nDCG@10 {r.ndcg10:.4f}")
        settings = Settings(home=home / "scifact")
        sf_store = Store.open(settings.resolved_database_url)
        engine = SearchEngine(sf_store, settings)
        folder = DATA / "beir" / "scifact"
        texts = [q for qid, q in load_queries(folder).items() if qid in load_qrels(folder, "train")]
        engine.rank_ids(texts[0], mode="hybrid")  # load the model first
        hyb: dict[str, list[float]] = {name: [] for name, _, _ in pair}
        for text in texts:
            for name, w, t in pair:
                configure(w, t)
                t0 = time.perf_counter()
                engine.rank_ids(text, mode="hybrid")
                hyb[name].append((time.perf_counter() - t0) * 1000)
        for name, _, _ in pair:
            xs = sorted(hyb[name])
            print(f"{name:<24} p50 {statistics.median(xs):6.2f}  "
                  f"p99 {xs[int(len(xs) * 0.99)]:6.2f}")
        sf_store.close()
    configure(best, True)
    store.close()


if __name__ == "__main__":
    main()
