"""Fault runs: bench/load_bench.py's load test while processes of the topology are killed with
SIGKILL (issue 16): which errors the visitors see, and how soon every process is back.

    .venv/bin/python bench/load_faults.py [--kill-every 10] [--seed 16] [--json]
        [load_bench's options: --papers --web --workers --users --seconds --processes --port
         --database --out --keep-data]

The data, the visitors and the topology are load_bench's (its steps 1, 2 and 4, the same
options and defaults; ``--keep-data`` reuses the imported database). Then:

1. **Kills**: every ``--kill-every`` seconds of the Locust run, one process drawn at random
   (``--seed``) among the web processes (gunicorn's children, never its master) and the
   ``paperwire worker``s that are up (a successor counts once it is back), is sent SIGKILL.
   Recorded: the time, the pid, the kind, the client connections the process held at that
   moment (ESTABLISHED on the port, from ``/proc``), how long until its successor's pid is
   there (**started**: gunicorn forked a new web process, supervisord started a worker again)
   and until it is **back**: for a web process, the new child of the gunicorn master has
   logged uvicorn's "Application startup complete" (the web log, as tests/test_cluster.py
   checks), and also when it first holds a client's connection (**serving**); for a worker,
   the new pid is in supervisord's RUNNING state (alive for ``startsecs``, 2 s). Target: back
   within 30 s. Also recorded: the connections each web process holds in the run's last second.
2. **Errors**: bench/locustfile.py writes every failed request (start, end, route, status,
   error) to a JSON-lines file (``LOAD_FAILURES``). Each is classed:

   - **on a killed process's connection**: no HTTP answer, the connection reset or closed by
     the other end (the ``LOST`` errors below), and the request was under way when a web
     process was killed (started before, ended after) or started within ``WINDOW`` s after it.
     Why that is the killed process's connection: visitors keep their connections alive, so a
     visitor whose connection went to the killed process finds it dead on its current request
     (under way at the kill) or on its next one, which follows that at most 0.05 s later (the
     visitors' wait); ``WINDOW`` (5 s) is a slow search on this loaded machine and more. And
     such a connection fails once (the client then opens a new one), so a kill is credited at
     most as many errors as the connections it held: any excess is an *other* error.
   - **any other error**: an HTTP error status (a 5xx from a half-started process, ...), a
     timeout, a refused connection, a connection lost with no web kill just before it, or an
     excess over a kill's connections.

The visitors' client (geventhttpclient, Locust's ``FastHttpUser``) sends a GET again, on a new
connection, when its kept-alive connection is reset or closed before the answer (RFC 9110
9.2.2 lets a client retry an idempotent request): a visitor whose connection went to the
killed process gets a slower answer, not an error, so the first class is expected to stay
near 0 with these visitors; a client that does not retry would see those errors.

Prints the kills (time into the run, kind, pid, connections, back in) and the errors by class
and type; exits 1 when any *other* error appeared or a process was not back within 30 s.
``--json``: stdout is one JSON document (everything else, Locust's and the cluster's output
included, goes to stderr).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import random
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import load_bench as lb

BACK_WITHIN = 30.0  # seconds for a killed process to be replaced (issue 16)
WINDOW = 5.0  # seconds after a web kill in which a lost connection is the killed one's
# what a client sees when the process at the other end of its connection dies: the connection
# reset (unread data at the kill) or closed before an answer (geventhttpclient's names)
LOST = frozenset({"ConnectionResetError", "BrokenPipeError", "ConnectionAbortedError",
                  "HTTPConnectionClosed", "RemoteDisconnected", "IncompleteRead"})


@dataclass
class Kill:
    at: float  # seconds since the epoch (the clock of Locust's start_time)
    kind: str  # "web" or "worker"
    pid: int
    name: str  # supervisord's program name (workers), "web" for gunicorn's children
    connections: int  # client connections it held at the kill
    new_pid: int = 0
    spawned_s: float | None = None  # until its successor's pid was there (forked / started)
    back_s: float | None = None  # until the new process was ready
    serving_s: float | None = None  # until the new web process held a client's connection
    errors: int = 0  # errors credited to its connections
    run_s: float = 0.0  # time into the Locust run
    known: set[int] = field(default_factory=set, repr=False)  # the pids before the kill


def connections(pid: int, port: int) -> int:
    """The ESTABLISHED TCP connections on local ``port`` that process ``pid`` holds."""
    try:
        inodes = set()
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                link = os.readlink(fd)
                if link.startswith("socket:["):
                    inodes.add(link[8:-1])
        count = 0
        for table in ("tcp", "tcp6"):
            for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
                cols = line.split()
                if (cols[3] == "01" and int(cols[1].rsplit(":", 1)[1], 16) == port
                        and cols[9] in inodes):
                    count += 1
        return count
    except OSError:
        return 0


class Topology:
    """The processes of ``scripts/cluster`` under ``home``: gunicorn's children and the
    workers (from supervisord)."""

    def __init__(self, home: Path, port: int) -> None:
        self.conf = home / "cluster" / "supervisord.conf"
        self.log = home / "cluster" / "logs" / "web.log"
        self.port = port
        self.master = int(self.ctl("pid", "web").strip())
        self.supervisord = int((home / "cluster" / "supervisord.pid").read_text())

    def ctl(self, *args: str) -> str:
        return subprocess.run([str(lb.ROOT / ".venv" / "bin" / "supervisorctl"), "-c",
                               str(self.conf), *args], capture_output=True, text=True,
                              check=False).stdout

    def workers(self) -> dict[str, tuple[str, int]]:
        """Each worker's name: its state and pid (0 when none)."""
        found = {}
        for line in self.ctl("status").splitlines():
            cols = line.split()
            if cols and cols[0].startswith("worker:"):
                pid = int(cols[3].rstrip(",")) if len(cols) > 3 and cols[2] == "pid" else 0
                found[cols[0]] = (cols[1], pid)
        return found

    def webs(self) -> set[int]:
        return lb.children(self.master)

    def ready(self, pids: set[int]) -> set[int]:
        """Those of the web processes ``pids`` whose uvicorn has logged its start-up done."""
        log = self.log.read_text(errors="replace")
        return {pid for pid in pids if f"[{pid}] [INFO] Application startup complete" in log}


def killing(top: Topology, rng: random.Random, every: float, start: float, seconds: float,
            locust: subprocess.Popen[bytes]) -> tuple[list[Kill], dict[int, int]]:
    """Kills one process every ``every`` s of the run; follows each until it is back (or
    BACK_WITHIN has passed); returns when the run is over and every kill is settled, with the
    client connections each web process held in the run's last second."""
    kills: list[Kill] = []
    held: dict[int, int] = {}
    workers = {name: pid for name, (state, pid) in top.workers().items() if state == "RUNNING"}
    webs = top.ready(top.webs())
    next_kill = start + every
    while True:
        now = time.time()
        pending = [k for k in kills if k.back_s is None and now - k.at <= BACK_WITHIN + 1]
        for k in pending:
            if k.kind == "web":
                new = top.webs() - k.known
                if new and k.spawned_s is None:
                    k.spawned_s = now - k.at
                up = top.ready(new)
                if up:
                    k.new_pid, k.back_s = min(up), now - k.at
                    webs = (webs - {k.pid}) | {k.new_pid}
            else:
                if k.spawned_s is None and lb.children(top.supervisord) - k.known:
                    k.spawned_s = now - k.at  # supervisord forked it (STARTING, no pid shown)
                state, pid = top.workers().get(k.name, ("", 0))
                if state == "RUNNING" and pid and pid != k.pid:
                    k.new_pid, k.back_s = pid, now - k.at
                    workers[k.name] = pid
        for k in kills:
            if k.kind == "web" and k.new_pid and k.serving_s is None \
                    and connections(k.new_pid, top.port):
                k.serving_s = now - k.at
        running = locust.poll() is None
        if running and now >= start + seconds - 1 and not held:
            held = {pid: connections(pid, top.port) for pid in sorted(top.webs())}
        if running and now >= next_kill and now < start + seconds:
            down = {k.pid for k in kills if k.back_s is None}
            choices = [("web", "web", p) for p in sorted(webs - down)] + \
                      [("worker", n, p) for n, p in sorted(workers.items()) if p not in down]
            if choices:
                kind, name, pid = rng.choice(choices)
                conns = connections(pid, top.port) if kind == "web" else 0
                known = top.webs() if kind == "web" else lb.children(top.supervisord)
                at = time.time()
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, 9)
                kills.append(Kill(at, kind, pid, name, conns, run_s=at - start, known=known))
                print(f"  {at - start:5.1f} s: kill -9 {kind} {pid} ({conns} connections)",
                      file=sys.stderr, flush=True)
            next_kill += every
        if not running and not pending:
            return kills, held
        time.sleep(0.1 if pending else 0.2)


def classify(failures: list[dict[str, Any]], kills: list[Kill]) -> dict[str, list[dict[str, Any]]]:
    """Each failure as on a killed process's connection or other (see the docstring)."""
    webs = sorted((k for k in kills if k.kind == "web"), key=lambda k: k.at)
    got: dict[str, list[dict[str, Any]]] = {"killed_connection": [], "other": []}
    for f in sorted(failures, key=lambda f: f["end"]):
        why = "other"
        if f["status"] == 0 and f["error"] in LOST:
            for k in reversed(webs):  # the latest kill before its end with room left
                if k.at <= f["end"] and f["start"] < k.at + WINDOW and k.errors < k.connections:
                    k.errors += 1
                    why = "killed_connection"
                    f["kill_pid"] = k.pid
                    break
        got[why].append(f)
    return got


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kill-every", type=float, default=10.0,
                    help="seconds between kills (from the start of the Locust run)")
    ap.add_argument("--seed", type=int, default=16, help="of the draw of the processes killed")
    ap.add_argument("--json", action="store_true", help="stdout: one JSON document")
    ap.add_argument("--papers", type=int, default=500_000)
    ap.add_argument("--web", type=int, default=2)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--users", type=int, default=40)
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--processes", type=int, default=1)
    ap.add_argument("--port", type=int, default=8790)
    ap.add_argument("--database", default=lb.DATABASE)
    ap.add_argument("--out", type=Path, default=lb.OUT)
    ap.add_argument("--keep-data", action="store_true", help="reuse the imported database")
    args = ap.parse_args()
    lb.OUT, lb.DATABASE = args.out.resolve(), args.database
    lb.OUT.mkdir(parents=True, exist_ok=True)
    stdout = os.fdopen(os.dup(1), "w")
    if args.json:  # everything but the document, child processes' output too, to stderr
        sys.stdout.flush()
        os.dup2(2, 1)
    port = args.port
    env = {"PAPERWIRE_HOME": str(lb.OUT / "home"),
           "PAPERWIRE_DATABASE_URL": f"{lb.PG}/{lb.DATABASE}", "PAPERWIRE_INGEST_SCHEDULE": "",
           "PAPERWIRE_SEMANTIC": "off",
           "PAPERWIRE_LOG_LEVEL": "WARNING", "PAPERWIRE_BASE_URL": f"http://127.0.0.1:{port}"}
    topology = (f"{args.web} web processes (gunicorn, uvicorn workers), {args.workers} "
                f"workers, supervisord")
    print(f"# fault run, {args.papers:,} papers, {topology}; {args.users} visitors for "
          f"{args.seconds} s, a kill -9 every {args.kill_every:g} s; "
          f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs", flush=True)
    lb.prepare(args.papers, env, args.keep_data)
    visitors = lb.load_data(args.papers)
    exe = lb.locust()
    cluster = [str(lb.ROOT / "scripts" / "cluster")]
    lb.sh([*cluster, "start", "--web", str(args.web), "--workers", str(args.workers),
           "--port", str(port), "--no-install"], env)
    base = f"http://127.0.0.1:{port}"
    failures_path, prefix = lb.OUT / "faults-failures.jsonl", lb.OUT / "faults"
    failures_path.unlink(missing_ok=True)
    try:
        top = Topology(lb.OUT / "home", port)
        data = json.loads(visitors.read_text())
        data["trending"], data["popular"] = lb.trending_ids(base), 0.8  # as load_bench's
        visitors.write_text(json.dumps(data))
        with httpx.Client(base_url=base, timeout=60) as client:
            for q in data["titles"][:10]:  # as load_bench's baseline: the indexes loaded
                client.get("/search", params={"q": q})
        locust = subprocess.Popen(
            [str(exe), "-f", str(lb.ROOT / "bench" / "locustfile.py"), "--headless",
             "--only-summary", "-u", str(args.users), "-r", str(max(args.users // 5, 1)),
             "-t", f"{args.seconds}s",
             *(["--processes", str(args.processes)] if args.processes > 1 else []),
             "--host", base, "--csv", str(prefix)],
            env={**os.environ, "LOAD_DATA": str(visitors),
                 "LOAD_FAILURES": str(failures_path)},
            stdout=sys.stderr)
        start = time.time()
        kills, held = killing(top, random.Random(args.seed), args.kill_every, start, args.seconds,
                        locust)
        locust.wait()
        ok_status = lb.sh([*cluster, "status"], env, check=False)
    finally:
        lb.sh([*cluster, "stop"], env, check=False)
    failures = [json.loads(line) for line in
                failures_path.read_text().splitlines()] if failures_path.exists() else []
    classes = classify(failures, kills)
    with open(f"{prefix}_stats.csv", encoding="utf-8") as fh:
        total = next(r for r in csv.DictReader(fh) if r["Name"] == "Aggregated")
    late = [k for k in kills if k.back_s is None or k.back_s > BACK_WITHIN]
    by_type: dict[str, dict[str, int]] = {}
    for why, items in classes.items():
        for f in items:
            kind = f"{f['status']} {f['error']}" if f["status"] else f["error"]
            by_type.setdefault(why, {}).setdefault(kind, 0)
            by_type[why][kind] += 1
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cpus": os.cpu_count(),
        "papers": args.papers, "web": args.web, "workers": args.workers, "users": args.users,
        "seconds": args.seconds, "kill_every": args.kill_every, "seed": args.seed,
        "requests": int(total["Request Count"]), "failures_locust": int(total["Failure Count"]),
        "requests_per_s": float(total["Requests/s"]),
        "kills": [{k: v for k, v in asdict(kill).items() if k != "known"} for kill in kills],
        "errors": {why: len(items) for why, items in classes.items()},
        "errors_by_type": by_type,
        "other_errors": classes["other"][:50],
        "not_back_within_30s": [k.pid for k in late],
        "connections_at_end": {str(pid): n for pid, n in held.items()},
        "status_after": ok_status.strip().splitlines(),
    }
    result["ok"] = not classes["other"] and not late
    if args.json:
        stdout.write(json.dumps(result, indent=1) + "\n")
        stdout.flush()
    else:
        report(result)
    sys.exit(0 if result["ok"] else 1)


def report(r: dict[str, Any]) -> None:
    print("\n| at s | killed | pid | client connections | new pid | started in s | back in s "
          "| serving after s | errors on its connections |\n"
          "|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for k in r["kills"]:
        back = f"{k['back_s']:.1f}" if k["back_s"] is not None else "not back"
        serving = f"{k['serving_s']:.1f}" if k["serving_s"] is not None else "–"
        conns = k["connections"] if k["kind"] == "web" else "–"
        spawned = f"{k['spawned_s']:.1f}" if k["spawned_s"] is not None else "–"
        print(f"| {k['run_s']:.1f} | {k['name']} | {k['pid']} | {conns} | {k['new_pid'] or '–'} "
              f"| {spawned} | {back} | {serving if k['kind'] == 'web' else '–'} | {k['errors']} |")
    backs = [k["back_s"] for k in r["kills"] if k["back_s"] is not None]
    for kind in ("web", "worker"):
        times = sorted(k["back_s"] for k in r["kills"] if k["kind"] == kind and k["back_s"])
        starts = sorted(k["spawned_s"] for k in r["kills"]
                        if k["kind"] == kind and k["spawned_s"] is not None)
        if times:
            print(f"{kind}: {len(times)} kills, successor started in {starts[0]:.1f}–"
                  f"{starts[-1]:.1f} s, back in {times[0]:.1f}–{times[-1]:.1f} s")
    print(f"client connections per web process in the run's last second: "
          f"{r['connections_at_end']}")
    print(f"\nrequests: {r['requests']:,} ({r['requests_per_s']:,.1f}/s), failed (Locust): "
          f"{r['failures_locust']:,}")
    e = r["errors"]
    print(f"errors on a killed process's connections: {e['killed_connection']:,} "
          f"{r['errors_by_type'].get('killed_connection', {})}")
    print(f"other errors: {e['other']:,} {r['errors_by_type'].get('other', {})}")
    for f in r["other_errors"][:10]:
        print(f"  {f['name']}: {f['status'] or ''} {f['error']}: {f['message'][:120]}")
    print(f"every process back within {BACK_WITHIN:g} s: "
          f"{'yes' if not r['not_back_within_30s'] else 'no: ' + str(r['not_back_within_30s'])}"
          f" (slowest {max(backs, default=0):.1f} s)")
    print("PASS" if r["ok"] else "FAIL")


if __name__ == "__main__":
    main()
