"""run_import as a whole: idempotence, versions, signal updates, damaged input, directory
order, batching and the report, on SQLite and PostgreSQL."""

from __future__ import annotations

import gzip
import json
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from paperwire.errors import StoreError
from paperwire.importers import ImportReport, run_import
from paperwire.store import Store, db
from paperwire.store.schema import papers, signals

FIX = Path(__file__).parent / "fixtures" / "import"
ARXIV = FIX / "arxiv-papers-2025-03-sample.jsonl.gz"
LISTING = FIX / "arxiv-listing-dates-sample.tsv.gz"
KAGGLE = FIX / "kaggle-arxiv-metadata-sample.jsonl"
HF_OBJECTS = FIX / "hf" / "2025-07-07.json.gz"
HF_REPR = FIX / "hf" / "2025-01-02.json.gz"
ALL = [
    ARXIV, LISTING, KAGGLE, FIX / "beir-scifact-corpus-sample.jsonl",
    FIX / "seed-papers-sample.jsonl", HF_OBJECTS, HF_REPR, FIX / "hf" / "2025-01-10.json.gz",
]


def run(store: Store, *paths: Path, fmt: str | None = None, **kw: Any) -> ImportReport:
    return run_import(store, list(paths), fmt=fmt, progress=False, **kw)


def dump(store: Store) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    with store.engine.connect() as conn:
        p = [tuple(r) for r in conn.execute(select(papers).order_by(papers.c.id))]
        s = [
            tuple(r)
            for r in conn.execute(
                select(signals).order_by(signals.c.paper_id, signals.c.source, signals.c.day)
            )
        ]
    return p, s


def arxiv_lines() -> list[str]:
    return gzip.decompress(ARXIV.read_bytes()).decode().splitlines()


# ---- idempotence, versions, signals -----------------------------------------------------


def test_second_run_changes_nothing(store: Store) -> None:
    first = run(store, *ALL)
    assert first.ok, (first.skipped, first.files_failed)
    assert first.papers.new == 30 + 9 + 20 + 10 + 1 + 3 + 9
    assert first.signals.new == 13 and first.dates.changed == 19
    before = dump(store)
    second = run(store, *ALL)
    assert second.ok
    assert (second.papers.new, second.papers.changed) == (0, 0)
    assert (second.signals.new, second.signals.changed) == (0, 0)
    assert second.papers.unchanged == first.papers.new and second.signals.unchanged == 13
    assert second.dates.changed == 0 and second.dates.missing == 1
    assert dump(store) == before  # changed_at and observed_at included


def kaggle_line(pid: str) -> dict[str, Any]:
    for line in KAGGLE.read_text().splitlines():
        rec: dict[str, Any] = json.loads(line)
        if rec["id"] == pid:
            return rec
    raise KeyError(pid)


def test_newer_version_updates_text_but_keeps_first_version_date(
    store: Store, tmp_path: Path
) -> None:
    v2 = kaggle_line("hep-ph/0301050")
    v1 = dict(v2, title="A Statistical Test of\n  Anarchy (draft)", abstract="  Draft.\n",
              versions=v2["versions"][:1], update_date="2003-01-08")
    (tmp_path / "v1.jsonl").write_text(json.dumps(v1) + "\n")
    (tmp_path / "v2.jsonl").write_text(json.dumps(v2) + "\n")

    run(store, tmp_path / "v1.jsonl")
    p = store.get_paper("hep-ph/0301050")
    assert p is not None and (p.title, p.version) == ("A Statistical Test of Anarchy (draft)", 1)

    report = run(store, tmp_path / "v2.jsonl")
    assert (report.papers.new, report.papers.changed) == (0, 1)
    p = store.get_paper("hep-ph/0301050")
    assert p is not None
    assert (p.title, p.version) == ("Statistical Test of Anarchy", 2)
    assert p.abstract.startswith('"Anarchy" is the hypothesis')
    assert (p.published, p.updated) == (date(2003, 1, 8), date(2003, 6, 30))

    before = dump(store)
    late = run(store, tmp_path / "v1.jsonl")  # the older version arrives again
    assert (late.papers.changed, late.papers.unchanged) == (0, 1)
    assert dump(store) == before


def test_arxiv_record_with_version_updates_title_and_keeps_listing_date(
    store: Store, tmp_path: Path
) -> None:
    run(store, ARXIV, LISTING)
    rec = json.loads(arxiv_lines()[0])
    rec.update(id="2503.11731v2", title="Industrial-Grade Sensor Simulation (revised)")
    (tmp_path / "v2.jsonl").write_text(json.dumps(rec) + "\n")
    report = run(store, tmp_path / "v2.jsonl")
    assert report.papers.changed == 1
    p = store.get_paper("2503.11731")
    assert p is not None
    assert (p.title, p.version, p.published) == (
        "Industrial-Grade Sensor Simulation (revised)", 2, date(2025, 3, 18)
    )
    again = run(store, ARXIV)  # the unversioned original: older, changes nothing
    assert again.papers.changed == 0
    assert store.get_paper("2503.11731").title.endswith("(revised)")  # type: ignore[union-attr]


def test_hf_reimport_with_changed_upvotes_updates_the_signal(store: Store, tmp_path: Path) -> None:
    day = tmp_path / "2025-07-07.json.gz"
    shutil.copy(HF_OBJECTS, day)
    run(store, day)
    entries = json.loads(gzip.decompress(day.read_bytes()))
    entries[0]["paper"]["upvotes"] = 5
    day.write_bytes(gzip.compress(json.dumps(entries, indent=2).encode()))
    report = run(store, day)
    assert (report.signals.new, report.signals.changed, report.signals.unchanged) == (0, 1, 0)
    assert (report.papers.changed, report.papers.unchanged) == (0, 1)
    [sig] = store.signals_for("2507.01853")
    assert (sig.day, sig.value) == (date(2025, 7, 7), 5.0)


# ---- damaged input ------------------------------------------------------------------------


def test_bad_lines_are_skipped_and_named(store: Store, tmp_path: Path) -> None:
    lines = arxiv_lines()
    lines[2] = lines[2][:60]  # line 3: cut in the middle of the JSON
    rec = json.loads(lines[4])
    del rec["id"]
    lines[4] = json.dumps(rec)  # line 5: no id
    rec = json.loads(lines[6])
    rec["title"] = 42
    lines[6] = json.dumps(rec)  # line 7: title of the wrong type
    rec = json.loads(lines[8])
    rec["id"] = "not-an-id"
    lines[8] = json.dumps(rec)  # line 9: a bad id
    lines.insert(10, "")  # a blank line (line 11) is not an error
    bad = tmp_path / "papers.jsonl.gz"
    bad.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))

    report = run(store, bad)
    assert not report.ok and report.files_failed == []
    where = [w for w, _ in report.skipped]
    assert where == [f"{bad}:3", f"{bad}:5", f"{bad}:7", f"{bad}:9"]
    reasons = [r for _, r in report.skipped]
    assert reasons[0].startswith("invalid JSON")
    assert reasons[1] == "missing id"
    assert reasons[2] == "title is not a string"
    assert reasons[3].startswith("not an arXiv id")
    assert report.papers.new == 26 and store.count_papers() == 26
    assert store.get_paper("2503.11731") is not None  # line 1
    assert store.get_paper("2503.11780") is not None  # line 4, between two bad ones
    assert store.get_paper("2503.12009") is not None  # the last line
    assert store.get_paper("2503.11750") is None  # line 3
    assert "4 lines skipped" in report.summary()


def test_truncated_gzip_keeps_the_lines_before_and_names_where_it_stopped(
    store: Store, tmp_path: Path
) -> None:
    data = ARXIV.read_bytes()
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(data[: len(data) * 2 // 3])
    other = tmp_path / "seed.jsonl"
    shutil.copy(FIX / "seed-papers-sample.jsonl", other)

    report = run(store, cut, other)
    assert not report.ok
    [(where, reason)] = report.files_failed
    assert where.startswith(f"{cut}:") and "truncated gzip" in reason
    stopped_at = int(where.rsplit(":", 1)[1])
    assert 1 < stopped_at <= 30
    assert report.files[0].papers.new == stopped_at - 1  # every complete line before it
    ids = [json.loads(line)["id"] for line in arxiv_lines()[: stopped_at - 1]]
    assert set(store.get_papers(ids)) == set(ids)
    assert report.files[1].papers.new == 10  # the next file went on


def test_half_written_json_array_keeps_the_elements_before(store: Store, tmp_path: Path) -> None:
    text = gzip.decompress(HF_REPR.read_bytes()).decode()
    third = text.index("\"{'paper': {'id': '2412.20735'")
    half = tmp_path / "2025-01-02.json"
    half.write_text(text[: third + 500])
    report = run(store, half)
    assert report.papers.new == 2 and not report.ok
    [(where, reason)] = report.skipped
    assert where == f"{half}:{text.count(chr(10), 0, third) + 1}" and where.endswith(":4")
    assert reason.startswith("truncated")
    assert store.get_paper("2412.19723") is not None and store.get_paper("2412.20735") is None


def test_malformed_array_element_is_skipped_and_the_next_ones_land(
    store: Store, tmp_path: Path
) -> None:
    lines = gzip.decompress(HF_REPR.read_bytes()).decode().split("\n")
    assert lines[2].lstrip().startswith("\"{'paper': {'id': '2412.19638'")
    lines[2] = lines[2].rstrip(",").rstrip('"') + ","  # element 2 loses its closing quote
    broken = tmp_path / "2025-01-02.json.gz"
    broken.write_bytes(gzip.compress("\n".join(lines).encode()))
    report = run(store, broken)
    assert [w for w, _ in report.skipped] == [f"{broken}:3"]
    assert report.papers.new == 2
    assert store.get_paper("2412.19723") is not None and store.get_paper("2412.20735") is not None


def test_bad_python_repr_entry_is_skipped(store: Store, tmp_path: Path) -> None:
    entries = json.loads(gzip.decompress(HF_REPR.read_bytes()))
    entries[1] = "{'paper': {'id': '2412.19638', 'title': __import__('os').getcwd()}}"
    f = tmp_path / "2025-01-02.json"
    f.write_text(json.dumps(entries, indent=4))
    report = run(store, f)
    assert [w for w, _ in report.skipped] == [f"{f}:3"]
    assert "not a Python literal" in report.skipped[0][1]
    assert report.papers.new == 2


def test_unreadable_and_undetectable_files_fail_and_the_rest_go_on(
    store: Store, tmp_path: Path
) -> None:
    prose = tmp_path / "notes.txt"
    prose.write_text("just some notes\nnothing to import\n")
    unknown_json = tmp_path / "other.jsonl"
    unknown_json.write_text('{"name": "x"}\n')
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    fake_gz = tmp_path / "fake.jsonl.gz"
    fake_gz.write_bytes(b"\x1f\x8b" + b"not really gzip" * 10)
    missing = tmp_path / "missing.jsonl"
    report = run(store, prose, unknown_json, empty, fake_gz, missing, ARXIV)
    failed = dict(report.files_failed)
    assert set(failed) == {str(p) for p in (prose, unknown_json, empty, fake_gz, missing)}
    assert "not recognised" in failed[str(prose)]
    assert "not recognised" in failed[str(unknown_json)]
    assert failed[str(empty)] == "empty file"
    assert "gzip" in failed[str(fake_gz)]
    assert failed[str(missing)] == "no such file or directory"
    assert report.papers.new == 30 and not report.ok
    assert "5 files failed" in report.summary()


def reject_ids(store: Store, *ids: str) -> None:
    """Make the real database refuse inserts of these ids, with a trigger."""
    id_list = ", ".join(f"'{i}'" for i in ids)
    with store.engine.begin() as conn:
        if store.dialect == "sqlite":
            conn.execute(text(
                "CREATE TRIGGER reject_ids BEFORE INSERT ON papers "
                f"WHEN NEW.id IN ({id_list}) "
                "BEGIN SELECT RAISE(ABORT, 'rejected by the test trigger'); END"
            ))
        else:
            conn.execute(text(
                "CREATE OR REPLACE FUNCTION reject_ids() RETURNS trigger AS $$ BEGIN "
                f"IF NEW.id IN ({id_list}) THEN "
                "RAISE EXCEPTION 'rejected by the test trigger'; END IF; "
                "RETURN NEW; END $$ LANGUAGE plpgsql"
            ))
            conn.execute(text(
                "CREATE TRIGGER reject_ids BEFORE INSERT ON papers "
                "FOR EACH ROW EXECUTE FUNCTION reject_ids()"
            ))


@pytest.fixture
def trigger_cleanup(store: Store) -> Any:
    yield
    with store.engine.begin() as conn:
        conn.execute(text("DROP TRIGGER IF EXISTS reject_ids"
                          + ("" if store.dialect == "sqlite" else " ON papers")))


def test_a_record_the_database_rejects_costs_only_itself(
    store: Store, trigger_cleanup: None
) -> None:
    reject_ids(store, "2503.11750")
    report = run(store, ARXIV, batch_size=10)
    assert report.papers.new == 29
    [(where, reason)] = report.skipped
    assert where == f"{ARXIV}:3" and "rejected by the test trigger" in reason
    assert store.get_paper("2503.11750") is None
    assert store.get_paper("2503.11742") is not None  # same batch, still landed


def test_a_lost_database_connection_ends_the_run() -> None:
    gone = Store(db.make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none"))
    with pytest.raises(StoreError, match="stopped answering"):
        run(gone, ARXIV)


def test_a_failure_of_every_record_ends_the_run(store: Store, trigger_cleanup: None) -> None:
    first_ten = []
    with gzip.open(ARXIV, "rt") as fh:
        first_ten = [json.loads(line)["id"] for line in list(fh)[:10]]
    reject_ids(store, *first_ten)
    with pytest.raises(StoreError, match="rejected by the test trigger"):
        run(store, ARXIV, batch_size=10)


# ---- directories, order, batches, report ------------------------------------------------


def test_directory_import_applies_listing_dates_after_papers(store: Store, tmp_path: Path) -> None:
    tmp_path = tmp_path / "data"  # the SQLite file lives in tmp_path itself
    tmp_path.mkdir()
    shutil.copy(LISTING, tmp_path / "a-listing-dates.tsv.gz")  # sorts before the papers
    (tmp_path / "z").mkdir()
    shutil.copy(ARXIV, tmp_path / "z" / "papers.jsonl.gz")
    shutil.copy(HF_OBJECTS, tmp_path / "z" / "2025-07-07.json.gz")
    (tmp_path / ".hidden.jsonl").write_text("not json at all\n")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config").write_text("[core]\n")

    report = run(store, tmp_path)
    assert report.ok, (report.skipped, report.files_failed)
    assert [Path(f.path).name for f in report.files] == [
        "2025-07-07.json.gz", "papers.jsonl.gz", "a-listing-dates.tsv.gz"
    ]
    assert report.dates.changed == 19 and report.dates.missing == 1
    assert store.get_paper("2503.11731").published == date(2025, 3, 18)  # type: ignore[union-attr]


def test_batches(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = store.write_batch

    def counting(batch: Any, sigs: Any = (), **kw: Any) -> Any:
        calls.append(len(batch))
        return real(batch, sigs, **kw)

    monkeypatch.setattr(store, "write_batch", counting)
    report = run(store, ARXIV, batch_size=7)
    assert calls == [7, 7, 7, 7, 2] and report.papers.new == 30
    with pytest.raises(ValueError):
        run(store, ARXIV, batch_size=0)


def test_report_summary_and_dict(store: Store) -> None:
    report = run(store, ARXIV, HF_REPR)
    assert report.summary() == (
        "33 papers: 33 new, 0 changed, 0 unchanged; "
        "3 signals: 3 new, 0 changed, 0 unchanged; 0 lines skipped"
    )
    data = report.to_dict()
    json.dumps(data)
    assert data["ok"] is True and data["papers"]["new"] == 33
    assert [f["fmt"] for f in data["files"]] == ["arxiv", "hf"]


def test_progress_bar_runs(store: Store) -> None:
    report = run_import(store, [ARXIV], progress=True)
    assert report.papers.new == 30
