"""Hostile import input through the real CLI: records nested too deeply, oversized fields and
lines, control and bidi characters, path-like ids. Nothing crashes, nothing good is lost, and
every record that was skipped or cut is reported with its ``file:line``."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from paperwire.cli import EXIT_PARTIAL, main
from paperwire.store import Store

DEEP_ARRAY = "[" * 100_000 + "]" * 100_000
DEEP_OBJECT = '{"a":' * 100_000 + "1" + "}" * 100_000


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(list(args))
    captured = capsys.readouterr()
    code = info.value.code
    return (code if isinstance(code, int) else 1), captured.out, captured.err


def arxiv(n: int, **extra: Any) -> dict[str, Any]:
    return {"id": f"2501.{n:05d}", "title": f"Paper number {n}", "summary": f"Abstract {n}.",
            "authors": ["Ada Lovelace"], "categories": "cs.IR", **extra}


def lines(*records: Any) -> str:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records)


def stored_ids(cli_env: dict[str, str]) -> set[str]:
    store = Store.open(cli_env["PAPERWIRE_DATABASE_URL"])
    try:
        return store.all_ids()
    finally:
        store.close()


def test_deeply_nested_lines_are_skipped_and_the_rest_lands(
    cli_env: dict[str, str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    first = tmp_path / "a.jsonl"
    first.write_text(lines(arxiv(1), DEEP_ARRAY, arxiv(2), DEEP_OBJECT,
                           {**arxiv(3), "junk": json.loads("[" * 150 + "]" * 150)}, arxiv(4)))
    second = tmp_path / "b.jsonl.gz"
    second.write_bytes(gzip.compress(lines(arxiv(5), DEEP_OBJECT, arxiv(6)).encode()))
    # a JSON array with a too-deep element between good ones (pretty-printed: resumable)
    third = tmp_path / "c.json"
    third.write_text("[\n" + json.dumps(arxiv(7)) + ",\n" + DEEP_OBJECT + ",\n"
                     + json.dumps(arxiv(8)) + "\n]\n")
    # one pretty-printed object nested too deeply
    fourth = tmp_path / "d.json"
    fourth.write_text("{\n" + '"x": ' + DEEP_OBJECT + "\n}\n")
    fifth = tmp_path / "e.jsonl"
    fifth.write_text(lines(arxiv(9)))

    code, out, err = run(capsys, "import", str(first), str(second), str(third), str(fourth),
                         str(fifth), "--json")
    assert code == EXIT_PARTIAL, err
    assert "Traceback" not in err and "RecursionError" not in out + err
    doc = json.loads(out)
    skipped = {s["where"]: s["reason"] for s in doc["skipped"]}
    for where in (f"{first}:2", f"{first}:4", f"{first}:5", f"{second}:2", f"{third}:3"):
        assert "nested too deeply" in skipped[where], (where, skipped)
    failed = {f["where"]: f["reason"] for f in doc["files_failed"]}
    assert any("nested too deeply" in r for r in failed.values()) or any(
        "nested too deeply" in r for w, r in skipped.items() if w.startswith(str(fourth)))
    assert stored_ids(cli_env) == {f"2501.{n:05d}" for n in (1, 2, 4, 5, 6, 7, 8, 9)}


def test_a_too_deep_element_of_a_one_line_array_is_skipped_alone(
    cli_env: dict[str, str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Arrays on one line (as APIs answer) cannot resync at a line start: the deep element is
    stepped over by its brackets, and the elements after it are still read."""
    path = tmp_path / "one-line.json"
    path.write_text("[" + json.dumps(arxiv(1)) + "," + DEEP_ARRAY + ","
                    + json.dumps(arxiv(2, summary='brackets in text ]]}} "quoted" \\')) + ","
                    + DEEP_OBJECT + "," + json.dumps(arxiv(3)) + "]")
    code, out, err = run(capsys, "import", str(path), "--json")
    assert code == EXIT_PARTIAL, err
    doc = json.loads(out)
    assert doc["skipped_count"] == 2 and not doc["files_failed"], doc
    assert all("nested too deeply" in s["reason"] for s in doc["skipped"])
    assert stored_ids(cli_env) == {"2501.00001", "2501.00002", "2501.00003"}


def test_an_overlong_line_is_skipped_unread_and_the_next_lines_are_read() -> None:
    import io

    from paperwire.parsing.reading import iter_jsonl, iter_tsv

    class Counting(io.BytesIO):
        biggest = 0

        def readline(self, size: int | None = -1) -> bytes:
            line = super().readline(size)
            self.biggest = max(self.biggest, len(line))
            return line

    long_value = "x" * 50_000
    data = lines(arxiv(1), arxiv(2, summary=long_value), arxiv(3)).encode()
    stream = Counting(data)
    items = list(iter_jsonl(stream, max_line_bytes=10_000))
    assert [(i.line, i.error is None) for i in items] == [(1, True), (2, False), (3, True)]
    assert "longer than 10,000 bytes" in (items[1].error or "")
    assert stream.biggest <= 10_001  # never read whole
    tsv = list(iter_tsv(io.BytesIO(b"a\tb\n" + b"y" * 50_000 + b"\tz\nc\td\n"), 10_000))
    assert [i.value for i in tsv] == [["a", "b"], None, ["c", "d"]]


def test_a_python_repr_entry_nested_too_deeply_is_skipped(tmp_path: Path) -> None:
    from paperwire.errors import RecordError
    from paperwire.parsing.formats import parse_hf_entry

    with pytest.raises(RecordError, match="nested too deeply"):
        parse_hf_entry("{'paper': " + "[" * 150 + "]" * 150 + "}")


def test_a_50_mb_abstract_is_stored_cut_to_size_and_reported(
    cli_env: dict[str, str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from paperwire.models import MAX_ABSTRACT_CHARS, MAX_AUTHORS, MAX_TITLE_CHARS

    path = tmp_path / "big.jsonl"
    with path.open("w") as fh:
        fh.write(json.dumps(arxiv(1)) + "\n")
        fh.write('{"id": "2501.00002", "title": "Huge", "authors": ["A B"], "summary": "')
        for _ in range(10):
            fh.write("lorem ipsum " * 437_000)  # 10 x 5.2 MB
        fh.write('"}\n')
        fh.write(json.dumps(arxiv(3, title="T " * 5_000,
                                  authors=[f"Author {i}" for i in range(5_000)])) + "\n")
    assert path.stat().st_size > 50_000_000
    code, out, err = run(capsys, "import", str(path), "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["truncated_count"] == 2 and doc["skipped_count"] == 0
    cut = {t["where"]: t["fields"] for t in doc["truncated"]}
    assert set(cut) == {f"{path}:2", f"{path}:3"}
    assert "abstract" in cut[f"{path}:2"]
    assert "title" in cut[f"{path}:3"] and "authors" in cut[f"{path}:3"]
    store = Store.open(cli_env["PAPERWIRE_DATABASE_URL"])
    try:
        got = store.get_papers(["2501.00001", "2501.00002", "2501.00003"])
    finally:
        store.close()
    assert got["2501.00001"].abstract == "Abstract 1."
    big = got["2501.00002"].abstract
    assert len(big) <= MAX_ABSTRACT_CHARS and big.startswith("lorem ipsum") and big.endswith("…")
    assert len(got["2501.00003"].title) <= MAX_TITLE_CHARS
    assert len(got["2501.00003"].authors) == MAX_AUTHORS
    # the same import again changes nothing, and the human output warns per record
    code, out, err = run(capsys, "import", str(path), "--no-progress")
    assert code == 0
    assert f"warning: cut to size {path}:2: abstract" in err
    assert "0 new, 0 changed, 3 unchanged" in out and "2 records cut to size" in out


def test_controls_and_bidi_overrides_never_reach_the_store(store: Store) -> None:
    """The one write path cleans text from every writer (here a live source's batch, which
    no importer cleaned): NULs (PostgreSQL refuses them), terminal escapes, C1 controls and
    bidi overrides go; tab and newline stay."""
    from datetime import date

    from paperwire.models import Paper

    dirty = Paper(
        id="2501.00001", title="Safe \u202etxet desrever\u202c title\x00\x1b[31m red\x9b",
        abstract="Line one\r\nline two\twith tab\u2066isolate\u2069\x07",
        authors=("Ada\u202e Lovelace", "\x00Alan Turing"), categories=("cs.IR",),
        primary_category="cs.IR", comment="5 pages\x1b]8;;http://x\x07", version=1,
        published=date(2025, 1, 2),
    )
    store.write_batch([dirty])
    got = store.get_paper("2501.00001")
    assert got is not None
    assert got.title == "Safe txet desrever title[31m red"
    assert got.abstract == "Line one\nline two\twith tabisolate"
    assert got.authors == ("Ada Lovelace", "Alan Turing")
    assert got.comment == "5 pages]8;;http://x"
    counts, _ = store.write_batch([dirty])
    assert counts.unchanged == 1  # the cleaned record is what is stored: no change


def test_importing_a_50_mb_abstract_keeps_memory_bounded(tmp_path: Path) -> None:
    """The whole `paperwire import` of one 50 MB record (and the index sync after it), in a
    fresh process: its peak memory stays far below what splitting 50 MB into words and
    indexing them cost (835 MB before field caps; about 230 MB now)."""
    import os
    import subprocess
    import sys

    path = tmp_path / "big.jsonl"
    with path.open("w") as fh:
        fh.write('{"id": "2501.00002", "title": "Huge", "authors": ["A B"], "summary": "')
        for _ in range(10):
            fh.write("lorem ipsum " * 437_000)
        fh.write('"}\n')
    script = (
        "import resource, sys\n"
        "from paperwire.cli import main\n"
        "try:\n"
        "    main(['import', sys.argv[1], '--no-progress'])\n"
        "except SystemExit as exc:\n"
        "    assert exc.code in (0, None), exc.code\n"
        # VmHWM: this process image's own peak (ru_maxrss keeps the parent's peak across
        # fork and exec, so a large pytest process would count here)
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')]\n"
        "print(int(hwm[0].split()[1]) // 1024 if hwm else "
        "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERWIRE_")}
    env.update(PAPERWIRE_HOME=str(tmp_path / "home"),
               PAPERWIRE_DATABASE_URL=f"sqlite:///{tmp_path / 'p.db'}")
    done = subprocess.run([sys.executable, "-c", script, str(path)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    peak_mb = int(done.stdout.strip().splitlines()[-1])
    assert "1 record cut to size" in done.stdout
    assert peak_mb < 450, peak_mb


def test_rows_stored_before_the_caps_are_served_cleaned_and_cut(store: Store) -> None:
    """A row written before cleaning existed (here straight into the table) never reaches a
    page, feed or API as it was: every read goes through the same bounds as every write."""
    from datetime import datetime

    from sqlalchemy import update

    from paperwire.models import MAX_ABSTRACT_CHARS, Paper
    from paperwire.store.schema import papers

    store.write_batch([Paper(id="2501.00001", title="Plain", abstract="Plain.")])
    with store.engine.begin() as conn:
        conn.execute(update(papers).where(papers.c.id == "2501.00001").values(
            title="Ev\u202eil\x1b[2J title", abstract="word " * 1_000_000,
            authors=["Ada\u2066 Lovelace\x07"], changed_at=datetime.utcnow()))
    got = store.get_paper("2501.00001")
    assert got is not None
    assert got.title == "Evil[2J title" and got.authors == ("Ada Lovelace",)
    assert len(got.abstract) <= MAX_ABSTRACT_CHARS
    assert store.get_papers(["2501.00001"])["2501.00001"].title == "Evil[2J title"
    [[(indexed, _)]] = list(store.iter_changed_since(None))
    assert indexed.title == "Evil[2J title" and len(indexed.abstract) <= MAX_ABSTRACT_CHARS
