"""A load test of the scale-out topology: N web processes over PostgreSQL, a realistic mix of
readers, Locust as the load generator; errors, p50/p95/p99 and throughput per route.

    .venv/bin/python bench/load_bench.py [--papers 500000] [--web 2] [--workers 1]
        [--users 40] [--seconds 60] [--processes 1] [--phases pages,search,all]
        [--popular 0.8] [--port 8790] [--keep-data] [--prepare]
        [--database paperwire_load] [--out bench/out/load]

1. **Data** (made once, kept in ``--out``, default ``bench/out/load``): a PostgreSQL database
   of its own (``--database``, default ``paperwire_load``, on 127.0.0.1:5432) holding the
   first ``--papers`` lines of bench/scale_corpus.py's corpus (synthetic papers recombined
   from the real 75k) and the bundled demo's 20 days of real Hugging Face daily papers with
   their upvotes (so that trending has signals), imported with ``paperwire import`` (the
   BM25 index built at its end). No vectors: embedding 500k abstracts takes hours here, so
   the topology runs with ``PAPERWIRE_SEMANTIC=off`` (search lexical, nothing embedded:
   without it the index-writing worker embeds the corpus throughout, on the cores the load
   test measures).
2. **Topology**: ``scripts/cluster start --web N --workers M`` (gunicorn with N uvicorn
   workers, M ``paperwire worker``s; no schedule, so the workers only keep the index).
3. **Baseline, in the same run**: each route asked alone, one request at a time (p50 of 30;
   a paper's page and record first as never asked for, then again: the shared copy);
   then 100 searches one at a time, in the load's mix (title, free-text and API searches):
   the CPU time the machine spends on a search (from
   ``/proc/stat``: the web processes, PostgreSQL and the kernel; the client's own left out;
   the web processes' share is printed too) gives the search capacity of this machine,
   cores ÷ CPU seconds a query; the issue's target is 80% of it.
4. **Load**: Locust (bench/locustfile.py; installed on first use into its own environment,
   ``bench/out/load/locust-venv``, so that gevent stays out of Paperwire's) with ``--users``
   visitors for ``--seconds``, in ``--processes`` Locust processes (``FastHttpUser``s: the
   generator shares the machine's 2 cores with the servers, so it must cost them little),
   once per ``--phases`` (default: the pages alone, the searches alone, then the whole mix:
   on 2 cores both targets cannot hold at once, since search at 80% of its capacity takes
   80% of the cores by definition). The pages phase offers the pages' target rate (1,000
   requests/s over all visitors, Locust's ``constant_throughput``) and the search phase 80%
   of the search capacity measured in step 3, so that each phase's latencies are those at
   its target rate; the mix goes as fast as it is answered. ``--popular``: the share of
   paper visits that go to the papers on the trending pages (read from ``/api/trending``
   once the topology runs); the rest go to the long tail, each paper's first view a cold
   page.
5. Prints the table per route, the aggregate of home, trending and paper pages, and search
   against its target; stops the topology.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import itertools
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out" / "load"
SCALE = ROOT / "bench" / "out" / "scale"
SHARED = ROOT.parent / "shared" / "data"
PG = "postgresql+psycopg://postgres@127.0.0.1:5432"
DATABASE = "paperwire_load"
LOCUST = "locust==2.47.0"
PAGES = ("home", "trending window", "paper page")  # the issue's ≥ 1,000 requests/s group
PAGES_TARGET = 1000.0  # requests/s offered in the pages phase
SEARCHES = ("search (title)", "search (free text)", "/api/search")
PHASES = {"pages": "Pages alone (Locust --tags pages)", "search": "Searches alone (--tags search)",
          "all": "The whole mix"}


def sh(cmd: list[str], env: dict[str, str] | None = None, check: bool = True) -> str:
    got = subprocess.run(cmd, env={**os.environ, **(env or {})}, text=True,
                         stdout=subprocess.PIPE, check=False)
    if check and got.returncode != 0:
        sys.exit(f"{' '.join(cmd[:3])} failed with exit code {got.returncode}")
    return got.stdout


def corpus(n: int) -> Path:
    """The first ``n`` lines of the scale corpus (prefix-stable: any size's first lines)."""
    path = OUT / f"papers-{n}.jsonl.gz"
    if path.exists():
        return path
    made = next((p for p in sorted(SCALE.glob("papers-*.jsonl.gz"))
                 if int(p.stem.split("-")[1].split(".")[0]) >= n), None)
    if made is None:
        made = SCALE / f"papers-{n}.jsonl.gz"
        SCALE.mkdir(parents=True, exist_ok=True)
        sh([sys.executable, str(ROOT / "bench" / "scale_corpus.py"), "--papers", str(n),
            "--out", str(made)])
    tmp = path.with_suffix(".part")
    with gzip.open(made, "rt", encoding="utf-8") as src, \
            gzip.open(tmp, "wt", encoding="utf-8", compresslevel=3) as dst:
        dst.writelines(itertools.islice(src, n))
    tmp.rename(path)
    return path


def prepare(n: int, env: dict[str, str], keep: bool) -> None:
    """The database and the home, imported once (``--keep-data`` reuses them)."""
    mark = OUT / f"imported-{n}"
    if keep and mark.exists():
        return
    path = corpus(n)
    mark.unlink(missing_ok=True)
    shutil.rmtree(env["PAPERWIRE_HOME"], ignore_errors=True)
    sh(["psql", "-h", "127.0.0.1", "-U", "postgres", "-q", "-c",
        f"DROP DATABASE IF EXISTS {DATABASE}", "-c", f"CREATE DATABASE {DATABASE}"])
    paperwire = [sys.executable, "-m", "paperwire"]
    sh([*paperwire, "db", "upgrade"], env)
    demo = sorted((ROOT / "src" / "paperwire" / "demo_data").glob("hf-daily-*.json.gz"))
    t = time.perf_counter()
    sh([*paperwire, "import", "--no-progress", str(path), *map(str, demo)], env)
    print(f"data: {n:,} papers and {len(demo)} days of Hugging Face daily papers imported "
          f"into PostgreSQL in {time.perf_counter() - t:,.0f} s", flush=True)
    mark.touch()


def load_data(n: int) -> Path:
    """The visitors' queries and papers: 300 real arXiv title queries (bench/search_bench.py's
    latency queries), SciFact's free-text claims, papers of the corpus and of the demo."""
    sys.path.insert(0, str(ROOT / "bench"))
    from search_bench import arxiv_papers, latency_queries

    texts = [json.loads(line)["text"] for line in
             (SHARED / "beir" / "scifact" / "queries.jsonl").read_text().splitlines()]
    rng = random.Random(5)
    papers: list[str] = []
    with gzip.open(corpus(n), "rt", encoding="utf-8") as fh:
        for line in fh:
            if rng.random() < 2000 / n:
                papers.append(json.loads(line)["id"])
    path = OUT / "visitors.json"
    path.write_text(json.dumps({"titles": latency_queries(arxiv_papers(), 300),
                                "texts": rng.sample(texts, 300), "papers": papers}))
    return path


def trending_ids(base: str) -> list[str]:
    """The papers listed on the trending pages (every window's first 100): the ones a
    reader of the home page opens."""
    ids: list[str] = []
    with httpx.Client(base_url=base, timeout=60) as client:
        for window in ("day", "week", "month"):
            answer = client.get("/api/trending", params={"window": window, "limit": "100"})
            answer.raise_for_status()
            ids += [e["id"] for e in answer.json()["entries"] if e["id"] not in ids]
    return ids


def locust() -> Path:
    venv = OUT / "locust-venv"
    exe = venv / "bin" / "locust"
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet",
                        "--disable-pip-version-check", LOCUST], check=True)
    return exe


def web_pids(env: dict[str, str]) -> list[int]:
    conf = Path(env["PAPERWIRE_HOME"]) / "cluster" / "supervisord.conf"
    master = int(sh([str(ROOT / ".venv" / "bin" / "supervisorctl"), "-c", str(conf), "pid",
                     "web"]).strip())
    return [master, *sorted(children(master))]


def children(pid: int) -> set[int]:
    """The processes ``pid`` started that are alive (its main thread's, from ``/proc``: a
    gunicorn master or supervisord forks from it); none once it is gone."""
    try:
        return set(map(int, Path(f"/proc/{pid}/task/{pid}/children").read_text().split()))
    except OSError:
        return set()


def search_mix(titles: list[str], texts: list[str]) -> list[tuple[str, str]]:
    """100 searches in the proportions of bench/locustfile.py's search tasks (12 title, 6
    free text, 4 API: 55, 27 and 18 of 100)."""
    return ([("/search", q) for q in titles[:55]] + [("/search", q) for q in texts[:27]]
            + [("/api/search", q) for q in titles[55:73]])


def machine_busy() -> float:
    """CPU seconds the whole machine has spent busy (``/proc/stat``: all but idle and
    iowait), every process included."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


def baseline(base: str, data: dict[str, Any], env: dict[str, str]) -> float:
    """Before the load, in the same run: each route asked alone, one request at a time (p50
    of 30, printed), and the CPU seconds the machine spends on one search (100 asked one at
    a time, in the load's mix of title, free-text and API searches), returned."""
    titles, texts, papers = data["titles"], data["texts"], data["papers"]
    alone = {
        "home": lambda i: ("/", {}),
        "/api/trending": lambda i: ("/api/trending", {}),
        "paper page": lambda i: (f"/papers/{papers[i]}", {}),
        "paper page, seen before (shared)": lambda i: (f"/papers/{papers[i]}", {}),
        "/api/papers/{id}": lambda i: (f"/api/papers/{papers[i]}", {}),
        "/api/papers/{id}, seen before": lambda i: (f"/api/papers/{papers[i]}", {}),
        "search (title)": lambda i: ("/search", {"q": titles[i]}),
        "search (free text)": lambda i: ("/search", {"q": texts[i]}),
        "/api/search": lambda i: ("/api/search", {"q": titles[i]}),
    }
    with httpx.Client(base_url=base, timeout=60) as client:
        for q in titles[:10]:  # warm-up: every web process's first searches load the index
            client.get("/search", params={"q": q})
        print("\n| route asked alone (one request at a time) | p50 ms |\n|---|---:|")
        for name, request in alone.items():
            times = []
            for i in range(200, 230):  # papers and titles the load does not start from
                path, params = request(i)
                t = time.perf_counter()
                client.get(path, params=params).raise_for_status()
                times.append((time.perf_counter() - t) * 1000)
            print(f"| {name} | {statistics.median(times):.1f} |", flush=True)
        pids = web_pids(env)
        before, busy, own = cpu_seconds(pids), machine_busy(), time.process_time()
        for path, q in search_mix(titles[10:110], texts[10:110]):
            client.get(path, params={"q": q}).raise_for_status()
        web = (cpu_seconds(pids) - before) / 100
        served = (machine_busy() - busy - (time.process_time() - own)) / 100
        print(f"\none search of the load's mix, asked alone, costs {web * 1000:.1f} ms of the web "
              f"processes' CPU and {served * 1000:.1f} ms of the machine's, this client's "
              "own left out (the web processes, PostgreSQL, the kernel's network): the "
              "latter is the search's CPU time the capacity is reckoned from", flush=True)
        return served


def report(prefix: Path, per_search_cpu: float) -> None:
    with open(f"{prefix}_stats.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    print("\n| route | requests | errors | requests/s | p50 ms | p95 ms | p99 ms |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['Name']} | {int(r['Request Count']):,} | {int(r['Failure Count']):,} | "
              f"{float(r['Requests/s']):,.1f} | {r['50%']} | {r['95%']} | {r['99%']} |")
    by = {r["Name"]: r for r in rows}

    def group(names: tuple[str, ...]) -> tuple[float, float]:
        got = [by[n] for n in names if n in by]
        return (sum(float(r["Requests/s"]) for r in got),
                max((float(r["99%"]) for r in got), default=0.0))

    pages, pages_p99 = group(PAGES)
    searches, search_p99 = group(SEARCHES)
    target = 0.8 * (os.cpu_count() or 1) / per_search_cpu if per_search_cpu > 0 else 0.0
    if pages:
        print(f"\nhome, trending and paper pages: {pages:,.1f} requests/s, worst p99 "
              f"{pages_p99:.0f} ms (target ≥ 1,000/s, p99 ≤ 100 ms)")
    if searches:
        print(f"search: {searches:,.1f} requests/s, worst p99 {search_p99:.0f} ms; one search "
              f"costs {per_search_cpu * 1000:.1f} ms of CPU (baseline, one at a time), so "
              f"the target is 80% of {os.cpu_count()} cores ÷ that = {target:,.1f}/s")
    errors = sum(int(r["Failure Count"]) for r in rows if r["Name"] != "Aggregated")
    print(f"errors: {errors:,}")


def main() -> None:
    global OUT, DATABASE  # this run's places (options), read by the steps above
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--papers", type=int, default=500_000)
    ap.add_argument("--web", type=int, default=2)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--users", type=int, default=40)
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--processes", type=int, default=1,
                    help="Locust processes generating the load (its --processes)")
    ap.add_argument("--popular", type=float, default=0.8,
                    help="share of paper visits to papers on the trending pages (the rest: "
                         "the long tail, drawn evenly from the corpus)")
    ap.add_argument("--phases", default="pages,search,all",
                    help="the runs, one after another, each --seconds long: pages (home, "
                         "trending, feeds, paper pages, the API's reads), search, all (the mix)")
    ap.add_argument("--port", type=int, default=8790)
    ap.add_argument("--database", default=DATABASE,
                    help="the PostgreSQL database of the data (dropped and made again)")
    ap.add_argument("--out", type=Path, default=OUT,
                    help="where the corpus, the home and Locust's figures are kept")
    ap.add_argument("--keep-data", action="store_true", help="reuse the imported database")
    ap.add_argument("--prepare", action="store_true", help="only import the data")
    args = ap.parse_args()
    if not args.phases or set(args.phases.split(",")) - PHASES.keys():
        ap.error(f"--phases: a comma-separated list of {', '.join(PHASES)}")
    OUT, DATABASE = args.out.resolve(), args.database
    OUT.mkdir(parents=True, exist_ok=True)
    env = {"PAPERWIRE_HOME": str(OUT / "home"), "PAPERWIRE_DATABASE_URL": f"{PG}/{DATABASE}",
           "PAPERWIRE_INGEST_SCHEDULE": "", "PAPERWIRE_SEMANTIC": "off",
           "PAPERWIRE_LOG_LEVEL": "WARNING",
           "PAPERWIRE_BASE_URL": f"http://127.0.0.1:{args.port}"}
    print(f"# load test, {args.papers:,} papers, {args.web} web processes, {args.workers} "
          f"workers, {args.users} visitors for {args.seconds} s in {args.processes} Locust "
          f"processes; {time.strftime('%Y-%m-%d')}, "
          f"{os.cpu_count()} CPUs", flush=True)
    prepare(args.papers, env, args.keep_data)
    if args.prepare:
        return
    visitors = load_data(args.papers)
    exe = locust()
    cluster = [str(ROOT / "scripts" / "cluster")]
    sh([*cluster, "start", "--web", str(args.web), "--workers", str(args.workers), "--port",
        str(args.port), "--no-install"], env)
    try:
        base = f"http://127.0.0.1:{args.port}"
        data: dict[str, Any] = json.loads(visitors.read_text())
        data["trending"], data["popular"] = trending_ids(base), args.popular
        visitors.write_text(json.dumps(data))
        per_search = baseline(base, data, env)
        search_target = 0.8 * (os.cpu_count() or 1) / per_search if per_search > 0 else 0.0
        offered = {"pages": PAGES_TARGET, "search": search_target, "all": 0.0}
        for phase in args.phases.split(","):
            rate = offered[phase]
            print(f"\n## {PHASES[phase]} for {args.seconds} s, offered "
                  + (f"{rate:,.0f} requests/s (the target)" if rate else "as fast as answered"),
                  flush=True)
            prefix = OUT / f"locust-{phase}"
            sh([str(exe), "-f", str(ROOT / "bench" / "locustfile.py"), "--headless",
                "--only-summary", "-u", str(args.users), "-r", str(max(args.users // 5, 1)),
                "-t", f"{args.seconds}s",
                *(["--processes", str(args.processes)] if args.processes > 1 else []),
                *(["--tags", phase] if phase != "all" else []),
                "--host", base, "--csv", str(prefix)],
               {"LOAD_DATA": str(visitors), "LOAD_RATE": f"{rate / args.users:.6f}"},
               check=False)
            report(prefix, per_search)
    finally:
        sh([*cluster, "stop"], env, check=False)


if __name__ == "__main__":
    main()
