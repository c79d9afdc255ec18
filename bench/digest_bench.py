"""Personalized digest delivery: throughput, time per phase and memory, beside a baseline
measured in the same run.

    .venv/bin/python bench/digest_bench.py [--subscribers 10000] [--database-url URL]
        [--workers M] [--fresh-schema]

Imports the bundled demo data (src/paperwire/demo_data) into a fresh store (SQLite in a
temporary folder unless --database-url names an empty PostgreSQL schema), adds N confirmed
subscribers — a mix of trending-only, category and search-query interests, 5 to 15 papers —
and runs :func:`paperwire.digests.deliver.run` for one digest date against an SMTP sink: a
minimal aiosmtpd server in a child process that accepts and discards every message (so its
cost is not counted in this process, and disk speed plays no part).

Phases are timed around the real run's calls: *compose* = ``service.gather`` (store reads,
search, :func:`compose`) and ``service.known_for`` (a batch's histories, read at once),
*render* = ``service.mail_for``, *send* = ``mailer.send``, *plan* = ``deliver.plan``;
*ledger* is the rest of the run (claims, saving compositions, outcomes).
Within compose, the week's trending list (``listings.trending_view``, computed per subscriber)
and the interest matches (``service._matches``) are shown too.
The baseline sends one pre-rendered digest N times with plain ``smtplib`` over one connection
to the same sink: the ratio is our time per message over the bare SMTP time per message.
Peak memory is ``ru_maxrss`` of this process.

``--workers M`` runs the day's digests in M worker processes instead (each a plain
``deliver.run`` with its own SMTP connection, sharing the ledger through the database: use
PostgreSQL). The day is planned here first (each worker's own plan then finds it done); the
workers start together and the run's time is from their start to the last one's end; phases
are the workers' sums, their shares of M times the run's time. ``--fresh-schema``
creates a schema of its own in the ``--database-url`` PostgreSQL database and drops it after.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import resource
import smtplib
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from paperwire.config import Settings  # noqa: E402
from paperwire.digests import deliver, service  # noqa: E402
from paperwire.digests.mailer import Flattened, SendResult, SmtpMailer  # noqa: E402
from paperwire.importers import run_import  # noqa: E402
from paperwire.records import Subscriber  # noqa: E402
from paperwire.smtp_url import parse_smtp_url  # noqa: E402
from paperwire.store import Store  # noqa: E402

DAY = date(2026, 6, 16)  # a Tuesday: its digest covers Monday 15 June (198 new papers)
NOW = datetime(2026, 6, 16, 12, 0)
DEMO = ROOT / "src" / "paperwire" / "demo_data"
CATEGORIES = ["cs.CL", "cs.LG", "cs.AI", "cs.CV", "cs.IR", "cs.RO", "stat.ML", "cs.SE"]
QUERIES = [
    "retrieval augmented generation", "coding agents", "diffusion models for video",
    "reinforcement learning from human feedback", "long context language models",
    "vision language models", "mixture of experts", "speculative decoding", "world models",
    "multimodal benchmarks", "graph neural networks", "text to speech",
    "reasoning with chain of thought", "robot manipulation", "model quantization",
]

SINK = r"""
import sys
from paperwire.digests.outbox import LoopbackController

class Sink:
    count = 0
    size = 0
    async def handle_DATA(self, server, session, envelope):
        Sink.count += 1
        Sink.size += len(envelope.original_content or b"")
        return "250 2.0.0 OK"

c = LoopbackController(Sink(), "127.0.0.1", 0)
c.start()
print(c.port, flush=True)
sys.stdin.read()
c.stop()
print(Sink.count, Sink.size, flush=True)
"""


@dataclass
class Timer:
    """Seconds and calls per phase, added up around wrapped functions."""

    seconds: dict[str, float] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)

    def wrap(self, name: str, fn: Callable[..., Any], count: bool = True
             ) -> Callable[..., Any]:
        """``fn`` timed under ``name``; with ``count=False`` its calls are not counted
        (a batch's part of a per-message phase)."""
        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t0
                self.calls[name] = self.calls.get(name, 0) + count

        return timed


Sample = tuple[str, bytes]  # a message's recipient and its bytes, as the mailer sends them


class TimedMailer:
    def __init__(self, inner: SmtpMailer, timer: Timer) -> None:
        self.inner = inner
        self.send_timed = timer.wrap("send", inner.send)
        self.sample: Sample | None = None

    def send(self, message: EmailMessage | Flattened) -> SendResult:
        if self.sample is None:
            self.sample = ((message.recipients[0], message.data)
                           if isinstance(message, Flattened)
                           else (str(message["To"]), message.as_bytes()))
        result: SendResult = self.send_timed(message)
        return result

    def close(self) -> None:
        self.inner.close()


def subscribers(n: int, rng: random.Random) -> tuple[list[Subscriber], dict[str, int]]:
    subs, mix = [], {"trending-only": 0, "categories": 0, "queries": 0}
    for i in range(n):
        kind = rng.choices(list(mix), weights=[4, 3, 3])[0]
        mix[kind] += 1
        prefs: dict[str, Any] = {"size": rng.randint(5, 15)}
        if kind == "trending-only":
            prefs["mode"] = "trending"
        elif kind == "categories":
            prefs["categories"] = tuple(rng.sample(CATEGORIES, rng.randint(1, 3)))
        else:
            prefs["queries"] = tuple(rng.sample(QUERIES, rng.randint(1, 2)))
            if rng.random() < 0.3:
                prefs["categories"] = (rng.choice(CATEGORIES),)
        subs.append(Subscriber(id=0, email=f"reader{i:06d}@example.org", **prefs))
    return subs, mix


def baseline(port: int, sample: Sample, n: int) -> float:
    """Seconds for n sends of one pre-rendered message with bare smtplib."""
    rcpt, raw = sample
    sender = "digest@paperwire.localhost"
    t0 = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as conn:
        for _ in range(n):
            conn.sendmail(sender, [rcpt], raw)
    return time.perf_counter() - t0


def timed_run(ctx: service.DigestContext, port: int, timer: Timer,
              ) -> tuple[deliver.RunReport, float, Sample | None]:
    """One ``deliver.run`` of DAY to the sink at ``port``, its phases timed in ``timer``."""
    originals = (deliver.plan, deliver.gather, deliver.known_for, deliver.mail_for)
    inside = (service.trending_view, service._matches)
    deliver.plan = timer.wrap("plan", deliver.plan)
    deliver.gather = timer.wrap("compose", deliver.gather)
    deliver.known_for = timer.wrap("compose", deliver.known_for, count=False)
    deliver.mail_for = timer.wrap("render", deliver.mail_for)
    service.trending_view = timer.wrap("trending", service.trending_view)
    service._matches = timer.wrap("matches", service._matches)
    try:
        with SmtpMailer(parse_smtp_url(f"smtp://127.0.0.1:{port}")) as inner:
            mailer = TimedMailer(inner, timer)
            t0 = time.perf_counter()
            report = deliver.run(ctx, mailer, lambda: NOW, DAY)
            return report, time.perf_counter() - t0, mailer.sample
    finally:
        deliver.plan, deliver.gather, deliver.known_for, deliver.mail_for = originals
        service.trending_view, service._matches = inside


def worker_main(url: str, home: Path, port: int) -> None:
    """A worker process of ``--workers``: waits for a line on stdin, runs, prints JSON."""
    settings = Settings(home=home, database_url=url, base_url="https://papers.example.org",
                        digest_send_rate=0)
    store = Store.open(url)
    ctx = service.DigestContext(store, settings)
    ctx.engine()  # the lexical index the parent built, opened before the start
    print("ready", flush=True)
    sys.stdin.readline()
    timer = Timer()
    report, seconds, sample = timed_run(ctx, port, timer)
    store.close()
    print(json.dumps({"sent": report.sent, "summary": report.summary(), "seconds": seconds,
                      "phases": timer.seconds, "calls": timer.calls,
                      "sample": [sample[0], sample[1].decode("latin-1")] if sample else None}),
          flush=True)


def run_workers(m: int, url: str, home: Path, port: int
                ) -> tuple[deliver.RunReport, float, Timer, Sample | None]:
    """M worker processes over the planned day: the summed report, the wall time from
    their start to the last one's end, the summed phases and a sample message."""
    procs = [subprocess.Popen([sys.executable, __file__, "--worker-of", url, "--home", str(home),
                               "--port", str(port)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True) for _ in range(m)]
    for p in procs:
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    t0 = time.perf_counter()
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    results = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
    wall = time.perf_counter() - t0
    report, timer = deliver.RunReport(), Timer()
    for r in results:
        report.sent += r["sent"]
        print(f"  worker: {r['summary']} in {r['seconds']:.1f} s")
        for k, v in r["phases"].items():
            timer.seconds[k] = timer.seconds.get(k, 0.0) + v
            timer.calls[k] = timer.calls.get(k, 0) + r["calls"][k]
    # the baseline's message: the first subscriber's digest, as in a run in this process
    samples = [(r["sample"][0], r["sample"][1].encode("latin-1"))
               for r in results if r["sample"]]
    return report, wall, timer, min(samples, default=None)


@contextmanager
def fresh_schema(url: str) -> Iterator[str]:
    """A new schema in the PostgreSQL database of ``url`` (dropped after): its URL."""
    name = f"digest_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{name}"'))
    sep = "&" if "?" in url else "?"
    try:
        yield f"{url}{sep}options=-csearch_path%3D{name}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
        admin.dispose()


def mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--subscribers", type=int, default=10_000)
    ap.add_argument("--database-url", default="", help="an empty database (default: SQLite)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workers", type=int, default=0,
                    help="run in M worker processes (0: in this process)")
    ap.add_argument("--fresh-schema", action="store_true",
                    help="use a new schema of --database-url (PostgreSQL), dropped after")
    ap.add_argument("--worker-of", default="", help=argparse.SUPPRESS)
    ap.add_argument("--home", default="", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker_of:
        worker_main(args.worker_of, Path(args.home), args.port)
        return
    if args.fresh_schema:
        with fresh_schema(args.database_url) as url:
            bench(args, url)
    else:
        bench(args, args.database_url)


def bench(args: argparse.Namespace, database_url: str) -> None:
    n, m = args.subscribers, args.workers
    rng = random.Random(args.seed)
    started = time.perf_counter()
    sink = subprocess.Popen([sys.executable, "-c", SINK], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert sink.stdout is not None and sink.stdin is not None
    port = int(sink.stdout.readline())

    with tempfile.TemporaryDirectory() as tmp:
        url = database_url or f"sqlite:///{Path(tmp) / 'paperwire.db'}"
        home = Path(tmp) / "home"
        settings = Settings(home=home, database_url=url,
                            base_url="https://papers.example.org", digest_send_rate=0)
        store = Store.open(url)
        t0 = time.perf_counter()
        run_import(store, sorted(p for p in DEMO.iterdir() if p.name != "seed-papers.jsonl"),
                   progress=False)
        t_import = time.perf_counter() - t0
        t0 = time.perf_counter()
        subs, mix = subscribers(n, rng)
        store.digests.add_many(subs, NOW)
        t_subs = time.perf_counter() - t0
        ctx = service.DigestContext(store, settings)
        t0 = time.perf_counter()
        ctx.engine()  # the lexical index, built once (not per message)
        t_index = time.perf_counter() - t0
        ctx.key  # noqa: B018  (the signing key, made once in the shared home)
        rss_before = mib()

        if m:
            deliver.plan(ctx, NOW, DAY)  # the day's rows, before the workers start
            report, t_run, timer, sample = run_workers(m, url, home, port)
        else:
            timer = Timer()
            report, t_run, sample = timed_run(ctx, port, timer)
        rss_run = mib()
        assert sample is not None
        sample_size = len(sample[1])
        t_base = baseline(port, sample, n)
        store.close()

    sink.stdin.close()
    got, got_bytes = (int(x) for x in sink.stdout.readline().split())
    sink.wait(10)

    per = {k: timer.seconds.get(k, 0.0) for k in ("plan", "compose", "render", "send")}
    busy = t_run * max(1, m)  # worker-seconds: the phases are summed over the workers
    ledger = busy - sum(per.values()) if m else t_run - sum(per.values())
    ours_ms, base_ms = t_run / max(1, report.sent) * 1000, t_base / n * 1000
    where = f"{url.split(':')[0]}, {m} worker processes" if m else url.split(":")[0]
    print(f"digest bench: {n} subscribers ({mix['trending-only']} trending-only, "
          f"{mix['categories']} categories, {mix['queries']} queries), digest of {DAY}, "
          f"{where}, Python {platform.python_version()}")
    print(f"setup: demo import {t_import:.1f} s, subscribers {t_subs:.1f} s, "
          f"lexical index {t_index:.1f} s")
    print(f"run:   {report.summary()} in {t_run:.1f} s = {report.sent / t_run:.0f} msg/s "
          f"({ours_ms:.2f} ms/msg); the sink got {got - n} of them "
          f"({(got_bytes / max(1, got)) / 1024:.1f} KiB each on average)")
    for name in ("plan", "compose", "render", "send"):
        calls = timer.calls.get(name, 0)
        each = f"{per[name] / calls * 1000:7.2f} ms/call" if calls else ""
        print(f"  {name:<8}{per[name]:8.1f} s  {per[name] / busy * 100:5.1f}%  {each}")
        if name == "compose":
            for part in ("trending", "matches"):
                sec, calls = timer.seconds.get(part, 0.0), timer.calls.get(part, 0)
                each = f"{sec / calls * 1000:7.2f} ms/call" if calls else ""
                print(f"    {part:<10}{sec:6.1f} s  {sec / busy * 100:5.1f}%  {each}"
                      f"  (within compose)")
    print(f"  {'ledger':<8}{ledger:8.1f} s  {ledger / busy * 100:5.1f}%  "
          f"{ledger / max(1, report.sent) * 1000:7.2f} ms/msg  (claims, compositions, outcomes"
          f"{'; and waiting, with several workers' if m > 1 else ''})")
    print(f"baseline: smtplib sendmail of one pre-rendered digest ({sample_size / 1024:.1f} KiB) "
          f"x {n}: {t_base:.1f} s = {n / t_base:.0f} msg/s ({base_ms:.2f} ms/msg)")
    print(f"ratio: {ours_ms / base_ms:.1f}x the baseline's time per message (wall, "
          f"{report.sent / t_run:.0f} against {n / t_base:.0f} msg/s); "
          f"send alone {per['send'] / max(1, report.sent) * 1000 / base_ms:.2f}x")
    print(f"peak memory (ru_maxrss): {rss_before:.0f} MiB before the run, "
          f"{rss_run:.0f} MiB after; total wall {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
