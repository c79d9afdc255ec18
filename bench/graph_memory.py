"""A web process's memory for the HNSW graph: the published file mapped (usearch's view,
``HNSW_MAPPED``, shipped) against loaded as a copy (the baseline), in one run.

    .venv/bin/python bench/graph_memory.py --home bench/out/scale/home-1000000 [--queries 200]

Each way in its own process over the home's published dense index: the time to load the
generation and answer the first search, p50 of ``DenseIndex.search`` (100 nearest, queries
made from rows of the index plus noise, seeded) and the process's memory after the queries:
VmHWM (peak RSS), RssAnon (its own memory) and RssFile (mapped file pages it touched: page
cache, shared by every process on the host that maps the same file).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, sys, time
from pathlib import Path
import numpy as np
sys.path.insert(0, sys.argv[1])
from paperwire.search import dense
folder, mapped, n = Path(sys.argv[2]), sys.argv[3] == "1", int(sys.argv[4])
dense.HNSW_MAPPED = mapped
rows = np.load(folder / json.loads((folder / "current").read_text())["generation"]
               / "vectors.npy", mmap_mode="r")
t = time.perf_counter()
index = dense.DenseIndex(folder, folder.name, rows.shape[1])
rng = np.random.default_rng(11)
picks = rng.choice(len(rows), n + 1, replace=False)
queries = [np.asarray(rows[i], dtype=np.float32) + rng.normal(0, 0.02, rows.shape[1])
           for i in picks]
queries = [q / np.linalg.norm(q) for q in queries]
index.search(queries[0].astype(np.float32), 100)
ready = time.perf_counter() - t
times = []
for q in queries[1:]:
    t = time.perf_counter()
    index.search(q.astype(np.float32), 100)
    times.append((time.perf_counter() - t) * 1000)
status = {k: int(v.split()[0]) / 1024 for k, v in (
    line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    if k in ("VmHWM", "RssAnon", "RssFile")}
print(json.dumps({"ready_s": ready, "p50_ms": float(np.percentile(times, 50)), **status}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--home", type=Path, required=True)
    ap.add_argument("--queries", type=int, default=200)
    args = ap.parse_args()
    folders = [f for f in (args.home / "index" / "dense").glob("*") if (f / "current").exists()]
    if not folders:
        sys.exit(f"no published dense index under {args.home / 'index' / 'dense'}")
    print("| graph in the process | ready s | search p50 ms | VmHWM MiB | RssAnon MiB | "
          "RssFile MiB |\n|---|---:|---:|---:|---:|---:|")
    for mapped, label in ((False, "loaded copy (baseline)"), (True, "mapped file (shipped)")):
        out = subprocess.run([sys.executable, "-c", CHILD, str(ROOT / "src"), str(folders[0]),
                              "1" if mapped else "0", str(args.queries)],
                             capture_output=True, text=True, check=False)
        if out.returncode != 0:
            sys.exit(f"{label} failed: {out.stderr[-400:]}")
        got = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"| {label} | {got['ready_s']:.1f} | {got['p50_ms']:.2f} | {got['VmHWM']:,.0f} | "
              f"{got['RssAnon']:,.0f} | {got['RssFile']:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
