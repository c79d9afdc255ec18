"""Import throughput and memory, beside a baseline measured in the same run.

    .venv/bin/python bench/import_bench.py [--sizes 10000 40000] [--postgres URL]

Builds Kaggle-snapshot-format files (the bulk-load format) from the real arXiv records in
../shared/data/arxiv (ids renumbered so every line is a new paper), then, each in a fresh
process: the baseline (read + json.loads every line, nothing stored) and `run_import` into a
fresh SQLite store (and PostgreSQL with --postgres), first run and idempotent re-run. Reports
papers/s, time relative to the baseline, and peak RSS; the peak RSS of the largest size over
the smallest shows whether memory stays flat as files grow.
"""

from __future__ import annotations

import argparse
import gzip
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data" / "arxiv"

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
mode, path, url = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
t0 = time.perf_counter()
if mode == "baseline":
    n = 0
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            json.loads(line); n += 1
    extra = {"lines": n}
else:
    from paperwire.importers import run_import
    from paperwire.store import Store
    store = Store.open(url)
    rep = run_import(store, [path], progress=False)
    first = time.perf_counter() - t0
    t1 = time.perf_counter()
    again = run_import(store, [path], progress=False)
    extra = {"first_s": first, "rerun_s": time.perf_counter() - t1,
             "new": rep.papers.new, "rerun_new": again.papers.new,
             "rerun_changed": again.papers.changed}
print(json.dumps({"elapsed_s": time.perf_counter() - t0,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  **extra}))
"""


def build_file(n: int, out: Path) -> Path:
    """n Kaggle-format lines made from real arXiv records, with fresh ids."""
    path = out / f"kaggle-{n}.jsonl"
    written = 0
    with path.open("w", encoding="utf-8") as dst:
        while written < n:
            for src in sorted(SHARED.glob("papers-*.jsonl.gz")):
                with gzip.open(src, "rt", encoding="utf-8") as fh:
                    for line in fh:
                        r = json.loads(line)
                        yymm, seq = 2000 + written // 99999, written % 99999 + 1
                        rec = {
                            "id": f"{yymm}.{seq:05d}", "submitter": r["authors"][0],
                            "authors": ", ".join(r["authors"]), "title": r["title"],
                            "comments": r.get("comment"), "journal-ref": None, "doi": None,
                            "report-no": None, "categories": " ".join(r["categories"]),
                            "license": None, "abstract": r["summary"],
                            "versions": [{"version": "v1",
                                          "created": "Mon, 2 Jun 2025 10:00:00 GMT"}],
                            "update_date": "2025-06-02",
                            "authors_parsed": [[a.split(" ")[-1], " ".join(a.split(" ")[:-1]), ""]
                                               for a in r["authors"]],
                        }
                        dst.write(json.dumps(rec) + "\n")
                        written += 1
                        if written == n:
                            return path
    return path


def fresh_pg_schema(server_url: str) -> str:
    """An empty scratch schema ``pw_bench`` on the server; returns a URL that uses it."""
    from sqlalchemy import create_engine, text

    engine = create_engine(server_url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS pw_bench CASCADE"))
        conn.execute(text("CREATE SCHEMA pw_bench"))
    engine.dispose()
    sep = "&" if "?" in server_url else "?"
    return f"{server_url}{sep}options=-csearch_path%3Dpw_bench"


def child(mode: str, path: Path, url: str) -> dict[str, float]:
    done = subprocess.run([sys.executable, "-c", CHILD, mode, str(path), url],
                          capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{mode} run failed:\n{done.stderr[-2000:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 40_000])
    ap.add_argument("--postgres", help="also import into this PostgreSQL server (e.g. "
                    "postgresql+psycopg://postgres@127.0.0.1:5432/test), in a scratch schema")
    args = ap.parse_args()
    print(f"# import benchmark, {time.strftime('%Y-%m-%d')}, {platform.machine()}, "
          f"{platform.python_version()}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        for n in args.sizes:
            path = build_file(n, out)
            base = child("baseline", path, "")
            targets = [("sqlite", f"sqlite:///{out / f'bench-{n}.db'}")]
            if args.postgres:
                targets.append(("postgresql", args.postgres))
            for name, url in targets:
                if name == "postgresql":
                    url = fresh_pg_schema(url)
                r = child("import", path, url)
                assert r["new"] == n and r["rerun_new"] == 0 and r["rerun_changed"] == 0, r
                rows.append((n, name, r, base))
    print(f"{'lines':>7} {'store':<10} {'papers/s':>9} {'x baseline':>10} "
          f"{'re-run s':>8} {'peak MB':>8} {'baseline MB':>11}")
    for n, name, r, base in rows:
        ratio = r["first_s"] / base["elapsed_s"]
        print(f"{n:>7} {name:<10} {n / r['first_s']:>9.0f} {ratio:>10.1f} "
              f"{r['rerun_s']:>8.1f} {r['peak_rss_mb']:>8.0f} {base['peak_rss_mb']:>11.0f}")
    for name in {r[1] for r in rows}:
        mine = [r for r in rows if r[1] == name]
        if len(mine) > 1:
            growth = mine[-1][2]["peak_rss_mb"] / mine[0][2]["peak_rss_mb"]
            print(f"{name}: peak RSS at {mine[-1][0]:,} lines / at {mine[0][0]:,} lines = "
                  f"{growth:.2f} (flat memory is about 1.0; the file grew "
                  f"{mine[-1][0] / mine[0][0]:.0f}x)")


if __name__ == "__main__":
    main()
