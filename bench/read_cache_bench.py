"""What the read path's caching saves (issue 16): trending's page, API and feed requests
with the caches emptied before each request, served from the shared answer, and answered
304, in one run on one store.

    .venv/bin/python bench/read_cache_bench.py [--requests 30] [--extra-signals 0]

Loads the bundled demo data (the real slice ``paperwire demo`` serves) into a new SQLite
home; ``--extra-signals N`` adds N older synthetic signals spread over two years (what an
uncached trending view costs grows with them; the data version stays one row's read).
Requests go through the real app (Starlette's TestClient: every middleware, no network).
"uncached" empties the process's trending views and rendered answers before each request
(the cost before issue 16, plus the data-version query); "shared" is a repeat request with
no validator; "304" sends the current ETag. A signed-in reader's page is rendered for them
each time over the shared trending view. Prints a Markdown table of the median milliseconds
per request and the ratio to "uncached".
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient

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
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as home:
        settings = load_settings({"PAPERWIRE_HOME": home})
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
            client = TestClient(create_app(pw))
            print("\n| request | uncached ms | shared ms | 304 ms | uncached / shared "
                  "| uncached / 304 |\n|---|---:|---:|---:|---:|---:|")
            rows = [(url, measure(pw, client, url, args.requests)) for url in URLS]
            rows.append(("/ signed in", measure(pw, client, "/", args.requests, session)))
            for url, r in rows:
                not_modified = r.get("304")
                print(f"| `{url}` | {r['uncached']:.1f} | {r['shared']:.1f} | "
                      + (f"{not_modified:.1f}" if not_modified else "—")
                      + f" | {r['uncached'] / r['shared']:.1f}× | "
                      + (f"{r['uncached'] / not_modified:.1f}×" if not_modified else "—")
                      + " |")


if __name__ == "__main__":
    main()
