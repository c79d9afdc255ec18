"""The CLI, run in-process through its real entry point (exit codes included)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from paperwire.cli import EXIT_ERROR, EXIT_PARTIAL, EXIT_USAGE, main
from paperwire.models import Paper, Signal
from paperwire.store import Store

SHARED = Path(__file__).parent.parent.parent / "shared" / "data"
FIXTURES = Path(__file__).parent / "fixtures"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(list(args))
    captured = capsys.readouterr()
    code = info.value.code
    return (code if isinstance(code, int) else 1), captured.out, captured.err


@pytest.fixture
def seeded(cli_env: dict[str, str]) -> Store:
    store = Store.open(cli_env["PAPERWIRE_DATABASE_URL"])
    papers = [
        Paper(id="2506.00001", title="Learned sparse retrieval for long documents",
              abstract="SPLADE meets long inputs.", authors=("Ada Lovelace",),
              categories=("cs.IR",), primary_category="cs.IR", version=1,
              published=date(2025, 6, 2)),
        Paper(id="2506.00002", title="Diffusion models for video",
              abstract="Frames, denoised.", authors=("Alan Turing",),
              categories=("cs.CV",), primary_category="cs.CV", version=1,
              published=date(2025, 6, 3)),
    ]
    signals = [Signal("2506.00001", "hf_upvotes", date(2025, 6, 12), 30),
               Signal("2506.00002", "hf_upvotes", date(2025, 6, 13), 12)]
    store.write_batch(papers, signals)
    return store


def test_search_json(seeded: Store, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "search", "sparse retrieval", "--json", "--limit", "5")
    assert code == 0
    doc = json.loads(out)
    assert doc["query"] == "sparse retrieval"
    assert doc["results"][0]["id"] == "2506.00001"
    assert doc["results"][0]["url"] == "https://arxiv.org/abs/2506.00001"


def test_search_table_and_no_results(seeded: Store, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "search", "diffusion")
    assert code == 0 and "2506.00002" in out and "2506.00001" not in out
    code, out, _ = run(capsys, "search", "zzzzqqq")
    assert code == 0 and "No papers match" in out


def test_trending_json_as_of_a_date(seeded: Store, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "trending", "--window", "week", "--date", "2025-06-13", "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["as_of"] == "2025-06-13" and doc["note"] is None
    assert [e["id"] for e in doc["entries"]] == ["2506.00001", "2506.00002"]
    assert doc["entries"][0]["reason"] == (
        "30 upvotes on Hugging Face on Thu 12 Jun; #1 this week, #1 in cs.IR"
    )
    assert doc["entries"][0]["parts"] == [
        {"source": "hf_upvotes", "count": 30.0, "weight": 1.0,
         "points": round(30 * 2 ** (-1 / 3), 6)}]
    code, out, _ = run(capsys, "trending", "--window", "day", "--date", "2025-06-13", "--json")
    assert [e["id"] for e in json.loads(out)["entries"]] == ["2506.00002"]


def test_trending_after_the_data_says_so(seeded: Store, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "trending")
    assert code == 0
    assert "newest signals are from 2025-06-13" in err
    assert "2506.00001" in out


def test_bad_usage_exits_2(cli_env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "trending", "--window", "year")
    assert code == EXIT_USAGE and "window must be one of" in err
    code, _, err = run(capsys, "trending", "--date", "June 13")
    assert code == EXIT_USAGE and "YYYY-MM-DD" in err
    code, _, err = run(capsys, "import", "/nonexistent/file.jsonl")
    assert code == EXIT_USAGE and "does not exist" in err


def test_bad_setting_is_one_line_and_exit_1(
    cli_env: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAPERWIRE_DATABASE_URL", "mysql://nope")
    code, _, err = run(capsys, "search", "x")
    assert code == EXIT_ERROR
    assert err.strip().count("\n") == 0 and err.startswith("error: PAPERWIRE_DATABASE_URL")


def test_unreachable_database_is_one_line(
    cli_env: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAPERWIRE_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    code, _, err = run(capsys, "db", "upgrade")
    assert code == EXIT_ERROR
    assert err.startswith("error: cannot reach the database") and err.strip().count("\n") == 0


def test_db_upgrade_twice(cli_env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "db", "upgrade")
    assert code == 0
    code, out, _ = run(capsys, "db", "upgrade")
    assert code == 0 and "already at revision" in out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from paperwire import __version__

    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.strip() == __version__


def test_import_reports_bad_lines_keeps_good_and_exits_3(
    cli_env: dict[str, str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import gzip

    src = FIXTURES / "import" / "arxiv-papers-2025-03-sample.jsonl.gz"
    lines = gzip.decompress(src.read_bytes()).decode().splitlines()
    bad = tmp_path / "damaged.jsonl"
    lines[4] = '{"id": "2503.99999", "title": '  # cut off mid-record
    bad.write_text("\n".join(lines) + "\n")
    code, out, err = run(capsys, "import", "--no-progress", str(bad))
    assert code == EXIT_PARTIAL
    assert f"skipped {bad}:5:" in err
    assert f"{len(lines) - 1} new" in out
    store = Store.open(cli_env["PAPERWIRE_DATABASE_URL"])
    assert store.count_papers() == len(lines) - 1
    # the search index was brought up to date by the import
    first = json.loads(lines[0])
    code, out, _ = run(capsys, "search", first["title"], "--json", "--limit", "3")
    assert json.loads(out)["results"][0]["id"] == first["id"]


def test_import_twice_json_reports_nothing_new(
    cli_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    paths = [str(FIXTURES / "import" / "arxiv-papers-2025-03-sample.jsonl.gz"),
             str(FIXTURES / "import" / "hf")]
    code, out, _ = run(capsys, "import", "--json", *paths)
    assert code == 0
    first = json.loads(out)
    code, out, _ = run(capsys, "import", "--json", *paths)
    again = json.loads(out)
    assert code == 0
    assert first["papers"]["new"] > 0 and first["signals"]["new"] > 0
    assert (again["papers"]["new"], again["papers"]["changed"]) == (0, 0)
    assert (again["signals"]["new"], again["signals"]["changed"]) == (0, 0)


def test_similar_needs_something_and_excludes_the_paper(
    seeded: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "similar")
    assert code == EXIT_USAGE and "give paper ids" in err
    code, out, _ = run(capsys, "similar", "2506.00001", "--json")
    assert code == 0
    assert "2506.00001" not in {r["id"] for r in json.loads(out)["results"]}
