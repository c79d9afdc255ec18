"""``paperwire serve`` over a large home: start-up, memory and per-route latency.

    .venv/bin/python bench/scale_serve.py --home bench/out/scale/home-1000000 \
        --papers bench/out/scale/papers-1000000.jsonl.gz [--queries 200] [--port 8765]

Starts ``paperwire serve`` (no scheduler, no index writer: a web process that only follows
the published indexes) on the home, times how long until ``/healthz`` answers, then requests,
one at a time over one keep-alive connection: searches (the first 3–6 words of titles of the
file's papers, a seeded sample), paper pages of the same papers, the home page (trending) and
``/api/trending`` (with ``--modes``, also ``/api/search`` in each search mode: the home has a
published dense index); ``/healthz`` is the baseline, measured in the same run (what a request costs
the server with no work). Prints p50/p99 per route and the server's peak RSS (VmHWM).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
MODES = ("lexical", "dense", "hybrid")


def sample(path: Path, n: int, seed: int = 7) -> list[tuple[str, str]]:
    """(id, title query) of ``n`` papers spread over the file (reservoir sample)."""
    rng = random.Random(seed)
    keep: list[tuple[str, str]] = []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            j = rng.randrange(i + 1) if i >= n else i
            if j < n:
                d = json.loads(line)
                words = d["title"].split()
                item = (d["id"], " ".join(words[: rng.randint(3, 6)]))
                if i < n:
                    keep.append(item)
                else:
                    keep[j] = item
    return keep


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def timed(client: httpx.Client, urls: list[str]) -> tuple[float, float, int]:
    client.get(urls[0])  # warm-up
    times, errors = [], 0
    for url in urls:
        t = time.perf_counter()
        r = client.get(url)
        times.append(1000 * (time.perf_counter() - t))
        errors += r.status_code >= 400
    return float(np.percentile(times, 50)), float(np.percentile(times, 99)), errors


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--home", type=Path, required=True)
    ap.add_argument("--papers", type=Path, required=True)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--modes", action="store_true",
                    help="also time /api/search in each mode (lexical, dense, hybrid): the "
                         "home has a published dense index")
    args = ap.parse_args()
    items = sample(args.papers, args.queries)
    env = {**os.environ, "PAPERWIRE_HOME": str(args.home), "PAPERWIRE_LOG_LEVEL": "WARNING",
           "PAPERWIRE_BASE_URL": f"http://127.0.0.1:{args.port}"}
    base = f"http://127.0.0.1:{args.port}"
    t0 = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "paperwire", "serve", "--port", str(args.port),
         "--no-scheduler", "--no-indexer"], env=env, stdout=subprocess.DEVNULL)
    try:
        with httpx.Client(timeout=120) as client:
            while True:
                if server.poll() is not None:
                    sys.exit(f"paperwire serve exited with {server.returncode} before answering")
                try:
                    if client.get(base + "/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.perf_counter() - t0 > 600:
                    sys.exit("paperwire serve did not answer /healthz within 600 s")
                time.sleep(0.2)
            ready = time.perf_counter() - t0
            first = time.perf_counter()
            client.get(base + "/search", params={"q": items[0][1]})
            first_search = time.perf_counter() - first
            print(f"# paperwire serve over {args.home.name}: ready (/healthz 200) in {ready:.1f} s;"
                  f" first search {first_search:.1f} s; RSS after start "
                  f"{peak_rss_mib(server.pid):,.0f} MiB", flush=True)
            routes = {
                "/healthz (baseline)": [base + "/healthz"] * len(items),
                "search page (hybrid, or lexical without vectors)": [
                    str(httpx.URL(base + "/search", params={"q": q})) for _, q in items],
                **{f"/api/search, {mode}": [
                    str(httpx.URL(base + "/api/search", params={"q": q, "mode": mode}))
                    for _, q in items] for mode in (MODES if args.modes else ())},
                "paper page": [f"{base}/papers/{pid}" for pid, _ in items],
                "home (trending, week)": [base + "/"] * 30,
                "/api/trending": [base + "/api/trending"] * 30,
            }
            print("\n| route | requests | p50 ms | p99 ms | errors | p50 x baseline |")
            print("|---|---:|---:|---:|---:|---:|")
            base_p50 = None
            for name, urls in routes.items():
                p50, p99, errors = timed(client, urls)
                base_p50 = base_p50 or p50
                print(f"| {name} | {len(urls)} | {p50:.2f} | {p99:.2f} | {errors} | "
                      f"{p50 / base_p50:.1f} |", flush=True)
            print(f"\nserver peak RSS (VmHWM): {peak_rss_mib(server.pid):,.0f} MiB", flush=True)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == "__main__":
    main()
