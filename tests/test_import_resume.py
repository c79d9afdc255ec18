"""An import killed at any point resumes after its last checkpoint and ends with the store
(and the report) of a clean run.

The data is real: the bundled demo's arXiv papers, 3,000 of them written out in the Kaggle
``arxiv-metadata-oai-snapshot.json`` line layout (plus two bad lines), imported by
``paperwire import`` as a subprocess in batches of 100 and killed with SIGKILL once the first
checkpoint is in the database, then again mid-way through the resumed run. Listing dates (a
gzip TSV) and a JSON array are checked in process, with a crash raised from the store.
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from paperwire.cli import DEMO_DATA
from paperwire.importers import run_import
from paperwire.store import Store
from paperwire.store.schema import cursors, papers

N_PAPERS = 3000
BATCH = 100
BAD_LINES = {150: '{"id": "2501.00001", "title": ', 2500: '{"id": "2501.00002"}'}


def _kaggle(rec: dict[str, Any]) -> dict[str, Any]:
    """A real arXiv listing record in the Kaggle snapshot's layout."""
    return {
        "id": rec["id"], "submitter": (rec["authors"] or [None])[0],
        "authors": ", ".join(rec["authors"]), "title": rec["title"],
        "comments": rec.get("comment"), "journal-ref": None, "doi": None, "report-no": None,
        "categories": " ".join(rec["categories"]), "license": None,
        "abstract": rec["summary"], "versions": [], "update_date": None,
    }


def write_kaggle(path: Path) -> Path:
    with gzip.open(DEMO_DATA / "arxiv-papers.jsonl.gz", "rt", encoding="utf-8") as f:
        recs = [json.loads(line) for _, line in zip(range(N_PAPERS), f, strict=False)]
    assert len(recs) == N_PAPERS
    lines = [json.dumps(_kaggle(r)) for r in recs]
    for at, bad in sorted(BAD_LINES.items()):
        lines.insert(at - 1, bad)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def env_for(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERWIRE_")}
    env.update(PAPERWIRE_HOME=str(home), PAPERWIRE_DATABASE_URL=f"sqlite:///{home / 'p.db'}",
               PAPERWIRE_LOG_LEVEL="WARNING")
    return env


def cmd(path: Path) -> list[str]:
    return [sys.executable, "-m", "paperwire", "import", str(path), "--no-progress",
            "--json", "--batch-size", str(BATCH)]


def run_json(path: Path, home: Path) -> dict[str, Any]:
    done = subprocess.run(cmd(path), env=env_for(home), capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 3, done.stderr  # the two bad lines: a partial import
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def checkpoint(home: Path, polling: bool = False) -> dict[str, Any] | None:
    """The import checkpoint in the store, read without the app (None until there is one;
    ``polling``: read-only, and None too while the database cannot be read)."""
    try:
        con = sqlite3.connect(f"file:{home / 'p.db'}" + ("?mode=ro" if polling else ""),
                              uri=True, timeout=5)
        try:
            row = con.execute("SELECT value FROM cursors WHERE key LIKE 'import:%'").fetchone()
        finally:
            con.close()
    except sqlite3.Error:
        if polling:
            return None
        raise
    return json.loads(row[0]) if row else None


def kill_when(path: Path, home: Path, line: int) -> dict[str, Any]:
    """Run the import and SIGKILL it once its checkpoint is past ``line``; the checkpoint
    left (which must not be complete: the kill landed mid-run)."""
    proc = subprocess.Popen(cmd(path), env=env_for(home), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            cp = checkpoint(home, polling=True)
            if cp is not None and cp["line"] > line:
                break
            time.sleep(0.005)
        assert proc.poll() is None, "the import ended before the kill"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    left = checkpoint(home)
    assert left is not None and not left["complete"] and left["line"] > line
    return left


def dump(home: Path) -> list[tuple[Any, ...]]:
    store = Store.open(f"sqlite:///{home / 'p.db'}")
    cols = [c for c in papers.c if c.name not in ("created_at", "changed_at")]
    with store.engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(select(*cols).order_by(papers.c.id))]
    store.close()
    return rows


def _wheres(report: dict[str, Any], path: Path) -> list[tuple[str, str]]:
    return [(s["where"].replace(str(path), "F"), s["reason"]) for s in report["skipped"]]


@pytest.mark.slow
def test_an_import_killed_twice_resumes_and_ends_like_a_clean_run(tmp_path: Path) -> None:
    (tmp_path / "clean").mkdir()
    clean_file = write_kaggle(tmp_path / "clean" / "snapshot.json")
    t0 = time.monotonic()
    clean = run_json(clean_file, tmp_path / "clean")
    clean_s = time.monotonic() - t0
    expected = dump(tmp_path / "clean")
    assert len(expected) == N_PAPERS
    assert clean["papers"]["new"] == N_PAPERS and clean["resumed"] == []

    home = tmp_path / "killed"
    home.mkdir()
    path = write_kaggle(home / "snapshot.json")
    first = kill_when(path, home, 0)  # as soon as the first batch is in
    second = kill_when(path, home, max(first["line"], N_PAPERS // 2))  # resumed, then mid-way
    assert first["line"] < second["line"] < N_PAPERS
    assert second["skipped"] == 1 and second["skipped_head"][0][0] == f"{path}:150"

    # Spoil a line the checkpoint covers, away from the ends the identity hashes, keeping
    # the size and the mtime: a run that parsed it again would report it as bad.
    st = path.stat()
    data = path.read_bytes()
    at = data.index(b"\n", 70_000) + 1  # the start of a line past the first 64 KiB
    spoilt = data.count(b"\n", 0, at) + 1
    assert spoilt <= second["line"] and at < st.st_size - 70_000
    path.write_bytes(data[:at] + b"#" + data[at + 1:])
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))

    t0 = time.monotonic()
    final = run_json(path, home)
    resumed_s = time.monotonic() - t0
    assert final["resumed"] == [{"path": str(path), "after_line": second["line"]}]
    assert final["files"][0]["resumed_after"] == second["line"]
    assert dump(home) == expected
    # the report is the clean run's: counts and bad lines, the earlier runs' part included
    assert final["papers"] == clean["papers"]
    assert final["files"][0]["records"] == clean["files"][0]["records"]
    assert _wheres(final, path) == _wheres(clean, clean_file)
    assert [w for w, _ in _wheres(final, path)] == ["F:150", "F:2500"]
    assert f"{path}:{spoilt}" not in {s["where"] for s in final["skipped"]}
    done = checkpoint(home)
    assert done is not None and done["complete"]
    print(f"clean {clean_s:.2f}s, resumed after line {second['line']}: {resumed_s:.2f}s")


def test_a_finished_import_run_again_reads_it_all_and_changes_nothing(tmp_path: Path) -> None:
    path = write_kaggle(tmp_path / "snapshot.json.gz.src")
    gz = tmp_path / "snapshot.json.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    first = run_json(gz, tmp_path)
    cp = checkpoint(tmp_path)
    assert cp is not None and cp["complete"] and cp["line"] == N_PAPERS + len(BAD_LINES)
    assert first["papers"]["new"] == N_PAPERS
    again = run_json(gz, tmp_path)
    assert again["resumed"] == [] and again["files"][0]["resumed_after"] is None
    assert again["papers"] == {"new": 0, "changed": 0, "unchanged": N_PAPERS, "missing": 0}
    assert again["skipped_count"] == len(BAD_LINES)
    cp2 = checkpoint(tmp_path)
    assert cp2 is not None and cp2["complete"] and cp2["line"] == cp["line"]
    assert cp2["papers"] == again["papers"]


class Crash(BaseException):
    """A kill: nothing in the importer catches it."""


def _crash_after(store: Store, method: str, calls: int, monkeypatch: pytest.MonkeyPatch) -> None:
    real = getattr(store, method)
    n = [0]

    def wrapped(*args: Any, **kw: Any) -> Any:
        n[0] += 1
        if n[0] > calls:
            raise Crash
        return real(*args, **kw)

    monkeypatch.setattr(store, method, wrapped)


def _published(store: Store) -> list[tuple[Any, ...]]:
    with store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(
            select(papers.c.id, papers.c.published).order_by(papers.c.id))]


def test_a_listing_dates_import_resumes_inside_the_gzip_tsv(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    arxiv, dates = DEMO_DATA / "arxiv-papers.jsonl.gz", DEMO_DATA / "arxiv-listing-dates.tsv.gz"
    run_import(store, [arxiv], progress=False)
    clean = Store.open(f"sqlite:///{tmp_path / 'clean.db'}")
    run_import(clean, [arxiv, dates], progress=False, batch_size=500)
    expected = _published(clean)

    with monkeypatch.context() as m:
        _crash_after(store, "set_published", 3, m)
        with pytest.raises(Crash):
            run_import(store, [dates], progress=False, batch_size=500)
    with store.engine.connect() as conn:
        values = conn.execute(select(cursors.c.value)
                              .where(cursors.c.key.startswith("import:"))).scalars().all()
    (value,) = [v for v in values if v.get("fmt") == "listing-dates"]
    # the header and 3 batches of 500 dates: the 1,500th date is on line 1,501
    assert value["line"] == 1501 and value["fmt"] == "listing-dates" and not value["complete"]
    report = run_import(store, [dates], progress=False, batch_size=500)
    assert report.files[0].resumed_after == 1501
    assert report.files[0].records == 3619
    assert _published(store) == expected


def test_a_json_array_is_imported_again_from_the_start(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """JSON arrays and objects are not line containers: no checkpoint, a full re-read."""
    with gzip.open(DEMO_DATA / "arxiv-papers.jsonl.gz", "rt", encoding="utf-8") as f:
        recs = [json.loads(line) for _, line in zip(range(300), f, strict=False)]
    path = tmp_path / "papers.json"
    path.write_text(json.dumps(recs, indent=1), encoding="utf-8")
    with monkeypatch.context() as m:
        _crash_after(store, "write_batch", 1, m)
        with pytest.raises(Crash):
            run_import(store, [path], progress=False, batch_size=100)
    report = run_import(store, [path], progress=False, batch_size=100)
    assert report.files[0].resumed_after is None
    assert (report.papers.new, report.papers.unchanged) == (200, 100)
    assert store.count_papers() == 300


def test_bad_lines_before_the_kill_stay_in_the_report(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The checkpoint carries the count of bad lines and lists the first 100: a resumed run
    counts them all (exit code, ok), lists those and says how many more it does not list."""
    with gzip.open(DEMO_DATA / "arxiv-papers.jsonl.gz", "rt", encoding="utf-8") as f:
        good = [line for _, line in zip(range(400), f, strict=False)]
    lines = good[:1] + [f'{{"id": "2501.{i:05d}"}}\n' for i in range(150)] + good[1:]
    path = tmp_path / "papers.jsonl"
    path.write_text("".join(lines), encoding="utf-8")
    clean = run_import(Store.open(f"sqlite:///{tmp_path / 'clean.db'}"), [path],
                       progress=False, batch_size=100)
    with monkeypatch.context() as m:
        _crash_after(store, "write_batch", 2, m)
        with pytest.raises(Crash):
            run_import(store, [path], progress=False, batch_size=100)
    moved = path.rename(tmp_path / "moved.jsonl")  # same content, same mtime: same file
    report = run_import(store, [moved], progress=False, batch_size=100)
    assert report.files[0].resumed_after == 151 + 199  # the first 200 papers and the bad lines
    assert report.skipped_count == clean.skipped_count == 150 and not report.ok
    assert report.skipped[:100] == [(w.replace(str(path), str(moved)), r)
                                    for w, r in clean.skipped[:100]]
    assert report.skipped[100] == (str(moved), "50 more bad records up to line 350 "
                                   "(read by an earlier run) are not listed")
    assert len(report.skipped) == 101
    assert (report.papers.new, report.files[0].records) == (400, 550)


def test_the_lines_skipped_on_resume_are_read_past_whole_and_numbered() -> None:
    import io

    from paperwire.parsing.reading import iter_jsonl, iter_tsv

    data = b'{"a": 1}\n' + b'{"long": "' + b"x" * 100 + b'"}\n\n{"a": 4}\n{"a": 5}\n'
    assert list(iter_jsonl(io.BytesIO(data), max_line_bytes=50, skip_lines=3)) == [
        (4, {"a": 4}, None), (5, {"a": 5}, None)]
    assert list(iter_jsonl(io.BytesIO(data), max_line_bytes=50, skip_lines=99)) == []
    assert [i.line for i in iter_tsv(io.BytesIO(b"h\tx\na\t1\nb\t2\n"), skip_lines=2)] == [3]
