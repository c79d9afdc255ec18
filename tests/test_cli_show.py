"""``paperwire show ID [--json]``: one paper by any reference, run in-process through the
real entry point (exit codes included)."""

from __future__ import annotations

import json
from datetime import date

import pytest

from paperwire.cli import EXIT_ERROR, EXIT_USAGE, main
from paperwire.models import Paper
from paperwire.store import Store

AUTHORS = tuple(f"Author Number{n}" for n in range(1, 13))
PAPER = Paper(id="2606.30534", title="Sparse  Retrieval\nwith Learned Expansions",
              abstract="We expand documents\nsparsely, and retrieve them.",
              authors=AUTHORS, categories=("cs.CL", "cs.IR"), primary_category="cs.IR",
              version=3, published=date(2026, 6, 20), updated=date(2026, 6, 28),
              comment="12 pages", doi="10.1145/3404835.3462891")
OLD = Paper(id="hep-th/9901001", title="Strings on Orbifolds", authors=("Ed Witten",),
            categories=("hep-th",), primary_category="hep-th", published=date(1999, 1, 4))
BEIR = Paper(id="beir:4983", title="White matter", abstract="Brains.")
SEED = Paper(id="seed:cd11bfec3e1f", title=PAPER.title, source="seed")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(list(args))
    captured = capsys.readouterr()
    code = info.value.code
    return (code if isinstance(code, int) else 1), captured.out, captured.err


@pytest.fixture
def stored(cli_env: dict[str, str]) -> dict[str, str]:
    store = Store.open(cli_env["PAPERWIRE_DATABASE_URL"])
    store.write_batch([PAPER, OLD, BEIR, SEED], [])
    assert store.merge_into(SEED.id, PAPER.id)  # a seed paper matched to its arXiv record
    store.close()
    return cli_env


def test_show_prints_the_paper(stored: dict[str, str],
                               capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "show", "https://arxiv.org/abs/2606.30534v2")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == "Sparse Retrieval with Learned Expansions"
    assert "id:         2606.30534 (v3)" in lines
    authors = out[out.index("authors:"):out.index("published:")].split()
    assert " ".join(authors) == "authors: " + ", ".join(AUTHORS)  # wrapped, all of them
    assert all(len(line) <= 88 for line in lines if not line.startswith(("here:", "arXiv:")))
    assert "published:  2026-06-20" in lines and "updated:    2026-06-28" in lines
    assert "categories: cs.IR cs.CL" in lines
    assert "doi:        10.1145/3404835.3462891" in lines
    assert "We expand documents sparsely, and retrieve them." in lines
    assert "arXiv:      https://arxiv.org/abs/2606.30534" in lines
    assert "PDF:        https://arxiv.org/pdf/2606.30534" in lines
    assert any(line.startswith("here:") and line.endswith("/papers/2606.30534")
               for line in lines)


@pytest.mark.parametrize(("ref", "paper_id"), [
    ("2606.30534", "2606.30534"), ("arXiv:2606.30534v1", "2606.30534"),
    ("https://huggingface.co/papers/2606.30534", "2606.30534"),
    ("doi:10.1145/3404835.3462891", "2606.30534"),
    ("hep-th/9901001v2", "hep-th/9901001"), ("beir:4983", "beir:4983"),
    (SEED.id, "2606.30534"),
])
def test_show_json_is_one_document(stored: dict[str, str], capsys: pytest.CaptureFixture[str],
                                   ref: str, paper_id: str) -> None:
    code, out, err = run(capsys, "show", ref, "--json")
    assert code == 0 and err == ""
    doc = json.loads(out)  # the whole of stdout is one JSON document
    assert doc["id"] == paper_id
    if paper_id == PAPER.id:
        assert doc["authors"] == list(AUTHORS) and doc["version"] == 3
        assert doc["published"] == "2026-06-20" and doc["categories"] == ["cs.CL", "cs.IR"]
        assert doc["abs_url"] == "https://arxiv.org/abs/2606.30534"
        assert doc["url"].endswith("/papers/2606.30534")


def test_show_unknown_and_malformed(stored: dict[str, str],
                                    capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "show", "2606.99999", "--json")
    assert (code, out, err) == (EXIT_ERROR, "", "error: No paper 2606.99999 here.\n")
    code, out, err = run(capsys, "show", "beir:nope")
    assert (code, out, err) == (EXIT_ERROR, "", "error: No paper 'beir:nope' here.\n")
    code, out, err = run(capsys, "show", "2606.3053x")
    assert (code, out, err) == (EXIT_USAGE, "", "error: 2606.3053x is not a valid arXiv id.\n")
