"""A damaged or missing search index is never served half-built, and the index writer's next
sync rebuilds it from the store.

Real papers (the bundled demo's arXiv records, imported into SQLite) and real index files,
damaged the ways a crash, a full disk or a careless hand leaves them: deleted, truncated.
Readers (a fresh ``LexicalIndex`` / ``DenseIndex``, as a web worker opens one) serve either
the whole index or nothing from it, with a warning in the log; the writer's next sync leaves
an index equal to one built cleanly from the same store.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from paperwire.importers import run_import
from paperwire.search.dense import DenseIndex, embed_pending
from paperwire.search.lexical import LexicalIndex
from paperwire.store import Store
from test_dense_hybrid import HashingEmbedder
from test_disk_full import write_jsonl

N = 400
QUERIES = ("language models", "reinforcement learning", "graph", "LLM agents", "tranformer")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    home = tmp_path_factory.mktemp("damage")
    s = Store.open(f"sqlite:///{home / 'p.db'}")
    report = run_import(s, [write_jsonl(home / "papers.jsonl", N)], progress=False)
    assert report.papers.new == N
    embed_pending(s, HashingEmbedder())
    return s


def answers(ix: LexicalIndex) -> list[list[str]]:
    return [[h.paper_id for h in ix.search(q, limit=10)] for q in QUERIES]


def segment(folder: Path, ext: str) -> Path:
    [found] = [p for p in folder.iterdir() if p.suffix == ext]
    return found


def truncate(path: Path, size: int) -> None:
    with open(path, "r+b") as f:
        f.truncate(size)


LEXICAL: dict[str, tuple[Callable[[Path], None], bool]] = {
    # what is done to the folder; whether a reader then serves nothing (else: all of it)
    "meta.json deleted": (lambda d: (d / "meta.json").unlink(), True),
    "meta.json truncated": (lambda d: truncate(d / "meta.json", 50), True),
    "a segment file deleted": (lambda d: segment(d, ".store").unlink(), True),
    "a segment file truncated": (lambda d: truncate(segment(d, ".idx"), 100), True),
    "state.json truncated": (lambda d: truncate(d / "state.json", 1), True),
    "terms.json truncated": (lambda d: truncate(d / "terms.json", 100), False),
    "terms.json deleted": (lambda d: (d / "terms.json").unlink(), False),
    "lexicon.json truncated": (lambda d: truncate(d / "lexicon.json", 100), False),
}


@pytest.mark.parametrize("kind", ["the same writer", "a new writer"])
@pytest.mark.parametrize("damage", list(LEXICAL))
def test_a_damaged_lexical_index_is_served_whole_or_not_at_all_and_rebuilt(
        store: Store, tmp_path: Path, damage: str, kind: str,
        caplog: pytest.LogCaptureFixture) -> None:
    """The writer that wrote the index and still has it open (serve's writer thread), or a
    new one (``paperwire index``), rebuilds it."""
    if kind == "the same writer" and damage == "a segment file truncated":
        pytest.skip("a file cut short under a process that maps it is a SIGBUS there, as "
                    "in any reader that maps it (tantivy maps its files)")
    clean = LexicalIndex(tmp_path / "clean")
    assert clean.sync(store) == N
    expected = answers(clean)
    assert all(expected[:4])
    folder = tmp_path / "lexical"
    first = LexicalIndex(folder)
    first.sync(store)
    act, served_empty = LEXICAL[damage]
    act(folder)

    with caplog.at_level(logging.WARNING, "paperwire.search"):
        reader = LexicalIndex(folder)
        held = reader.num_docs()
        if served_empty:
            assert held == 0 and answers(reader) == [[]] * len(QUERIES)
        else:  # the index is whole (its lexicon perhaps not: searches go without it)
            assert held == N and all(answers(reader)[:4])

        writer = first if kind == "the same writer" else LexicalIndex(folder)
        assert writer.sync(store) == N  # rebuilt from the store, whatever the watermark said
    if damage != "state.json truncated":  # (a missing state is a first sync: nothing to say)
        assert any(r.levelno == logging.WARNING for r in caplog.records), caplog.text
    assert "Traceback" not in caplog.text

    again = LexicalIndex(folder)
    assert again.num_docs() == N
    assert answers(again) == expected
    assert json.loads(again.terms_file.read_text()) == json.loads(clean.terms_file.read_text())
    assert json.loads(again.lexicon_file.read_text()) == json.loads(
        clean.lexicon_file.read_text())
    assert writer.sync(store) == 0  # and it stays rebuilt


def test_a_reader_keeps_its_view_while_the_writer_rebuilds_a_damaged_index(
        store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A reader that follows the index (a web worker) when its meta.json is lost: while the
    writer rebuilds (looked at as the rebuild reads the store, the folder started afresh) it
    keeps serving what it had, never the empty index the rebuild begins with, and then
    takes in the rebuilt one."""
    folder = tmp_path / "lexical"
    LexicalIndex(folder).sync(store)
    reader = LexicalIndex(folder)
    before = answers(reader)
    assert reader.num_docs() == N
    (folder / "meta.json").unlink()
    during: list[tuple[bool, int, list[list[str]]]] = []
    read = store.iter_changed_since

    def looked_at(since: object) -> object:
        during.append((reader.refresh(every=0), reader.num_docs(), answers(reader)))
        return read(since)  # type: ignore[arg-type]

    monkeypatch.setattr(store, "iter_changed_since", looked_at)
    assert LexicalIndex(folder).sync(store) == N
    assert during == [(False, N, before)]
    assert reader.refresh(every=0) and answers(reader) == before


def generation(folder: Path) -> Path:
    return folder / json.loads((folder / "current").read_text())["generation"]


DENSE: dict[str, tuple[Callable[[Path], None], bool]] = {
    # what is done to the folder; whether a reader then serves nothing (else: all of it)
    "the manifest deleted": (lambda d: (d / "current").unlink(), True),
    "the manifest truncated": (lambda d: truncate(d / "current", 20), True),
    "vectors.npy truncated": (lambda d: truncate(generation(d) / "vectors.npy", 5000), True),
    "owners.npy truncated": (lambda d: truncate(generation(d) / "owners.npy", 100), True),
    "the generation deleted": (lambda d: shutil.rmtree(generation(d)), True),
    "the HNSW graph truncated": (lambda d: truncate(generation(d) / "hnsw.usearch", 5000),
                                 False),
    "the HNSW graph deleted": (lambda d: (generation(d) / "hnsw.usearch").unlink(), False),
}
LIMIT = 100  # exact search up to this many vectors: the index here is approximate (HNSW)


@pytest.mark.parametrize("kind", ["the same writer", "a new writer"])
@pytest.mark.parametrize("damage", list(DENSE))
def test_a_damaged_dense_index_is_served_whole_or_not_at_all_and_rebuilt(
        store: Store, tmp_path: Path, damage: str, kind: str,
        caplog: pytest.LogCaptureFixture) -> None:
    """The writer that published it and holds it in memory (its pass: refresh, then sync),
    or a new one, publishes it whole again."""
    emb = HashingEmbedder()
    query = emb.embed_query("large language models for reasoning")
    clean = DenseIndex(tmp_path / "clean", emb.name, emb.dim, LIMIT)
    assert clean.sync(store) == N
    expected = [pid for pid, _ in clean.search(query, 10, exact=True)]
    folder = tmp_path / "dense"
    first = DenseIndex(folder, emb.name, emb.dim, LIMIT)
    first.sync(store)
    act, served_empty = DENSE[damage]
    act(folder)

    with caplog.at_level(logging.WARNING, "paperwire.search"):
        reader = DenseIndex(folder, emb.name, emb.dim, LIMIT)
        if served_empty:
            assert len(reader) == 0 and reader.search(query, 10) == []
        else:  # the vectors are whole; the graph is built again in memory meanwhile
            assert len(reader) == N
            assert [pid for pid, _ in reader.search(query, 10, exact=True)] == expected
        writer = first if kind == "the same writer" else DenseIndex(folder, emb.name,
                                                                     emb.dim, LIMIT)
        writer.refresh(every=0)  # as the index writer's pass does first
        writer.sync(store)
    assert any(r.levelno == logging.WARNING for r in caplog.records), caplog.text

    again = DenseIndex(folder, emb.name, emb.dim, LIMIT)
    found = again._read_generation()
    assert found is not None
    _, snap, graph = found
    assert len(snap) == N and graph is not None  # published whole, its graph with it
    assert [pid for pid, _ in again.search(query, 10, exact=True)] == expected
    assert len({pid for pid, _ in again.search(query, 10)} & set(expected)) >= 8
    assert writer.sync(store) == 0
