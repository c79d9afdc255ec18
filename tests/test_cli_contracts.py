"""The command line's contracts (issue 10): ``--json`` is exactly one JSON document on stdout
even on a fresh home (logs go to stderr), a query may start with '-', an unknown paper id
is an error, and imported text never reaches the terminal as control sequences."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from paperwire.cli import EXIT_ERROR, main, terminal_text
from paperwire.models import Paper, Signal
from paperwire.store import Store


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(list(args))
    captured = capsys.readouterr()
    code = info.value.code
    return (code if isinstance(code, int) else 1), captured.out, captured.err


def paperwire(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERWIRE_")}
    env.update(PAPERWIRE_HOME=str(home), PAPERWIRE_LOG_LEVEL="INFO")
    return subprocess.run([sys.executable, "-m", "paperwire", *args], env=env,
                          capture_output=True, text=True, timeout=300)


# ---- --json on a fresh home: one document on stdout, the logs on stderr ------------------


@pytest.mark.parametrize("args", [
    ("trending", "--json"),
    ("search", "retrieval", "--json", "--mode", "lexical"),
    ("digest", "status", "--json"),
])
def test_json_on_a_fresh_home_is_one_document(tmp_path: Path, args: tuple[str, ...]) -> None:
    home = tmp_path / "fresh"  # nothing there: the first command creates and migrates it
    done = paperwire(home, *args)
    assert done.returncode == 0, done.stderr
    json.loads(done.stdout)  # the whole of stdout, nothing before or after
    assert "migrat" in done.stderr.lower()  # the start-up log went to stderr
    again = paperwire(home, *args)
    assert again.returncode == 0 and json.loads(again.stdout) is not None


# ---- search and similar: queries starting with '-', unknown ids -----------------------

SPARSE = Paper(id="2506.00001", title="Learned sparse retrieval for long documents",
               abstract="SPLADE meets long inputs.", authors=("Ada Lovelace",),
               categories=("cs.IR",), primary_category="cs.IR", published=date(2025, 6, 2))
VIDEO = Paper(id="2506.00002", title="Diffusion models for video retrieval",
              abstract="Frames, denoised.", authors=("Alan Turing",),
              categories=("cs.CV",), primary_category="cs.CV", published=date(2025, 6, 3))
EVIL = Paper(id="2506.00003",
             title="Retrieval \x1b[2J\x1b]0;pwned\x07clear \u202eredro\u202c [bold]x[/] [/oops] "
                   "\x9b31m\x07\x08bell\x01",
             abstract="Escapes.", authors=("Mallory \x1b[31mred\x1b[0m",),
             categories=("cs.CR",), primary_category="cs.CR", published=date(2025, 6, 4))


@pytest.fixture
def seeded(cli_env: dict[str, str]) -> Store:
    store = Store.open(cli_env["PAPERWIRE_DATABASE_URL"])
    store.write_batch([SPARSE, VIDEO, EVIL], [Signal(EVIL.id, "hf_upvotes", date(2025, 6, 5), 9)])
    return store


def test_a_query_may_start_with_a_minus(seeded: Store,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "search", "-diffusion retrieval", "--json", "--mode", "lexical")
    assert code == 0, err
    assert {h["id"] for h in json.loads(out)["results"]} == {SPARSE.id, EVIL.id}
    code, out, err = run(capsys, "search", "-cat:cs.CV diffusion", "--mode", "lexical")
    assert code == EXIT_ERROR and err.startswith("error: ") and "cat:" in err
    assert err.count("\n") == 1 and "No such option" not in err
    code, out, _ = run(capsys, "search", "--mode", "lexical", "-sparse", "--json")
    assert code == 0 and SPARSE.id not in {h["id"] for h in json.loads(out)["results"]}
    code, _, err = run(capsys, "search", "retrieval", "--limt", "3")  # still a usage error
    assert code == 2


def test_similar_with_an_unknown_id_is_an_error(seeded: Store,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "similar", "2601.99999", "--json")
    assert code == EXIT_ERROR and out == ""
    assert err == "error: no paper with id '2601.99999' is stored\n"
    code, out, err = run(capsys, "similar", SPARSE.id, "beir:nope")
    assert code == EXIT_ERROR and "beir:nope" in err
    code, out, _ = run(capsys, "similar", SPARSE.id + "v3", "--json")
    assert code == 0 and SPARSE.id not in {h["id"] for h in json.loads(out)["results"]}


# ---- nothing imported reaches the terminal as a control sequence ----------------------

UNSAFE = ["\x1b", "\x9b", "\x07", "\x08", "\x01", "\u202e", "\u202c"]


def test_printed_titles_carry_no_terminal_controls(
        seeded: Store, capsys: pytest.CaptureFixture[str]) -> None:
    for args in [("search", "retrieval", "--mode", "lexical"), ("similar", SPARSE.id),
                 ("trending", "--date", "2025-06-05")]:
        code, out, err = run(capsys, *args)
        assert code == 0, (args, err)
        assert "clear" in out and "[bold]x[/] [/oops]" in out, args  # shown, as text
        assert not [c for c in UNSAFE if c in out + err], (args, out)
    code, out, _ = run(capsys, "search", "retrieval", "--mode", "lexical", "--json")
    assert code == 0 and not [c for c in UNSAFE[1:] if c in out]  # escaped in the JSON
    [hit] = [h for h in json.loads(out)["results"] if h["id"] == EVIL.id]
    stored = seeded.get_paper(EVIL.id)  # as stored: controls and bidi overrides cleaned on write
    assert stored is not None and "[bold]x[/] [/oops]" in stored.title
    assert hit["title"] == stored.title and hit["authors"] == list(stored.authors)


def test_terminal_text_keeps_text_and_drops_controls() -> None:
    assert terminal_text("a\tb\nc") == "a\tb\nc"
    assert terminal_text("x\x1b[1;31my\x1b[0m z\x1b]8;;http://e\x1b\\w") == "xy zw"
    assert terminal_text("\u202eabc\u2066d\u2069 e\r\x7f\x85") == "abcd e"
    assert terminal_text("naïve – ünïcode ✓ 中文") == "naïve – ünïcode ✓ 中文"


@pytest.mark.parametrize("day", ["0001-01-01", "1899-12-31", "9999-12-31"])
def test_an_out_of_range_date_is_a_usage_error(seeded: Store, day: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    for args in [("trending", "--date", day, "--json"), ("digest", "send", "--date", day),
                 ("digest", "status", "--date", day), ("ingest", "hf", "--date", day)]:
        code, out, err = run(capsys, *args)
        assert code == 2 and out == "", args
        assert "out of range" in err and "Traceback" not in err, (args, err)
