"""Recommendation quality: Paperwire's learned ranking beside two baselines, in the same run.

    .venv/bin/python bench/recommend_bench.py [--docs 20000] [--seed 7]

Real data: the arXiv papers of ../shared/data/arxiv (74,728). No real reading lists exist, so
users are simulated from the data, three kinds:

- ``author``: everything one author name wrote (names with 10–40 papers);
- ``two-authors``: the union of two such authors whose main categories differ (a reader with
  two interests — where one "mean of the library" falls between them);
- ``category``: papers cross-listed in one smaller arXiv category (cs.RO, eess.AS, q-bio.NC …),
  a topic seed no system here sees (categories are in nobody's features).

Each user's papers are sorted by arXiv id (submission order): the oldest 70% are the
library (the positives), the newest 30% are held out, to be found among every other paper of
the corpus (for a category user: every corpus paper of the category outside the library).
Metrics: nDCG@10 and Recall@50 of the held-out papers. Users are split in two:
TRAIN users choose every hyper-parameter (the blend of the learned model, its relevance floor,
the baselines' C); TEST users only report.

Systems, scored on the same corpus, users and vectors:

- ``mean of library``: cosine to the normalised mean of the library's stored MiniLM vectors;
- ``TF-IDF + SVM (arxiv-sanity-lite)``: its vectoriser (title + abstract + authors, word 1–2
  grams, 20k features, sublinear tf, max_df 0.1, min_df 5) and a ``LinearSVC(class_weight=
  "balanced")`` trained on the library against every other paper, as arxiv-sanity-lite does;
  C chosen on the train users;
- ``paperwire``: :func:`paperwire.recommend.model.rank` — the stored vectors, its own lexical
  space, a classifier against a background sample, nearest positives, a floor.

The corpus is a subset (``--docs``, default 20,000): every paper of the simulated users plus a
seeded random sample of the rest, imported into a real store under bench/out/ and embedded by
Paperwire's own embedder (ONNX MiniLM int8), kept between runs.
"""

from __future__ import annotations

import argparse
import gzip
import json
import platform
import random
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
# ../shared/data beside the checkout (a worktree one level deeper finds it one level up)
DATA = next((d for d in (ROOT.parent / "shared" / "data", ROOT.parent.parent / "shared" / "data")
             if d.is_dir()), ROOT.parent / "shared" / "data")
OUT = ROOT / "bench" / "out"
sys.path.insert(0, str(ROOT / "src"))

from paperwire.models import is_arxiv_category  # noqa: E402
from paperwire.search.metrics import ndcg_at_k, recall_at_k  # noqa: E402

HELD_OUT = 0.3
AUTHOR_PAPERS = (10, 40)
CATEGORY_PAPERS = (40, 1500)  # categories this rare (in the 74,728), the big ones are no topic
CATEGORY_SAMPLE = 40  # papers of a category user put into the corpus


@dataclass
class User:
    name: str
    kind: str
    papers: list[str]  # in arXiv-id order
    split: str = "train"
    library: list[str] = field(default_factory=list)
    held_out: list[str] = field(default_factory=list)


def load_papers() -> list[dict[str, Any]]:
    papers = []
    for f in sorted((DATA / "arxiv").glob("papers-*.jsonl.gz")):
        with gzip.open(f, "rt", encoding="utf-8") as fh:
            papers += [json.loads(line) for line in fh]
    return papers


def main_category(papers: list[dict[str, Any]]) -> str:
    return Counter(p["categories"][0] for p in papers).most_common(1)[0][0]


def choose_users(papers: list[dict[str, Any]], rng: random.Random, n_author: int,
                 n_pairs: int, n_category: int) -> list[User]:
    by_author: dict[str, list[dict[str, Any]]] = defaultdict(list)
    by_category: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for p in papers:
        for a in dict.fromkeys(p["authors"]):
            by_author[a].append(p)
        for c in dict.fromkeys(p["categories"]):
            by_category[c].append(p)
    lo, hi = AUTHOR_PAPERS
    names = sorted(a for a, ps in by_author.items() if lo <= len(ps) <= hi)
    rng.shuffle(names)
    users: list[User] = []
    taken: set[str] = set()

    def ids(ps: list[dict[str, Any]]) -> list[str]:
        return sorted({p["id"] for p in ps})

    for a in names[:n_author]:
        users.append(User(f"author:{a}", "author", ids(by_author[a])))
        taken.add(a)
    rest = [a for a in names[n_author:] if a not in taken]
    pairs = 0
    i = 0
    while pairs < n_pairs and i + 1 < len(rest):
        a, b = rest[i], rest[i + 1]
        i += 2
        if main_category(by_author[a]) == main_category(by_author[b]):
            continue
        both = ids(by_author[a] + by_author[b])
        users.append(User(f"authors:{a} + {b}", "two-authors", both))
        pairs += 1
    lo, hi = CATEGORY_PAPERS
    cats = sorted(c for c, ps in by_category.items()
                  if lo <= len(ps) <= hi and is_arxiv_category(c) and "." in c)
    rng.shuffle(cats)
    for c in cats[:n_category]:
        sample = rng.sample(by_category[c], min(CATEGORY_SAMPLE, len(by_category[c])))
        users.append(User(f"category:{c}", "category", ids(sample)))
    # train/test: half of each kind, at random
    for kind in ("author", "two-authors", "category"):
        of_kind = [u for u in users if u.kind == kind]
        rng.shuffle(of_kind)
        for j, u in enumerate(of_kind):
            u.split = "train" if j < len(of_kind) // 2 else "test"
    return users


def build_corpus(papers: list[dict[str, Any]], users: list[User], docs: int,
                 rng: random.Random) -> list[dict[str, Any]]:
    seeded = {pid for u in users for pid in u.papers}
    others = [p for p in papers if p["id"] not in seeded]
    fill = rng.sample(others, max(0, docs - len(seeded)))
    keep = seeded | {p["id"] for p in fill}
    return [p for p in papers if p["id"] in keep]


def settle_users(users: list[User], corpus_ids: set[str]) -> list[User]:
    """Library (oldest 70%) and held-out (newest 30%), within the corpus (a category user's
    held-out papers are then widened by :func:`category_extend`)."""
    out = []
    for u in users:
        ps = [p for p in u.papers if p in corpus_ids]
        cut = round(len(ps) * (1 - HELD_OUT))
        u.library, u.held_out = ps[:cut], ps[cut:]
        if len(u.library) >= 3 and len(u.held_out) >= 2:
            out.append(u)
    return out


def category_extend(users: list[User], corpus: list[dict[str, Any]]) -> None:
    """A category user's held-out papers: every corpus paper in that category outside the
    library, older ones too (they are on the topic; left unlabelled they would count against
    every system for finding them)."""
    for u in users:
        if u.kind != "category":
            continue
        cat = u.name.split(":", 1)[1]
        lib = set(u.library)
        u.held_out = sorted(p["id"] for p in corpus
                            if cat in p["categories"] and p["id"] not in lib)


# ---- the corpus in a real store, embedded by Paperwire's embedder -----------------------


def open_corpus(corpus: list[dict[str, Any]], docs: int) -> tuple[list[str], np.ndarray, Any]:
    """Import the corpus into a store under bench/out/ (once), embed what is not embedded
    yet, and read back (ids, vectors) in the store's id order, and the store."""
    from paperwire.config import Settings
    from paperwire.embed import default_embedder
    from paperwire.importers import run_import
    from paperwire.search.dense import embed_pending
    from paperwire.store import Store

    home = OUT / f"recommend-{docs}"
    home.mkdir(parents=True, exist_ok=True)
    settings = Settings(home=home)
    store = Store.open(settings.resolved_database_url)
    if store.count_papers() < len(corpus):
        src = home / "corpus.jsonl.gz"
        with gzip.open(src, "wt", encoding="utf-8") as fh:
            for p in corpus:
                fh.write(json.dumps(p) + "\n")
        run_import(store, [src], fmt="arxiv", progress=False)
    embedder = default_embedder(settings.resolved_models_dir)
    t0 = time.perf_counter()

    def show(done: int, total: int) -> None:
        rate = done / max(time.perf_counter() - t0, 1e-9)
        print(f"\r  embedding {done:,}/{total:,} ({rate:.0f}/s)", end="", file=sys.stderr,
              flush=True)

    if embed_pending(store, embedder, on_progress=show):
        print(file=sys.stderr)
    ids: list[str] = []
    rows: list[np.ndarray] = []
    for batch in store.iter_embeddings(embedder.name):
        for pid, blob, _ in batch:  # the first vector: what the model uses
            ids.append(pid)
            rows.append(np.frombuffer(blob, dtype="<f4"))
    return ids, np.vstack(rows).astype(np.float32), store



# ---- the systems ------------------------------------------------------------------------


@dataclass
class Corpus:
    ids: list[str]
    pos: dict[str, int]
    vectors: np.ndarray
    papers: dict[str, dict[str, Any]]
    categories: dict[str, set[str]]


def without(order: np.ndarray, c: Corpus, exclude: set[str], k: int) -> list[str]:
    out = []
    for i in order:
        pid = c.ids[i]
        if pid not in exclude:
            out.append(pid)
            if len(out) == k:
                break
    return out


def mean_ranking(c: Corpus, u: User, k: int) -> list[str]:
    """Cosine to the normalised mean of the library's vectors."""
    m = c.vectors[[c.pos[p] for p in u.library]].mean(0)
    m /= np.linalg.norm(m) or 1.0
    scores = c.vectors @ m
    return without(np.argsort(-scores, kind="stable"), c, set(u.library), k)


class SvmBaseline:
    """arxiv-sanity-lite: its TF-IDF features and one LinearSVC per user, the library against
    every other paper (compute.py and serve.py of karpathy/arxiv-sanity-lite)."""

    def __init__(self, c: Corpus) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        v = TfidfVectorizer(
            input="content", encoding="utf-8", decode_error="replace", strip_accents="unicode",
            lowercase=True, analyzer="word", stop_words="english",
            token_pattern=r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b", ngram_range=(1, 2),
            max_features=20000, norm="l2", use_idf=True, smooth_idf=True, sublinear_tf=True,
            max_df=0.1, min_df=5)
        docs = (c.papers[i] for i in c.ids)
        self.x = v.fit_transform(
            " ".join([p["title"], p["summary"], " ".join(p["authors"])]) for p in docs
        ).astype(np.float32)

    def ranking(self, c: Corpus, u: User, k: int, C: float) -> list[str]:
        from sklearn.svm import LinearSVC

        y = np.zeros(len(c.ids))
        y[[c.pos[p] for p in u.library]] = 1
        clf = LinearSVC(class_weight="balanced", max_iter=10000, tol=1e-6, C=C)
        clf.fit(self.x, y)
        scores = clf.decision_function(self.x)
        return without(np.argsort(-scores, kind="stable"), c, set(u.library), k)


def background_of(c: Corpus, u: User, size: int) -> list[str]:
    """A random sample of the collection (the reader's own papers aside), fixed per user."""
    import zlib

    rng = random.Random(zlib.crc32(u.name.encode()))
    own = set(u.library)
    picks = rng.sample(c.ids, min(len(c.ids), size + len(own)))
    return [p for p in picks if p not in own][:size]


def metrics(ranking: list[str], u: User) -> dict[str, float]:
    qrels = dict.fromkeys(u.held_out, 1)
    return {"ndcg@10": ndcg_at_k(ranking, qrels, 10), "recall@50": recall_at_k(ranking, qrels, 50)}


def mean_of(rows: list[dict[str, float]]) -> dict[str, float]:
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]} if rows else {}


KINDS = ("author", "two-authors", "category")


def by_kind(results: dict[str, dict[str, float]], users: list[User]) -> dict[str, dict[str, float]]:
    """Mean metrics per kind of user, and "all": the mean of the kinds (each kind weighs the
    same, however many users it has)."""
    out = {k: mean_of([results[u.name] for u in users if u.kind == k]) for k in KINDS}
    out = {k: v for k, v in out.items() if v}
    out["all"] = {m: float(np.mean([out[k][m] for k in out])) for m in ("ndcg@10", "recall@50")}
    return out


# ---- Paperwire's model: tuned on the train users, through its own functions -------------


@dataclass
class Tuning:
    params: Any
    score: float
    table: list[tuple[float, float, dict[str, float]]]  # (ndcg, recall, settings) per setting


def top_k(scores: np.ndarray, ids: list[str], k: int) -> list[str]:
    top = np.argpartition(-scores, k)[:k]
    return [ids[i] for i in top[np.argsort(-scores[top], kind="stable")]]


def tune_paperwire(items: Any, c: Corpus, users: list[User], background: int,
                   classifier_grid: list[dict[str, float]], blend_grid: list[dict[str, float]]
                   ) -> tuple[Tuning, dict[str, Any]]:
    """Every (classifier setting x blend) on the train users; the best by the mean over kinds
    of nDCG@10. Returns the tuning and each train user's score parts under the best
    classifier setting (for the floor)."""
    from dataclasses import replace

    from paperwire.recommend import model

    per_setting: dict[tuple[int, int], dict[str, dict[str, float]]] = defaultdict(dict)
    kept: dict[int, dict[str, Any]] = defaultdict(dict)
    t0 = time.perf_counter()
    for n, u in enumerate(users, 1):
        bg = background_of(c, u, background)
        lib = set(u.library)
        cands = [i for i in c.ids if i not in lib]
        for ci, cset in enumerate(classifier_grid):
            p = replace(model.DEFAULT, **cset)
            scored = model.score(items, u.library, [], cands, bg, p)
            assert scored is not None
            kept[ci][u.name] = (cands, scored)
            for bi, bset in enumerate(blend_grid):
                total = model.combine(scored.candidates, replace(p, **bset))
                per_setting[(ci, bi)][u.name] = metrics(top_k(total, cands, 50), u)
        print(f"\r  tuning on train users: {n}/{len(users)} ({time.perf_counter() - t0:.0f} s)",
              end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    table = []
    for (ci, bi), results in per_setting.items():
        overall = by_kind(results, users)["all"]
        table.append((overall["ndcg@10"], overall["recall@50"],
                      {**classifier_grid[ci], **blend_grid[bi]}, ci))
    table.sort(key=lambda r: (-r[0], -r[1]))
    best_ndcg, _, best, ci = table[0]
    params = replace(model.DEFAULT, **best)
    return (Tuning(params, best_ndcg, [(a, b, d) for a, b, d, _ in table]),
            {"parts": kept[ci]})


UNRELATED_SHARE = 0.02  # of the matches, at most this share may share no category


def choose_floor(params: Any, kept: dict[str, Any], users: list[User], c: Corpus
                 ) -> tuple[float, list[tuple[float, float, float, float, float]]]:
    """The floor, on the reader's scale (:func:`paperwire.recommend.model.on_scale`), with
    the model's ``near_floor`` as it is: the lowest at which, over the train users'
    candidates pooled, at most ``UNRELATED_SHARE`` of the matches share no arXiv category
    with the reader's library (surely unrelated; a paper that shares one may still be).
    Returns it and the curve (floor, precision against the held-out papers, their recall,
    unrelated share, unrelated matches per user)."""
    from paperwire.recommend import model

    scores, relevant, unrelated = [], [], []
    for u in users:
        cands, scored = kept["parts"][u.name]
        # below the floor or without an author or a text near the library: never a match
        total = np.where(model.supported(scored, params), model.on_scale(scored, params),
                         -np.inf)
        held = set(u.held_out)
        cats = set().union(*(c.categories[p] for p in u.library))
        scores.append(total)
        relevant.append(np.array([p in held for p in cands]))
        unrelated.append(np.array([not (c.categories[p] & cats) for p in cands]))
    s, r, x = np.concatenate(scores), np.concatenate(relevant), np.concatenate(unrelated)
    curve = []
    chosen = None
    for floor in np.arange(0.0, float(s[np.isfinite(s)].max(initial=0.0)) + 0.25, 0.25):
        above = s >= floor
        n = int(above.sum())
        if n == 0:
            break
        precision = float((above & r).sum() / n)
        recall = float((above & r).sum() / max(int(r.sum()), 1))
        share = float((above & x).sum() / n)
        curve.append((float(floor), precision, recall, share,
                      float((above & x).sum() / len(users))))
        if chosen is None and share <= UNRELATED_SHARE:
            chosen = float(floor)
    return (chosen if chosen is not None else curve[-1][0]), curve


def floor_report(ranked: dict[str, list[Any]], users: list[User], c: Corpus
                 ) -> dict[str, float]:
    """Over the test users: of what the floor calls a match, how much is held out (pooled
    precision), how much of the held out it calls a match (recall), and how many papers
    sharing no category with the library it lets through per user."""
    matched = held = hit = unrelated = 0
    none = 0
    for u in users:
        cats = set().union(*(c.categories[p] for p in u.library))
        m = [r.paper_id for r in ranked[u.name] if r.match]
        matched += len(m)
        hit += len(set(m) & set(u.held_out))
        held += len(u.held_out)
        unrelated += sum(1 for p in m if not (c.categories[p] & cats))
        none += not m
    return {"precision": hit / max(matched, 1), "recall": hit / max(held, 1),
            "matches per user": matched / len(users), "unrelated per user": unrelated / len(users),
            "unrelated share": unrelated / max(matched, 1),
            "users with no match": none / len(users)}


def run(args: argparse.Namespace) -> None:
    from dataclasses import replace

    from paperwire.recommend import model
    from paperwire.recommend.service import BACKGROUND

    rng = random.Random(args.seed)
    t0 = time.perf_counter()
    papers = load_papers()
    users = choose_users(papers, rng, args.authors, args.pairs, args.categories)
    corpus = build_corpus(papers, users, args.docs, rng)
    ids, vectors, store = open_corpus(corpus, args.docs)
    print(f"corpus: {len(ids):,} papers with vectors ({time.perf_counter() - t0:.0f} s)",
          file=sys.stderr)
    if args.prepare_only:
        return
    by_id = {p["id"]: p for p in corpus}
    c = Corpus(ids, {p: i for i, p in enumerate(ids)}, vectors, by_id,
               {p: set(by_id[p]["categories"]) for p in ids})
    users = settle_users(users, set(ids))
    category_extend(users, [by_id[i] for i in ids])
    users = [u for u in users if len(u.held_out) >= 2]
    if args.per_group:  # a quicker run: the first N readers of each kind and split
        seen: Counter[tuple[str, str]] = Counter()
        kept = []
        for u in users:
            seen[(u.kind, u.split)] += 1
            if seen[(u.kind, u.split)] <= args.per_group:
                kept.append(u)
        users = kept
    train = [u for u in users if u.split == "train"]
    test = [u for u in users if u.split == "test"]
    counts = Counter((u.kind, u.split) for u in users)
    print("users (train/test): " + ", ".join(
        f"{k} {counts[(k, 'train')]}/{counts[(k, 'test')]}" for k in KINDS), file=sys.stderr)

    # the lexical space of Paperwire's model, over the corpus (as the service builds one over
    # the papers of a ranking), with the stored vectors
    stored = store.get_papers(ids)
    from paperwire.embed import paper_text

    items = model.Items.build(
        [(i, paper_text(stored[i].title, stored[i].abstract), stored[i].authors) for i in ids],
        vectors, author_weight=args.author_weight)

    # ---- tuning, train users only -------------------------------------------------------
    classifier_grid = [{"lexical_scale": s} for s in args.lexical_scales]
    blend_grid = [{"knn_weight": k, "lexical_knn_weight": lk}
                  for k in (0.0, 0.5, 1.0, 2.0, 4.0) for lk in (0.0, 0.5, 1.0, 2.0)]
    tuning, kept = tune_paperwire(items, c, train, BACKGROUND, classifier_grid, blend_grid)
    floor, curve = choose_floor(tuning.params, kept, train, c)
    params = replace(tuning.params, floor=floor)
    svm = SvmBaseline(c)
    svm_train = {}
    for C in args.svm_c:
        t1 = time.perf_counter()
        res = {u.name: metrics(svm.ranking(c, u, 50, C), u) for u in train}
        svm_train[C] = by_kind(res, train)["all"]
        print(f"  SVM C={C} on train users: {svm_train[C]} ({time.perf_counter() - t1:.0f} s)",
              file=sys.stderr)
    best_c = max(args.svm_c, key=lambda C: (svm_train[C]["ndcg@10"], svm_train[C]["recall@50"]))

    # ---- test users: every system, same users, same corpus ------------------------------
    systems: dict[str, dict[str, dict[str, float]]] = defaultdict(dict)
    ranked: dict[str, list[Any]] = {}
    ablations = {
        "Paperwire, shipped defaults (model.DEFAULT)": model.DEFAULT,
        "Paperwire, the earlier blend (classifier 1, nearest paper 4 and 2)": replace(
            model.DEFAULT, classifier_weight=1.0, knn_weight=4.0, lexical_knn_weight=2.0),
        "Paperwire, vectors only (no lexical side)": replace(
            params, lexical_scale=0.0, lexical_knn_weight=0.0),
        "Paperwire, classifier only (no nearest positives)": replace(
            params, knn_weight=0.0, lexical_knn_weight=0.0),
    }
    t1 = time.perf_counter()
    for n, u in enumerate(test, 1):
        lib = set(u.library)
        cands = [i for i in c.ids if i not in lib]
        bg = background_of(c, u, BACKGROUND)
        systems["mean of library (cosine)"][u.name] = metrics(mean_ranking(c, u, 50), u)
        systems[f"TF-IDF + SVM, C={best_c} (arxiv-sanity-lite)"][u.name] = metrics(
            svm.ranking(c, u, 50, best_c), u)
        if 0.01 in args.svm_c and best_c != 0.01:
            systems["TF-IDF + SVM, C=0.01 (its default)"][u.name] = metrics(
                svm.ranking(c, u, 50, 0.01), u)
        full = model.rank(items, u.library, [], cands, bg, params)
        ranked[u.name] = full
        systems["Paperwire (learned)"][u.name] = metrics([r.paper_id for r in full[:50]], u)
        for name, p in ablations.items():
            got = model.rank(items, u.library, [], cands, bg, p, limit=50)
            systems[name][u.name] = metrics([r.paper_id for r in got], u)
        print(f"\r  test users: {n}/{len(test)} ({time.perf_counter() - t1:.0f} s)", end="",
              file=sys.stderr, flush=True)
    print(file=sys.stderr)

    # ---- report -------------------------------------------------------------------------
    print(f"\n# Recommendations, {len(ids):,} real arXiv papers, {len(train)} train / "
          f"{len(test)} test simulated users ({platform.machine()}, Python "
          f"{platform.python_version()}, {time.perf_counter() - t0:.0f} s)")
    print(f"\nChosen on the train users: {tuning.params.__class__.__name__}("
          f"lexical_scale={params.lexical_scale}, knn_weight={params.knn_weight}, "
          f"lexical_knn_weight={params.lexical_knn_weight}, floor={params.floor}), author "
          f"weight {args.author_weight}, background {BACKGROUND}; SVM C={best_c} "
          f"(train nDCG@10 by C: "
          + ", ".join(f"{C}: {svm_train[C]['ndcg@10']:.4f}" for C in args.svm_c) + ")")
    print(f"Model defaults now: {model.DEFAULT}")
    print("\nBest blends on train (nDCG@10 / Recall@50, mean over kinds):")
    for a, b, d in tuning.table[:6]:
        print(f"  {a:.4f} / {b:.4f}  {d}")
    print("\n## Test users (nDCG@10 / Recall@50)\n")
    head = "| system | " + " | ".join(f"{k}" for k in (*KINDS, "all (mean of kinds)")) + " |"
    print(head)
    print("|---|" + "---:|" * (len(KINDS) + 1))
    summary = {}
    for name, res in systems.items():
        kinds = by_kind(res, test)
        summary[name] = kinds["all"]
        cells = [f"{kinds[k]['ndcg@10']:.4f} / {kinds[k]['recall@50']:.4f}"
                 for k in (*KINDS, "all")]
        print(f"| {name} | " + " | ".join(cells) + " |")
    ours = summary["Paperwire (learned)"]
    print("\nPaperwire over each baseline (all users, mean of kinds):")
    for name, s in summary.items():
        if name.startswith("Paperwire"):
            continue
        print(f"  vs {name}: nDCG@10 x{ours['ndcg@10'] / max(s['ndcg@10'], 1e-9):.2f}, "
              f"Recall@50 x{ours['recall@50'] / max(s['recall@50'], 1e-9):.2f}")
    print(f"\n## The floor ({params.floor}), chosen on train: the lowest score (on the reader's "
          f"scale) where at most {UNRELATED_SHARE:.0%} of matches share no category with the "
          "library\n")
    print("train curve (floor: precision, recall, share of matches sharing no category, those "
          "per user):")
    for f, pr, rc, sh, un in curve[:: max(1, len(curve) // 16)]:
        print(f"  {f:5.2f}: {pr:.3f} {rc:.3f} {sh:.3f} {un:.1f}")
    for name, p in (("chosen", params), ("shipped", model.DEFAULT),
                    ("earlier blend", replace(model.DEFAULT, classifier_weight=1.0,
                                              knn_weight=4.0, lexical_knn_weight=2.0))):
        fr = floor_report({u.name: model.rank(items, u.library, [],
                                              [i for i in c.ids if i not in set(u.library)],
                                              background_of(c, u, BACKGROUND), p)
                           for u in test} if name != "chosen" else ranked, test, c)
        print(f"test, {name} ({p.floor}): " + ", ".join(f"{k} {v:.3f}" for k, v in fr.items()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--authors", type=int, default=120)
    ap.add_argument("--pairs", type=int, default=60)
    ap.add_argument("--categories", type=int, default=40)
    ap.add_argument("--author-weight", type=float, default=0.5)  # as the service builds it
    ap.add_argument("--lexical-scales", type=float, nargs="+", default=[1.0, 2.0, 4.0])
    ap.add_argument("--svm-c", type=float, nargs="+", default=[0.01, 0.1, 1.0, 10.0])
    ap.add_argument("--per-group", type=int, default=0,
                    help="keep only the first N readers of each kind and split (same corpus)")
    ap.add_argument("--prepare-only", action="store_true",
                    help="build and embed the corpus, then stop")
    run(ap.parse_args())


if __name__ == "__main__":
    main()
