"""The load test's visitors, for Locust (run by bench/load_bench.py, which prepares the data
and the topology; see its docstring).

A visitor reads what a reader of the service reads, in a fixed mix: the home page (trending,
this week), the other trending windows, trending in the API and the feeds, searches (real
arXiv title queries and SciFact's free-text claims), paper pages and their API records.
``LOAD_DATA`` names a JSON file: ``{"titles": [...], "texts": [...], "papers": [...],
"trending": [...], "popular": 0.8}``: a paper visited is, with probability ``popular``, one
listed on the trending pages (the papers a reader of the home page opens), else one of the
long tail (``papers``, drawn evenly from the whole corpus: each one's first view is a cold
page). Each request is named by its route, so Locust's figures come per route, and tagged
``pages`` (home, trending, feeds, paper pages and the API's reads) or ``search``, so that a run
can ask for one group alone (Locust's ``--tags``). ``LOAD_RATE``: requests a second per
visitor (the offered rate), instead of each visitor asking again at once. Visitors are
``FastHttpUser``s (geventhttpclient: a fraction of the CPU a request of ``HttpUser`` costs, so
the generator takes little of the cores it shares with the servers); like a browser they ask
for gzip.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from urllib.parse import urlencode

from locust import FastHttpUser, between, constant_throughput, tag, task

DATA = json.loads(Path(os.environ["LOAD_DATA"]).read_text(encoding="utf-8"))
WINDOWS = ("day", "week", "month")
HEADERS = {"Accept-Encoding": "gzip"}


RATE = float(os.environ.get("LOAD_RATE") or 0)  # requests a second per visitor; 0: at once


class Reader(FastHttpUser):
    # at most RATE requests a second each (the offered load is users × RATE, whatever the
    # answers' speed, so latency is measured at that rate), or one after another
    wait_time = constant_throughput(RATE) if RATE > 0 else between(0.0, 0.05)
    default_headers = HEADERS

    def on_start(self) -> None:
        self.rng = random.Random(id(self))

    def _paper(self) -> str:
        popular = DATA.get("trending") or DATA["papers"]
        if self.rng.random() < DATA.get("popular", 0.0):
            return str(self.rng.choice(popular))
        return str(self.rng.choice(DATA["papers"]))

    def _get(self, path: str, name: str, **params: str) -> None:
        self.client.get(path + ("?" + urlencode(params) if params else ""), name=name)

    @task(20)
    @tag("pages")
    def home(self) -> None:
        self._get("/", "home")

    @task(10)
    @tag("pages")
    def trending_window(self) -> None:
        self._get("/", "trending window", window=self.rng.choice(WINDOWS))

    @task(8)
    @tag("pages")
    def api_trending(self) -> None:
        self._get("/api/trending", "/api/trending", window=self.rng.choice(WINDOWS))

    @task(4)
    @tag("pages")
    def feed(self) -> None:
        path = self.rng.choice(("/feeds/trending.atom", "/feeds/trending.json"))
        self._get(path, "feeds")

    @task(12)
    @tag("search")
    def search_title(self) -> None:
        self._get("/search", "search (title)", q=self.rng.choice(DATA["titles"]))

    @task(6)
    @tag("search")
    def search_text(self) -> None:
        self._get("/search", "search (free text)", q=self.rng.choice(DATA["texts"]))

    @task(4)
    @tag("search")
    def api_search(self) -> None:
        self._get("/api/search", "/api/search", q=self.rng.choice(DATA["titles"]))

    @task(20)
    @tag("pages")
    def paper_page(self) -> None:
        self._get(f"/papers/{self._paper()}", "paper page")

    @task(5)
    @tag("pages")
    def api_paper(self) -> None:
        self._get(f"/api/papers/{self._paper()}", "/api/papers/{id}")


# bench/load_faults.py: every failed request, one JSON line to the file ``LOAD_FAILURES`` names
# (when set): when it started and ended (seconds since the epoch), its route, the HTTP status
# (0: no answer) and the error, so that each can be set against the kills' times.
if os.environ.get("LOAD_FAILURES"):
    import time

    from locust import events

    FAILURES = open(os.environ["LOAD_FAILURES"], "a", encoding="utf-8")  # noqa: SIM115

    @events.request.add_listener
    def record_failure(name: str, response_time: float, exception: BaseException | None,
                       response: object = None, start_time: float | None = None,
                       **_: object) -> None:
        if exception is None:
            return
        status = getattr(response, "status_code", 0) or 0
        end = time.time()
        FAILURES.write(json.dumps({
            "start": start_time if start_time is not None else end - response_time / 1000,
            "end": end, "name": name, "status": int(status),
            "error": type(exception).__name__, "message": str(exception)[:300]}) + "\n")
        FAILURES.flush()
