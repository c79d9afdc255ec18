"""The relevance floor (search/floor.py) over real papers of the bundled demo data and the real
embedding model, on SQLite and PostgreSQL: only matches are counted, sorted and paged; the
search page, the JSON API and the digest's interest sections say which papers match.

The store holds a slice of the demo data: the seed papers (two of them about SPLADE), the
papers the issue names (the ones semantic padding pulled in) and every 12th arXiv paper."""

from __future__ import annotations

import gzip
import json
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from paperwire.app import Paperwire
from paperwire.cli import DEMO_DATA
from paperwire.config import Settings
from paperwire.digests.service import DigestContext, gather
from paperwire.embed import default_embedder
from paperwire.importers import run_import
from paperwire.models import Paper
from paperwire.records import Subscriber
from paperwire.search import SearchEngine, SearchOptions
from paperwire.search.engine import FusionParams
from paperwire.search.floor import FloorParams, matches, required_words, split
from paperwire.store import Store
from paperwire.web.app import create_app

NAMED = {
    "2606.16396",  # SP$^3$: Spherical Priors for Plug-and-Play Restoration
    "2606.31764",  # NURBS Splatting
    "2606.29453",  # Resonant Brane Splatting
    "2606.31819",  # Creating Intelligence: A Computational Foundation for AGI
    "2606.30062",  # Little Brains, Big Feats
    "2606.29734",  # Fast Numbers, Slow Language: Bridging … Earnings Signals
    "2606.15060", "2606.29251",  # the other papers mentioning earnings
    # speculative decoding
    "2606.12243", "2606.18394", "2606.20543", "2606.27550", "2606.27829", "2606.31315",
    "2606.31160",
}
EARNINGS = "2606.29734"
SPLADE = {"SPLADE: Sparse Lexical and Expansion Model for First Stage Ranking",
          "From Distillation to Hard Negative Sampling: Making Sparse Neural IR Models More "
          "Effective"}


# -- the decision alone ----------------------------------------------------------------------


def test_matches_need_every_word_or_a_close_meaning() -> None:
    params = FloorParams(min_cosine=0.5, lexical_cosine=0.4)
    every_word = {"a"}  # holds every required word, however far its vector
    lexical = {"a", "b", "c"}  # some of the words
    cosine = {"a": 0.1, "b": 0.45, "c": 0.3, "d": 0.55, "e": 0.45}
    assert matches(every_word, lexical, cosine, params) == {"a", "b", "d"}
    assert matches(set(), set(), cosine, params) == {"d"}  # dense alone: meaning alone
    assert matches(every_word, lexical, {}, params) == {"a"}  # no vectors: words alone
    ranked = [("d", 0.9), ("e", 0.8), ("a", 0.7), ("c", 0.1)]
    assert split(ranked, {"a", "d"}) == ([("d", 0.9), ("a", 0.7)], [("e", 0.8), ("c", 0.1)])


def test_required_words_leave_out_stop_words() -> None:
    assert required_words(["sparse", "retrieval", "with", "learned", "weights"]) == [
        "sparse", "retrieval", "learned", "weights"]
    assert required_words(["The", "Who"]) == ["The", "Who"]  # nothing but stop words: all


def test_papers_past_the_candidates_holding_every_word_are_counted(
    store: Store, settings: Settings
) -> None:
    store.write_batch([
        *(Paper(id=f"2601.{i:05d}", title=f"World models, part {i}", version=1,
                abstract="A world model. " * (1 + i % 3)) for i in range(12)),
        Paper(id="2601.00100", title="A model of bees", abstract="Only one word.", version=1),
    ])
    engine = SearchEngine(store, settings, params=FusionParams(depth=5))  # 5 candidates
    engine.sync(embed=False)
    hits, total = engine.search_page("world model", "lexical", SearchOptions(limit=3))
    assert len(hits) == 3 and total == 12  # the 7 past the candidates are counted too
    hits, total = engine.search_page("bees model", "lexical", SearchOptions(limit=3),
                                     related=5)
    assert total == 1 and [h.paper.id for h in hits if h.match] == ["2601.00100"]


# -- real papers, the real model -------------------------------------------------------------


class CachedEmbedder:
    """The real model, each text embedded once for the module (SQLite and PostgreSQL)."""

    def __init__(self, models_dir: Path) -> None:
        self.model = default_embedder(models_dir)
        self.name, self.dim = self.model.name, self.model.dim
        self.cache: dict[str, np.ndarray] = {}

    def embed(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        todo = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if todo:
            self.cache.update(zip(todo, self.model.embed(todo), strict=True))
        return np.stack([self.cache[t] for t in texts])

    def embed_query(self, text: str) -> np.ndarray:
        if f"query:{text}" not in self.cache:
            self.cache[f"query:{text}"] = self.model.embed_query(text)
        return self.cache[f"query:{text}"]


@pytest.fixture(scope="module")
def embedder(models_dir: Path) -> CachedEmbedder:
    return CachedEmbedder(models_dir)


@pytest.fixture(scope="module")
def demo_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("floor_demo")
    out = folder / "arxiv-slice.jsonl"
    with gzip.open(DEMO_DATA / "arxiv-papers.jsonl.gz", "rt", encoding="utf-8") as fh, \
            out.open("w", encoding="utf-8") as dst:
        for n, line in enumerate(fh):
            if n % 12 == 0 or json.loads(line)["id"] in NAMED:
                dst.write(line)
    return [out, DEMO_DATA / "seed-papers.jsonl", DEMO_DATA / "arxiv-listing-dates.tsv.gz"]


@pytest.fixture
def engine(store: Store, settings: Settings, demo_files: list[Path],
           embedder: CachedEmbedder) -> SearchEngine:
    run_import(store, demo_files, progress=False)
    engine = SearchEngine(store, settings, embedder=embedder)
    engine.sync(embed=True)
    assert len(engine.dense()) == store.count_papers()
    return engine


def titles(hits: Sequence[Any]) -> list[str]:
    return [h.paper.title for h in hits]


def test_splade_counts_its_two_papers_and_sorts_only_them(engine: SearchEngine) -> None:
    lexical, total = engine.search_page("SPLADE", "lexical", SearchOptions())
    assert set(titles(lexical)) == SPLADE and total == 2
    hits, total = engine.search_page("SPLADE", "hybrid", SearchOptions())
    assert total == 2  # was the 20 of the page: 2 real hits and 18 dense-only neighbours
    assert set(titles(hits)) == SPLADE and all(h.match for h in hits)
    for sort in ("date", "trending"):
        hits, total = engine.search_page("SPLADE", "hybrid", SearchOptions(sort=sort))
        assert set(titles(hits)) == SPLADE and total == 2, sort
    # related papers come after the matches, flagged, and are never counted
    hits, total = engine.search_page("SPLADE", "hybrid", SearchOptions(), related=10)
    assert total == 2 and [h.match for h in hits[:2]] == [True, True]
    assert set(titles(hits[:2])) == SPLADE
    assert 0 < len(hits) - 2 <= 10 and not any(h.match for h in hits[2:])
    assert "NURBS Splatting" not in " ".join(titles(hits[:2]))


def test_date_sort_opens_with_matches_not_padding(engine: SearchEngine) -> None:
    q = "sparse retrieval with learned term weights"
    hits, total = engine.search_page(q, "hybrid", SearchOptions(sort="date", limit=100))
    assert 0 < total == len(hits)
    shown = titles(hits)
    assert not any(t.startswith(("Creating Intelligence", "Little Brains")) for t in shown)
    relevance, same = engine.search_page(q, "hybrid", SearchOptions(limit=100))
    assert same == total and set(titles(relevance)) == set(shown)  # the same matches


def test_api_total_is_the_match_count(engine: SearchEngine, settings: Settings,
                                      store: Store) -> None:
    app = Paperwire(settings, store)
    app._engine = engine  # the engine with the real model and its vectors
    client = TestClient(create_app(app), raise_server_exceptions=False)
    body = client.get("/api/search", params={"q": "SPLADE"}).json()
    assert body["total"] == 2 and body["next_cursor"] is None
    assert {r["title"] for r in body["results"]} == SPLADE
    assert all(r["match"] for r in body["results"])
    assert body["related"] and not any(r["match"] for r in body["related"])
    one = client.get("/api/search", params={"q": "SPLADE", "limit": "1"}).json()
    assert one["total"] == 2 and len(one["results"]) == 1 and one["related"] == []
    rest = client.get("/api/search", params={"q": "SPLADE", "limit": "1",
                                             "cursor": one["next_cursor"]}).json()
    assert len(rest["results"]) == 1 and rest["related"] and rest["next_cursor"] is None
    page = client.get("/search", params={"q": "SPLADE", "sort": "date"}).text
    assert "2 papers match" in page and "Related papers, not close matches" in page
    none = client.get("/search", params={"q": "zqxjv"}).text  # no word, nothing near
    assert "No papers match" in none and "No close matches; related papers:" in none
    body = client.get("/api/search", params={"q": "zqxjv"}).json()
    assert body["total"] == 0 and body["results"] == [] and body["related"]


def test_digest_interest_matches_only_pass_the_floor(engine: SearchEngine, store: Store,
                                                     settings: Settings) -> None:
    """A cs.CL reader's "speculative decoding" interest on 1 July 2026 (the papers of 30
    June): the earnings-signals paper was labelled "Matches your interest" (it is what the
    vectors found nearest among the day's few cs.CL papers); the floor leaves it out and
    keeps the decoding paper."""
    ctx = DigestContext(store, settings, searcher=lambda: engine)
    sub = Subscriber(id=1, email="a@example.org", status="active", categories=("cs.CL",),
                     queries=("speculative decoding",), size=10)

    def matched() -> dict[str, str]:
        digest = gather(ctx, sub, date(2026, 7, 1))
        return {it.paper.id: it.paper.title for it in digest.items
                if it.why.startswith("Matches your interest")}

    floor = engine.floor
    engine.floor = FloorParams(min_cosine=-1.0, lexical_cosine=-1.0, relative=0.0)
    try:
        assert EARNINGS in matched()  # without a floor: the case of the issue
    finally:
        engine.floor = floor
    found = matched()
    assert found and EARNINGS not in found
    assert all("decoding" in t.lower() for t in found.values()), found


def test_a_misspelt_or_abbreviated_query_counts_its_true_matches(
    engine: SearchEngine, settings: Settings, store: Store
) -> None:
    """The floor's "every word" rule reads the words as the search does: a word no paper
    holds as its correction ("tranformer" → transformer), an acronym as its long form too.
    Lexical mode has no cosine rule: without this a misspelt query matched nothing."""
    def count(q: str, mode: str = "lexical") -> tuple[set[str], int]:
        hits, total = engine.search_page(q, mode, SearchOptions(limit=1000))
        return {h.paper.id for h in hits if h.match}, total

    assert engine.spelling("tranformer") == {"tranformer": "transformer"}
    right, total = count("transformer")
    assert total > 5 and count("tranformer") == (right, total)
    assert count("tranformer architectures") == count("transformer architectures")
    for mode in ("hybrid", "dense"):  # the cosine rule aside, the same words rule
        assert count("tranformer", mode) == count("transformer", mode), mode
    # an acronym: papers that only spell it out hold it too, and the reverse
    acronym, n_acronym = count("LLM")
    spelt, n_spelt = count('"large language model"')
    only, n_only = count('"LLM"')  # a phrase: the token itself, no expansion
    assert n_spelt > 0 and n_only > 0
    assert acronym == only | spelt | count('"LLMs"')[0] and n_acronym > max(n_only, n_spelt)
    assert count("large language model")[0] >= only
    # the API and the page count the same matches, and say which word was searched for
    app = Paperwire(settings, store)
    app._engine = engine
    client = TestClient(create_app(app), raise_server_exceptions=False)
    body = client.get("/api/search", params={"q": "tranformer", "mode": "lexical"}).json()
    assert body["total"] == total and body["spelling"] == {"tranformer": "transformer"}
    assert all(r["match"] for r in body["results"])
    page = client.get("/search", params={"q": "tranformer", "mode": "lexical"}).text
    assert f"{total} papers match" in page and "Showing results for “transformer”" in page
