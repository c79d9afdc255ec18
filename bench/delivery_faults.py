"""Fault run of digest delivery: several worker processes sending one day's digests through
a private PostgreSQL while workers are killed with SIGKILL, PostgreSQL is restarted and the
SMTP server refuses mail for a while; then the ledger and the server's record are compared.

    .venv/bin/python bench/delivery_faults.py [--subscribers 100000] [--workers 3] [--web 2]
        [--kill-every 15] [--pg-restart-at 0.3] [--pg-restart-mode fast]
        [--smtp-fault-at 0.6] [--smtp-fault-seconds 60] [--smtp-fault mixed]
        [--tick 5] [--timeout 7200] [--json]

Topology, all on this machine and all real:

* a private PostgreSQL (``initdb`` into a temporary folder, run as the ``postgres`` user when
  this is root; default settings but ``shared_buffers=64MB``), so restarting it disturbs no
  one else's server; restarted once mid-delivery with ``pg_ctl restart -m MODE``;
* the bundled demo data and N confirmed subscribers, seeded as ``bench/digest_bench.py``
  does, and the day's ledger planned before the workers start;
* an SMTP server (aiosmtpd, a child process) that records every accepted message's
  recipient, Message-ID and a hash of its bodies, and during the fault window answers 421
  to MAIL FROM (closing the connection) and/or 451 after the final dot;
* M worker processes, each a loop like ``paperwire worker``'s scheduler: ``deliver.run`` of
  the day, any error logged (a database outage one line), then the next try after
  ``--tick`` seconds (the scheduler's tick is 30 s; the digest job's cron sets how often a run
  starts); a run that ends early (paused after systemic failures, or a database error) is
  simply followed by the next one;
* a supervisor (this process) that starts a worker again as soon as one dies, as
  supervisord does in ``scripts/cluster``, and times how long each took to be back (from the
  kill to the new worker's store and search index open, ready to run);
* N web processes as ``scripts/cluster`` runs them (gunicorn, uvicorn workers, the follower
  app) on the same database, whose master starts a killed one again; one is back when a
  new web process's application has started (its log says so);
  ``/healthz`` is asked once a second through the run and its answers counted.

Faults: every ``--kill-every`` seconds of sending, SIGKILL to a random process, a worker or a
web process (each process as likely); once
``--pg-restart-at`` of the digests were received, PostgreSQL is restarted (its downtime is
timed: from the restart's start to the server accepting connections); once ``--smtp-fault-at``
were received, the SMTP server refuses mail for ``--smtp-fault-seconds``: ``421`` (to MAIL
FROM), ``451`` (after the final dot) or ``mixed`` (421 for the first half, 451 for the second).
Retries wait for the ledger's real backoff (1, 2, 4 ... minutes): nothing is made faster.

At the end (every row of the day sent, failed or expired): digests planned, sent, missed
(planned but never received), duplicates (received more than once), whether every duplicate
carried the same Message-ID and bodies, and whether a kill or the restart fell between its
copies (a message in flight at a fault); kills, restart times, PostgreSQL's downtime, the time
for delivery to resume after the restart and after the SMTP window, time to finish and msg/s.
Exits 1 when a target is missed: a digest missed, a duplicate with another Message-ID or
body, a duplicate with no fault between its copies, more duplicates than faults could cause,
a process not back within 30 s. ``--json`` prints one JSON document on stdout (logs on stderr).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from digest_bench import DEMO, subscribers  # noqa: E402

from paperwire.clock import utcnow  # noqa: E402
from paperwire.config import Settings  # noqa: E402
from paperwire.digests import deliver, service  # noqa: E402
from paperwire.digests.mailer import SmtpMailer  # noqa: E402
from paperwire.errors import PaperwireError, StoreError  # noqa: E402
from paperwire.importers import run_import  # noqa: E402
from paperwire.smtp_url import parse_smtp_url  # noqa: E402
from paperwire.store import Store  # noqa: E402

DAY = date(2026, 6, 16)  # as in digest_bench: a Tuesday whose digest covers 198 new papers
BASE_URL = "https://papers.example.org"
BACK_WITHIN = 30.0  # seconds: every process must be back within this
log = logging.getLogger("delivery_faults")

SMTP_SERVER = r"""
import asyncio, hashlib, sys, threading, time
from email.parser import BytesParser
from email.policy import default as policy
from aiosmtpd.smtp import SMTP
from paperwire.digests.outbox import LoopbackController

record = open(sys.argv[1], "a", buffering=1)
state = {"mode": "ok"}  # ok, 421 or 451, set by lines on stdin
counts = {"accepted": 0, "421": 0, "451": 0}

class Server(SMTP):
    close_after_reply = False
    async def push(self, status):
        await super().push(status)
        if self.close_after_reply and self.transport is not None:
            self.transport.close()

class Handler:
    async def handle_MAIL(self, server, session, envelope, address, options):
        if state["mode"] == "421":
            counts["421"] += 1
            server.close_after_reply = True
            return "421 4.3.2 service not available, closing transmission channel"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if state["mode"] == "451":
            counts["451"] += 1
            return "451 4.3.0 try again later"
        msg = BytesParser(policy=policy).parsebytes(envelope.original_content)
        text, html = msg.get_body(("plain",)), msg.get_body(("html",))
        body = "".join(str(p.get_content()) if p is not None else "" for p in (text, html))
        digest = hashlib.sha256(body.replace("\r\n", "\n").encode()).hexdigest()[:16]
        for rcpt in envelope.rcpt_tos:
            record.write(f"{time.time():.3f}\t{rcpt}\t{msg['Message-ID']}\t{digest}\n")
        counts["accepted"] += 1
        return "250 2.0.0 OK queued"

class Controller(LoopbackController):
    def factory(self):
        return Server(self.handler, **self.SMTP_kwargs)

c = Controller(Handler(), "127.0.0.1", 0)
c.start()
print(c.port, flush=True)
for line in iter(sys.stdin.readline, ""):
    state["mode"] = line.strip() or "ok"
    print("mode", state["mode"], flush=True)
c.stop()
print(counts["accepted"], counts["421"], counts["451"], flush=True)
"""


# -- the private PostgreSQL ---------------------------------------------------------------------

def pg_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                   key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit()
                   else 0)
    if not found:
        sys.exit("error: no PostgreSQL server binaries under /usr/lib/postgresql")
    return found[-1].parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivatePostgres:
    """A PostgreSQL instance of this run alone: initdb into ``folder``, started on a free
    port of 127.0.0.1 (run as the ``postgres`` user when this process is root)."""

    def __init__(self, folder: Path) -> None:
        self.bin = pg_bin()
        self.folder = folder
        self.data = folder / "data"
        self.port = free_port()
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/paperwire"

    def _run(self, *cmd: str) -> None:
        out = subprocess.run([*self.as_user, *cmd], capture_output=True, text=True)
        if out.returncode:
            raise RuntimeError(f"{Path(cmd[0]).name} failed: {out.stderr.strip()[-500:]}")

    def start(self) -> None:
        self.folder.chmod(0o755)
        self.data.mkdir()
        if self.as_user:
            shutil.chown(self.data, "postgres", "postgres")
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres",
                  "-A", "trust", "--no-instructions")
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                       f"unix_socket_directories = '{self.data}'\nshared_buffers = 64MB\n")
        self._ctl("start")
        self._run(str(self.bin / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U",
                  "postgres", "-q", "-c", "CREATE DATABASE paperwire")

    def _ctl(self, action: str, *extra: str) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l",
                  str(self.data / "server.log"), "-w", "-t", "120", action, *extra)

    def restart(self, mode: str) -> float:
        """Restart the server; seconds from the restart's start until it takes connections."""
        t0 = time.monotonic()
        self._ctl("restart", "-m", mode)
        while subprocess.run([str(self.bin / "pg_isready"), "-q", "-h", "127.0.0.1", "-p",
                              str(self.port), "-U", "postgres"]).returncode != 0:
            time.sleep(0.05)
        return time.monotonic() - t0

    def stop(self) -> None:
        try:
            self._ctl("stop", "-m", "fast")
        except RuntimeError as exc:
            log.warning("%s", exc)


# -- a worker process ----------------------------------------------------------------------------

def worker_main(url: str, home: Path, port: int, tick: float) -> None:
    """One worker: open the store and the search index (trying again while the database is
    down), say ``ready``, then run the day's delivery over and over, ``tick`` seconds apart,
    like the scheduler's loop: nothing a run raises ends the worker."""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format=f"%(asctime)s worker {os.getpid()} %(levelname)s %(message)s")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    settings = Settings(home=home, database_url=url, base_url=BASE_URL, digest_send_rate=0)
    while True:
        try:
            store = Store.open(url, migrate=False)
            ctx = service.DigestContext(store, settings)
            ctx.engine()  # the lexical index the parent built
            break
        except PaperwireError as exc:
            log.error("starting: %s (next try in 1 s)", exc)
            time.sleep(1)
    print("ready", flush=True)
    smtp = parse_smtp_url(f"smtp://127.0.0.1:{port}?timeout=30")
    while True:
        try:
            with SmtpMailer(smtp) as mailer:
                report = deliver.run(ctx, mailer, utcnow, DAY)
            if report.sent or report.paused or report.retrying:
                log.warning("run: %s", report.summary())
        except StoreError as exc:  # the database is down: one line, try again
            log.error("run: %s (next try in %g s)", exc, tick)
        except PaperwireError as exc:
            log.error("run: %s", exc)
        except Exception:
            log.exception("run failed")
        time.sleep(tick)


# -- the supervisor ------------------------------------------------------------------------------

@dataclass
class Worker:
    slot: int
    proc: subprocess.Popen[str]
    started: float
    ready_at: float | None = None


@dataclass
class Supervisor:
    """Keeps M worker processes running; a dead one is started again at once."""

    cmd: list[str]
    m: int
    logs: Path
    workers: list[Worker] = field(default_factory=list)
    restarts: list[dict[str, Any]] = field(default_factory=list)  # one per death
    stopping: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def spawn(self, slot: int) -> Worker:
        err = open(self.logs / f"worker-{slot}.log", "a")  # noqa: SIM115 (the child's)
        proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=err, text=True,
                                stdin=subprocess.DEVNULL, cwd=ROOT)
        err.close()
        w = Worker(slot, proc, time.monotonic())
        threading.Thread(target=self._wait_ready, args=(w,), daemon=True).start()
        return w

    def _wait_ready(self, w: Worker) -> None:
        assert w.proc.stdout is not None
        if w.proc.stdout.readline().strip() == "ready":
            w.ready_at = time.monotonic()

    def start(self) -> None:
        self.workers = [self.spawn(i) for i in range(self.m)]

    def all_ready(self) -> bool:
        return all(w.ready_at is not None for w in self.workers)

    def watch(self) -> None:
        """Start again every worker that died (called every 0.1 s)."""
        with self.lock:
            for i, w in enumerate(self.workers):
                if self.stopping or w.proc.poll() is None:
                    continue
                died = time.monotonic()
                entry = {"slot": w.slot, "pid": w.proc.pid, "code": w.proc.returncode,
                         "noticed": died}
                self.workers[i] = self.spawn(w.slot)
                entry["new"] = self.workers[i]
                self.restarts.append(entry)

    def kill_random(self, rng: random.Random) -> dict[str, Any] | None:
        with self.lock:
            alive = [w for w in self.workers if w.proc.poll() is None and w.ready_at]
            if not alive:
                return None
            w = rng.choice(alive)
            os.kill(w.proc.pid, signal.SIGKILL)
            return {"at": time.monotonic(), "slot": w.slot, "pid": w.proc.pid}

    def stop(self) -> None:
        """Stop every worker, once those started again lately are ready (so each restart's
        time is known; at most BACK_WITHIN and a bit)."""
        deadline = time.monotonic() + BACK_WITHIN + 5
        while not self.all_ready() and time.monotonic() < deadline:
            self.watch()
            time.sleep(0.1)
        with self.lock:
            self.stopping = True
            for w in self.workers:
                if w.proc.poll() is None:
                    w.proc.terminate()
            for w in self.workers:
                try:
                    w.proc.wait(30)
                except subprocess.TimeoutExpired:
                    w.proc.kill()
                    w.proc.wait()


def probe(port: int, stop: threading.Event, seen: Counter[str]) -> None:
    """GET /healthz once a second until ``stop``: the answers counted by status."""
    import urllib.error
    import urllib.request

    while not stop.wait(1.0):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
                seen[str(r.status)] += 1
        except urllib.error.HTTPError as exc:
            seen[str(exc.code)] += 1
        except OSError:
            seen["no answer"] += 1


class Web:
    """N web processes as ``scripts/cluster`` runs them: gunicorn (uvicorn workers, each a
    follower app) on a free port of 127.0.0.1; its master starts a killed web process again.
    A killed web process is back once a new one's log says that its application started."""

    def __init__(self, n: int, url: str, home: Path, logs: Path) -> None:
        self.n = n
        self.port = free_port()
        self.log_path = logs / "web.log"
        env = {**os.environ, "PAPERWIRE_HOME": str(home), "PAPERWIRE_DATABASE_URL": url,
               "PAPERWIRE_BASE_URL": BASE_URL, "PAPERWIRE_LOG_LEVEL": "info"}
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", "python:paperwire.web.gunicorn_conf",
                 "-w", str(n), "-b", f"127.0.0.1:{self.port}", "paperwire.web.asgi:follower()"],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                cwd=ROOT)
        self._offset = 0
        self.started: set[int] = set()  # web processes whose application has started
        self.pending: list[dict[str, Any]] = []  # kills waiting for the process to be back
        self.back: list[float | None] = []
        self.replaced: set[int] = set()  # new web processes that made good a kill

    def children(self) -> list[int]:
        try:
            text = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
        except OSError:
            return []
        return [int(x) for x in text.split()]

    def _read_log(self) -> None:
        with open(self.log_path, "rb") as f:
            f.seek(self._offset)
            chunk = f.read()
        end = chunk.rfind(b"\n") + 1
        self._offset += end
        for line in chunk[:end].decode("utf-8", "replace").splitlines():
            if "Application startup complete" in line and "[" in line:
                pid = line.split("[", 2)[-1].split("]", 1)[0] if line.count("[") > 1 else ""
                if pid.isdigit():
                    self.started.add(int(pid))

    def ready(self) -> bool:
        self._read_log()
        kids = self.children()
        return len(kids) == self.n and all(k in self.started for k in kids)

    def kill_random(self, rng: random.Random) -> dict[str, Any] | None:
        kids = [k for k in self.children() if k in self.started]
        if not kids:
            return None
        pid = rng.choice(kids)
        os.kill(pid, signal.SIGKILL)
        kill = {"at": time.monotonic(), "pid": pid, "kind": "web",
                "before": set(self.children()) - {pid}}
        self.pending.append(kill)
        return kill

    def watch(self) -> None:
        """A kill is made good by a web process started after it whose application has
        started (each new process makes good one kill, the oldest first)."""
        if not self.pending:
            return
        self._read_log()
        kids = self.children()
        for kill in list(self.pending):
            new = [k for k in kids if k in self.started and k not in kill["before"]
                   and k not in self.replaced]
            if new:
                self.replaced.add(new[0])
                self.back.append(time.monotonic() - kill["at"])
                self.pending.remove(kill)

    def stop(self) -> None:
        self.back += [None] * len(self.pending)  # never back
        self.pending.clear()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# -- the SMTP server's record --------------------------------------------------------------------

@dataclass
class Record:
    """The SMTP server's record file, read as it grows: (time, recipient, Message-ID, hash)."""

    path: Path
    rows: list[tuple[float, str, str, str]] = field(default_factory=list)
    _offset: int = 0

    def refresh(self) -> int:
        with open(self.path, "rb") as f:
            f.seek(self._offset)
            chunk = f.read()
        end = chunk.rfind(b"\n") + 1
        self._offset += end
        for line in chunk[:end].decode().splitlines():
            t, rcpt, mid, digest = line.split("\t")
            self.rows.append((float(t), rcpt, mid, digest))
        return len(self.rows)

    def last_after(self, t: float) -> float | None:
        """The time of the first message accepted after wall time ``t``."""
        return next((row[0] for row in self.rows if row[0] > t), None)


# -- the run --------------------------------------------------------------------------------------

@contextmanager
def smtp_server(record: Path) -> Iterator[tuple[subprocess.Popen[str], int]]:
    proc = subprocess.Popen([sys.executable, "-c", SMTP_SERVER, str(record)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stdout is not None
    try:
        yield proc, int(proc.stdout.readline())
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def set_mode(proc: subprocess.Popen[str], mode: str) -> None:
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(mode + "\n")
    proc.stdin.flush()
    assert proc.stdout.readline().split() == ["mode", mode]


def seed(url: str, home: Path, n: int, seed_value: int) -> dict[str, Any]:
    store = Store.open(url)
    t0 = time.perf_counter()
    run_import(store, sorted(p for p in DEMO.iterdir() if p.name != "seed-papers.jsonl"),
               progress=False)
    subs, mix = subscribers(n, random.Random(seed_value))
    store.digests.add_many(subs, utcnow())
    settings = Settings(home=home, database_url=url, base_url=BASE_URL, digest_send_rate=0)
    ctx = service.DigestContext(store, settings)
    ctx.engine()  # the lexical index, built once for every worker
    ctx.key  # noqa: B018  (the signing key, made once in the shared home)
    planned = deliver.plan(ctx, utcnow(), DAY)
    store.close()
    return {"planned": planned, "mix": mix, "seconds": time.perf_counter() - t0}


def run(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="delivery-faults-"))
    logs = tmp / "logs"
    logs.mkdir()
    pg = PrivatePostgres(tmp)
    result: dict[str, Any] = {}
    try:
        log.info("starting a private PostgreSQL in %s (port %d)", tmp, pg.port)
        pg.start()
        home = tmp / "home"
        log.info("seeding %d subscribers over the demo data", args.subscribers)
        seeded = seed(pg.url, home, args.subscribers, args.seed)
        log.info("planned %d digests of %s in %.0f s", seeded["planned"], DAY,
                 seeded["seconds"])
        record = Record(tmp / "received.tsv")
        record.path.touch()
        with smtp_server(record.path) as (server, port):
            result = deliver_with_faults(args, rng, pg, home, logs, server, port, record,
                                         seeded["planned"])
            result["seeded"] = seeded
            assert server.stdin is not None and server.stdout is not None
            server.stdin.close()
            accepted, refused_421, refused_451 = (int(x) for x in
                                                  server.stdout.readline().split())
            result["smtp"] = {"accepted": accepted, "421": refused_421, "451": refused_451}
            server.wait(30)
        result["logs"] = str(logs) if args.keep else None
    finally:
        pg.stop()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return result


def deliver_with_faults(args: argparse.Namespace, rng: random.Random, pg: PrivatePostgres,
                        home: Path, logs: Path, server: subprocess.Popen[str], port: int,
                        record: Record, planned: int) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker-of", pg.url,
           "--home", str(home), "--port", str(port), "--tick", str(args.tick)]
    sup = Supervisor(cmd, args.workers, logs)
    web = Web(args.web, pg.url, home, logs) if args.web else None
    sup.start()
    deadline = time.monotonic() + 300
    while not sup.all_ready() or (web is not None and not web.ready()):
        if time.monotonic() > deadline:
            sup.stop()
            if web is not None:
                web.stop()
            raise RuntimeError(f"the workers or web processes did not start; see {logs}")
        sup.watch()
        time.sleep(0.1)
    probes: Counter[str] = Counter()
    stop_probe = threading.Event()
    if web is not None:
        threading.Thread(target=probe, args=(web.port, stop_probe, probes), daemon=True).start()
    monitor = Store.open(pg.url, migrate=False)
    t_start, wall_start = time.monotonic(), time.time()
    kills: list[dict[str, Any]] = []
    web_kills: list[dict[str, Any]] = []
    events: list[tuple[float, str]] = []  # (wall time, what): the faults, for duplicates
    pg_restart: dict[str, Any] | None = None
    smtp_fault: dict[str, Any] = {}
    next_kill = t_start + args.kill_every
    restart_thread: threading.Thread | None = None
    last_check, counts, done = 0.0, {}, False
    log.info("%d workers delivering; faults: a kill every %g s, PostgreSQL restart at %.0f%%, "
             "SMTP %s for %g s at %.0f%%", args.workers, args.kill_every,
             args.pg_restart_at * 100, args.smtp_fault, args.smtp_fault_seconds,
             args.smtp_fault_at * 100)
    try:
        while True:
            now = time.monotonic()
            if now - t_start > args.timeout:
                log.error("timed out after %g s", args.timeout)
                break
            sup.watch()
            if web is not None:
                web.watch()
            got = record.refresh()
            received = len({r[1] for r in record.rows})
            # kills, while there is sending to do
            if args.kill_every and now >= next_kill and received < planned:
                if web is not None and rng.random() < args.web / (args.web + args.workers):
                    kill = web.kill_random(rng)
                    if kill:
                        web_kills.append(kill)
                        log.info("killed web process %d at %d received", kill["pid"], got)
                else:
                    kill = sup.kill_random(rng)
                    if kill:
                        kill["received"] = got
                        kills.append(kill)
                        events.append((time.time(), f"kill of worker {kill['slot']}"))
                        log.info("killed worker %d (pid %d) at %d received", kill["slot"],
                                 kill["pid"], got)
                next_kill = now + args.kill_every
            # the PostgreSQL restart, in a thread (the supervisor goes on meanwhile)
            if (pg_restart is None and args.pg_restart_at
                    and received >= args.pg_restart_at * planned):
                pg_restart = {"at_received": got, "wall": time.time()}
                events.append((time.time(), "PostgreSQL restart"))
                log.info("restarting PostgreSQL (-m %s) at %d received", args.pg_restart_mode, got)

                def restart(entry: dict[str, Any] = pg_restart) -> None:
                    entry["down_s"] = pg.restart(args.pg_restart_mode)
                    entry["up_wall"] = time.time()
                    log.info("PostgreSQL back after %.1f s", entry["down_s"])

                restart_thread = threading.Thread(target=restart, daemon=True)
                restart_thread.start()
            # the SMTP fault window
            if (not smtp_fault and args.smtp_fault_seconds
                    and received >= args.smtp_fault_at * planned):
                first = "451" if args.smtp_fault == "451" else "421"
                set_mode(server, first)
                smtp_fault = {"at_received": got, "start_wall": time.time(), "mode": first}
                log.info("SMTP answers %s from now, for %g s", first, args.smtp_fault_seconds)
            if smtp_fault and "end_wall" not in smtp_fault:
                elapsed = time.time() - smtp_fault["start_wall"]
                if (args.smtp_fault == "mixed" and smtp_fault["mode"] == "421"
                        and elapsed >= args.smtp_fault_seconds / 2):
                    set_mode(server, "451")
                    smtp_fault["mode"] = "421 then 451"
                    log.info("SMTP answers 451 from now")
                if elapsed >= args.smtp_fault_seconds:
                    set_mode(server, "ok")
                    smtp_fault["end_wall"] = time.time()
                    log.info("SMTP accepts mail again")
            # done: no row of the day left to send (checked every second)
            if now - last_check >= 1.0:
                last_check = now
                try:
                    counts = monitor.digests.count_deliveries(DAY)
                except StoreError:
                    counts = {}
                if counts and not counts.get("pending") and not counts.get("sending"):
                    done = True
                    break
            time.sleep(0.1)
    finally:
        elapsed = time.monotonic() - t_start
        sup.stop()
        stop_probe.set()
        if web is not None:
            until = time.monotonic() + BACK_WITHIN + 5
            while web.pending and time.monotonic() < until:
                web.watch()
                time.sleep(0.1)
            web.stop()
        if restart_thread is not None:
            restart_thread.join(180)
        if smtp_fault and "end_wall" not in smtp_fault:
            set_mode(server, "ok")
    time.sleep(0.5)
    record.refresh()
    ledger = monitor.digests.deliveries_for(DAY)
    emails = {s.id: s.email for s in monitor.digests.active()}
    monitor.close()
    result = analyse(args, record, ledger, emails, kills, sup, events, pg_restart, smtp_fault,
                     done, elapsed, wall_start, planned)
    if web is not None:
        back = [b for b in web.back if b is not None]
        result["web"] = {"processes": args.web, "kills": len(web_kills),
                         "back_s_max": round(max(back, default=0.0), 2),
                         "back_s_mean": round(sum(back) / len(back), 2) if back else None,
                         "not_back": len(web.back) - len(back),
                         "healthz": dict(probes)}
        name = f"every process back within {BACK_WITHIN:g} s"
        result["targets"][name] = (result["targets"][name] and len(back) == len(web.back)
                                   and max(back, default=0.0) <= BACK_WITHIN)
        result["ok"] = all(result["targets"].values())
    return result


def analyse(args: argparse.Namespace, record: Record, ledger: list[Any], emails: dict[int, str],
            kills: list[dict[str, Any]], sup: Supervisor, events: list[tuple[float, str]],
            pg_restart: dict[str, Any] | None, smtp_fault: dict[str, Any], done: bool,
            elapsed: float, wall_start: float, planned: int) -> dict[str, Any]:
    by_rcpt: dict[str, list[tuple[float, str, str]]] = defaultdict(list)
    for t, rcpt, mid, digest in record.rows:
        by_rcpt[rcpt].append((t, mid, digest))
    expected_mid = {emails[d.subscriber_id]: d.message_id for d in ledger
                    if d.subscriber_id in emails}
    states = Counter(d.state for d in ledger)
    missed = sorted(a for a in expected_mid if a not in by_rcpt)
    dupes = {a: copies for a, copies in by_rcpt.items() if len(copies) > 1}
    other_id = sorted(a for a, copies in dupes.items()
                      if len({mid for _, mid, _ in copies}) > 1
                      or copies[0][1] != expected_mid.get(a))
    other_body = sorted(a for a, copies in dupes.items() if len({h for *_, h in copies}) > 1)
    cause: Counter[str] = Counter()
    unexplained = []
    for a, copies in dupes.items():
        first, last = copies[0][0], copies[-1][0]
        between = [what for t, what in events if first - 0.5 <= t <= last]
        if between:
            cause["PostgreSQL restart" if between[0] == "PostgreSQL restart" else "kill"] += 1
        else:
            unexplained.append(a)
    extra = sum(len(c) - 1 for c in dupes.values())
    bound = len(kills) + (args.workers if pg_restart else 0)
    # each restart: from the kill (or the death noticed) to the new worker being ready
    back = []
    kill_at = {k["pid"]: k["at"] for k in kills}
    for r in sup.restarts:
        new: Worker = r["new"]
        t0 = kill_at.get(r["pid"], r["noticed"])
        back.append((new.ready_at - t0) if new.ready_at is not None else None)
    back_known = [b for b in back if b is not None]
    max_back = max(back_known, default=0.0)
    pg_out = None
    if pg_restart is not None:
        resumed = record.last_after(pg_restart.get("up_wall", pg_restart["wall"]))
        pg_out = {"mode": args.pg_restart_mode, "at_received": pg_restart["at_received"],
                  "down_s": round(pg_restart.get("down_s", float("nan")), 2),
                  "delivery_resumed_after_up_s": (round(resumed - pg_restart["up_wall"], 2)
                                                  if resumed and "up_wall" in pg_restart
                                                  else None)}
    smtp_out = None
    if smtp_fault:
        end = smtp_fault.get("end_wall")
        resumed = record.last_after(end) if end else None
        smtp_out = {"mode": smtp_fault["mode"], "seconds": args.smtp_fault_seconds,
                    "at_received": smtp_fault["at_received"],
                    "delivery_resumed_after_s": round(resumed - end, 2) if resumed and end
                    else None}
    sent = states.get("sent", 0)
    last_receipt = max((r[0] for r in record.rows), default=wall_start)
    to_finish = last_receipt - wall_start
    targets = {
        "finished": done,
        "no digest missed": not missed and sent == planned,
        "duplicates carry the same Message-ID and bodies": not other_id and not other_body,
        "every duplicate had a fault between its copies": not unexplained,
        "duplicates within one per kill, one per worker per restart": extra <= bound,
        f"every process back within {BACK_WITHIN:g} s": (len(back_known) == len(back)
                                                       and max_back <= BACK_WITHIN),
    }
    return {
        "subscribers": args.subscribers, "workers": args.workers, "digest_date": str(DAY),
        "planned": planned, "ledger": dict(states), "sent": sent,
        "received_addresses": len(by_rcpt), "received_messages": len(record.rows),
        "missed": len(missed), "missed_sample": missed[:10],
        "duplicates": len(dupes), "duplicate_extra_copies": extra,
        "duplicates_by_fault": dict(cause), "duplicates_unexplained": unexplained[:10],
        "duplicates_other_message_id": other_id[:10], "duplicates_other_body": other_body[:10],
        "duplicate_bound": bound,
        "kills": len(kills), "kill_every_s": args.kill_every,
        "restarts": len(back), "restart_s_max": round(max_back, 2),
        "restart_s_mean": round(sum(back_known) / len(back_known), 2) if back_known else None,
        "restarts_not_back": len(back) - len(back_known),
        "pg_restart": pg_out, "smtp_fault": smtp_out,
        "seconds_to_finish": round(to_finish, 1), "seconds_to_done": round(elapsed, 1),
        "msg_per_s": round(len(record.rows) / to_finish, 1) if to_finish > 0 else None,
        "targets": targets, "ok": all(targets.values()),
        "python": platform.python_version(), "date": datetime.now().strftime("%Y-%m-%d"),
    }


def show(r: dict[str, Any]) -> None:
    print(f"delivery fault run: {r['subscribers']} subscribers, {r['workers']} workers, "
          f"digest of {r['digest_date']}, private PostgreSQL, Python {r['python']}")
    print(f"digests: {r['planned']} planned, {r['sent']} sent (ledger: {r['ledger']}); "
          f"received by {r['received_addresses']} addresses, {r['received_messages']} "
          f"messages; missed {r['missed']}")
    print(f"duplicates: {r['duplicates']} addresses ({r['duplicate_extra_copies']} extra "
          f"copies; at most {r['duplicate_bound']} from the faults), by fault "
          f"{r['duplicates_by_fault'] or {}}, other Message-ID "
          f"{len(r['duplicates_other_message_id'])}, other body "
          f"{len(r['duplicates_other_body'])}, no fault between the copies "
          f"{len(r['duplicates_unexplained'])}")
    print(f"worker kills: {r['kills']} (a kill every {r['kill_every_s']:g} s, of a worker or a "
          f"web process); workers started again: {r['restarts']}, back in "
          f"{r['restart_s_mean']} s on average, {r['restart_s_max']} s at most")
    if r.get("web"):
        w = r["web"]
        print(f"web: {w['processes']} processes, {w['kills']} killed, back in "
              f"{w['back_s_mean']} s on average, {w['back_s_max']} s at most "
              f"({w['not_back']} not back); /healthz once a second: {w['healthz']}")
    if r["pg_restart"]:
        p = r["pg_restart"]
        print(f"PostgreSQL restart (-m {p['mode']}) at {p['at_received']} received: down "
              f"{p['down_s']} s, delivery again {p['delivery_resumed_after_up_s']} s after")
    if r["smtp_fault"]:
        s = r["smtp_fault"]
        print(f"SMTP {s['mode']} for {s['seconds']:g} s at {s['at_received']} received: "
              f"delivery again {s['delivery_resumed_after_s']} s after; server counts "
              f"{r.get('smtp')}")
    print(f"time to finish: {r['seconds_to_finish']} s (last message received), "
          f"{r['msg_per_s']} msg/s")
    for name, ok in r["targets"].items():
        print(f"  {'ok  ' if ok else 'MISS'} {name}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--subscribers", type=int, default=100_000)
    ap.add_argument("--workers", type=int, default=3)
    ap.add_argument("--web", type=int, default=2,
                    help="web processes (gunicorn, as scripts/cluster runs them; 0: none)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--kill-every", type=float, default=15.0,
                    help="seconds between SIGKILLs of a random worker (0: none)")
    ap.add_argument("--pg-restart-at", type=float, default=0.3,
                    help="restart PostgreSQL once this share was received (0: never)")
    ap.add_argument("--pg-restart-mode", choices=["smart", "fast", "immediate"],
                    default="fast")
    ap.add_argument("--smtp-fault-at", type=float, default=0.6,
                    help="start the SMTP fault window once this share was received")
    ap.add_argument("--smtp-fault-seconds", type=float, default=60.0,
                    help="length of the SMTP fault window (0: none)")
    ap.add_argument("--smtp-fault", choices=["421", "451", "mixed"], default="mixed")
    ap.add_argument("--tick", type=float, default=5.0,
                    help="seconds a worker waits between runs (the scheduler's tick)")
    ap.add_argument("--timeout", type=float, default=7200.0)
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder and logs")
    ap.add_argument("--json", action="store_true", help="one JSON document on stdout")
    ap.add_argument("--worker-of", default="", help=argparse.SUPPRESS)
    ap.add_argument("--home", default="", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker_of:
        worker_main(args.worker_of, Path(args.home), args.port, args.tick)
        return
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        result = run(args)
    except (RuntimeError, PaperwireError) as exc:
        sys.exit(f"error: {exc}")
    if args.json:
        print(json.dumps(result, indent=1, default=str))
    else:
        show(result)
    sys.exit(0 if result.get("ok") else 1)


if __name__ == "__main__":
    main()
