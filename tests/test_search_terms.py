"""Query terms from the corpus: stop words never highlighted, authors highlighted, acronyms
and their expansions mined from the papers, typo tolerance for words no paper contains.
Every test that takes ``store`` runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from paperwire.app import Paperwire
from paperwire.cli import main
from paperwire.config import Settings
from paperwire.models import Paper
from paperwire.search import lexical
from paperwire.search.lexical import LexicalIndex
from paperwire.search.query import parse_query
from paperwire.search.terms import (
    Lexicon,
    author_marks,
    edit_distance,
    feedback_terms,
    find_acronyms,
    paper_pairs,
)
from paperwire.store import Store
from paperwire.web.app import create_app


def paper(pid: str, title: str, abstract: str, authors: tuple[str, ...] = ("A. Writer",),
          ) -> Paper:
    return Paper(id=pid, title=title, abstract=abstract, authors=authors,
                 categories=("cs.CL",), primary_category="cs.CL", published=date(2025, 5, 1))


SCALING = paper("2505.00001", "Scaling laws revisited",
                "Large language models (LLMs) are trained on ever more tokens.")
REASONING = paper("2505.00002", "Evaluating reasoning in mathematics",
                  "We evaluate large language models (LLMs) on proofs.")
AGENT = paper("2505.00003", "LLM agents for tool use", "An LLM agent calls tools.")
CODE = paper("2505.00004", "Pretraining on code",
             "We pretrain a large language model on source code with curriculum.")
VISION = paper("2505.00005", "Vision transformers for images",
               "Transformers see images as patches.", ("Ashish Vaswani", "Noam Shazeer"))
TEXT = paper("2505.00006", "Transformer models for text classification",
             "A transformer with attention over words.", ("Jakob Uszkoreit",))
CORPUS = [SCALING, REASONING, AGENT, CODE, VISION, TEXT]
ANALYZE = lexical.ANALYZERS[lexical.TEXT_ANALYZER].analyze
NAMES = lexical.ANALYZERS[lexical.NAME_ANALYZER].analyze


@pytest.fixture
def index(store: Store, tmp_path: Path) -> LexicalIndex:
    store.write_batch(CORPUS)
    ix = LexicalIndex(tmp_path / "lexical")
    assert ix.sync(store) == len(CORPUS)
    return ix


def ids(index: LexicalIndex, query: str) -> list[str]:
    return [h.paper_id for h in index.search(query)]


# ---- pure parts ---------------------------------------------------------------------------


def test_acronyms_are_found_with_their_long_forms() -> None:
    text = ("We study large language models (LLMs) and Retrieval-Augmented Generation (RAG). "
            "Vision Transformers (ViTs) too; see the results (Figure 2) and (CNN) here.")
    assert find_acronyms(text) == [
        ("LLM", "large language models"),
        ("RAG", "Retrieval-Augmented Generation"),
        ("ViT", "Vision Transformers"),
    ]
    # normalised as the index analyses words
    assert paper_pairs(text, ANALYZE)[:2] == [("llm", "larg languag model"),
                                               ("rag", "retriev augment generat")]
    assert find_acronyms("reinforcement learning from human feedback (RLHF) is") == [
        ("RLHF", "reinforcement learning from human feedback")]


def test_lexicon_lookups_need_support_and_are_dictionaries() -> None:
    pairs = {"p1": [["llm", "larg languag model"]], "p2": [["llm", "larg languag model"]],
             "p3": [["llm", "law lie magic"]], "p4": [["rag", "retriev augment generat"]]}
    lex = Lexicon.build(pairs, {})
    assert lex.expansion("llm") == "larg languag model"
    assert lex.expansion("rag") is None  # one paper only: not enough support
    assert lex.acronyms_in(["new", "larg", "languag", "model"]) == [(1, 4, "llm")]
    assert lex.acronyms_in(["larg", "model"]) == []


def test_corrections_by_edit_distance_then_frequency() -> None:
    assert edit_distance("tranformer", "transformer", 2) == 1
    assert edit_distance("tarnsformer", "transformer", 2) == 1  # a swap is one edit
    assert edit_distance("abcdef", "uvwxyz", 2) == 3
    lex = Lexicon.build({}, {"transformer": 40, "transformed": 9, "retrieval": 30,
                             "rare": 1, "graph": 12, "grape": 3})
    assert lex.correct("tranformer") == "transformer"
    assert lex.correct("retreival") == "retrieval"
    assert lex.correct("grapx") == "graph"  # one edit from both: the more frequent
    assert lex.correct("rari") is None  # "rare" is in one paper only
    assert lex.correct("zzzzzz") is None
    assert lex.correct("gph") is None  # too short to guess


def test_expansions_once_and_never_what_the_query_holds() -> None:
    two = [["tcr", "t cell receptor"], ["who", "world health organ"],
           ["age", "advanc glycat end product"], ["llm", "larg languag model"]]
    lex = Lexicon.build({"p1": two, "p2": two}, {})
    builder = lexical._QueryBuilder(lexical._schema(), lex)

    def more(q: str) -> list[str]:
        return builder.expansions(parse_query(q))

    # both forms typed: only the other number is new, once (was tcrs x3, the long form x2)
    assert more("transfer of the T cell receptor (TCR) signal") == ["tcrs"]
    assert more("The World Health Organization's data") == []  # "who" is a stop word
    # a word the stemmer folds onto an acronym is the word; case marks an acronym
    assert more("Aging increases frailty") == []
    assert more("aged mice") == []
    assert more("Age of onset") == []
    assert more("AGEs in diabetes") == ["ages", "advanc glycat end product"]
    assert more("age in diabetes") == ["ages", "advanc glycat end product"]  # no capitals
    assert more("LLM agents") == ["llms", "larg languag model"]
    assert more("llm agents") == ["llms", "larg languag model"]


def test_feedback_terms_weigh_papers_by_score_and_words_by_share() -> None:
    docs = [(3.0, ["sparse", "retriev", "splade", "splade", "the", "42"]),
            (1.0, ["sparse", "dens", "retriev", "index"])]
    more = feedback_terms(docs, {"retriev"}, 3)
    # splade: 3/4 x 2/6 = 0.25; sparse: 3/4 x 1/6 + 1/4 x 1/4 = 0.1875; dens: 1/16
    assert [t for t, _ in more] == ["splade", "sparse", "dens"]
    assert more[0][1] == 1.0 and more[1][1] == pytest.approx(0.75)
    assert feedback_terms([(0.0, ["a"])], set(), 3) == []


def test_author_marks_for_words_and_author_filters() -> None:
    authors = ["Yann LeCun", "Yoshua Bengio", "Geoffrey Hinton", "Stéphane Clinchant"]
    assert author_marks(authors, ["lecun"], [], NAMES) == (0,)
    assert author_marks(authors, [], ["Geoffrey Hinton"], NAMES) == (2,)
    assert author_marks(authors, [], ["hinton geoffrey"], NAMES) == ()  # words in order
    assert author_marks(authors, ["stephane", "and"], [], NAMES) == (3,)  # accents fold
    assert author_marks(["Anne Of Green"], ["of"], [], NAMES) == ()  # a stop word
    # only the words that count alone as names (the search's), and names typed whole
    assert author_marks(["Ann Large", "Sina Ahmadi"], ["large", "model"], [], NAMES,
                        alone=set()) == ()
    assert author_marks(["Ann Large", "Sina Ahmadi"], ["ann", "large"], [], NAMES,
                        alone=set()) == (0,)
    assert author_marks(["Ann Large", "Sina Ahmadi"], ["ahmadi", "large"], [], NAMES,
                        alone={"ahmadi"}) == (1,)


# ---- in the index ------------------------------------------------------------------------


def test_acronym_and_expansion_find_the_same_papers(index: LexicalIndex) -> None:
    llm = {SCALING.id, REASONING.id, AGENT.id, CODE.id}
    # CODE only says "large language model", AGENT only "LLM": both found either way, and
    # the long form's words one by one too, whichever form is typed (TEXT has "models")
    for q in ("LLM", "LLMs", "large language model", "large language models"):
        assert set(ids(index, q)) == llm | {TEXT.id}, q
        assert ids(index, q)[-1] == TEXT.id, q
    # the long form is marked where it stands for the acronym typed
    code = next(h for h in index.search("LLM") if h.paper_id == CODE.id)
    assert "a <b>large</b> <b>language</b> <b>model</b> on" in code.snippet_html


TOPICS = ("law", "maths", "code", "chemistry", "medicine", "music", "games", "poetry",
          "finance", "biology", "robots", "maps")


def test_an_acronym_and_its_long_form_share_their_top_ten(store: Store,
                                                          tmp_path: Path) -> None:
    """Issue 14: "LLM" and "large language model" shared 0 of their top 10 on the arXiv
    papers; papers saying either form are about the same thing, so both queries should
    find largely the same ones."""
    defining = [paper(f"2506.0000{i}", f"Probing {w}", f"We probe large language models "
                      f"(LLMs) on {w}.") for i, w in enumerate(("tables", "proofs"))]
    short = [paper(f"2506.001{i:02d}", f"An LLM for {w}", f"The LLM reads {w}.")
             for i, w in enumerate(TOPICS)]
    long = [paper(f"2506.002{i:02d}", f"A large language model for {w}",
                  f"The large language model reads {w}.") for i, w in enumerate(TOPICS)]
    other = [paper(f"2506.003{i:02d}", f"A language of {w}", f"A model of {w}.")
             for i, w in enumerate(TOPICS)]
    store.write_batch([*defining, *short, *long, *other])
    index = LexicalIndex(tmp_path / "lexical")
    index.sync(store)

    def top(q: str) -> set[str]:
        return {h.paper_id for h in index.search(q, limit=10)}

    papers = {p.id for p in (*defining, *short, *long)}
    for acronym, words in (("LLM", "large language model"), ("LLMs", "large language models"),
                           ("llm", "large language model")):
        assert top(acronym) <= papers and top(words) <= papers
        assert len(top(acronym) & top(words)) >= 8, (acronym, words)


def test_feedback_only_re_ranks_what_the_query_matches(index: LexicalIndex,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    plain = ids(index, "transformer images")
    monkeypatch.setattr(lexical, "PRF_WEIGHT", 0.5)
    assert set(ids(index, "transformer images")) == set(plain)
    assert index.search("transformer images", sort="date")  # by date: no feedback pass


def test_the_floor_holds_a_concept_as_the_search_reads_it(
        index: LexicalIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    # the expansions' weights off, the concepts on: "every word" still reads both forms
    monkeypatch.setattr(lexical, "LONG_FORM_WEIGHT", 0.0)
    monkeypatch.setattr(lexical, "ACRONYM_WEIGHT", 0.0)
    view = index.view()
    assert view is not None
    every = [p.id for p in CORPUS]
    for q in ("LLM", "large language model"):
        pq = parse_query(q)
        assert view.with_every_word(pq, pq.terms, every) >= {CODE.id, AGENT.id}, q


def test_no_expansion_when_the_weight_is_zero(index: LexicalIndex,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lexical, "MEET_WEIGHT", 0.0)  # the expansions instead of concepts
    monkeypatch.setattr(lexical, "LONG_FORM_WEIGHT", 0.0)
    assert set(ids(index, "LLM")) == {AGENT.id, SCALING.id, REASONING.id}  # "LLMs" still
    assert AGENT.id in ids(index, "large language model")
    monkeypatch.setattr(lexical, "ACRONYM_WEIGHT", 0.0)
    assert set(ids(index, "LLM")) == {AGENT.id}
    assert AGENT.id not in ids(index, "large language model")


def test_unknown_word_is_searched_as_the_closest_known_one(index: LexicalIndex) -> None:
    assert set(ids(index, "tranformer")) == {VISION.id, TEXT.id}
    view = index.view()
    assert view is not None
    assert view.spelling(parse_query("tranformer images")) == {"tranformer": "transformer"}
    # words the index knows, and author names, are left alone
    assert view.spelling(parse_query("transformer images")) == {}
    assert view.spelling(parse_query("shazeer")) == {}
    assert view.spelling(parse_query('"tranformer" title:tranformer')) == {}
    hit = index.search("tranformer images")[0]
    assert hit.paper_id == VISION.id
    assert hit.title_html == "Vision <b>transformers</b> for <b>images</b>"


def test_a_word_hardly_any_paper_has_is_corrected_too(
        index: LexicalIndex, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    typo = paper("2505.00010", "Sparse tranformer layers", "Attention, sparsely.")
    store.write_batch([typo])
    index.sync(store)
    view = index.view()
    assert view is not None
    # in 1 paper; "transformer" (its stem) in 2: not RARE_RATIO (100) times as many
    assert view.spelling(parse_query("tranformer")) == {}
    assert ids(index, "tranformer") == [typo.id]
    monkeypatch.setattr(lexical, "RARE_RATIO", 2)
    view = index.view()
    assert view is not None
    assert view.spelling(parse_query("tranformer")) == {"tranformer": "transformer"}
    # the rare word is still searched: its paper first, then the corrected word's
    assert ids(index, "tranformer")[0] == typo.id
    assert set(ids(index, "tranformer")) == {typo.id, VISION.id, TEXT.id}


def test_stop_words_are_not_highlighted(index: LexicalIndex) -> None:
    hit = next(h for h in index.search("transformer with attention") if h.paper_id == TEXT.id)
    assert hit.snippet_html == "A <b>transformer</b> with <b>attention</b> over words."
    assert hit.title_html == "<b>Transformer</b> models for text classification"


def test_acronyms_are_mined_incrementally(index: LexicalIndex, store: Store) -> None:
    reader = LexicalIndex(index.path)  # another process's view of the same index
    assert index.lexicon().expansion("rag") is None
    assert reader.lexicon().expansion("rag") is None
    store.write_batch([
        paper("2505.00007", "Grounded answers",
              "Retrieval-augmented generation (RAG) grounds answers."),
        paper("2505.00008", "Fresh facts", "We improve retrieval augmented generation (RAG)."),
        paper("2505.00009", "RAG for tables", "Tables as context."),
    ])
    assert index.sync(store) >= 3  # and the ones changed within the sync margin
    assert index.lexicon().expansion("rag") == "retriev augment generat"
    state = json.loads(index.terms_file.read_text())
    assert ["rag", "retriev augment generat", 2] in state["pairs"]
    assert set(ids(index, "retrieval augmented generation")) >= {"2505.00009"}
    # a reader elsewhere reads the new lexicon beside its requests, keeping the last meanwhile
    deadline = time.monotonic() + 10
    while reader.lexicon().expansion("rag") is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert reader.lexicon().expansion("rag") == "retriev augment generat"


def test_a_revised_paper_takes_its_old_acronyms_away(index: LexicalIndex, store: Store,
                                                     tmp_path: Path) -> None:
    defines = [paper(f"2505.0001{i}", f"Study {i}",
                     "Retrieval-augmented generation (RAG) grounds answers.") for i in range(3)]
    store.write_batch(defines)
    index.sync(store)
    assert ["rag", "retriev augment generat", 3] in json.loads(index.terms_file.read_text())[
        "pairs"]
    # two of them are revised: RAG now names another thing in one, nothing in the other
    time.sleep(0.01)
    store.write_batch([replace(p, version=2) for p in [
        paper("2505.00010", "Study 0", "A region adjacency graph (RAG) of the image."),
        paper("2505.00011", "Study 1", "No acronym defined here."),
    ]])
    index.sync(store)
    text = index.terms_file.read_text()
    pairs = json.loads(text)["pairs"]
    assert ["rag", "retriev augment generat", 1] in pairs
    assert ["rag", "region adjac graph", 1] in pairs
    assert "2505.0001" not in text  # counts only: nothing per paper, small at any size
    # the same counts as an index built afresh from the store
    fresh = LexicalIndex(tmp_path / "fresh")
    fresh.sync(store)
    assert json.loads(fresh.terms_file.read_text())["pairs"] == pairs


# ---- the web page and the API ------------------------------------------------------------


@pytest.fixture
def client(settings: Settings, store: Store) -> TestClient:
    store.write_batch(CORPUS)
    return TestClient(create_app(Paperwire(settings, store)))


def test_search_page_says_which_word_it_searched_for(client: TestClient) -> None:
    page = client.get("/search", params={"q": "tranformer images", "mode": "lexical"}).text
    assert "Showing results for “transformer images” (corrected from “tranformer images”)" in page
    assert "Vision <b>transformers</b> for <b>images</b>" in page
    plain = client.get("/search", params={"q": "transformer", "mode": "lexical"}).text
    assert "Showing results for" not in plain
    api = client.get("/api/search", params={"q": "tranformer", "mode": "lexical"}).json()
    assert api["spelling"] == {"tranformer": "transformer"}
    assert {r["id"] for r in api["results"]} == {VISION.id, TEXT.id}
    assert client.get("/api/search", params={"q": "transformer"}).json()["spelling"] == {}


def test_search_page_highlights_authors(client: TestClient) -> None:
    page = client.get("/search", params={"q": "author:shazeer", "mode": "lexical"}).text
    assert "Ashish Vaswani, <b>Noam Shazeer</b>" in page
    page = client.get("/search", params={"q": "uszkoreit attention", "mode": "lexical"}).text
    assert "<b>Jakob Uszkoreit</b>" in page


def test_cli_search_says_which_word_it_searched_for(
        cli_env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    store = Store.open(cli_env["PAPERWIRE_DATABASE_URL"])
    store.write_batch(CORPUS)
    store.close()
    with pytest.raises(SystemExit) as done:
        main(["search", "tranformer", "--mode", "lexical", "--json"])
    assert done.value.code == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["spelling"] == {"tranformer": "transformer"}
    assert {r["id"] for r in doc["results"]} == {VISION.id, TEXT.id}
    with pytest.raises(SystemExit):
        main(["search", "tranformer images", "--mode", "lexical"])
    out = capsys.readouterr().out
    assert "Showing results for “transformer images” (corrected from “tranformer images”)." in out
