"""A deployment of several processes on one PostgreSQL: two ``paperwire serve`` and one
``paperwire worker`` share one ``PAPERWIRE_HOME`` (one index folder). One of them holds the
index writer lock and publishes; the others follow. Papers are imported (``paperwire
import``) and embedded (the real model) while clients search both servers.

Expected: every answer a 200, every new paper found by both servers (by its words, then by
its meaning) within a bounded time, and index files that open and agree with the store at
the end.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from paperwire.config import Settings
from paperwire.embed import default_embedder
from paperwire.search import SearchEngine
from paperwire.store import Store

TOPICS = ["graph neural networks for molecules", "protein structure prediction",
          "traffic signal control with reinforcement learning", "dense passage retrieval",
          "diffusion models for images", "speech recognition in noisy rooms",
          "robot grasping from demonstrations"]
FOUND_WITHIN = 40.0  # seconds for a new paper to be found by both servers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def papers_file(folder: Path, start: int, count: int) -> Path:
    path = folder / f"papers-{start}.jsonl"
    path.write_text("".join(json.dumps({
        "id": f"2607.{i:05d}", "title": f"Zq{i}x: {TOPICS[i % 7]}",
        "summary": f"We study {TOPICS[i % 7]} (case {i}).", "authors": ["Ada Lovelace"],
        "categories": "cs.LG"}) + "\n" for i in range(start, start + count)))
    return path


def wait_up(web: httpx.Client, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if web.get("/healthz").status_code in (200, 503):
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            raise AssertionError(f"server did not start:\n{log.read_text()[-2000:]}")
        time.sleep(0.3)


def test_two_servers_and_a_worker_on_postgresql(
    db_url: str, tmp_path: Path, models_dir: Path
) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("the multi-process deployment is the PostgreSQL one")
    default_embedder(models_dir).embed(["warm the model cache once"])  # built once, shared
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERWIRE_")
           or k.startswith("PAPERWIRE_TEST_")}
    env.update(PAPERWIRE_HOME=str(home), PAPERWIRE_DATABASE_URL=db_url,
               PAPERWIRE_MODELS_DIR=str(models_dir), PAPERWIRE_INGEST_SCHEDULE="",
               PAPERWIRE_INDEX_INTERVAL_SECONDS="1", PAPERWIRE_LOG_LEVEL="WARNING")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "paperwire", *args], env=env,
                              capture_output=True, text=True, timeout=120)

    done = cli("import", "--no-progress", str(papers_file(tmp_path, 0, 21)))
    assert done.returncode == 0, done.stderr
    ports = [free_port(), free_port()]
    procs: list[tuple[subprocess.Popen[bytes], Path]] = []

    def start(*args: str) -> None:
        log = tmp_path / f"log-{len(procs)}.txt"
        procs.append((subprocess.Popen([sys.executable, "-m", "paperwire", *args], env=env,
                                       stdout=log.open("wb"), stderr=subprocess.STDOUT), log))

    start("worker")
    start("serve", "--no-scheduler", "--port", str(ports[0]))
    start("serve", "--no-scheduler", "--no-indexer", "--port", str(ports[1]))
    webs = [httpx.Client(base_url=f"http://127.0.0.1:{p}", timeout=30) for p in ports]
    errors: list[str] = []
    stop = threading.Event()
    answers = 0

    def hammer(n: int) -> None:
        nonlocal answers
        i = n
        while not stop.is_set():
            web = webs[i % 2]
            topic = TOPICS[i % 7]
            path = [f"/search?q={topic}", f"/api/search?q={topic}&mode=lexical",
                    f"/api/search?q={topic}&mode=dense", f"/papers/2607.{i % 21:05d}",
                    f"/api/similar?id=2607.{i % 21:05d}", f"/search?q={topic}+cat:cs.LG"][i % 6]
            try:
                r = web.get(path)
                if r.status_code != 200:
                    errors.append(f"{web.base_url}{path}: {r.status_code} {r.text[:200]}")
                answers += 1
            except httpx.HTTPError as exc:
                errors.append(f"{web.base_url}{path}: {exc!r}")
            i += 1

    threads = [threading.Thread(target=hammer, args=(n,)) for n in range(4)]
    try:
        for (proc, log), web in zip(procs[1:], webs, strict=True):
            wait_up(web, proc, log)
        for t in threads:
            t.start()
        start_id = 21
        for batch in range(3):
            done = cli("import", "--no-progress",
                       str(papers_file(tmp_path, start_id, 5)))
            assert done.returncode == 0, done.stderr
            new = [f"2607.{i:05d}" for i in range(start_id, start_id + 5)]
            deadline = time.monotonic() + FOUND_WITHIN
            for pid in new:
                i = int(pid.split(".")[1])
                for web in webs:
                    while True:  # by its words, then by its meaning (its vector is in)
                        lexical = web.get("/api/search", params={
                            "q": f"Zq{i}x", "mode": "lexical"}).json()["results"]
                        dense = web.get("/api/search", params={
                            "q": f"Zq{i}x: {TOPICS[i % 7]}. We study {TOPICS[i % 7]} "
                                 f"(case {i}).", "mode": "dense", "limit": "3"}).json()
                        if (lexical and lexical[0]["id"] == pid
                                and pid in [h["id"] for h in dense["results"]]):
                            break
                        assert time.monotonic() < deadline, (
                            f"{pid} not found by {web.base_url} (batch {batch})")
                        time.sleep(0.2)
            start_id += 5
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
        for proc, _ in procs:
            proc.send_signal(signal.SIGINT)
        for proc, _log in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for web in webs:
            web.close()
    assert not errors, f"{len(errors)} failures of {answers}, first: {errors[:3]}"
    assert answers > 50
    for _, log in procs:
        assert "Traceback" not in log.read_text(), log.read_text()[-3000:]

    # the index files the processes left: they open, and hold exactly what the store holds
    store = Store.open(db_url)
    try:
        engine = SearchEngine(store, Settings(home=home, database_url=db_url,
                                              models_dir=models_dir))
        engine.refresh()
        assert engine.lexical.num_docs() == store.count_papers() == 36
        assert len(engine.dense()) == 36
        assert store.count_to_embed(engine.dense_model() or "") == 0
        hits = engine.search("Zq35x", "lexical")
        assert hits and hits[0].paper.id == "2607.00035"
    finally:
        store.close()
