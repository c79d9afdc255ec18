"""Requests never write an index; one writer holds the lock and publishes generations.

A web app that is not the index writer (``serve --no-indexer``, or any process while another
one holds the writer lock) answers searches of every mode, paper pages and /api/similar
without a single write to the index folder or the database, even while the store is ahead
of the indexes; it takes in what the writer publishes.
"""

from __future__ import annotations

import os
import sqlite3
import time
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, event, text

from paperwire.app import Paperwire
from paperwire.config import Settings
from paperwire.models import Paper
from paperwire.search import SearchEngine
from paperwire.search.dense import embed_pending
from paperwire.search.writer import FolderLock, IndexWriter
from paperwire.store import Store
from paperwire.web.app import create_app
from test_dense_hybrid import HashingEmbedder

WORDS = ["graph", "protein", "traffic", "retrieval", "diffusion", "speech", "robot"]


def papers(start: int, count: int) -> list[Paper]:
    return [Paper(id=f"2607.{i:05d}", title=f"{WORDS[i % 7]} study {i}",
                  abstract=f"About {WORDS[(i * 3) % 7]} things and {WORDS[(i + 2) % 7]}.",
                  authors=("Ada Lovelace",), categories=("cs.LG" if i % 2 else "cs.CL",),
                  primary_category="cs.LG" if i % 2 else "cs.CL")
            for i in range(start, start + count)]


def folder_state(folder: Path) -> dict[str, tuple[str, int, int, int]]:
    """Every file and folder under ``folder``: kind, size, mtime (ns), inode."""
    out = {}
    for root, dirs, files in os.walk(folder):
        for name in [*dirs, *files]:
            path = Path(root) / name
            st = path.lstat()
            kind = "dir" if path.is_dir() else "file"
            out[str(path.relative_to(folder))] = (kind, st.st_size if kind == "file" else 0,
                                                  st.st_mtime_ns, st.st_ino)
    return out


def db_writes(store: Store, url: str) -> object:
    """A value that changes when anything is written to the database: SQLite's data version
    and files; on PostgreSQL the write statements this process sent through the store (the
    server's table statistics arrive late and would also count another test's leftovers in
    the same schema)."""
    if url.startswith("sqlite"):
        path = Path(url.removeprefix("sqlite:///"))
        conn = sqlite3.connect(path)
        try:
            version = conn.execute("PRAGMA data_version").fetchone()[0]
        finally:
            conn.close()
        files = [(p.name, p.stat().st_size, p.stat().st_mtime_ns)
                 for p in (path, path.with_name(path.name + "-wal")) if p.exists()]
        return version, files
    return list(_WRITES.get(id(store.engine), []))


_WRITES: dict[int, list[str]] = {}
WRITE_VERBS = {"INSERT", "UPDATE", "DELETE", "MERGE", "CREATE", "DROP", "ALTER", "TRUNCATE",
               "COPY"}


def watch_writes(store: Store) -> None:
    """Record every write statement sent through ``store``'s engine (see :func:`db_writes`)."""
    seen = _WRITES.setdefault(id(store.engine), [])

    def spy(conn: object, cursor: object, statement: str, *args: object) -> None:
        words = statement.split(None, 1)
        if words and words[0].upper() in WRITE_VERBS:
            seen.append(statement)

    event.listen(store.engine, "before_cursor_execute", spy)


def requests(n: int) -> list[str]:
    """n GETs of every kind that searches: the search page and API in each mode and sort,
    with constraints, paper pages (similar papers) and /api/similar."""
    out = []
    for i in range(n):
        w = WORDS[i % 7]
        pid = f"2607.{i % 40:05d}"
        out.append([
            f"/search?q={w}",
            f"/search?q={w}&mode=lexical",
            f"/search?q={w}+cat:cs.LG&mode=dense",
            f"/api/search?q={w}&mode=hybrid",
            f"/api/search?q=%22{w}+study%22&sort=date",
            f"/search?q={w}&sort=trending",
            f"/papers/{pid}",
            f"/api/similar?id={pid}",
            f"/api/similar?text={w}+things",
            "/search?q=cat:cs.CL",
        ][i % 10])
    return out


def test_requests_never_write_an_index_or_the_database(
    store: Store, settings: Settings, db_url: str
) -> None:
    emb = HashingEmbedder()
    store.write_batch(papers(0, 40))
    writer = SearchEngine(store, settings, embedder=emb)
    assert writer.sync(embed=True)  # the writer builds and publishes the indexes
    # then another process imports and embeds more papers: the store is ahead of the indexes
    store.write_batch(papers(40, 10))
    embed_pending(store, emb)

    # a web app that is not the writer (serve --no-indexer)
    pw = Paperwire(settings, store)
    pw.indexer = False
    pw.engine.embedder = emb
    app = create_app(pw)
    client = TestClient(app)
    index = settings.index_dir
    watch_writes(store)
    before_files, before_db = folder_state(index), db_writes(store, db_url)
    assert before_files
    for path in requests(100):
        r = client.get(path)
        assert r.status_code == 200, (path, r.text[:300])
    assert folder_state(index) == before_files
    assert db_writes(store, db_url) == before_db

    # what the writer publishes next, the app takes in (no restart, no write of its own)
    before = client.get("/api/search?q=study+45&mode=lexical").json()
    assert "2607.00045" not in [r["id"] for r in before["results"] + before["related"]]
    assert writer.sync(embed=True)
    time.sleep(0.3)  # readers look for a new generation at most every 250 ms
    found = client.get("/api/search?q=study+45&mode=lexical").json()["results"]
    assert found[0]["id"] == "2607.00045"
    similar = client.get("/api/similar?text=diffusion+things+robot").json()["results"]
    assert similar


def test_one_writer_per_index_folder(store: Store, settings: Settings) -> None:
    """While one writer holds the folder's lock, another skips (and writes nothing); when the
    first is gone, the other takes over."""
    store.write_batch(papers(0, 5))
    first = IndexWriter(SearchEngine(store, settings, embedder=HashingEmbedder()))
    assert first.lock.acquire()
    second = SearchEngine(store, settings, embedder=HashingEmbedder())
    assert not FolderLock(settings.index_dir).acquire()
    assert not second.sync(embed=True, wait=0.2)
    assert not (settings.index_dir / "lexical" / "meta.json").exists()
    first.lock.release()
    assert second.sync(embed=True)
    assert second.lexical.num_docs() == 5 and len(second.dense()) == 5


def test_readers_follow_published_generations(store: Store, settings: Settings) -> None:
    """The dense index is published as generations named by a manifest swapped atomically;
    a reader takes in each new one, and only the newest two are kept on disk."""
    from paperwire.search.dense import DenseIndex

    emb = HashingEmbedder()
    writer = SearchEngine(store, settings, embedder=emb)
    store.write_batch(papers(0, 10))
    assert writer.sync(embed=True)
    folder = writer.dense().path
    reader = DenseIndex(folder, emb.name, emb.dim)
    assert len(reader) == 10 and not reader.refresh(every=0)
    for round_ in range(3):
        store.write_batch(papers(10 + 5 * round_, 5))
        assert writer.sync(embed=True)
        assert reader.refresh(every=0)
        assert len(reader) == 15 + 5 * round_
        assert reader.search(emb.embed_query("protein things"), 3)
    generations = sorted(p.name for p in folder.iterdir() if p.name.startswith("gen-"))
    assert len(generations) == 2 and (folder / "current").is_file()
    assert not [p for p in folder.iterdir() if ".tmp" in p.name]


def test_advisory_lock_is_one_holder_at_a_time(db_url: str) -> None:
    """On PostgreSQL the embedder's lock is held by one session at a time and freed when its
    block ends; SQLite has no such lock (the index folder's lock file is what counts)."""
    a, b = Store.open(db_url), Store.open(db_url)
    try:
        with a.advisory_lock("embed") as first:
            assert first
            with b.advisory_lock("embed") as second:
                assert second == (a.dialect != "postgresql")
            with b.advisory_lock("other") as other:
                assert other
        with b.advisory_lock("embed") as again:
            assert again
    finally:
        a.close()
        b.close()



def test_advisory_locks_of_two_schemas_do_not_meet(pg_schema_url: str) -> None:
    """Two Paperwires in one PostgreSQL database, one schema each (as the test sessions of
    parallel workers are): each one's writer lock is its own."""
    other = f"pw_lock_{uuid.uuid4().hex[:8]}"
    admin = create_engine(pg_schema_url.split("?")[0])
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{other}"'))
    a = Store.open(pg_schema_url)
    b = Store.open(f"{pg_schema_url.split('?')[0]}?options=-csearch_path%3D{other}")
    try:
        with a.advisory_lock("embed") as first, b.advisory_lock("embed") as second:
            assert first and second
    finally:
        a.close()
        b.close()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{other}" CASCADE'))
        admin.dispose()

def test_a_hybrid_search_runs_bm25_once_highlights_included(
    store: Store, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ranking, the constraint filter and the highlights of the page read one lexical view;
    the highlights come from the ranked hits' stored documents, not from a second query."""
    from paperwire.search.lexical import LexicalView

    store.write_batch(papers(0, 30))
    engine = SearchEngine(store, settings, embedder=HashingEmbedder())
    assert engine.sync(embed=True)
    calls: list[str] = []
    real = LexicalView.search

    def counted(self: LexicalView, *args: object, **kwargs: object) -> object:
        calls.append("bm25")
        return real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(LexicalView, "search", counted)
    hits = engine.search("protein things", "hybrid", highlight=True)
    assert calls == ["bm25"]
    marked = [h for h in hits if h.lexical_rank is not None]
    assert marked and all(h.title_html is not None and h.snippet_html is not None
                          for h in marked)
    assert any("<b>" in str(h.title_html) + str(h.snippet_html) for h in marked)
