from datetime import datetime, timedelta
from pathlib import Path

from paperwire.config import Settings
from paperwire.models import Paper
from paperwire.search import LexicalIndex, SearchEngine, search
from paperwire.store import Store


def p(pid: str, title: str, abstract: str = "", authors: tuple[str, ...] = ()) -> Paper:
    return Paper(id=pid, title=title, abstract=abstract, authors=authors, version=1)


def test_bm25_ranks_title_matches_and_finds_authors(store: Store, settings: Settings) -> None:
    store.write_batch([
        p("2501.00001", "Learned sparse retrieval with SPLADE", "We expand queries.",
          ("Thibault Formal",)),
        p("2501.00002", "Dense passage retrieval", "Dual encoders for open-domain QA.",
          ("Vladimir Karpukhin",)),
        p("2501.00003", "Image segmentation", "Masks and pixels; no retrieval here.",
          ("Someone Else",)),
    ])
    hits = search(store, settings, "sparse retrieval")
    assert [h.paper.id for h in hits] == ["2501.00001"]  # the one with both words matches
    # the papers with one of them are related papers, after the matches and not counted
    engine = SearchEngine(store, settings)
    engine.refresh()
    page, total = engine.search_page("sparse retrieval", "lexical", related=5)
    assert total == 1 and [(h.paper.id, h.match) for h in page][:2] == [
        ("2501.00001", True), ("2501.00002", False)]
    assert {h.paper.id for h in page if not h.match} == {"2501.00002", "2501.00003"}
    # stemming: "queries" matches "query" (and "retrievers" would match "retrieval")
    assert search(store, settings, "query")[0].paper.id == "2501.00001"
    assert search(store, settings, "Karpukhin")[0].paper.id == "2501.00002"
    assert search(store, settings, "   ") == []
    # unbalanced quotes and stray syntax do not raise
    assert search(store, settings, '"sparse retrieval') != []


def test_index_updates_incrementally(store: Store, tmp_path: Path) -> None:
    index = LexicalIndex(tmp_path / "ix")
    t0 = datetime(2026, 1, 1)
    store.write_batch([p("2501.00001", "Quantum error correction")], now=t0)
    assert index.sync(store) == 1
    assert index.sync(store) == 0  # nothing changed
    store.write_batch([p("2501.00002", "Graph neural networks")], now=t0 + timedelta(minutes=1))
    assert index.sync(store) >= 1
    assert index.num_docs() == 2
    # a new version with a new title replaces the old text: no stale match, no duplicate
    store.write_batch([Paper(id="2501.00001", title="Topological codes", version=2)],
                      now=t0 + timedelta(minutes=2))
    index.sync(store)
    assert index.num_docs() == 2
    assert [h.paper_id for h in index.search("quantum")] == []
    assert [h.paper_id for h in index.search("topological")] == ["2501.00001"]


def test_index_rebuilds_for_another_store(tmp_path: Path) -> None:
    index = LexicalIndex(tmp_path / "ix")
    a = Store.open(f"sqlite:///{tmp_path / 'a.db'}")
    b = Store.open(f"sqlite:///{tmp_path / 'b.db'}")
    a.write_batch([p("2501.00001", "Alpha paper")])
    b.write_batch([p("2501.00002", "Beta paper")])
    index.sync(a)
    index.sync(b)
    assert [h.paper_id for h in index.search("paper")] == ["2501.00002"]
