"""The load test's visitors, for Locust (run by bench/load_bench.py, which prepares the data
and the topology; see its docstring).

A visitor reads what a reader of the service reads, in a fixed mix: the home page (trending,
this week), the other trending windows, trending in the API and the feeds, searches (real
arXiv title queries and SciFact's free-text claims), paper pages and their API records.
``LOAD_DATA`` names a JSON file: ``{"titles": [...], "texts": [...], "papers": [...]}``.
Each request is named by its route, so Locust's figures come per route.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

from locust import HttpUser, between, task

DATA = json.loads(Path(os.environ["LOAD_DATA"]).read_text(encoding="utf-8"))
WINDOWS = ("day", "week", "month")


class Reader(HttpUser):
    wait_time = between(0.0, 0.05)

    def on_start(self) -> None:
        self.rng = random.Random(id(self))

    def _paper(self) -> str:
        return str(self.rng.choice(DATA["papers"]))

    @task(20)
    def home(self) -> None:
        self.client.get("/", name="home")

    @task(10)
    def trending_window(self) -> None:
        self.client.get("/", params={"window": self.rng.choice(WINDOWS)},
                        name="trending window")

    @task(8)
    def api_trending(self) -> None:
        self.client.get("/api/trending", params={"window": self.rng.choice(WINDOWS)},
                        name="/api/trending")

    @task(4)
    def feed(self) -> None:
        path = self.rng.choice(("/feeds/trending.atom", "/feeds/trending.json"))
        self.client.get(path, name="feeds")

    @task(12)
    def search_title(self) -> None:
        self.client.get("/search", params={"q": self.rng.choice(DATA["titles"])},
                        name="search (title)")

    @task(6)
    def search_text(self) -> None:
        self.client.get("/search", params={"q": self.rng.choice(DATA["texts"])},
                        name="search (free text)")

    @task(4)
    def api_search(self) -> None:
        self.client.get("/api/search", params={"q": self.rng.choice(DATA["titles"])},
                        name="/api/search")

    @task(20)
    def paper_page(self) -> None:
        self.client.get(f"/papers/{self._paper()}", name="paper page")

    @task(5)
    def api_paper(self) -> None:
        self.client.get(f"/api/papers/{self._paper()}", name="/api/papers/{id}")
