"""What the read path's caching saves (issue 16): trending's page, API and feed requests
with the caches emptied before each request, served from the shared answer, and answered
304, in one run on one store.

    .venv/bin/python bench/read_cache_bench.py [--requests 30] [--extra-signals 0]
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test]

Loads the bundled demo data (the real slice ``paperwire demo`` serves) into a new SQLite
home; ``--extra-signals N`` adds N older synthetic signals spread over two years (what an
uncached trending view costs grows with them; the data version stays one row's read).
Requests go through the real app (Starlette's TestClient: every middleware, no network).
"uncached" empties the process's trending views and rendered answers before each request
(the cost before issue 16, plus the data-version query); "shared" is a repeat request with
no validator; "304" sends the current ETag. A signed-in reader's page is rendered for them
each time over the shared trending view. Prints a Markdown table of the median milliseconds
per request and the ratio to "uncached".

``--postgres URL``: the store is a schema of its own in that PostgreSQL database (dropped
after), and the table has one more column, "heard": the shared answer again once the app's
listener hears the data version's notifications (``Store.follow_version``), so that a hit
asks the database nothing; "shared" is then the same hit reading the version per request.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from paperwire.app import Paperwire
from paperwire.config import load_settings
from paperwire.models import Signal
from paperwire.web.app import create_app
from paperwire.web.auth import SESSION_COOKIE

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "src" / "paperwire" / "demo_data"
URLS = ["/", "/?window=month", "/api/trending", "/feeds/trending.atom"]


def median_ms(runs: int, once: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        once()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def add_signals(pw: Paperwire, count: int) -> None:
    """``count`` synthetic hf_upvotes signals on days before the demo's, in batches."""
    ids = sorted(pw.store.all_ids())
    day = pw.data_day() or pw.now().date()
    rng = random.Random(16)
    seen: set[tuple[str, int]] = set()
    batch: list[Signal] = []
    while len(seen) < count:
        key = (rng.choice(ids), rng.randrange(30, 760))
        if key in seen:
            continue
        seen.add(key)
        batch.append(Signal(key[0], "hf_upvotes", day - timedelta(days=key[1]), 1.0))
        if len(batch) == 5000:
            pw.store.write_batch([], batch)
            batch = []
    pw.store.write_batch([], batch)


@contextmanager
def schema_of(url: str | None) -> Iterator[str | None]:
    """A new schema in the PostgreSQL database ``url`` (its URL), dropped afterwards."""
    if url is None:
        yield None
        return
    name = f"bench_read_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{name}"'))
    try:
        yield f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{name}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
        admin.dispose()


def heard(pw: Paperwire, client: TestClient, urls: list[str], runs: int) -> dict[str, float]:
    """Each URL's shared answer once the store's listener hears the data version."""
    pw.store.follow_version()
    deadline = time.monotonic() + 10
    while pw.store.version_source()["source"] != "notifications":
        if time.monotonic() > deadline:
            raise SystemExit("the listener did not start listening within 10 s")
        time.sleep(0.05)
    try:
        return {url: median_ms(runs, lambda u=url: client.get(u)) for url in urls}
    finally:
        pw.store.stop_following_version()


def measure(pw: Paperwire, client: TestClient, url: str, runs: int,
            cookies: dict[str, str] | None = None) -> dict[str, float]:
    cache = client.app.state.cache  # type: ignore[attr-defined]

    def cold() -> object:
        pw.shared.clear()
        cache.rendered.clear()
        return client.get(url, cookies=cookies)

    warm = client.get(url, cookies=cookies)
    assert warm.status_code == 200, (url, warm.status_code)
    result = {"uncached": median_ms(runs, cold),
              "shared": median_ms(runs, lambda: client.get(url, cookies=cookies))}
    if "etag" in warm.headers:
        match = {"If-None-Match": warm.headers["etag"]}
        assert client.get(url, headers=match).status_code == 304
        result["304"] = median_ms(runs, lambda: client.get(url, headers=match))
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=30)
    ap.add_argument("--extra-signals", type=int, default=0)
    ap.add_argument("--postgres", metavar="URL",
                    help="a PostgreSQL database to hold the store (in a schema of its own)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as home, schema_of(args.postgres) as url:
        env = {"PAPERWIRE_HOME": home, **({"PAPERWIRE_DATABASE_URL": url} if url else {})}
        settings = load_settings(env)
        with Paperwire(settings) as pw:
            pw.import_files(sorted(DEMO.glob("*")), sync=False)
            if args.extra_signals:
                add_signals(pw, args.extra_signals)
            print(f"{pw.store.count_papers()} papers, {pw.store.count_signals()} signals; "
                  f"data version query: "
                  f"{median_ms(args.requests, pw.store.data_version):.2f} ms")
            account = pw.store.accounts.add("bench@example.org", pw.now())
            accounts = pw.store.accounts
            accounts.request_signin("bench@example.org", "n", pw.now(), create=False)
            accounts.confirm_signin(account.id, "n", pw.now())
            session = {SESSION_COOKIE: pw.open_session(account)}
            client = TestClient(create_app(pw))  # no lifespan: no listener until heard()
            rows = [(url, measure(pw, client, url, args.requests)) for url in URLS]
            rows.append(("/ signed in", measure(pw, client, "/", args.requests, session)))
            by_ear = heard(pw, client, URLS, args.requests) if url else {}
            print("\n| request | uncached ms | shared ms | 304 ms | uncached / shared "
                  "| uncached / 304 |" + (" heard ms | shared / heard |" if url else "")
                  + "\n|---|---:|---:|---:|---:|---:|" + ("---:|---:|" if url else ""))
            for name, r in rows:
                not_modified = r.get("304")
                line = (f"| `{name}` | {r['uncached']:.1f} | {r['shared']:.1f} | "
                        + (f"{not_modified:.1f}" if not_modified else "—")
                        + f" | {r['uncached'] / r['shared']:.1f}× | "
                        + (f"{r['uncached'] / not_modified:.1f}×" if not_modified else "—")
                        + " |")
                if url:
                    ms = by_ear.get(name)
                    line += (f" {ms:.2f} | {r['shared'] / ms:.1f}× |" if ms else " — | — |")
                print(line)


if __name__ == "__main__":
    main()
