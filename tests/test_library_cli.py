"""``paperwire library export | import``, run in-process through the real entry point
(exit codes included), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import bibtexparser
import pytest

from paperwire.cli import EXIT_ERROR, EXIT_PARTIAL, EXIT_USAGE, main
from paperwire.models import Paper
from paperwire.store import Store

T0 = datetime(2026, 6, 1, 9, 0)
PAPERS = [
    Paper(id="1706.03762", title="Attention Is All You Need", authors=("Ashish Vaswani",),
          categories=("cs.CL",), primary_category="cs.CL", published=date(2017, 6, 12)),
    Paper(id="1810.04805", title="BERT", authors=("Jacob Devlin",), categories=("cs.CL",),
          primary_category="cs.CL", published=date(2018, 10, 11)),
    Paper(id="hep-th/9901001", title="Branes", authors=("Edward Witten",),
          categories=("hep-th",), primary_category="hep-th", published=date(1999, 1, 4)),
]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(list(args))
    captured = capsys.readouterr()
    code = info.value.code
    return (code if isinstance(code, int) else 1), captured.out, captured.err


@pytest.fixture
def library(cli_env: dict[str, str]) -> Store:
    store = Store.open(cli_env["PAPERWIRE_DATABASE_URL"])
    store.write_batch(PAPERS, [])
    account = store.accounts.add("ada@example.org", T0)
    store.library.set_tags(account.id, "1706.03762", ["nlp", "classics"], T0)
    store.library.set_note(account.id, "1706.03762", "Heads!", T0)
    store.library.set_tags(account.id, "hep-th/9901001", ["physics"], T0.replace(hour=10))
    store.accounts.add("eve@example.org", T0)
    return store


def test_export_bibtex_to_stdout_is_only_the_export(
        library: Store, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "library", "export", "ADA@example.org", "--format", "bibtex")
    assert code == 0 and err == ""
    parsed = bibtexparser.parse_string(out)
    assert parsed.failed_blocks == []
    assert [(e.key, e.fields_dict["eprint"].value) for e in parsed.entries] == [
        ("witten1999branes", "hep-th/9901001"), ("vaswani2017attention", "1706.03762")]
    code, out, _ = run(capsys, "library", "export", "ada@example.org", "--tag", "NLP")
    assert [e.key for e in bibtexparser.parse_string(out).entries] == ["vaswani2017attention"]


def test_export_csl_and_json_to_a_file(library: Store, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "lib.json"
    code, out, err = run(capsys, "library", "export", "ada@example.org", "--format", "json",
                         "--output", str(target))
    assert code == 0 and out == "" and "wrote 2 papers" in err
    doc = json.loads(target.read_text("utf-8"))
    assert {p["id"]: p["note"] for p in doc["papers"]} == {"1706.03762": "Heads!",
                                                           "hep-th/9901001": None}
    code, out, _ = run(capsys, "library", "export", "ada@example.org", "--format", "csl")
    assert [i["number"] for i in json.loads(out)] == ["hep-th/9901001", "1706.03762"]
    code, out, _ = run(capsys, "library", "export", "eve@example.org", "--format", "csl")
    assert code == 0 and json.loads(out) == []


def test_export_errors(library: Store, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "library", "export", "nobody@example.org")
    assert (code, out) == (EXIT_ERROR, "")
    assert err == "error: no account for 'nobody@example.org'\n"
    code, out, _ = run(capsys, "library", "export", "ada@example.org", "--format", "ris")
    assert code == EXIT_USAGE and out == ""


BIB = """@misc{a, title = {Attention}, eprint = {1706.03762}, archivePrefix = {arXiv}}
@misc{b, title = {BERT}, url = {https://arxiv.org/abs/1810.04805v2}}
@misc{broken, title = {never closed
@misc{c, title = {Unknown}, eprint = {2401.00001}}
"""


def test_import_reports_what_it_skipped_and_exits_3(
        library: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "refs.bib"
    source.write_text(BIB, encoding="utf-8")
    code, out, err = run(capsys, "library", "import", "eve@example.org", str(source),
                         "--tag", "from zotero")
    assert code == EXIT_PARTIAL
    assert out == "imported 2, already there 0, unknown ids 1, problems 1\n"
    assert err.splitlines() == [
        "line 3: malformed entry: Unexpected block start: `@misc`. Was still looking for "
        "field-value closing `}`",
        "line 4: 2401.00001 (c): not stored here, not saved",
    ]
    eve = library.accounts.by_email("eve@example.org")
    assert eve is not None
    assert {e.paper_id: e.tags for e in library.library.entries(eve.id)} == {
        "1706.03762": ("from zotero",), "1810.04805": ("from zotero",)}

    code, out, err = run(capsys, "library", "import", "eve@example.org", str(source), "--json")
    assert code == EXIT_PARTIAL and err == ""
    doc = json.loads(out)
    assert doc["imported"] == [] and doc["already"] == ["1706.03762", "1810.04805"]
    assert doc["unknown"] == [{"id": "2401.00001", "line": 4, "label": "c"}]
    assert [(p["line"], p["kind"]) for p in doc["problems"]] == [(3, "malformed")]
    assert doc["ok"] is False


def test_import_a_clean_list_exits_0(library: Store, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "ids.txt"
    source.write_text("# to read\nhttps://arxiv.org/pdf/1810.04805v1\nhep-th/9901001\n")
    code, out, err = run(capsys, "library", "import", "ada@example.org", str(source))
    assert (code, err) == (0, "")
    assert out == "imported 1, already there 1, unknown ids 0, problems 0\n"
    # a tag from a terminal that is not UTF-8 (a lone surrogate) is stored without it
    code, _, _ = run(capsys, "library", "import", "ada@example.org", str(source),
                     "--tag", "caf\udce9")
    ada = library.accounts.by_email("ada@example.org")
    assert code == 0 and ada is not None
    assert library.library.entry(ada.id, "1810.04805").tags == ("caf?",)  # type: ignore[union-attr]
    code, _, err = run(capsys, "library", "import", "ada@example.org", str(tmp_path / "no"))
    assert code == EXIT_ERROR and err.startswith("error: cannot read")
