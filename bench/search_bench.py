"""Search quality and latency, Paperwire beside two baselines measured in the same run.

    .venv/bin/python bench/search_bench.py [--skip-latency] [--skip-floor] [--latency-docs N]
                                           [--queries N] [--arxiv-docs N] [--skip-arxiv]

Baselines:
- plain BM25: bm25s (Lucene variant, k1=1.5, b=0.75) over title + abstract, English stemming
  (PyStemmer) and stop words — the usual "just BM25" setup;
- arxiv-sanity-lite's method: TF-IDF (scikit-learn, word 1–2-grams, sublinear tf, max_df 0.1,
  like arxiv-sanity) over title + abstract + authors, scored by a linear scan (dot product with
  every document).

Quality: BEIR SciFact, test split (nDCG@10, Recall@100, MRR@10); and two known-item sets over
real arXiv papers (``--arxiv-docs``, a seeded sample; 0 for all ~75k, slow the first time: every
paper is embedded), each split in halves by paper — the train halves tune (bench/tune_quality.py),
the test halves are reported here (MRR@10, hit@10): title lookups (a title's first 3–6 words →
that paper) and sentence lookups (one sentence of the abstract other than the first, at most 25
words → that paper; it is often past the model's 256 tokens). Latency: the ~75k real arXiv
papers of ../shared/data/arxiv, with queries made from real titles (first 3–6 words) and short
topic phrases; p50/p99 in ms per query, Paperwire's query embedding included. Paperwire's store
and vectors for the latency part are kept in bench/out/ between runs (embedding 75k abstracts
takes a while the first time).
"""

from __future__ import annotations

import argparse
import gzip
import json
import platform
import random
import re
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
SCIFACT = DATA / "beir" / "scifact"
OUT = ROOT / "bench" / "out"
sys.path.insert(0, str(ROOT / "src"))

from paperwire.evaluate import evaluate, load_qrels, load_queries  # noqa: E402
from paperwire.search.metrics import mrr_at_k, ndcg_at_k, percentile, recall_at_k  # noqa: E402


def scifact_corpus() -> list[dict[str, Any]]:
    with gzip.open(SCIFACT / "corpus.jsonl.gz", "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def score_rankings(rankings: dict[str, list[str]], qrels: dict[str, dict[str, int]]) -> dict[
    str, float
]:
    qs = [q for q in qrels if q in rankings]
    return {
        "ndcg@10": float(np.mean([ndcg_at_k(rankings[q], qrels[q], 10) for q in qs])),
        "recall@100": float(np.mean([recall_at_k(rankings[q], qrels[q], 100) for q in qs])),
        "mrr@10": float(np.mean([mrr_at_k(rankings[q], qrels[q], 10) for q in qs])),
    }


class Bm25Baseline:
    def __init__(self, ids: list[str], texts: list[str]) -> None:
        import bm25s
        import Stemmer

        self.bm25s, self.stemmer, self.ids = bm25s, Stemmer.Stemmer("english"), ids
        tokens = bm25s.tokenize(texts, stopwords="en", stemmer=self.stemmer, show_progress=False)
        self.model = bm25s.BM25()
        self.model.index(tokens, show_progress=False)

    def rank(self, query: str, k: int = 100) -> list[str]:
        tokens = self.bm25s.tokenize([query], stopwords="en", stemmer=self.stemmer,
                                     show_progress=False)
        if not tokens.vocab:
            return []
        docs, _ = self.model.retrieve(tokens, k=min(k, len(self.ids)), show_progress=False)
        return [self.ids[i] for i in docs[0]]


class TfidfScanBaseline:
    """arxiv-sanity-lite: TF-IDF vectors, and a query scored against every document."""

    def __init__(self, ids: list[str], texts: list[str]) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.ids = ids
        self.vectorizer = TfidfVectorizer(
            input="content", encoding="utf-8", decode_error="replace", strip_accents="unicode",
            lowercase=True, analyzer="word", stop_words="english",
            token_pattern=r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b", ngram_range=(1, 2),
            max_features=20000, norm="l2", use_idf=True, smooth_idf=True, sublinear_tf=True,
            max_df=0.1, min_df=1 if len(texts) < 20000 else 5,
        )
        self.matrix = self.vectorizer.fit_transform(texts)

    def rank(self, query: str, k: int = 100) -> list[str]:
        q = self.vectorizer.transform([query])
        scores = (self.matrix @ q.T).toarray().ravel()  # the linear scan
        top = np.argsort(-scores, kind="stable")[:k]
        return [self.ids[i] for i in top if scores[i] > 0]


def quality(args: argparse.Namespace) -> list[tuple[str, dict[str, float]]]:
    queries, qrels = load_queries(SCIFACT), load_qrels(SCIFACT, "test")
    corpus = scifact_corpus()
    ids = [d["_id"] for d in corpus]
    rows = []
    for name, cls, text in (
        ("bm25s (plain BM25)", Bm25Baseline, lambda d: f"{d['title']} {d['text']}"),
        ("TF-IDF scan (arxiv-sanity)", TfidfScanBaseline, lambda d: f"{d['title']} {d['text']}"),
    ):
        model = cls(ids, [text(d) for d in corpus])
        rows.append((name, score_rankings({q: model.rank(queries[q]) for q in qrels}, qrels)))
    for mode in args.modes:  # the store and its vectors are kept in bench/out/scifact
        r = evaluate(SCIFACT, "test", mode, home=OUT / "scifact").to_dict()
        rows.append((f"paperwire {mode}", {k: r[k] for k in ("ndcg@10", "recall@100", "mrr@10")}))
    return rows


SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def arxiv_papers(n: int = 0, seed: int = 5) -> list[dict[str, Any]]:
    """The real arXiv papers (all, or a seeded sample of ``n``)."""
    papers: list[dict[str, Any]] = []
    for f in sorted((DATA / "arxiv").glob("papers-*.jsonl.gz")):
        with gzip.open(f, "rt", encoding="utf-8") as fh:
            papers += [json.loads(line) for line in fh]
    return random.Random(seed).sample(papers, n) if 0 < n < len(papers) else papers


def arxiv_query_sets(papers: list[dict[str, Any]], n: int = 600, seed: int = 23
                     ) -> dict[str, dict[str, dict[str, tuple[str, str]]]]:
    """Known-item queries written from the papers' own text: ``{set: {split: {qid: (query,
    paper id)}}}``, sets "title" and "sentence", split "train"/"test" alternately over a
    seeded sample of ``n`` papers."""
    rng = random.Random(seed)
    sets: dict[str, dict[str, dict[str, tuple[str, str]]]] = {
        name: {"train": {}, "test": {}} for name in ("title", "sentence")}
    for i, p in enumerate(rng.sample(papers, min(n, len(papers)))):
        split = "train" if i % 2 == 0 else "test"
        sets["title"][split][f"t{i}"] = (" ".join(p["title"].split()[: rng.randint(3, 6)]),
                                         p["id"])
        sentences = [x for x in SENTENCE.split(" ".join(p["summary"].split()))[1:]
                     if 10 <= len(x.split()) <= 40]
        if sentences:
            sets["sentence"][split][f"s{i}"] = (" ".join(rng.choice(sentences).split()[:25]),
                                                p["id"])
    return sets


def arxiv_engine(papers: list[dict[str, Any]], name: str, modes: list[str]) -> Any:
    """A search engine over ``papers``, its store and vectors kept in bench/out/``name``."""
    from paperwire.config import Settings
    from paperwire.importers import run_import
    from paperwire.search.engine import SearchEngine
    from paperwire.store import Store

    home = OUT / name
    settings = Settings(home=home)
    store = Store.open(settings.resolved_database_url)
    if store.count_papers() < len(papers):
        home.mkdir(parents=True, exist_ok=True)
        src = home / "papers.jsonl.gz"
        with gzip.open(src, "wt", encoding="utf-8") as fh:
            for p in papers:
                fh.write(json.dumps(p) + "\n")
        run_import(store, [src], fmt="arxiv", progress=True)
    engine = SearchEngine(store, settings)

    def show(done: int, total: int) -> None:
        print(f"\r  embedding {done:,}/{total:,}", end="", file=sys.stderr, flush=True)

    engine.sync(modes=modes, on_progress=show)
    print(file=sys.stderr)
    return engine


def known_item(rank: Any, queries: dict[str, tuple[str, str]]) -> dict[str, float]:
    mrr, hit = [], []
    for text, pid in queries.values():
        top = list(rank(text))[:10]
        mrr.append(1 / (top.index(pid) + 1) if pid in top else 0.0)
        hit.append(1.0 if pid in top else 0.0)
    return {"mrr@10": float(np.mean(mrr)), "hit@10": float(np.mean(hit))}


def arxiv_quality(args: argparse.Namespace) -> tuple[int, dict[str, list[tuple[
        str, dict[str, float]]]]]:
    papers = arxiv_papers(args.arxiv_docs)
    sets = arxiv_query_sets(papers)
    ids = [p["id"] for p in papers]
    text = [f"{p['title']} {p['summary']} {' '.join(p['authors'])}" for p in papers]
    rows: dict[str, list[tuple[str, dict[str, float]]]] = {name: [] for name in sets}
    for label, cls in (("bm25s (plain BM25)", Bm25Baseline),
                       ("TF-IDF scan (arxiv-sanity)", TfidfScanBaseline)):
        model = cls(ids, text)
        for name, split in sets.items():
            rows[name].append((label, known_item(lambda q, m=model: m.rank(q, 10),
                                                 split["test"])))
    engine = arxiv_engine(papers, f"arxiv-quality-{len(papers)}", args.modes)
    for mode in args.modes:
        for name, split in sets.items():
            rows[name].append((f"paperwire {mode}", known_item(
                lambda q, m=mode: engine.rank_ids(q, m, 10), split["test"])))
    return len(papers), rows


def latency_queries(papers: list[dict[str, Any]], n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    picks = rng.sample(papers, n)
    return [" ".join(p["title"].split()[: rng.randint(3, 6)]) for p in picks]


def timed(fn: Any, queries: list[str]) -> dict[str, float]:
    fn(queries[0])  # warm-up
    ms = []
    for q in queries:
        t0 = time.perf_counter()
        fn(q)
        ms.append((time.perf_counter() - t0) * 1000)
    return {"p50_ms": percentile(ms, 50), "p99_ms": percentile(ms, 99)}


def latency(args: argparse.Namespace) -> list[tuple[str, dict[str, float]]]:
    from paperwire.config import Settings
    from paperwire.importers import run_import
    from paperwire.search.engine import SearchEngine
    from paperwire.search.query import SearchOptions
    from paperwire.store import Store

    papers = []
    for f in sorted((DATA / "arxiv").glob("papers-*.jsonl.gz")):
        with gzip.open(f, "rt", encoding="utf-8") as fh:
            papers += [json.loads(line) for line in fh]
    papers = papers[: args.latency_docs]
    queries = latency_queries(papers, args.queries)
    rows: list[tuple[str, dict[str, float]]] = []
    ids = [p["id"] for p in papers]
    text = [f"{p['title']} {p['summary']} {' '.join(p['authors'])}" for p in papers]
    for name, cls in (("bm25s (plain BM25)", Bm25Baseline),
                      ("TF-IDF scan (arxiv-sanity)", TfidfScanBaseline)):
        model = cls(ids, text)
        rows.append((name, timed(lambda q, m=model: m.rank(q, 10), queries)))
    home = OUT / f"arxiv-{len(papers)}"
    settings = Settings(home=home)
    store = Store.open(settings.resolved_database_url)
    if store.count_papers() < len(papers):
        sources = sorted((DATA / "arxiv").glob("papers-*.jsonl.gz"))
        run_import(store, sources, fmt="arxiv", progress=True)
    engine = SearchEngine(store, settings)

    def show(done: int, total: int) -> None:
        print(f"\r  embedding {done:,}/{total:,}", end="", file=sys.stderr, flush=True)

    engine.sync(modes=args.modes, on_progress=show)
    print(file=sys.stderr)
    top10 = SearchOptions(limit=10)
    for mode in args.modes:
        rows.append((f"paperwire {mode}",
                     timed(lambda q, m=mode: engine.search(q, m, top10), queries)))
    if engine.dense_available() and len(engine.dense()) > 0:
        recall_rows(engine, queries, rows)
    return rows


def recall_rows(engine: Any, queries: list[str], rows: list[tuple[str, dict[str, float]]]
                ) -> None:
    """HNSW against the exact scan on the same real vectors: recall@10 and time per query
    (the query's embedding excluded, so the two searches are compared alone)."""
    dense = engine.dense()
    vectors = engine._embedder().embed(queries)
    exact = [dense.search(v, 10, exact=True) for v in vectors]
    approx = [dense.search(v, 10, exact=False) for v in vectors]
    recall = float(np.mean([len({i for i, _ in a} & {i for i, _ in e}) / 10
                            for a, e in zip(approx, exact, strict=True)]))
    print(f"\n## HNSW vs exact over {len(dense):,} real vectors, {len(queries)} queries: "
          f"recall@10 {recall:.4f}")
    by_text = dict(zip(queries, vectors, strict=True))
    for name, flag in (("vectors: exact scan", True), ("vectors: HNSW", False)):
        stats = timed(lambda q, f=flag: dense.search(by_text[q], 10, exact=f), queries)
        rows.append((name, stats))
    # the search breadth (expansion_search) against recall: how the setting was chosen
    from paperwire.search.dense import HNSW_EXPANSION_SEARCH

    index = dense._hnsw_index()
    print(f"{'expansion_search':>16} {'recall@10':>10} {'ms/query':>9}")
    for ef in (64, 128, 256, 512, 1024):
        index.expansion_search = ef
        t0 = time.perf_counter()
        found = [dense.search(v, 10, exact=False) for v in vectors]
        ms = (time.perf_counter() - t0) * 1000 / len(vectors)
        r = float(np.mean([len({i for i, _ in a} & {i for i, _ in e}) / 10
                           for a, e in zip(found, exact, strict=True)]))
        mark = "  (the setting)" if ef == HNSW_EXPANSION_SEARCH else ""
        print(f"{ef:>16} {r:>10.4f} {ms:>9.2f}{mark}")
    index.expansion_search = HNSW_EXPANSION_SEARCH


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--modes", nargs="+", default=["lexical", "dense", "hybrid"])
    ap.add_argument("--skip-quality", action="store_true")
    ap.add_argument("--skip-latency", action="store_true")
    ap.add_argument("--skip-floor", action="store_true")
    ap.add_argument("--latency-docs", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--skip-arxiv", action="store_true", help="no arXiv known-item sets")
    ap.add_argument("--arxiv-docs", type=int, default=4000,
                    help="arXiv papers for the known-item sets (0: all ~75k; slow at first)")
    args = ap.parse_args()
    print(f"# search benchmark, {time.strftime('%Y-%m-%d')}, {platform.machine()}, "
          f"Python {platform.python_version()}")
    if not args.skip_quality:
        print("\n## SciFact test (300 queries, 5,183 documents)")
        print(f"{'system':<30} {'nDCG@10':>8} {'R@100':>8} {'MRR@10':>8}")
        for name, r in quality(args):
            print(f"{name:<30} {r['ndcg@10']:>8.4f} {r['recall@100']:>8.4f} {r['mrr@10']:>8.4f}")
        if not args.skip_floor:  # the relevance floor's two figures (bench/floor_bench.py)
            from floor_bench import run as floor_run

            print("\n## The relevance floor (thresholds chosen on train by bench/floor_bench.py)")
            floor_run(apply=True)
    if not args.skip_arxiv:
        n, sets = arxiv_quality(args)
        for name, rows_ in sets.items():
            print(f"\n## arXiv {name} lookups (test half, {n:,} papers)")
            print(f"{'system':<30} {'MRR@10':>8} {'hit@10':>8}")
            for label, r in rows_:
                print(f"{label:<30} {r['mrr@10']:>8.4f} {r['hit@10']:>8.4f}")
    if not args.skip_latency:
        rows = latency(args)
        print(f"\n## latency, {args.queries} title queries over the arXiv papers")
        print(f"{'system':<30} {'p50 ms':>8} {'p99 ms':>8}")
        for name, r in rows:
            print(f"{name:<30} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f}")


if __name__ == "__main__":
    main()
