"""``paperwire eval``: search quality and latency on a BEIR-layout data set.

DIR holds ``corpus.jsonl[.gz]`` (``_id, title, text``), ``queries.jsonl`` (``_id, text``) and
``qrels/<split>.tsv`` (``query-id, corpus-id, score`` with a header). The corpus is imported
into a throwaway home (SQLite), indexed, and every query of the split is run through the same
search engine as ``paperwire search``. Reported: nDCG@10, Recall@100, MRR@10 (BEIR's
definitions) and per-query latency p50/p99 in milliseconds, query embedding included.
"""

from __future__ import annotations

import csv
import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from paperwire.config import Settings
from paperwire.errors import PaperwireError
from paperwire.importers import run_import
from paperwire.search.engine import MODES, SearchEngine
from paperwire.search.metrics import mrr_at_k, ndcg_at_k, percentile, recall_at_k
from paperwire.store import Store

PREFIX = "beir:"  # how the importer namespaces BEIR document ids


@dataclass(frozen=True)
class EvalResult:
    mode: str
    split: str
    documents: int
    queries: int
    ndcg10: float
    recall100: float
    mrr10: float
    p50_ms: float
    p99_ms: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode, "split": self.split, "documents": self.documents,
            "queries": self.queries, "ndcg@10": round(self.ndcg10, 4),
            "recall@100": round(self.recall100, 4), "mrr@10": round(self.mrr10, 4),
            "p50_ms": round(self.p50_ms, 2), "p99_ms": round(self.p99_ms, 2),
        }


def _corpus_file(folder: Path) -> Path:
    for name in ("corpus.jsonl", "corpus.jsonl.gz"):
        if (folder / name).is_file():
            return folder / name
    raise PaperwireError(f"{folder} has no corpus.jsonl or corpus.jsonl.gz (BEIR layout)")


def load_queries(folder: Path) -> dict[str, str]:
    path = folder / "queries.jsonl"
    if not path.is_file():
        raise PaperwireError(f"{folder} has no queries.jsonl (BEIR layout)")
    queries = {}
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if line.strip():
                try:
                    q = json.loads(line)
                    queries[str(q["_id"])] = str(q["text"])
                except (ValueError, KeyError, TypeError) as exc:
                    raise PaperwireError(f"{path}:{n}: not a BEIR query ({exc})") from exc
    return queries


def load_qrels(folder: Path, split: str) -> dict[str, dict[str, int]]:
    path = folder / "qrels" / f"{split}.tsv"
    if not path.is_file():
        raise PaperwireError(f"{folder} has no qrels/{split}.tsv")
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8") as fh:
        rows = csv.reader(fh, delimiter="\t")
        for n, row in enumerate(rows, 1):
            if n == 1 and not row[-1].strip().lstrip("-").isdigit():
                continue  # header
            try:
                qid, doc, grade = row[0], row[1], int(row[2])
            except (IndexError, ValueError) as exc:
                raise PaperwireError(f"{path}:{n}: expected query-id, corpus-id, score") from exc
            qrels.setdefault(qid, {})[doc] = grade
    return qrels


def evaluate(
    folder: Path,
    split: str = "test",
    mode: str = "hybrid",
    home: Path | None = None,
    progress: Callable[[str], None] | None = None,
    engine_options: dict[str, Any] | None = None,
) -> EvalResult:
    if mode not in MODES:
        raise PaperwireError(f"mode must be one of {', '.join(MODES)}")
    queries = load_queries(folder)
    qrels = load_qrels(folder, split)
    corpus = _corpus_file(folder)
    with tempfile.TemporaryDirectory(prefix="paperwire-eval-") as tmp:
        home = home or Path(tmp)
        settings = Settings(home=home)
        store = Store.open(settings.resolved_database_url)
        if store.count_papers() == 0:
            if progress:
                progress(f"importing {corpus}")
            report = run_import(store, [corpus], fmt="beir", progress=progress is not None)
            if report.files_failed:
                raise PaperwireError(f"cannot read {corpus}: {report.files_failed[0][1]}")
        engine = SearchEngine(store, settings, **(engine_options or {}))
        if progress:
            progress("indexing")
        engine.sync(modes=(mode,))
        ndcg, recall, mrr, latency = [], [], [], []
        for qid, judged in qrels.items():
            if qid not in queries:
                continue
            t0 = time.perf_counter()
            ids = engine.rank_ids(queries[qid], mode=mode, k=100)
            latency.append((time.perf_counter() - t0) * 1000)
            ranking = [d.removeprefix(PREFIX) for d in ids]
            ndcg.append(ndcg_at_k(ranking, judged, 10))
            recall.append(recall_at_k(ranking, judged, 100))
            mrr.append(mrr_at_k(ranking, judged, 10))
        documents = store.count_papers()
        store.close()
    if not ndcg:
        raise PaperwireError(f"no query of qrels/{split}.tsv is in queries.jsonl")
    n = len(ndcg)
    return EvalResult(mode, split, documents, n, sum(ndcg) / n, sum(recall) / n, sum(mrr) / n,
                      percentile(latency, 50), percentile(latency, 99))
