"""Paperwire at 1M and 3M papers on one small machine, beside baselines in the same run.

    .venv/bin/python bench/scale_bench.py --papers 1000000 [--skip-import] [--skip-vectors]
                                          [--skip-serve]
                                          [--hnsw b1 f16] [--keep]

One command, four parts, each printed as it ends:

1. **Corpus**: ``bench/out/scale/papers-N.jsonl.gz``, Kaggle snapshot lines made by
   bench/scale_corpus.py from the real 75k papers (synthetic: see its docstring); made once.
2. **Import**: ``paperwire import`` of that file into a new SQLite home (it brings the BM25
   index up to date at its end), then ``paperwire index --no-embed`` (incremental: nothing new),
   then the same import again (it must change nothing): wall
   seconds and each process's peak RSS (``wait4``); beside it, bm25s indexing the same titles
   and abstracts in memory (the baseline, in its own process).
3. **Vectors**: stand-in vectors for the N papers (bench/scale_corpus.py ``--vectors``: the real
   vectors of the 75k, from the store of bench/search_bench.py, mixed per synthetic paper), then
   bench/scale_vectors.py on them: quantised codes and HNSW indexes against the exact scan.
4. **Serving**: bench/scale_serve.py on the imported home: ``paperwire serve`` start-up, peak
   RSS, p50/p99 per route. The stand-in vectors are not in the store (they have no text to
   embed); when part 3 made them, they are published as the home's dense index (the layout
   the index writer publishes, with the f16 graph part 3 built), so lexical, dense and hybrid
   search are each timed, with the real query embedder.

Each heavy step runs in its own process, so one step's memory does not hide another's.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out" / "scale"
REAL_STORE = ROOT / "bench" / "out" / "arxiv-74728"  # bench/search_bench.py's latency store
PY = sys.executable
# CPU seconds (user + system, all threads) of the last command run(): beside wall seconds, a
# figure that another process sharing the 2 cores inflates far less
CPU = {"last": 0.0}
BM25S_MAX = 1_000_000  # papers the bm25s baseline indexes at most (its memory: see import_part)


def run(cmd: list[str], env: dict[str, str] | None = None, label: str = "") -> tuple[
        float, float, str]:
    """Run ``cmd`` to its end: (wall seconds, peak RSS in MiB, stdout). Stderr passes
    through (progress); a failure stops the benchmark with the command's last words."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        sys.exit(f"{label or cmd[0]} failed with exit code {proc.returncode}: {out[-400:]}")
    CPU["last"] = usage.ru_utime + usage.ru_stime
    return wall, usage.ru_maxrss / 1024, out


def corpus(n: int) -> Path:
    path = OUT / f"papers-{n}.jsonl.gz"
    if not path.exists():
        tmp = path.with_name(path.name + ".part.gz")
        wall, _, _ = run([PY, str(ROOT / "bench" / "scale_corpus.py"), "--papers", str(n),
                          "--out", str(tmp)], label="scale_corpus")
        tmp.rename(path)
        print(f"corpus: {n:,} papers made in {wall:.0f} s", flush=True)
    print(f"corpus: {path} ({path.stat().st_size / 2**20:,.0f} MiB)", flush=True)
    return path


BM25S = r"""
import gzip, json, sys, time
import bm25s, Stemmer
texts = []
limit = int(sys.argv[2])
with gzip.open(sys.argv[1], "rt", encoding="utf-8") as fh:
    for line in fh:
        d = json.loads(line)
        texts.append(d["title"] + " " + d["abstract"])
        if len(texts) == limit:
            break
t = time.perf_counter()
tokens = bm25s.tokenize(texts, stopwords="en", stemmer=Stemmer.Stemmer("english"),
                        show_progress=False)
retriever = bm25s.BM25()
retriever.index(tokens, show_progress=False)
print(json.dumps({"index_s": time.perf_counter() - t, "docs": len(texts)}))
"""


def import_part(path: Path, n: int, keep: bool) -> None:
    home = OUT / f"home-{n}"
    if home.exists() and not keep:
        shutil.rmtree(home)
    env = {"PAPERWIRE_HOME": str(home), "PAPERWIRE_LOG_LEVEL": "WARNING"}
    paperwire = [PY, "-m", "paperwire"]
    print("\n## Import and lexical index\n", flush=True)
    print("| step | wall s | CPU s | papers/s | peak RSS MiB | result |")
    print("|---|---:|---:|---:|---:|---|")
    wall, rss, out = run([*paperwire, "import", "--json", "--no-progress", str(path)], env,
                         "paperwire import")
    first = json.loads(out)
    print(f"| paperwire import (first; it builds the BM25 index too) | {wall:,.0f} | "
          f"{CPU['last']:,.0f} | {n / wall:,.0f} | {rss:,.0f} | {_counts(first)} |", flush=True)
    wall, rss, _ = run([*paperwire, "index", "--no-embed", "--no-progress"], env,
                       "paperwire index")
    print(f"| paperwire index --no-embed (incremental: nothing new) | {wall:,.0f} | "
          f"{CPU['last']:,.0f} | {n / wall:,.0f} | {rss:,.0f} | |", flush=True)
    wall, rss, out = run([*paperwire, "import", "--json", "--no-progress", str(path)], env,
                         "paperwire import")
    print(f"| paperwire import (again) | {wall:,.0f} | {CPU['last']:,.0f} | {n / wall:,.0f} | "
          f"{rss:,.0f} | {_counts(json.loads(out))} |", flush=True)
    # bm25s holds every token of the corpus as Python objects while it tokenises: 7.3 GB at
    # 1M papers, so 3M would not fit in 24 GB; above BM25S_MAX it indexes the first BM25S_MAX
    m = min(n, BM25S_MAX)
    wall, rss, out = run([PY, "-c", BM25S, str(path), str(m)], label="bm25s")
    got = json.loads(out.strip().splitlines()[-1])
    print(f"| bm25s: read + index in memory (baseline{'' if m == n else f', first {m:,}'}) | "
          f"{wall:,.0f} | {CPU['last']:,.0f} | {m / wall:,.0f} | {rss:,.0f} | "
          f"index alone {got['index_s']:.0f} s |", flush=True)
    size = sum(f.stat().st_size for f in home.rglob("*") if f.is_file())
    print(f"\nhome on disk after import + index: {size / 2**30:.2f} GiB", flush=True)


def _counts(report: dict[str, object]) -> str:
    papers = report.get("papers", {})
    if not isinstance(papers, dict):
        return ""
    return ", ".join(f"{k} {v:,}" for k, v in papers.items() if isinstance(v, int))


def real_vectors() -> Path:
    """The 75k real papers' first vectors (float16), one row per paper in the order of
    bench/search_bench.py's ``arxiv_papers()``: the source order of bench/scale_corpus.py.
    Read from bench/search_bench.py's store when it has them, else embedded here (title +
    abstract, today's embedder; ~16 min on 2 cores) in chunks kept on disk, so a killed run
    resumes after its last chunk."""
    path = OUT / "real-75k.npy"
    if path.exists():
        return path
    sys.path.insert(0, str(ROOT / "src"))
    sys.path.insert(0, str(ROOT / "bench"))
    from search_bench import arxiv_papers

    from paperwire.config import Settings
    from paperwire.embed import DEFAULT_MAX_LENGTH, DEFAULT_PRECISION
    from paperwire.embed.model_files import MODEL_NAME
    from paperwire.store import Store

    papers = arxiv_papers()
    order = [str(p["id"]) for p in papers]
    by_id: dict[str, np.ndarray] = {}
    if (REAL_STORE / "paperwire.db").exists():
        store = Store.open(Settings(home=REAL_STORE).resolved_database_url)
        model = f"{MODEL_NAME}/onnx-{DEFAULT_PRECISION}/{DEFAULT_MAX_LENGTH}"
        by_id = {pid: np.frombuffer(blob, dtype="<f4")
                 for batch in store.iter_embeddings(model) for pid, blob, _ in batch}
    if all(pid in by_id for pid in order):
        rows = np.stack([by_id[pid] for pid in order])
    else:
        rows = _embed_real(papers)
    np.save(path, rows.astype(np.float16))
    return path


def _embed_real(papers: list[dict[str, object]], chunk: int = 4096) -> np.ndarray:
    from tqdm import tqdm

    from paperwire.embed import default_embedder, paper_text

    parts = OUT / "real-75k.parts"
    parts.mkdir(exist_ok=True)
    emb = default_embedder(ROOT / "bench" / "out" / "models")
    done: list[np.ndarray] = []
    with tqdm(total=len(papers), unit=" papers", desc="embedding the real papers") as bar:
        for start in range(0, len(papers), chunk):
            part = parts / f"{start:06d}.npy"
            if not part.exists():
                texts = [paper_text(str(p["title"]), str(p["summary"]))
                         for p in papers[start : start + chunk]]
                tmp = part.with_suffix(".tmp.npy")
                np.save(tmp, emb.embed(texts).astype(np.float16))
                tmp.replace(part)
            done.append(np.load(part))
            bar.update(len(done[-1]))
    emb.close()
    return np.concatenate(done)


def vectors_part(n: int, hnsw: list[str]) -> None:
    vecs = OUT / f"vectors-{n}.npy"
    if not vecs.exists():
        real = real_vectors()
        wall, _, _ = run([PY, str(ROOT / "bench" / "scale_corpus.py"), "--papers", str(n),
                          "--vectors", str(real), "--vectors-out", str(vecs)],
                         label="stand-in vectors")
        print(f"stand-in vectors: {n:,} made in {wall:.0f} s", flush=True)
    print("\n## Vectors\n", flush=True)
    graph = OUT / f"hnsw-f16-{n}.usearch"
    _, _, out = run([PY, str(ROOT / "bench" / "scale_vectors.py"), "--vectors", str(vecs),
                     "--hnsw", *hnsw, *(["--save-f16", str(graph)] if "f16" in hnsw else [])],
                    label="scale_vectors")
    print(out, flush=True)


def _mark_vectors(home: Path, model: str, vecs: np.ndarray) -> None:
    """One row in the store's embeddings table (the first paper's stand-in vector): the
    search engine asks the store whether any paper has vectors before it uses the dense
    index, and the stand-ins are otherwise only in the index."""
    from paperwire.config import Settings
    from paperwire.store import Store

    store = Store.open(Settings(home=home).resolved_database_url)
    paper, content_hash = next(iter(store.iter_changed_since(None, batch_size=1)))[0]
    first = np.asarray(vecs[0], dtype="<f4").tobytes()
    store.put_embeddings(model, [(paper.id, content_hash, first, b"")])
    store.close()


def publish_vectors(home: Path, corpus_path: Path, n: int) -> bool:
    """Publish the stand-in vectors as the home's dense index, one generation laid out as
    Paperwire's index writer lays it out (owner arrays, float32 rows, the f16 HNSW graph that part 3
    built and saved, a manifest), so that ``paperwire serve`` searches them in dense and
    hybrid modes with its real query embedder. Returns False when part 3 has not made them."""
    vecs, graph = OUT / f"vectors-{n}.npy", OUT / f"hnsw-f16-{n}.usearch"
    if not (vecs.exists() and graph.exists()):
        return False
    sys.path.insert(0, str(ROOT / "src"))
    from paperwire.embed import default_embedder

    name = default_embedder(ROOT / "bench" / "out" / "models").name
    folder = home / "index" / "dense" / re.sub(r"[^\w.-]+", "_", name)
    gen = folder / "gen-00000001"
    if (folder / "current").exists():
        return True
    shutil.rmtree(folder, ignore_errors=True)
    gen.mkdir(parents=True)
    ids: list[str] = []
    with gzip.open(corpus_path, "rt", encoding="utf-8") as fh:
        for line in fh:
            ids.append(json.loads(line[: line.index(",")] + "}")["id"])
    src = np.load(vecs, mmap_mode="r")
    if len(src) != len(ids):
        sys.exit(f"{len(src):,} stand-in vectors for {len(ids):,} papers")
    rows = np.lib.format.open_memmap(gen / "vectors.npy", mode="w+", dtype=np.float32,
                                     shape=src.shape)
    for lo in range(0, len(src), 100_000):
        rows[lo:lo + 100_000] = src[lo:lo + 100_000]
    rows.flush()
    del rows
    owners = np.array([i.encode() for i in ids], dtype=bytes)
    order = np.argsort(owners, kind="stable").astype(np.int64)
    for name_, array in (("owners", owners), ("order", order), ("keys", owners[order])):
        np.save(gen / f"{name_}.npy", array)
    shutil.copyfile(graph, gen / "hnsw.usearch")
    _mark_vectors(home, name, src)
    (folder / "current").write_text(json.dumps({
        "generation": gen.name, "number": "1", "hnsw_rows": str(len(ids)),
        **_writer_state(home, name)}))
    return True


def _writer_state(home: Path, model: str) -> dict[str, str]:
    """The manifest's note of which store the vectors came from and up to when, as the index
    writer writes it: a writer that runs on the home later (an app started in process, or
    ``paperwire index``) then finds nothing new, instead of rebuilding the index from the
    store, which holds one stand-in vector (:func:`_mark_vectors`)."""
    from datetime import datetime

    from paperwire.config import Settings
    from paperwire.store import Store

    store = Store.open(Settings(home=home).resolved_database_url)
    url = store.engine.url.render_as_string()
    store.close()
    key = hashlib.sha256(f"{url}|{model}".encode()).hexdigest()[:16]
    return {"store": key, "watermark": datetime.utcnow().isoformat()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--papers", type=int, default=1_000_000)
    ap.add_argument("--skip-import", action="store_true")
    ap.add_argument("--skip-vectors", action="store_true")
    ap.add_argument("--skip-serve", action="store_true")
    ap.add_argument("--hnsw", nargs="*", default=["b1", "f16"])
    ap.add_argument("--keep", action="store_true", help="import into the existing home")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    import platform

    print(f"# scale benchmark, {args.papers:,} papers, {time.strftime('%Y-%m-%d')}, "
          f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
          flush=True)
    path = corpus(args.papers)
    if not args.skip_import:
        import_part(path, args.papers, args.keep)
    if not args.skip_vectors:
        vectors_part(args.papers, args.hnsw)
    if not args.skip_serve:
        home = OUT / f"home-{args.papers}"
        if not home.exists():
            sys.exit(f"no imported home at {home}: run without --skip-import first")
        dense = publish_vectors(home, path, args.papers)
        print("\n## Serving\n", flush=True)
        _, _, out = run([PY, str(ROOT / "bench" / "scale_serve.py"), "--home", str(home),
                         "--papers", str(path), *(["--modes"] if dense else [])],
                        label="scale_serve")
        print(out, flush=True)


if __name__ == "__main__":
    main()
