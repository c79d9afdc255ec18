"""Searches running while new vectors are taken in: 20 threads search (exact and HNSW) while
another imports papers, embeds them and syncs the dense index. No search may fail (an
IndexError from ids and vectors of different generations was the bug), and every hit names
a paper that has a vector. On SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from live_server import loopback_socket, served, url_of
from paperwire.config import Settings
from paperwire.embed import l2_normalise
from paperwire.models import Paper
from paperwire.search import SearchEngine, SearchOptions
from paperwire.search.dense import DenseIndex, embed_pending
from paperwire.store import Store
from test_dense_hybrid import HashingEmbedder

SEARCHERS = 20
RUN_SECONDS = 4.0
DIM = 64


def hammer(work: Callable[[int], None], writer: Callable[[int], None]) -> list[BaseException]:
    """Run ``work`` in SEARCHERS threads until ``writer`` has run for RUN_SECONDS (or
    something failed); the errors raised in any thread."""
    errors: list[BaseException] = []
    stop = threading.Event()

    def loop(fn: Callable[[int], None]) -> None:
        n = 0
        try:
            while not stop.is_set():
                fn(n)
                n += 1
        except BaseException as exc:  # collected for the assertion
            errors.append(exc)
            stop.set()

    threads = [threading.Thread(target=loop, args=(work,)) for _ in range(SEARCHERS)]
    for t in threads:
        t.start()
    write = threading.Thread(target=loop, args=(writer,))
    write.start()
    time.sleep(RUN_SECONDS)
    stop.set()
    for t in [*threads, write]:
        t.join(timeout=60)
    return errors


@pytest.mark.parametrize("exact_limit", [1_000_000, 300], ids=["exact", "hnsw"])
def test_dense_searches_while_vectors_are_added(
    store: Store, tmp_path: Path, exact_limit: int
) -> None:
    rng = np.random.default_rng(7)
    store.write_batch([Paper(id=f"seed:{i:06d}", title=f"Paper {i}") for i in range(4000)])
    index = DenseIndex(tmp_path / "dense", "synthetic", DIM, exact_limit=exact_limit)
    added = 0

    def add(n: int) -> None:  # 40 new vectors and 10 changed ones, then a sync
        nonlocal added
        which = dict.fromkeys([*range(added, added + 40), *rng.integers(0, added + 1, 10)])
        store.put_embeddings("synthetic", [
            (f"seed:{i:06d}", f"h{n}", l2_normalise(rng.normal(size=DIM)).astype("<f4").tobytes())
            for i in which])
        index.sync(store)
        added = min(added + 40, 3960)

    add(0)
    queries = l2_normalise(rng.normal(size=(64, DIM))).astype(np.float32)

    def search(n: int) -> None:
        hits = index.search(queries[n % len(queries)], k=10)
        assert hits and all(pid.startswith("seed:") for pid, _ in hits)
        v = index.vector(hits[0][0])
        assert v is not None and v.shape == (DIM,)
        fresh = index.vector(f"seed:{added + n % 40:06d}")  # being taken in right now
        assert fresh is None or fresh.shape == (DIM,)

    errors = hammer(search, add)
    assert not errors, f"{len(errors)} failures, first: {errors[0]!r}"
    assert len(index) > 100  # the writer did take in vectors meanwhile


def test_engine_searches_while_papers_are_imported_and_embedded(
    store: Store, settings: Settings
) -> None:
    """The web app's path: one SearchEngine shared by request threads, each search syncing
    the indexes, while papers arrive and are embedded."""
    engine = SearchEngine(store, settings, embedder=HashingEmbedder())
    words = ["graph", "protein", "traffic", "retrieval", "diffusion", "speech", "robot"]
    store.write_batch([Paper(id=f"seed:{i:06d}", title=f"{words[i % 7]} study {i}",
                             abstract=f"About {words[(i * 3) % 7]} things.") for i in range(50)])
    engine.sync(embed=True)
    made = 50

    def grow(_: int) -> None:
        nonlocal made
        store.write_batch([Paper(id=f"seed:{i:06d}", title=f"{words[i % 7]} study {i}",
                                 abstract=f"About {words[(i * 3) % 7]} things.")
                           for i in range(made, made + 20)])
        made += 20
        embed_pending(store, engine.embedder)
        engine.sync(embed=False)

    def search(n: int) -> None:
        q = words[n % 7]
        engine.sync(modes=("hybrid",), embed=False)
        hits = engine.search(q, "hybrid", SearchOptions(limit=10))
        assert hits
        if n % 3 == 0:
            engine.similar([hits[0].paper.id], limit=5)

    errors = hammer(search, grow)
    assert not errors, f"{len(errors)} failures, first: {errors[0]!r}"
    assert made > 50


def test_web_searches_while_files_are_imported_and_embedded(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    """The issue's setting, end to end: the app served by uvicorn answers 20 clients at once
    (hybrid search, similar papers) while JSONL files go through the real importer and the
    new papers are embedded. Every answer is a 200."""
    import json

    import httpx

    from paperwire.app import Paperwire
    from paperwire.importers import run_import
    from paperwire.web.app import create_app

    app = create_app(Paperwire(settings, store))
    embedder = HashingEmbedder()
    app.state.paperwire.engine.embedder = embedder  # the app's own engine, with the test's model
    words = ["graph", "protein", "traffic", "retrieval", "diffusion", "speech", "robot"]

    def papers_file(start: int, count: int) -> Path:
        path = tmp_path / f"papers-{start}.jsonl"
        path.write_text("".join(json.dumps({
            "id": f"2607.{i:05d}", "title": f"{words[i % 7]} study {i}",
            "summary": f"About {words[(i * 3) % 7]} things.", "authors": ["Ada Lovelace"],
            "categories": "cs.LG"}) + "\n" for i in range(start, start + count)))
        return path

    run_import(store, [papers_file(0, 60)], progress=False)
    embed_pending(store, embedder)
    sock = loopback_socket()
    base = url_of(sock)
    made = 60
    local = threading.local()

    def grow(_: int) -> None:
        nonlocal made
        report = run_import(store, [papers_file(made, 20)], progress=False)
        assert report.ok
        made += 20
        embed_pending(store, embedder)

    def search(n: int) -> None:
        if not hasattr(local, "http"):
            local.http = httpx.Client(base_url=base, timeout=60)
        r = local.http.get("/api/search", params={"q": words[n % 7], "mode": "hybrid"})
        assert r.status_code == 200, (r.status_code, r.text[:200])
        if n % 4 == 0:
            pid = f"2607.{n % max(made, 1):05d}"
            r = local.http.get("/api/similar", params={"id": pid})
            assert r.status_code == 200, (r.status_code, r.text[:200])

    with served(app, sock):
        errors = hammer(search, grow)
    assert not errors, f"{len(errors)} failures, first: {errors[0]!r}"
    assert made > 60
