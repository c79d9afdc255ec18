"""Seed papers matched to their arXiv records by title, through the real importer (seed
JSONL, then arXiv JSONL) on SQLite and PostgreSQL: the match brings the id, authors, dates and
categories, keeps what readers did with the seed paper, runs once, and leaves near misses."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from accounts import make_account
from paperwire.app import Paperwire
from paperwire.config import Settings
from paperwire.importers import run_import
from paperwire.models import Signal
from paperwire.parsing.formats import seed_id
from paperwire.seeds import match_seeds, matches, title_key
from paperwire.store import Store
from paperwire.web.app import create_app

NOW = datetime(2026, 6, 1, 12)
SEEDS = [
    {"rank": 1, "title": "ColBERT: Efficient and  Effective Passage Search via Contextualized "
                         "Late Interaction over BERT", "abstract": "Seed abstract one."},
    {"rank": 2, "title": "SPLADE v2: Sparse Lexical and Expansion Model for Information "
                         "Retrieval", "abstract": "Seed abstract two."},
    {"rank": 3, "title": "Dense Passage Retrieval for Open-Domain Question Answering",
     "abstract": "Seed abstract three."},
    {"rank": 4, "title": "An Unmatched Seed Paper About Retrieval", "abstract": "Four."},
]
ARXIV = [
    {"id": "2004.12832", "title": "ColBERT: Efficient and Effective Passage Search via\n  "
                                  "Contextualized Late Interaction over {BERT}",
     "authors": "Omar Khattab, Matei Zaharia", "categories": "cs.IR cs.CL",
     "abstract": "ColBERT abstract.", "versions": [{"version": "v1",
                                                   "created": "Mon, 27 Apr 2020 14:21:03 GMT"}]},
    # TeX and punctuation aside, the same title
    {"id": "2109.10086", "title": r"\textsc{SPLADE} v2 -- Sparse lexical and expansion model "
                                  r"for information retrieval.",
     "authors": "Thibault Formal, Carlos Lassance", "categories": "cs.IR",
     "abstract": "SPLADE abstract.", "versions": [{"version": "v1",
                                                  "created": "Tue, 21 Sep 2021 10:00:00 GMT"}]},
    # a near miss: one word more
    {"id": "2004.04906", "title": "Dense Passage Retrieval for Open-Domain Question Answering "
                                  "Revisited", "authors": "Vladimir Karpukhin",
     "categories": "cs.CL", "abstract": "DPR.",
     "versions": [{"version": "v1", "created": "Fri, 10 Apr 2020 17:00:00 GMT"}]},
]


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def seeded(store: Store, tmp_path: Path) -> Path:
    seeds = write_jsonl(tmp_path / "seed-papers.jsonl", SEEDS)  # type: ignore[arg-type]
    assert run_import(store, [seeds], fmt="seed", progress=False).ok
    return seeds


def test_title_keys() -> None:
    assert title_key("BERT:Pre-training of Deep  Bidirectional Transformers") == \
        title_key("bert: pre-training of deep bidirectional transformers.")
    assert title_key(r"\emph{Gödel}'s SP$^3$ in \textit{\textbf{Café}}") == \
        title_key("Godel's SP³ in Cafe")
    assert title_key("Attention Is All You Need") != title_key("Attention Is Not All You Need")
    # a title held by two papers names neither; a short one is too common to match
    assert matches([("seed:a", "Same Title Twice Here")],
                   [("1", "Same title twice here"), ("2", "Same Title, Twice Here")]) == []
    assert matches([("seed:b", "Introduction")], [("3", "Introduction")]) == []


def test_seed_papers_gain_their_arxiv_records(settings: Settings, store: Store,
                                              seeded: Path, tmp_path: Path) -> None:
    colbert, splade, dpr, lonely = (seed_id(s["title"]) for s in SEEDS)  # type: ignore[arg-type]
    app = Paperwire(settings, store)
    reader = make_account(app, "reader@example.org")
    store.library.save(reader.id, colbert, NOW)
    store.library.add_tags(reader.id, colbert, ["late-interaction"], NOW)
    store.library.set_note(reader.id, colbert, "Read section 3.", NOW)
    store.library.vote(reader.id, splade, NOW)
    store.library.rate(reader.id, colbert, 1, "web", NOW)
    store.write_batch([], [Signal(colbert, "hf_upvotes", date(2026, 5, 30), 7)])

    report = run_import(store, [write_jsonl(tmp_path / "arxiv.jsonl", ARXIV)],  # type: ignore[arg-type]
                        fmt="kaggle", progress=False)
    assert report.ok, report.to_dict()

    for gone in (colbert, splade):
        assert store.get_paper(gone) is None
    paper = store.get_paper("2004.12832")
    assert paper is not None and paper.authors == ("Omar Khattab", "Matei Zaharia")
    assert paper.published == date(2020, 4, 27) and paper.categories == ("cs.IR", "cs.CL")
    assert store.alias_of(colbert) == "2004.12832" and store.alias_of(splade) == "2109.10086"
    # what the reader did with the seed papers now names the arXiv papers
    entry = store.library.entry(reader.id, "2004.12832")
    assert entry is not None and entry.tags == ("late-interaction",)
    assert entry.note == "Read section 3."
    assert store.library.votes_of(reader.id, ["2109.10086"]) == {"2109.10086"}
    assert [r.paper_id for r in store.library.ratings(reader.id)] == ["2004.12832"]
    assert sorted((s.source, s.value) for s in store.signals_for("2004.12832")) == [
        ("hf_upvotes", 7), ("save", 1)]  # the seed's upvotes, and the reader's save
    assert [(s.source, s.value) for s in store.signals_for("2109.10086")] == [("upvote", 1)]
    # a near miss and a seed with no arXiv record stay as they were
    assert store.get_paper(dpr) is not None and store.alias_of(dpr) is None
    assert store.get_paper(lonely) is not None

    # the seed's address leads to the arXiv paper, on the page and the API
    client = TestClient(create_app(app))
    page = client.get(f"/papers/{colbert}", follow_redirects=False)
    assert page.status_code == 301 and page.headers["location"] == "/papers/2004.12832"
    api = client.get(f"/api/papers/{splade}")
    assert api.status_code == 200 and api.json()["id"] == "2109.10086"
    assert client.get(f"/papers/{dpr}").status_code == 200


def test_matching_is_idempotent(store: Store, seeded: Path, tmp_path: Path) -> None:
    colbert = seed_id(SEEDS[0]["title"])  # type: ignore[arg-type]
    arxiv = write_jsonl(tmp_path / "arxiv.jsonl", ARXIV)  # type: ignore[arg-type]
    assert run_import(store, [arxiv], fmt="kaggle", progress=False).ok
    count = store.count_papers()
    assert count == len(SEEDS) + len(ARXIV) - 2
    assert match_seeds(store) == []  # a second run: nothing left to do
    assert run_import(store, [arxiv], fmt="kaggle", progress=False).papers.changed == 0
    # the seed file imported again: its matched papers are merged again, nothing doubles
    assert run_import(store, [seeded], fmt="seed", progress=False).ok
    assert store.count_papers() == count
    assert store.get_paper(colbert) is None and store.alias_of(colbert) == "2004.12832"


def test_arxiv_papers_first_then_seeds(store: Store, tmp_path: Path) -> None:
    assert run_import(store, [write_jsonl(tmp_path / "a.jsonl", ARXIV)],  # type: ignore[arg-type]
                      fmt="kaggle", progress=False).ok
    seeds = write_jsonl(tmp_path / "s.jsonl", SEEDS)  # type: ignore[arg-type]
    assert run_import(store, [seeds], fmt="seed", progress=False).ok
    assert store.get_paper(seed_id(SEEDS[1]["title"])) is None  # type: ignore[arg-type]
    assert store.alias_of(seed_id(SEEDS[1]["title"])) == "2109.10086"  # type: ignore[arg-type]
