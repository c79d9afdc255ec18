"""The tantivy index behind search: query syntax, filters, sorting, highlights, sync.
Every test that takes ``store`` runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import tantivy
from sqlalchemy import delete

from paperwire.errors import SearchError
from paperwire.models import Paper
from paperwire.search import lexical
from paperwire.search.lexical import LexicalIndex
from paperwire.search.query import SearchOptions, merge_options, parse_query
from paperwire.store import Store
from paperwire.store.schema import papers as papers_table

T0 = datetime(2026, 1, 1)


def paper(pid: str, title: str, abstract: str = "", authors: tuple[str, ...] = (),
          categories: tuple[str, ...] = (), published: date | None = None,
          version: int = 1) -> Paper:
    return Paper(id=pid, title=title, abstract=abstract, authors=authors,
                 categories=categories, primary_category=categories[0] if categories else None,
                 published=published, version=version)


DPR = paper(
    "2501.00001", "Dense Passage Retrieval for Open-Domain Question Answering",
    "Open-domain question answering relies on efficient passage retrieval. We show that "
    "retrieval can be practically implemented using dense representations alone, learned "
    "from a small number of questions and passages by a simple dual-encoder framework.",
    ("Vladimir Karpukhin", "Barlas Oguz", "Sewon Min"), ("cs.CL", "cs.IR"), date(2025, 1, 10),
)
SPLADE = paper(
    "2501.00002", "Learned sparse retrieval with SPLADE",
    "Sparse lexical representations with query expansion: we expand queries and documents "
    "with learned term weights.",
    ("Thibault Formal", "Carlos Lassance", "Stéphane Clinchant"), ("cs.IR",), date(2025, 3, 5),
)
ATTENTION = paper(
    "2501.00003", "Attention Is All You Need",
    "The dominant sequence transduction models are based on recurrent or convolutional neural "
    "networks. We propose the Transformer, which also helps retrieval.",
    ("Ashish Vaswani", "Noam Shazeer"), ("cs.CL", "cs.LG"), date(2024, 6, 12),
)
DEEP = paper(
    "2501.00004", "Deep learning",
    "Deep learning allows computational models composed of multiple processing layers to "
    "learn representations of data with multiple levels of abstraction.",
    ("Yann LeCun", "Yoshua Bengio", "Geoffrey Hinton"), ("cs.LG",), date(2024, 12, 31),
)
CONVNETS = paper(
    "2501.00005", "Convolutional networks for images, speech and time series",
    "We review learning with convolutional networks for image recognition.",
    ("Yann LeCun", "Yoshua Bengio"), ("cs.CV", "cs.LG"), date(2025, 6, 30),
)
UNDATED = paper(
    "2501.00006", "Neural retrieval models without a date",
    "A survey of neural ranking.", ("Anonymous Author",), ("cs.IR",), None,
)
EFFICIENT = paper(
    "2501.00007", "Efficient dense retrieval at scale",
    "We study dense retrieval with quantized indexes.", ("Jimmy Lin",), ("cs.IR",),
    date(2025, 2, 1),
)
CORPUS = [DPR, SPLADE, ATTENTION, DEEP, CONVNETS, UNDATED, EFFICIENT]


@pytest.fixture
def index(store: Store, tmp_path: Path) -> LexicalIndex:
    store.write_batch(CORPUS, now=T0)
    ix = LexicalIndex(tmp_path / "lexical")
    assert ix.sync(store) == len(CORPUS)
    return ix


def ids(index: LexicalIndex, query: str, **kw: object) -> list[str]:
    return [h.paper_id for h in index.search(query, **kw)]  # type: ignore[arg-type]


def idset(index: LexicalIndex, query: str) -> set[str]:
    return set(ids(index, query))


# ---- words, phrases, exclusions -----------------------------------------------------------


def test_phrase_differs_from_bag_of_words(index: LexicalIndex) -> None:
    # the words anywhere: DPR has "Dense Passage Retrieval", EFFICIENT "dense retrieval"
    assert idset(index, "dense retrieval") >= {DPR.id, EFFICIENT.id, SPLADE.id}
    # the phrase: only where the words are adjacent and in order
    assert idset(index, '"dense retrieval"') == {EFFICIENT.id}
    assert idset(index, '"retrieval dense"') == set()
    # a phrase is required; words beside it only add to the score
    assert ids(index, '"dense retrieval" sparse') == [EFFICIENT.id]
    assert idset(index, '"passage retrieval" "question answering"') == {DPR.id}


def test_words_are_alternatives_ranked_by_bm25(index: LexicalIndex) -> None:
    hits = ids(index, "sparse retrieval")
    assert hits[0] == SPLADE.id  # both words, in the title
    assert set(hits) == {SPLADE.id, DPR.id, ATTENTION.id, UNDATED.id, EFFICIENT.id}
    scores = [h.score for h in index.search("sparse retrieval")]
    assert scores == sorted(scores, reverse=True) and scores[-1] > 0


def test_title_matches_outrank_abstract_matches(index: LexicalIndex) -> None:
    hits = ids(index, "transformer")
    assert hits == [ATTENTION.id]
    ranked = ids(index, "retrieval")
    assert ranked.index(ATTENTION.id) == len(ranked) - 1  # only in its abstract


def test_exclusions(index: LexicalIndex) -> None:
    assert SPLADE.id not in idset(index, "retrieval -sparse")
    assert DPR.id in idset(index, "retrieval -sparse")
    excluded = idset(index, 'retrieval -"dense passage"')
    assert DPR.id not in excluded and EFFICIENT.id in excluded
    # exclusions look at authors too, and stem like the text
    assert idset(index, "learning -LeCun") == {SPLADE.id, DPR.id}  # "learned"
    assert SPLADE.id not in idset(index, "retrieval -queries")  # its abstract: "query"
    # only exclusions: everything else, newest first
    assert ids(index, "-retrieval") == [CONVNETS.id, DEEP.id]


def test_stemming(index: LexicalIndex) -> None:
    # en_stem: retrievers/retrieval -> "retriev", queries/query -> "queri"
    assert idset(index, "retrievers") == idset(index, "retrieval")
    assert ids(index, "query") == [SPLADE.id]
    assert ids(index, "expanding") == [SPLADE.id]  # "expand", "expansion"
    assert idset(index, "network") == {ATTENTION.id, CONVNETS.id}
    assert idset(index, '"convolutional network"') == {CONVNETS.id}  # "convolutional neural"
    assert ids(index, "Stephane") == [SPLADE.id]  # accents folded: Stéphane


def test_hyphenated_and_odd_words(index: LexicalIndex) -> None:
    assert ids(index, "open-domain") == [DPR.id]
    assert ids(index, "dual-encoder") == [DPR.id]
    assert ids(index, "Open-Domain:") == [DPR.id]  # unknown key: just text
    assert index.search("zzzqqq") == []
    assert index.search("") == [] and index.search("  -  ") == []
    assert index.search("x" * 60) == []  # longer than any indexed token
    # tantivy query syntax in user text is plain text, never an error
    for text in ["title:(foo", "a AND OR", "[1 TO 2]", "foo^2", "a:b:c", "*", "~", "\\"]:
        index.search(text)


# ---- filters -------------------------------------------------------------------------------


def test_author_full_name_and_surname(index: LexicalIndex) -> None:
    assert idset(index, 'author:"Yann LeCun"') == {DEEP.id, CONVNETS.id}
    assert idset(index, "author:lecun") == {DEEP.id, CONVNETS.id}
    assert idset(index, "author:LeCun author:Hinton") == {DEEP.id}  # all must hold
    assert idset(index, "au:hinton") == {DEEP.id}
    # a phrase never spans two authors: "Yann LeCun", "Yoshua Bengio"
    assert idset(index, 'author:"LeCun Yoshua"') == set()
    assert idset(index, 'author:"LeCun Yann"') == set()
    assert idset(index, "author:clinchant") == {SPLADE.id}
    assert idset(index, 'author:"stephane clinchant"') == {SPLADE.id}
    # an author filter restricts, it does not match words elsewhere
    assert idset(index, "author:retrieval") == set()
    assert idset(index, "learning author:bengio") == {DEEP.id, CONVNETS.id}


# a paper by "Ann Large" on language identification, and papers on large language models:
# "large" is a rare author name and a common topic word (arXiv: "Charlotte Model")
LARGE = paper(
    "2502.00001", "Robust language identification for regional varieties",
    "Regional varieties of a language are hard to tell apart. We build a classifier for "
    "them and evaluate our model on a new benchmark across two domains, where it reaches an "
    "average accuracy of 97 percent, enabling spell checking and machine translation.",
    ("Ann Large", "Sina Ahmadi"), ("cs.CL",), date(2025, 1, 2),
)
LLMS = [
    paper("2502.00002", "Entropy in large language models",
          "We measure the entropy of large language models during decoding and relate it to "
          "the errors each language model makes on long answers.",
          ("Ada Chen",), ("cs.CL",), date(2025, 1, 3)),
    paper("2502.00003", "Active model selection for large language models",
          "Choosing which large language model to query for a task, with few labels.",
          ("Bo Li", "Cy Park"), ("cs.LG",), date(2025, 1, 4)),
    paper("2502.00004", "Hyperbolic large language models",
          "Large language models with hyperbolic embeddings of tokens and of the hierarchy "
          "of concepts they learn during pretraining on large web corpora.",
          ("Dee Roy",), ("cs.CL",), date(2025, 1, 5)),
]
OTHERS = [
    paper(f"2502.001{i:02d}", f"Protein folding study {i}",
          "Protein structures from sequences with physics and a large model: a language "
          "of folds.", ("Eve Stone",), ("q-bio.BM",), date(2025, 2, i % 28 + 1))
    for i in range(40)
]


@pytest.fixture
def named(store: Store, tmp_path: Path) -> LexicalIndex:
    corpus = [LARGE, *LLMS, *OTHERS]
    store.write_batch(corpus, now=T0)
    ix = LexicalIndex(tmp_path / "named")
    assert ix.sync(store) == len(corpus)
    return ix


def test_topic_words_are_not_author_names(named: LexicalIndex) -> None:
    # a topic query is decided by title and abstract: "large" in "Ann Large" does not count
    hits = ids(named, "large language model")
    assert hits[:3] and set(hits[:3]) == {p.id for p in LLMS}
    assert LARGE.id not in idset(named, "large")
    # a query that names her does: her name's words in a row, or an author filter
    assert ids(named, "Ann Large")[0] == LARGE.id
    assert ids(named, "Ann Large language")[0] == LARGE.id
    assert idset(named, "author:large") == {LARGE.id}
    assert idset(named, "author:ann") == {LARGE.id}
    # a word that is mostly a name (no title or abstract holds it) counts alone
    assert ids(named, "ahmadi") == [LARGE.id]
    # and the relevance floor reads a name typed as the search does: she holds both words
    view = named.view()
    assert view is not None
    q = parse_query("Ann Large")
    assert view.with_every_word(q, ["Ann", "Large"], [LARGE.id]) == {LARGE.id}
    q = parse_query("large language")
    assert view.with_every_word(q, ["large", "language"], [LARGE.id]) == set()
    # an exclusion still looks at the authors too
    assert LARGE.id not in idset(named, "language -large")
    # bold marks in a hit's authors follow the search: her name, not the topic word
    assert view.name_words(parse_query("large language Ahmadi")) == {"Ahmadi"}
    authors = LARGE.authors
    assert lexical.marked_authors("large language model", authors, set()) == ()
    assert lexical.marked_authors("Ann Large", authors, view.name_words("Ann Large")) == (0,)
    assert lexical.marked_authors("large ahmadi", authors, view.name_words("large ahmadi")) == (1,)


def test_category_filter_primary_and_cross_lists(index: LexicalIndex) -> None:
    assert idset(index, "retrieval cat:cs.CL") == {DPR.id, ATTENTION.id}
    # DPR is cs.CL primary and cross-listed in cs.IR
    assert idset(index, "retrieval cat:cs.IR") == {DPR.id, SPLADE.id, UNDATED.id, EFFICIENT.id}
    assert idset(index, "retrieval category:CS.ir") == idset(index, "retrieval cat:cs.IR")
    assert idset(index, "cat:cs.CV,cs.CL") == {DPR.id, ATTENTION.id, CONVNETS.id}  # any of
    assert idset(index, "cat:cs.CV cat:cs.CL") == {DPR.id, ATTENTION.id, CONVNETS.id}
    assert idset(index, "cat:cs") == {p.id for p in CORPUS}  # the archive
    assert idset(index, "cat:math.AG") == set()
    assert idset(index, "cat:cs.C") == set()  # no prefix matching within a name


def test_title_restriction(index: LexicalIndex) -> None:
    assert ATTENTION.id in idset(index, "retrieval")  # in its abstract
    assert idset(index, "title:retrieval") == {DPR.id, SPLADE.id, UNDATED.id, EFFICIENT.id}
    assert idset(index, 'title:"passage retrieval"') == {DPR.id}
    assert idset(index, "title:retrievers title:dense") == {DPR.id, EFFICIENT.id}
    assert idset(index, "ti:open-domain") == {DPR.id}
    assert idset(index, "title:karpukhin") == set()  # an author, not in the title


def test_date_filters(index: LexicalIndex) -> None:
    dated = {p.id for p in CORPUS if p.published}
    assert idset(index, "cat:cs after:2025-03-05") == {SPLADE.id, CONVNETS.id}  # inclusive
    assert idset(index, "cat:cs after:2025-03-06") == {CONVNETS.id}
    assert idset(index, "cat:cs before:2024-12-31") == {ATTENTION.id, DEEP.id}  # inclusive
    assert idset(index, "cat:cs before:2024-12-30") == {ATTENTION.id}
    assert idset(index, "cat:cs year:2024") == {ATTENTION.id, DEEP.id}
    assert idset(index, "cat:cs year:2025") == dated - {ATTENTION.id, DEEP.id}
    assert idset(index, "cat:cs after:2025-06") == {CONVNETS.id}  # 2025-06-30
    assert CONVNETS.id in idset(index, "cat:cs before:2025-06")  # to the month's end
    assert CONVNETS.id not in idset(index, "cat:cs before:2025-06-29")
    assert idset(index, "cat:cs after:1990") == dated  # undated papers are left out
    assert idset(index, "retrieval after:2025-02 before:2025-03") == {
        SPLADE.id, EFFICIENT.id}
    assert idset(index, "year:2023") == set()


def test_filter_only_queries_are_newest_first(index: LexicalIndex) -> None:
    assert ids(index, "cat:cs.IR") == [SPLADE.id, EFFICIENT.id, DPR.id, UNDATED.id]
    assert ids(index, "cat:cs.IR after:2025-02") == [SPLADE.id, EFFICIENT.id]
    assert ids(index, "author:lecun") == [CONVNETS.id, DEEP.id]
    assert ids(index, "year:2025") == [CONVNETS.id, SPLADE.id, EFFICIENT.id, DPR.id]
    assert all(h.score == 0.0 for h in index.search("cat:cs.IR"))
    # pages
    assert ids(index, "cat:cs.IR", limit=2) == [SPLADE.id, EFFICIENT.id]
    assert ids(index, "cat:cs.IR", limit=2, offset=2) == [DPR.id, UNDATED.id]
    assert ids(index, "cat:cs.IR", limit=2, offset=4) == []


def test_sort_by_date(index: LexicalIndex) -> None:
    assert ids(index, "retrieval", sort="date") == [
        SPLADE.id, EFFICIENT.id, DPR.id, ATTENTION.id, UNDATED.id]  # undated last
    assert ids(index, "retrieval", sort="date", limit=2, offset=1) == [EFFICIENT.id, DPR.id]
    with pytest.raises(SearchError, match="sorts by relevance or date"):
        index.search("retrieval", sort="trending")


def test_same_day_ties_break_by_arxiv_number(store: Store, tmp_path: Path) -> None:
    day = date(2025, 5, 1)
    store.write_batch([
        paper("2505.00100", "Graph one", categories=("cs.LG",), published=day),
        paper("2505.10000", "Graph two", categories=("cs.LG",), published=day),
        paper("2505.01000", "Graph three", categories=("cs.LG",), published=day),
        paper("seed:abc", "Graph four", categories=("cs.LG",), published=date(2025, 4, 30)),
    ])
    ix = LexicalIndex(tmp_path / "ix")
    ix.sync(store)
    assert ids(ix, "cat:cs.LG") == ["2505.10000", "2505.01000", "2505.00100", "seed:abc"]
    assert ids(ix, "graph", sort="date") == ids(ix, "cat:cs.LG")


def test_parsed_queries_and_options(index: LexicalIndex) -> None:
    assert ids(index, "retrieval cat:cs.CL") == [
        h.paper_id for h in index.search(parse_query("retrieval cat:cs.CL"))]
    merged = merge_options(parse_query("retrieval"), SearchOptions(
        categories=("cs.IR",), after=date(2025, 1, 1)))
    assert {h.paper_id for h in index.search(merged)} == {DPR.id, SPLADE.id, EFFICIENT.id}
    with pytest.raises(SearchError, match="is not a date"):
        index.search("retrieval after:2025-13-01")


def test_satisfying_applies_the_constraints_to_given_ids(index: LexicalIndex) -> None:
    everyone = [p.id for p in CORPUS]
    # free words are not required; everything else is, with the search semantics
    assert index.satisfying("zebra", everyone) == set(everyone)
    assert index.satisfying("zebra cat:cs.CV,cs.CL", everyone) == {
        DPR.id, ATTENTION.id, CONVNETS.id}
    assert index.satisfying('"dense retrievers" -quantized', everyone) == set()
    assert index.satisfying('author:"yann lecun" -speech year:2024', everyone) == {DEEP.id}
    assert index.satisfying("title:retrieval", [DPR.id, ATTENTION.id, "gone"]) == {DPR.id}
    assert index.satisfying(parse_query("cat:cs.IR"), []) == set()


# ---- highlights ------------------------------------------------------------------------------


def test_highlights_mark_matched_words(index: LexicalIndex) -> None:
    hit = next(h for h in index.search("retrieval") if h.paper_id == DPR.id)
    assert hit.title_html == "Dense Passage <b>Retrieval</b> for Open-Domain Question Answering"
    assert "efficient passage <b>retrieval</b>. We show that <b>retrieval</b> can" in (
        hit.snippet_html)
    # stemmed forms are marked as they are written
    splade = index.search("query")[0]
    assert "with <b>query</b> expansion: we expand <b>queries</b> and" in splade.snippet_html
    # phrases and title filters are marked; author filters and exclusions are not
    hit = index.search('"dense retrieval" author:lin -sparse')[0]
    assert hit.title_html == "Efficient <b>dense</b> <b>retrieval</b> at scale"
    assert "Lin" not in hit.title_html + hit.snippet_html
    assert index.search("title:deep")[0].title_html == "<b>Deep</b> learning"


def test_highlights_without_words_are_plain_escaped_text(index: LexicalIndex) -> None:
    hit = index.search("author:karpukhin")[0]
    assert hit.title_html == "Dense Passage Retrieval for Open-Domain Question Answering"
    assert "<b>" not in hit.snippet_html
    assert hit.snippet_html.startswith("Open-domain question answering relies on")
    assert hit.snippet_html.endswith(" …")  # the abstract is longer than the excerpt


def test_highlights_escape_untrusted_text(store: Store, tmp_path: Path) -> None:
    evil = paper(
        "2502.00666", '<script>alert("x")</script> attacks on retrieval & ranking',
        'Inputs like <img src=x onerror=alert(1)> & "quotes" poison retrieval <b>bold</b>.',
        ("Mallory <i>Evil</i>",), ("cs.CR",), date(2025, 2, 2),
    )
    store.write_batch([evil])
    ix = LexicalIndex(tmp_path / "ix")
    ix.sync(store)
    for query in ("retrieval", "script", "cat:cs.CR", "img bold"):
        [hit] = ix.search(query)
        for html in (hit.title_html, hit.snippet_html):
            assert "<script" not in html and "<img" not in html and "<i>" not in html
            assert re.sub(r"</?b>", "", html).count("<") == 0
        plain = re.sub(r"</?b>", "", hit.snippet_html)
        assert "&lt;img src=x onerror=alert(1)&gt;" in plain
        assert "&lt;script&gt;alert(&#34;x&#34;)" in re.sub(r"</?b>", "", hit.title_html)
    hit = ix.search("retrieval")[0]
    assert hit.title_html == (
        "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; attacks on <b>retrieval</b>"
        " &amp; ranking")
    assert hit.snippet_html.endswith("poison <b>retrieval</b> &lt;b&gt;bold&lt;/b&gt;.")
    # a tag name is a word of the text and gets marked like any other, inside the escape
    assert "&lt;<b>script</b>&gt;" in ix.search("script")[0].title_html


def test_snippet_centres_on_a_late_match(store: Store, tmp_path: Path) -> None:
    filler = "Filler sentence about nothing in particular. " * 30
    long = paper("2502.00001", "A long abstract", filler + "The key word is zebrafish here. "
                 + filler, published=date(2025, 1, 1))
    store.write_batch([long])
    ix = LexicalIndex(tmp_path / "ix")
    ix.sync(store)
    snippet = ix.search("zebrafish")[0].snippet_html
    assert "The key word is <b>zebrafish</b> here." in snippet
    assert snippet.startswith("… ") and snippet.endswith(" …")
    assert len(snippet) < lexical.SNIPPET_CHARS + 20
    assert ix.search("filler")[0].snippet_html.startswith("<b>Filler</b> sentence")


# ---- keeping in step with the store ----------------------------------------------------------


def test_incremental_add_replace_delete(store: Store, tmp_path: Path) -> None:
    ix = LexicalIndex(tmp_path / "ix")
    store.write_batch([paper("2501.00001", "Quantum error correction", published=date(2025, 1, 1),
                             categories=("quant-ph",))], now=T0)
    assert ix.sync(store) == 1
    assert ix.sync(store) == 0
    # add
    store.write_batch([paper("2501.00002", "Graph neural networks", published=date(2025, 1, 2),
                             categories=("cs.LG",))], now=T0 + timedelta(minutes=1))
    assert ix.sync(store) >= 1
    assert ix.num_docs() == 2
    assert ids(ix, "graph") == ["2501.00002"]
    # replace: a new version with a new title, a cross-list and an older first-version date
    store.write_batch([paper("2501.00001", "Topological codes", version=2,
                             categories=("quant-ph", "cs.IT"), published=date(2024, 12, 1))],
                      now=T0 + timedelta(minutes=2))
    assert ix.sync(store) >= 1
    assert ix.num_docs() == 2
    assert ids(ix, "quantum") == [] and ids(ix, "correction") == []
    assert ids(ix, "topological") == ["2501.00001"]
    assert ids(ix, "cat:cs.IT") == ["2501.00001"]
    assert ids(ix, "year:2024") == ["2501.00001"]
    # delete
    assert ix.delete(["2501.00002", "2501.00002", "nope"]) == 1
    assert ix.num_docs() == 1
    assert ids(ix, "graph") == []
    assert ix.delete([]) == 0


def test_an_index_made_on_an_empty_store_takes_in_the_first_papers(
    store: Store, tmp_path: Path
) -> None:
    """A writer that starts on an empty database (a fresh deployment) publishes an empty
    index; the papers stored afterwards are taken in by its next pass (its watermark was the
    earliest datetime, and stepping back from it overflowed on every pass since)."""
    ix = LexicalIndex(tmp_path / "ix")
    assert ix.sync(store) == 0
    store.write_batch([paper("2501.00001", "Quantum error correction",
                             published=date(2025, 1, 1), categories=("quant-ph",))], now=T0)
    assert ix.sync(store) == 1
    assert ids(ix, "quantum") == ["2501.00001"]


def test_sync_notices_papers_removed_from_the_store(store: Store, tmp_path: Path) -> None:
    ix = LexicalIndex(tmp_path / "ix")
    store.write_batch([paper("2501.00001", "Alpha retrieval"), paper("2501.00002", "Beta")],
                      now=T0)
    ix.sync(store)
    with store.engine.begin() as conn:
        conn.execute(delete(papers_table).where(papers_table.c.id == "2501.00001"))
    assert ix.sync(store) == 0  # nothing changed that a cheap check can see
    assert ids(ix, "alpha") == ["2501.00001"]
    assert ix.sync(store, check_removed=True) == 1  # counts differ: rebuilt from the store
    assert ids(ix, "alpha") == []
    assert ix.num_docs() == 1
    # without asking: the next sync that has changes to index compares the counts too
    with store.engine.begin() as conn:
        conn.execute(delete(papers_table).where(papers_table.c.id == "2501.00002"))
    store.write_batch([paper("2501.00003", "Gamma")], now=T0 + timedelta(minutes=1))
    ix.sync(store)
    assert ix.num_docs() == 1
    assert ids(ix, "beta") == [] and ids(ix, "gamma") == ["2501.00003"]


def test_rebuild_when_the_schema_version_changes(store: Store, tmp_path: Path) -> None:
    ix = LexicalIndex(tmp_path / "ix")
    store.write_batch(CORPUS, now=T0)
    assert ix.sync(store) == len(CORPUS)
    state = json.loads(ix.state_file.read_text())
    assert state["schema"] == str(lexical.SCHEMA_VERSION)
    ix.state_file.write_text(json.dumps({**state, "schema": "1"}))
    fresh = LexicalIndex(tmp_path / "ix")
    assert fresh.sync(store) == len(CORPUS)  # everything again, no duplicates
    assert fresh.num_docs() == len(CORPUS)
    assert fresh.sync(store) == 0


def test_an_index_of_the_old_layout_is_replaced(store: Store, tmp_path: Path) -> None:
    """An index written by version 1 (other fields, no state for them) is discarded."""
    path = tmp_path / "ix"
    path.mkdir()
    sb = tantivy.SchemaBuilder()
    sb.add_text_field("id", stored=True, tokenizer_name="raw")
    sb.add_text_field("title", tokenizer_name="en_stem")
    sb.add_text_field("abstract", tokenizer_name="en_stem")
    sb.add_text_field("authors", tokenizer_name="default")
    old = tantivy.Index(sb.build(), path=str(path))
    writer = old.writer(15_000_000, 1)
    writer.add_document(tantivy.Document(id="stale", title="Stale paper", abstract="", authors=""))
    writer.commit()
    writer.wait_merging_threads()
    del writer, old
    store.write_batch(CORPUS, now=T0)
    (path / "state.json").write_text(json.dumps({
        "store": "whatever", "schema": "1", "watermark": T0.isoformat()}))
    ix = LexicalIndex(path)
    assert ix.search("stale") == []  # opening it already discarded the old index
    assert ix.sync(store) == len(CORPUS)
    assert ix.num_docs() == len(CORPUS)
    assert ids(ix, '"dense retrieval"') == [EFFICIENT.id]


def test_highlighting_reads_only_a_bounded_prefix_of_huge_texts(tmp_path: Path) -> None:
    """A document with a 5 MB abstract and a 2 MB title in the index (the store no longer
    serves such text, but the highlighter must not depend on it): the hit's HTML stays
    small, and only a bounded prefix of each text is highlighted (a word that occurs only
    megabytes in is found, not marked)."""
    huge_abstract = "needle " + "filler words " * 400_000 + "zebrafish tail"
    huge_title = "needle " * 300_000
    assert len(huge_abstract) > 5_000_000
    ix = LexicalIndex(tmp_path / "lexical")
    writer = ix._open().writer(lexical.WRITER_HEAP, 1)
    writer.add_document(lexical._document(replace(DPR, title=huge_title,
                                                  abstract=huge_abstract)))
    writer.commit()
    writer.wait_merging_threads()
    [hit] = ix.search("zebrafish")
    assert hit.paper_id == DPR.id
    assert "<b>" not in hit.snippet_html  # beyond the highlighted prefix
    assert hit.snippet_html.startswith("needle filler words")
    assert len(hit.snippet_html) <= lexical.SNIPPET_CHARS + 10
    assert len(hit.title_html) <= lexical.SHOWN_TITLE_CHARS * 2
    [hit] = ix.search("needle")
    assert hit.snippet_html.startswith("<b>needle</b> filler")
    assert hit.title_html.startswith("<b>needle</b> <b>needle</b>")
    assert len(hit.title_html) <= lexical.SHOWN_TITLE_CHARS * 10  # markup around each word
    assert hit.title_html.endswith("…")


def test_stop_words_rank_only_a_query_of_nothing_else(index: LexicalIndex) -> None:
    # "with" is in SPLADE, DEEP, CONVNETS and EFFICIENT; "images" only in CONVNETS' title:
    # the stop word neither finds the others nor moves the one that holds both words
    assert ids(index, "with images") == [CONVNETS.id]
    assert idset(index, "with") == {SPLADE.id, DEEP.id, CONVNETS.id, EFFICIENT.id}
    # a phrase keeps its stop words
    assert ids(index, '"learning with convolutional"') == [CONVNETS.id]


def test_free_words_rank_the_same_as_one_flat_union(index: LexicalIndex,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """FLAT_WORDS runs a query of free words as one union of term queries (tantivy can then
    skip papers by block-max WAND): the same papers with the same scores as the nested form."""
    queries = ["dense retrieval", "learning representations with convolutional networks",
               "Yann LeCun", "retreival", "attention transformer passage", "of deep"]
    got = {}
    for flat in (False, True):
        monkeypatch.setattr(lexical, "FLAT_WORDS", flat)
        got[flat] = [[(h.paper_id, round(h.score, 4)) for h in index.search(q, limit=10)]
                     for q in queries]
    assert got[True] == got[False]
    assert all(got[True])
