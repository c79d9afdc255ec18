"""A disk that fills up: the import stops with one clear line and a consistent store, and
resumes once there is room; the search indexes are never left half-written.

Real papers (the bundled demo's arXiv records) and real limits: SQLite's own size limit
(``PRAGMA max_page_count``, which fails a write with SQLITE_FULL, "database or disk is full",
exactly as a full disk does) in every run; a real full file system (a small tmpfs, filled up
with a ballast file, which is then removed to make room) where this process may mount one
(root), else those tests are skipped. Where no file system can be filled, a narrowly patched
write raises the ENOSPC a full disk would.
"""

from __future__ import annotations

import errno
import gzip
import json
import logging
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from paperwire.cli import DEMO_DATA, EXIT_ERROR, main
from paperwire.errors import SearchError
from paperwire.importers import run_import
from paperwire.search.dense import DenseIndex, embed_pending
from paperwire.search.lexical import LexicalIndex
from paperwire.store import Store, db
from paperwire.store.schema import cursors, papers
from test_dense_hybrid import PAPERS, HashingEmbedder

N = 1200
BATCH = 100


def demo_records(n: int, skip: int = 0) -> list[str]:
    with gzip.open(DEMO_DATA / "arxiv-papers.jsonl.gz", "rt", encoding="utf-8") as f:
        lines = [line for _, line in zip(range(skip + n), f, strict=False)][skip:]
    assert len(lines) == n
    return lines


def write_jsonl(path: Path, n: int, skip: int = 0) -> Path:
    path.write_text("".join(demo_records(n, skip)), encoding="utf-8")
    return path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(list(args))
    captured = capsys.readouterr()
    code = info.value.code
    return (code if isinstance(code, int) else 1), captured.out, captured.err


def use_home(monkeypatch: pytest.MonkeyPatch, home: Path, url: str) -> None:
    for name in list(os.environ):
        if name.startswith("PAPERWIRE_") and not name.startswith("PAPERWIRE_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PAPERWIRE_HOME", str(home))
    monkeypatch.setenv("PAPERWIRE_DATABASE_URL", url)
    monkeypatch.setenv("PAPERWIRE_LOG_LEVEL", "ERROR")


def dump(url: str) -> list[tuple[Any, ...]]:
    store = Store.open(url)
    cols = [c for c in papers.c if c.name not in ("created_at", "changed_at")]
    with store.engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(select(*cols).order_by(papers.c.id))]
    store.close()
    return rows


def import_checkpoint(url: str) -> dict[str, Any]:
    store = Store.open(url, migrate=False)
    try:
        with store.engine.connect() as conn:
            [value] = conn.execute(select(cursors.c.value).where(
                cursors.c.key.like("import:%"))).scalars().all()
    finally:
        store.close()
    return dict(value)


def page_count(db_file: Path) -> int:
    con = sqlite3.connect(db_file)
    try:
        return int(con.execute("PRAGMA page_count").fetchone()[0])
    finally:
        con.close()


def assert_stopped_consistently(err: str, source: Path, where: str, url: str,
                                clean: list[tuple[Any, ...]],
                                says: str = "database or disk is full") -> int:
    """The one error line names the cause, the database (``where``) and where the import
    stopped; the store holds exactly the papers of the lines before it, each whole, and the
    checkpoint says so. Returns the checkpoint's line."""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith(f"error: the database {where} is full (no space left on its "
                               "disk, or it reached its size limit): "), err
    assert says in lines[0], err
    cp = import_checkpoint(url)
    assert not cp["complete"] and cp["skipped"] == 0  # nothing passed off as a bad record
    assert 0 < cp["line"] < N
    assert f"the import stopped at {source}:{cp['line'] + 1}," in lines[0], err
    assert "run the same import again to resume" in lines[0]
    done = {json.loads(line)["id"] for line in demo_records(cp["line"])}
    stored = dump(url)
    assert {row[0] for row in stored} == done  # nothing after the checkpoint, nothing lost
    assert stored == [row for row in clean if row[0] in done]  # each paper whole
    assert cp["papers"]["new"] == len(done)
    return int(cp["line"])


# ---- the database's own size limit (every run) ------------------------------------------


def test_an_import_that_fills_the_database_stops_cleanly_and_resumes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    source = write_jsonl(tmp_path / "papers.jsonl", N)
    clean_url = f"sqlite:///{tmp_path / 'clean.db'}"
    use_home(monkeypatch, tmp_path / "clean-home", clean_url)
    code, out, err = run(capsys, "import", str(source), "--no-progress",
                         "--batch-size", str(BATCH))
    assert code == 0, err
    clean = dump(clean_url)
    assert len(clean) == N
    limit = page_count(tmp_path / "clean.db") // 2  # room for about half of the papers

    db_file = tmp_path / "full.db"
    url = f"sqlite:///{db_file}"
    plain = db._sqlite_pragmas

    def limited(dbapi_conn: Any, record: Any) -> None:
        plain(dbapi_conn, record)
        dbapi_conn.execute(f"PRAGMA max_page_count={limit}")

    monkeypatch.setattr(db, "_sqlite_pragmas", limited)
    use_home(monkeypatch, tmp_path / "home", url)
    code, out, err = run(capsys, "import", str(source), "--no-progress",
                         "--batch-size", str(BATCH))
    assert code == EXIT_ERROR
    line = assert_stopped_consistently(err, source, str(db_file), url, clean)
    # still full: the same import stops at the same place, nothing changed
    code, _, err_again = run(capsys, "import", str(source), "--no-progress",
                             "--batch-size", str(BATCH))
    assert code == EXIT_ERROR and err_again == err
    assert import_checkpoint(url)["line"] == line

    monkeypatch.setattr(db, "_sqlite_pragmas", plain)  # room is made
    code, out, err = run(capsys, "import", str(source), "--no-progress", "--json",
                         "--batch-size", str(BATCH))
    assert code == 0, err
    report = json.loads(out)
    assert report["resumed"] == [{"path": str(source), "after_line": line}]
    assert report["papers"] == {"new": N, "changed": 0, "unchanged": 0, "missing": 0}
    assert dump(url) == clean
    assert import_checkpoint(url)["complete"]
    assert LexicalIndex(tmp_path / "home" / "index" / "lexical").num_docs() == N


# ---- a real full file system (a small tmpfs) --------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 MiB tmpfs of its own (skipped where this process cannot mount one)."""
    where = tmp_path / "disk"
    where.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small file system needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(where)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def fill(disk: Path, leave: int) -> Path:
    """A ballast file that leaves ``leave`` bytes free on ``disk``; unlink it to make room."""
    ballast = disk / "ballast"
    st = os.statvfs(disk)
    free = st.f_bavail * st.f_frsize
    assert free > leave
    fd = os.open(ballast, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        os.posix_fallocate(fd, 0, free - leave)
    finally:
        os.close(fd)
    return ballast


def cli(home: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERWIRE_")}
    env.update(PAPERWIRE_HOME=str(home), PAPERWIRE_DATABASE_URL=url,
               PAPERWIRE_LOG_LEVEL="ERROR")
    return subprocess.run([sys.executable, "-m", "paperwire", *args], env=env,
                          capture_output=True, text=True, timeout=300)


def test_an_import_on_a_full_disk_stops_cleanly_and_resumes(
        tmp_path: Path, small_disk: Path) -> None:
    """``paperwire import`` as a process, its database and index on a disk that fills up
    mid-import: exit 1 with one line; after room is made the same command resumes and the
    store is the clean run's."""
    source = write_jsonl(tmp_path / "papers.jsonl", N)
    clean_url = f"sqlite:///{tmp_path / 'clean.db'}"
    done = cli(tmp_path / "clean-home", clean_url, "import", str(source), "--no-progress",
               "--batch-size", str(BATCH))
    assert done.returncode == 0, done.stderr
    clean = dump(clean_url)
    home = small_disk / "home"
    db_file = home / "p.db"
    url = f"sqlite:///{db_file}"
    assert cli(home, url, "db", "upgrade").returncode == 0
    ballast = fill(small_disk, 600_000)  # about a third of the papers fit
    done = cli(home, url, "import", str(source), "--no-progress", "--batch-size", str(BATCH))
    assert done.returncode == EXIT_ERROR and done.stdout == ""
    line = assert_stopped_consistently(done.stderr, source, str(db_file), url, clean)

    ballast.unlink()
    done = cli(home, url, "import", str(source), "--no-progress", "--batch-size", str(BATCH))
    assert done.returncode == 0, done.stderr
    assert f"resumed {source} at line {line + 1:,}" in done.stderr
    assert dump(url) == clean
    assert LexicalIndex(home / "index" / "lexical").num_docs() == N


@pytest.fixture
def pg_on_small_disk() -> Iterator[tuple[str, Path]]:
    """A PostgreSQL database of its own whose tablespace is a 48 MiB tmpfs (its WAL stays on
    the server's own disk): (its URL, the disk). Skipped where the server is not on this host
    or this process cannot mount one."""
    import pwd
    import tempfile
    import uuid

    from sqlalchemy import create_engine, text

    from conftest import PG_URL

    if os.geteuid() != 0:
        pytest.skip("mounting a small file system needs root")
    try:
        owner = pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("no postgres user on this host: the server is elsewhere")
    name = f"pw_full_{uuid.uuid4().hex[:10]}"
    disk = Path(tempfile.mkdtemp(prefix="pw-pg-full-"))  # under /tmp: the server reaches it
    done = subprocess.run(["mount", "-t", "tmpfs", "-o",
                           f"size=48m,mode=0700,uid={owner.pw_uid},gid={owner.pw_gid}",
                           "tmpfs", str(disk)], capture_output=True, text=True)
    if done.returncode != 0:
        disk.rmdir()
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT",
                          connect_args={"connect_timeout": 3})
    try:
        try:
            with admin.connect() as conn:
                conn.execute(text(f"CREATE TABLESPACE {name} LOCATION '{disk}'"))
                conn.execute(text(f"CREATE DATABASE {name} TABLESPACE {name}"))
        except Exception as exc:  # no server, or one on another host
            pytest.skip(f"cannot make a database on a small disk: {str(exc).splitlines()[0]}")
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False), disk
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            conn.execute(text(f"DROP TABLESPACE IF EXISTS {name}"))
        admin.dispose()
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)
        disk.rmdir()


@pytest.mark.postgres
@pytest.mark.slow  # making and dropping a database costs the server two checkpoints
def test_an_import_that_fills_a_postgresql_disk_stops_cleanly_and_resumes(
        tmp_path: Path, pg_on_small_disk: tuple[str, Path], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The same on PostgreSQL: its tablespace's disk fills up mid-import (SQLSTATE 53100,
    "could not extend file"); one line, a consistent store, and a resumed import ends with
    the papers of a clean run."""
    url, disk = pg_on_small_disk
    source = write_jsonl(tmp_path / "papers.jsonl", N)
    clean_url = f"sqlite:///{tmp_path / 'clean.db'}"
    use_home(monkeypatch, tmp_path / "clean-home", clean_url)
    assert run(capsys, "import", str(source), "--no-progress", "--batch-size",
               str(BATCH))[0] == 0
    clean = dump(clean_url)
    Store.open(url).close()  # migrated before the disk fills
    ballast = fill(disk, 1_500_000)
    use_home(monkeypatch, tmp_path / "home", url)
    code, _, err = run(capsys, "import", str(source), "--no-progress", "--batch-size",
                       str(BATCH))
    assert code == EXIT_ERROR
    where = make_url(url).render_as_string(hide_password=True)
    line = assert_stopped_consistently(err, source, where, url, clean,
                                       says="No space left on device")
    ballast.unlink()
    code, _, err = run(capsys, "import", str(source), "--no-progress", "--batch-size",
                       str(BATCH))
    assert code == 0, err
    assert f"resumed {source} at line {line + 1:,}" in err
    assert dump(url) == clean


def two_imports(tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch,
                capsys: pytest.CaptureFixture[str]) -> tuple[str, Path, Path]:
    """A store whose first 400 papers are in the index of ``home``, and a second file of
    800 more papers to import (the database on another disk)."""
    url = f"sqlite:///{tmp_path / 'p.db'}"
    use_home(monkeypatch, home, url)
    first = write_jsonl(tmp_path / "first.jsonl", 400)
    second = write_jsonl(tmp_path / "second.jsonl", 800, skip=400)
    code, _, err = run(capsys, "import", str(first), "--no-progress")
    assert code == 0, err
    return url, second, home / "index" / "lexical"


def test_the_lexical_index_on_a_full_disk_keeps_its_last_state_and_catches_up(
        tmp_path: Path, small_disk: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The papers go in, the index cannot be written: the import says so in one line, a
    reader still serves the index as it was (never a half-written one), and ``paperwire
    index`` brings it up to date once there is room."""
    url, second, folder = two_imports(tmp_path, small_disk / "home", monkeypatch, capsys)
    state = (folder / "state.json").read_text()
    reader = LexicalIndex(folder)
    assert reader.num_docs() == 400
    ballast = fill(small_disk, 200_000)
    code, out, err = run(capsys, "import", str(second), "--no-progress")
    assert code == EXIT_ERROR
    assert "800 papers: 800 new" in out  # the import itself stands
    [line] = err.strip().splitlines()
    assert line.startswith(f"error: the papers are imported, but the search index in {folder} "
                           "could not be written (")
    # tantivy's own words may not name the cause (a worker thread died); the disk's does
    assert re.search(r"; 0\.\d MiB free on its disk\); searches keep its last complete state: "
                     r"make room and run `paperwire index`", line), line
    assert (folder / "state.json").read_text() == state
    assert not list(folder.glob("*.tmp"))
    for ix in (reader, LexicalIndex(folder)):  # one that follows it, one opened now
        ix.refresh(every=0)
        assert ix.num_docs() == 400
        assert ix.search("language models", limit=5)

    ballast.unlink()
    code, out, err = run(capsys, "index", "--no-embed", "--no-progress")
    assert code == 0, err
    assert "1,200 papers" in out, out
    assert reader.refresh(every=0) and reader.num_docs() == 1200
    assert len(dump(url)) == 1200


def test_a_dense_generation_that_cannot_be_written_is_published_by_the_next_sync(
        tmp_path: Path, small_disk: Path) -> None:
    """The dense index's writer cannot save its new generation (the disk is full): it says
    so (SearchError), leaves no partial generation, readers keep the last one, and the same
    writer publishes on its next sync once there is room (nothing new to take in by then)."""
    store = Store.open(f"sqlite:///{tmp_path / 'p.db'}")
    emb = HashingEmbedder()
    run_import(store, [write_jsonl(tmp_path / "a.jsonl", 300)], progress=False)
    embed_pending(store, emb)
    folder = small_disk / "dense"
    writer = DenseIndex(folder, emb.name, emb.dim, exact_limit=100)
    assert writer.sync(store) == 300
    reader = DenseIndex(folder, emb.name, emb.dim, exact_limit=100)
    assert len(reader) == 300
    run_import(store, [write_jsonl(tmp_path / "b.jsonl", 300, skip=300)], progress=False)
    embed_pending(store, emb)
    before = sorted(p.name for p in folder.iterdir())
    ballast = fill(small_disk, 100_000)
    with pytest.raises(SearchError, match=r"could not be written \(.*; 0\.\d MiB free on its "
                       r"disk\); semantic search keeps its last complete generation"):
        writer.sync(store)
    assert sorted(p.name for p in folder.iterdir()) == before  # nothing partial left
    assert not reader.refresh(every=0) and len(reader) == 300
    assert len(DenseIndex(folder, emb.name, emb.dim, exact_limit=100)) == 300

    ballast.unlink()
    assert writer.sync(store) == 0  # nothing new in the store: it publishes all the same
    assert reader.refresh(every=0) and len(reader) == 600
    fresh = DenseIndex(folder, emb.name, emb.dim, exact_limit=100)
    assert len(fresh) == 600 and fresh._hnsw is not None  # its saved graph, loaded
    store.close()


# ---- where no disk can be filled: the write a full disk fails ---------------------------


def test_a_lexical_sync_whose_write_fails_raises_search_error_and_recovers(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture) -> None:
    """terms.json cannot be written (ENOSPC) after tantivy committed: a SearchError, the
    state still the last one (so the next sync takes the same papers in again), no
    temporary file left, and the next sync completes the index and its lexicon."""
    url, second, folder = two_imports(tmp_path, tmp_path / "home", monkeypatch, capsys)
    state = json.loads((folder / "state.json").read_text())
    plain = Path.write_text

    def enospc(self: Path, data: str, *args: Any, **kwargs: Any) -> int:
        if self.name == "terms.tmp":  # terms.json, as written beside it first
            plain(self, data[:10])  # cut off by the full disk
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))
        return plain(self, data, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", enospc)
    code, out, err = run(capsys, "import", str(second), "--no-progress")
    assert code == EXIT_ERROR and "800 new" in out
    [line] = err.strip().splitlines()
    assert "could not be written" in line and "No space left on device" in line
    assert json.loads((folder / "state.json").read_text()) == state
    assert not list(folder.glob("*.tmp"))

    monkeypatch.setattr(Path, "write_text", plain)
    ix = LexicalIndex(folder)
    with caplog.at_level(logging.WARNING, "paperwire.search.lexical"):
        assert ix.sync(Store.open(url)) >= 800  # the papers since the last state, again
    assert not caplog.records  # taken in again, not rebuilt as damaged
    clean = LexicalIndex(tmp_path / "clean")
    clean.sync(Store.open(url))
    assert ix.num_docs() == clean.num_docs() == 1200
    assert json.loads(ix.terms_file.read_text()) == json.loads(clean.terms_file.read_text())


def test_a_dense_save_whose_write_fails_leaves_nothing_and_is_retried(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """np.save failing with ENOSPC: as on a real full disk (above), without one."""
    store = Store.open(f"sqlite:///{tmp_path / 'p.db'}")
    emb = HashingEmbedder()
    store.write_batch(PAPERS[:2])
    embed_pending(store, emb)
    folder = tmp_path / "dense"
    writer = DenseIndex(folder, emb.name, emb.dim)
    assert writer.sync(store) == 2
    store.write_batch(PAPERS[2:])
    embed_pending(store, emb)
    before = sorted(p.name for p in folder.iterdir())
    plain = np.save

    def enospc(file: Any, arr: Any, *args: Any, **kwargs: Any) -> None:
        Path(file).write_bytes(b"\x93NUMPY")  # cut off by the full disk
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(file))

    monkeypatch.setattr(np, "save", enospc)
    with pytest.raises(SearchError, match=r"dense index .* could not be written"):
        writer.sync(store)
    assert sorted(p.name for p in folder.iterdir()) == before
    assert len(DenseIndex(folder, emb.name, emb.dim)) == 2
    monkeypatch.setattr(np, "save", plain)
    assert writer.sync(store) == 0
    assert len(DenseIndex(folder, emb.name, emb.dim)) == 4
    store.close()
