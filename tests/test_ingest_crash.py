"""kill -9 the ingest at random moments, re-run, and compare with a clean run.

A local HTTP server serves real responses slowly enough that kills land mid-run:
- Hugging Face daily papers: the demo's four weeks of real `/api/daily_papers?date=` bodies;
- the arXiv API: the 100 entries of a recorded real Atom response, spread over five submission
  days (20 a day) and served in pages of PAPERWIRE_ARXIV_PAGE_SIZE=7, so the cursor moves
  through days and page offsets. The feed around the entries is rebuilt per page (totalResults,
  startIndex); the entries are the recorded bytes.
Each kill is followed by another run; after the last kill one run goes to the end. The final
store must equal a clean run's: same papers, same signals, no duplicates, no partial rows.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from paperwire.cli import DEMO_DATA
from paperwire.store import Store
from paperwire.store.schema import papers, signals

KILLS = int(os.environ.get("PAPERWIRE_TEST_KILLS", "8"))
DELAY_S = 0.08  # per response: a run takes a second or two, so kills land mid-way
ARXIV_RECORDING = (Path(__file__).parent / "fixtures" / "sources" / "arxiv"
                   / "arxiv.py__q_testing_s0_m100_cfe7536492ca.json")
ARXIV_DAYS = [date(2026, 6, 1) + timedelta(days=i) for i in range(5)]
HF_FIRST, HF_LAST = date(2026, 6, 4), date(2026, 7, 1)
BROKEN_DAY = date(2026, 6, 3)  # answers an HTML page with status 200


def _arxiv_entries() -> list[bytes]:
    # the recorder stored the UTF-8 body decoded as Latin-1; encoding back gives the bytes
    body = json.loads(ARXIV_RECORDING.read_text())["body"].encode("latin-1")
    return re.findall(rb"<entry>.*?</entry>", body, flags=re.S)


def _atom_page(entries: list[bytes], total: int, start: int) -> bytes:
    head = (
        b"<?xml version='1.0' encoding='UTF-8'?>\n"
        b'<feed xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" '
        b'xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns="http://www.w3.org/2005/Atom">\n'
        b"<id>https://arxiv.org/api/crash-test</id><title>arXiv Query</title>"
        b"<updated>2026-06-06T00:00:00Z</updated>"
        b"<opensearch:itemsPerPage>%d</opensearch:itemsPerPage>"
        b"<opensearch:totalResults>%d</opensearch:totalResults>"
        b"<opensearch:startIndex>%d</opensearch:startIndex>\n"
    ) % (len(entries), total, start)
    return head + b"\n".join(entries) + b"\n</feed>\n"


class _Handler(BaseHTTPRequestHandler):
    hf_days: ClassVar[dict[str, bytes]] = {}
    arxiv_by_day: ClassVar[dict[str, list[bytes]]] = {}

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        q = {k: v[0] for k, v in parse_qs(parts.query).items()}
        time.sleep(DELAY_S)
        if parts.path == "/api/daily_papers" and q.get("date") == BROKEN_DAY.isoformat():
            body, kind = b"<html><body>502 Bad Gateway</body></html>", "text/html"
        elif parts.path == "/api/daily_papers":
            body, kind = self.hf_days.get(q.get("date", ""), b"[]"), "application/json"
        elif parts.path == "/api/query":
            m = re.search(r"submittedDate:\[(\d{8})0000", q.get("search_query", ""))
            day = m.group(1) if m else ""
            entries = self.arxiv_by_day.get(day, [])
            start, size = int(q.get("start", 0)), int(q.get("max_results", 10))
            body = _atom_page(entries[start : start + size], len(entries), start)
            kind = "application/atom+xml"
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    _Handler.hf_days = {
        f.name.removeprefix("hf-daily-").removesuffix(".json.gz"): gzip.decompress(f.read_bytes())
        for f in DEMO_DATA.glob("hf-daily-*.json.gz")
    }
    entries = _arxiv_entries()
    assert len(entries) == 100
    _Handler.arxiv_by_day = {
        d.strftime("%Y%m%d"): entries[i * 20 : (i + 1) * 20] for i, d in enumerate(ARXIV_DAYS)
    }
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


CASES = {
    "hf": (["ingest", "hf", "--since", HF_FIRST.isoformat(), "--until", HF_LAST.isoformat()],
           "hf-daily", HF_LAST),
    "arxiv-api": (["ingest", "arxiv", "--via", "api", "--category", "cs.SE",
                   "--since", ARXIV_DAYS[0].isoformat(), "--until", ARXIV_DAYS[-1].isoformat()],
                  "arxiv-api:cs.SE", ARXIV_DAYS[-1]),
}


def env_for(home: Path, db_url: str, base: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERWIRE_")}
    env.update(
        PAPERWIRE_HOME=str(home), PAPERWIRE_DATABASE_URL=db_url, PAPERWIRE_LOG_LEVEL="WARNING",
        PAPERWIRE_HF_API_URL=f"{base}/api/daily_papers",
        PAPERWIRE_ARXIV_API_URL=f"{base}/api/query",
        PAPERWIRE_ARXIV_DELAY_SECONDS="0", PAPERWIRE_ARXIV_PAGE_SIZE="7",
    )
    return env


def dump(url: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    store = Store.open(url)
    cols = [c for c in papers.c if c.name not in ("created_at", "changed_at")]
    with store.engine.connect() as conn:
        p = [tuple(r) for r in conn.execute(select(*cols).order_by(papers.c.id))]
        s = [tuple(r) for r in conn.execute(
            select(signals.c.paper_id, signals.c.source, signals.c.day, signals.c.value)
            .order_by(signals.c.paper_id, signals.c.day, signals.c.source))]
    store.close()
    return p, s


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_kill_and_resume_gives_the_clean_result(
    case: str, db_url: str, tmp_path: Path, server: str
) -> None:
    args, cursor_key, last_day = CASES[case]
    cmd = [sys.executable, "-m", "paperwire", *args, "--no-progress"]
    clean_url = f"sqlite:///{tmp_path / 'clean.db'}"
    t0 = time.monotonic()
    done = subprocess.run(cmd, env=env_for(tmp_path / "clean", clean_url, server),
                          capture_output=True, text=True, timeout=300)
    clean_seconds = time.monotonic() - t0
    assert done.returncode == 0, done.stderr
    expected = dump(clean_url)
    assert len(expected[0]) >= 100

    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    env = env_for(tmp_path / "killed", db_url, server)
    killed_mid_run = 0
    for _ in range(KILLS):
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.2, 0.8 * clean_seconds))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            killed_mid_run += 1
        proc.wait(timeout=60)
    final = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, f"seed {seed}: {final.stderr}"
    got = dump(db_url)
    # resumed runs have less left to do, so later kills may come after the end; at least one
    # must have landed mid-run for the test to mean anything
    assert killed_mid_run >= 1, f"seed {seed}: no kill landed mid-run"
    assert got[0] == expected[0], f"seed {seed}: papers differ from the clean run"
    assert got[1] == expected[1], f"seed {seed}: signals differ from the clean run"
    assert all(row[2] for row in got[0]), "a paper row without a title: partial write"
    cursor = Store.open(db_url).get_cursor(cursor_key)
    assert cursor is not None and cursor.get("done_until") == last_day.isoformat()


def test_a_broken_day_stops_the_run_with_one_line_and_keeps_what_came_before(
    tmp_path: Path, server: str
) -> None:
    url = f"sqlite:///{tmp_path / 'p.db'}"
    cmd = [sys.executable, "-m", "paperwire", "ingest", "hf", "--no-progress",
           "--since", "2026-06-01", "--until", "2026-06-05"]
    run = subprocess.run(cmd, env=env_for(tmp_path, url, server), capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 1
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith("error: hf-daily: 2026-06-03") and "run again to resume" in last
    assert Store.open(url).get_cursor("hf-daily") == {"day": "2026-06-02", "until": "2026-06-05"}
