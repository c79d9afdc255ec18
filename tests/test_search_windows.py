"""Long abstracts are embedded in overlapping windows and a paper scores its best window
(max-pooling), stores written before windows get theirs lazily, and the hybrid fusion's
query-dependent weight. SQLite and PostgreSQL; the neural model where the point is what it
sees (a small hashing embedder elsewhere)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from alembic import command
from sqlalchemy import select, update
from tests.test_embed import needs_model

from paperwire.config import Settings
from paperwire.embed import OnnxEmbedder, l2_normalise, paper_text
from paperwire.models import Paper
from paperwire.search import SearchEngine, SearchOptions, fusion
from paperwire.search.dense import DenseIndex, embed_pending
from paperwire.search.engine import FusionParams
from paperwire.search.floor import FloorParams
from paperwire.store import Store
from paperwire.store.db import _alembic_config, make_engine
from paperwire.store.schema import embeddings

FILLER = (
    "The laboratory moved to a new building in the spring and the staff spent several weeks "
    "unpacking equipment, labelling cupboards and agreeing on a rota for the shared kitchen. "
    "Budgets for the year were discussed at length in monthly meetings, with particular "
    "attention to travel, printing and the replacement of old office chairs. The committee "
    "also reviewed the booking system for meeting rooms, which had caused frequent double "
    "bookings, and decided to keep a paper calendar by the entrance instead. New members "
    "of staff received an induction covering fire exits, parking permits, the library card "
    "scheme and the procedure for ordering stationery through the central office. Several "
    "colleagues volunteered to organise a summer picnic and a winter dinner for families. "
    "The cleaning schedule was revised twice after complaints about the state of the fridge, "
    "and a suggestion box was placed near the lifts for anonymous comments on daily life. "
    "In autumn the heating failed for a week, so meetings moved to the canteen and people "
    "worked from home when they could. The annual report listed visitors, open days for local "
    "schools, a charity run, and the retirement of the head technician after thirty years. "
    "Finally the gardens were replanted, bicycle racks were added by the car park, and the "
    "old noticeboard in the corridor was replaced by a screen showing the week's events. "
)
DECISIVE = (
    "Finally, we detect counterfeit banknotes: ultraviolet fluorescence imaging of the paper "
    "and ink of forged euro and dollar notes reveals missing security fibres, and a small "
    "classifier trained on these images flags counterfeit currency with high accuracy at the "
    "bank counter."
)
LONG = Paper(id="2601.10001", title="Notes from a regional laboratory",
             abstract=FILLER + DECISIVE, version=1, categories=("cs.CV",),
             primary_category="cs.CV")
OTHERS = [
    Paper(id="2601.10002", title="Verifying handwritten signatures on bank cheques",
          abstract="We verify signatures on scanned cheques with a siamese network.", version=1,
          categories=("cs.CV",), primary_category="cs.CV"),
    Paper(id="2601.10003", title="Forecasting exchange rates",
          abstract="Recurrent networks forecast daily currency exchange rates.", version=1,
          categories=("q-fin.ST",), primary_category="q-fin.ST"),
    Paper(id="2601.10004", title="Protein folding with transformers",
          abstract="Structure prediction from sequences.", version=1, categories=("q-bio.BM",),
          primary_category="q-bio.BM"),
]
QUERY = "counterfeit banknote detection"


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> OnnxEmbedder:
    return OnnxEmbedder(tmp_path_factory.mktemp("models"))


@needs_model
def test_windows_cover_the_end_of_a_long_abstract(model: OnnxEmbedder) -> None:
    assert model.windows("Short", "A short abstract.") == []
    wins = model.windows(LONG.title, LONG.abstract)
    assert 1 <= len(wins) <= 3
    assert all(w.startswith("Notes from a regional laboratory. ") for w in wins)
    assert wins[-1].endswith("at the bank counter.")
    whole = " ".join((LONG.abstract or "").split())
    for w in wins:  # each window is whole words of the abstract, within the model's limit
        body = w.removeprefix("Notes from a regional laboratory. ")
        assert body in whole and whole[whole.index(body) - 1] == " "
        assert len(model._whole.encode(w).ids) <= model.max_length
    # the first window alone (today's single vector) never sees the decisive words
    first = model._tok.encode(paper_text(LONG.title, LONG.abstract))
    assert len(first.ids) == model.max_length and "counterfeit" not in " ".join(first.tokens)


@needs_model
def test_dense_search_finds_words_past_the_first_256_tokens(
        store: Store, settings: Settings, model: OnnxEmbedder) -> None:
    store.write_batch([LONG, *OTHERS])
    engine = SearchEngine(store, settings, embedder=model)
    engine.sync()
    hits = engine.search(QUERY, mode="dense")
    assert hits[0].paper.id == LONG.id
    assert [h.paper.id for h in hits].count(LONG.id) == 1  # one hit per paper, not per window
    assert engine.search(QUERY, mode="hybrid")[0].paper.id == LONG.id


class WindowedHashing:
    """Words hashed into 64 dims; a text of more than ``limit`` words gets later windows of
    ``limit`` words: a stand-in with the neural embedder's window interface."""

    name = "test-windowed/64"
    dim = 64
    limit = 6

    def __init__(self) -> None:
        self.texts: list[str] = []

    def _one(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        for w in re.findall(r"[a-z]+", text.lower())[: self.limit + 2]:
            v[int(hashlib.md5(w.encode()).hexdigest(), 16) % self.dim] += 1.0
        return v

    def embed(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        self.texts += list(texts)
        return l2_normalise(np.stack([self._one(t) for t in texts]))

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]

    def windows(self, title: str, abstract: str | None) -> list[str]:
        words = (abstract or "").split()
        return [f"{title}. " + " ".join(words[i : i + self.limit])
                for i in range(self.limit, len(words), self.limit)]


def p(pid: str, title: str, abstract: str) -> Paper:
    return Paper(id=pid, title=title, abstract=abstract, version=1, categories=("cs.LG",),
                 primary_category="cs.LG")


@pytest.mark.parametrize("exact_limit", [20_000, 0])  # the exact scan, the HNSW graph
def test_a_paper_scores_its_best_window_and_drops_windows_it_lost(
        store: Store, tmp_path: Path, exact_limit: int) -> None:
    emb = WindowedHashing()
    store.write_batch([p("2601.00001", "Alpha", "one two three four five six seven eight nine "
                                                "ten eleven twelve zebra giraffe okapi"),
                       p("2601.00002", "Beta", "okapi only"), p("2601.00003", "Gamma", "x")])
    embed_pending(store, emb)
    dense = DenseIndex(tmp_path / "dense", emb.name, emb.dim, exact_limit)
    dense.sync(store)
    assert len(dense) == 5  # 2 windows after the first of the long paper
    query = emb.embed_query("giraffe okapi")
    found = dense.search(query, 3)
    assert found[0][0] == "2601.00001" and len({pid for pid, _ in found}) == 3
    first = dense.vector("2601.00001")
    assert first is not None and float(first @ query) < found[0][1]
    assert dense.scores(query, ["2601.00001", "2601.00003", "nope"]) == {
        "2601.00001": pytest.approx(found[0][1]), "2601.00003": pytest.approx(0.0)}
    # the text got shorter: one window left, the others are never found again
    store.write_batch([Paper(id="2601.00001", title="Alpha", abstract="nothing here",
                             version=2)])
    embed_pending(store, emb)
    dense.sync(store)
    found = dense.search(query, 3)
    assert found[0][0] == "2601.00002"
    assert [pid for pid, _ in found].count("2601.00001") == 1
    reread = DenseIndex(tmp_path / "dense", emb.name, emb.dim, exact_limit)
    assert [pid for pid, _ in reread.search(query, 3)] == [pid for pid, _ in found]


def test_vectors_stored_before_windows_get_them_lazily(store: Store) -> None:
    emb = WindowedHashing()
    long = p("2601.00001", "Alpha", "a b c d e f g h i j k l m")
    store.write_batch([long, p("2601.00002", "Beta", "short")])
    assert embed_pending(store, emb) == 2
    with store.engine.begin() as conn:  # as rows written before migration 0010 read
        conn.execute(update(embeddings).values(windows=None))
        before = dict(conn.execute(select(embeddings.c.paper_id, embeddings.c.vector)).all())
    assert store.count_to_embed(emb.name) == 2
    emb.texts.clear()
    assert embed_pending(store, emb) == 2
    assert emb.texts == emb.windows(long.title, long.abstract)  # first vectors are kept
    with store.engine.connect() as conn:
        after = dict(conn.execute(select(embeddings.c.paper_id, embeddings.c.vector)).all())
    assert after == before and store.count_to_embed(emb.name) == 0
    rows = {pid: extra for b in store.iter_embeddings(emb.name) for pid, _, extra in b}
    assert len(rows["2601.00001"]) == 2 * 64 * 4 and rows["2601.00002"] == b""


def test_migration_0010_keeps_existing_vectors(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(url)
    cfg = _alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0009")
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO papers (id, title, version, authors, categories, source, content_hash, "
            "created_at, changed_at) VALUES ('2601.00001', 'Alpha', 1, '[]', '[]', 'arxiv', 'h', "
            "'2026-01-01', '2026-01-01')")
        conn.exec_driver_sql(
            "INSERT INTO embeddings (paper_id, model, content_hash, vector, created_at) "
            "VALUES ('2601.00001', 'm', 'h', x'0000803f', '2026-01-01')")
    engine.dispose()
    store = Store.open(url)
    try:
        rows = [r for b in store.iter_embeddings("m") for r in b]
        assert rows == [("2601.00001", b"\x00\x00\x80\x3f", b"")]
        assert store.count_to_embed("m") == 1  # its windows are embedded lazily
    finally:
        store.close()


def test_the_floor_judges_a_lexical_candidate_by_its_best_window(
        store: Store, settings: Settings) -> None:
    """A paper BM25 found but the dense side did not return (outside its top ``depth``) gets
    its cosine from all its windows, as the fusion does: the floor and the ranking see the same
    similarity (its first vector alone would leave it below the floor)."""
    emb = WindowedHashing()
    store.write_batch([
        p("2601.00001", "Okapi giraffe zebra",
          "one two three four five six okapi giraffe zebra okapi giraffe zebra"),
        p("2601.00002", "Delta", "okapi giraffe zebra lion"),
        p("2601.00003", "Gamma", "nothing in common"),
    ])
    query = "okapi giraffe zebra lion"
    engine = SearchEngine(store, settings, embedder=emb, params=FusionParams(depth=1),
                          floor=FloorParams(min_cosine=0.99, lexical_cosine=0.7, relative=0.0))
    engine.sync()
    dense = engine.dense()
    vec = emb.embed_query(query)
    assert [pid for pid, _ in dense.search(vec, 1)] == ["2601.00002"]
    best = dense.scores(vec, ["2601.00001"])["2601.00001"]
    first = dense.vector("2601.00001")
    assert first is not None and float(first @ vec) < 0.7 <= best
    hits, _ = engine.search_page(query, "hybrid", SearchOptions(limit=1), related=1)
    assert [(h.paper.id, h.match) for h in hits] == [("2601.00001", True)]


def test_query_alpha_leans_lexical_for_short_queries() -> None:
    assert fusion.query_alpha(2, 0.6, 0.4) == 0.6
    assert fusion.query_alpha(3, 0.6, 0.4) == 0.6
    assert fusion.query_alpha(6, 0.6, 0.4) == pytest.approx(0.5)
    assert fusion.query_alpha(9, 0.6, 0.4) == 0.4
    assert fusion.query_alpha(30, 0.6, 0.4) == 0.4
    assert fusion.query_alpha(5, 0.6, 0.4, 4, 4) == 0.4
