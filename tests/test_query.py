"""The search-box language: parse_query, literal_query, SearchOptions and merge_options."""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from datetime import date

import pytest

from paperwire.errors import SearchError
from paperwire.search.query import (
    ParsedQuery,
    SearchOptions,
    literal_query,
    merge_options,
    parse_date_bound,
    parse_query,
)

# ---- words and phrases ------------------------------------------------------------------


def test_free_words_keep_their_order_and_spelling() -> None:
    q = parse_query("  Sparse   retrieval\tmodels\n")
    assert q.terms == ("Sparse", "retrieval", "models")
    assert q.phrases == () and q.after is None and q.before is None
    assert q.free_text() == "Sparse retrieval models"
    assert q.has_text and not q.is_empty and not q.has_constraints()


def test_quoted_phrases() -> None:
    q = parse_query('"dense passage retrieval" for "open   domain" QA')
    assert q.phrases == ("dense passage retrieval", "open domain")  # inner spaces collapsed
    assert q.terms == ("for", "QA")
    # free_text keeps the typed order, without quotes: the semantic side gets plain text
    assert q.free_text() == "dense passage retrieval for open domain QA"
    assert q.has_constraints()


def test_typographic_quotes_delimit_phrases() -> None:
    q = parse_query("“flow matching” models „neural ODE”")
    assert q.phrases == ("flow matching", "neural ODE")
    assert q.terms == ("models",)


def test_quote_inside_a_word_starts_a_phrase() -> None:
    q = parse_query('foo"bar baz" qux')
    assert q.terms == ("foo", "qux")
    assert q.phrases == ("bar baz",)


def test_unbalanced_quote_is_closed_at_the_end() -> None:
    assert parse_query('"sparse retrieval').phrases == ("sparse retrieval",)
    q = parse_query('bert "masked language')
    assert q.terms == ("bert",) and q.phrases == ("masked language",)
    assert parse_query('author:"Yann LeCun').authors == ("Yann LeCun",)
    assert parse_query('-"image segmentation').excluded_phrases == ("image segmentation",)


def test_empty_and_punctuation_only_input() -> None:
    for text in ("", "   ", "-", " - - ", '""', '" "', "&", "...", "-- ---", '-""', "—"):
        q = parse_query(text)
        assert q.is_empty, text
        assert q.free_text() == ""
        assert q == ParsedQuery()


def test_hyphenated_words_stay_words() -> None:
    q = parse_query("state-of-the-art self-supervised GPT-4 COVID-19")
    assert q.terms == ("state-of-the-art", "self-supervised", "GPT-4", "COVID-19")
    assert q.excluded_terms == ()


def test_repeats_are_dropped_case_insensitively() -> None:
    q = parse_query('BERT bert Bert "A B" "a  b" cat:cs.CL cat:CS.cl author:X author:x')
    assert q.terms == ("BERT",)
    assert q.phrases == ("A B",)
    assert q.categories == ("cs.CL",)
    assert q.authors == ("X",)


# ---- exclusions ---------------------------------------------------------------------------


def test_exclusions() -> None:
    q = parse_query('transformers -vision -"image classification" -BERT-base')
    assert q.terms == ("transformers",)
    assert q.excluded_terms == ("vision", "BERT-base")
    assert q.excluded_phrases == ("image classification",)
    assert q.free_text() == "transformers"  # exclusions are not text to embed
    assert q.has_constraints()


def test_lone_dash_and_dash_in_the_middle() -> None:
    q = parse_query("pre - training x-y -")
    assert q.terms == ("pre", "training", "x-y")
    assert q.excluded_terms == ()


def test_only_exclusions_is_not_empty() -> None:
    q = parse_query("-survey")
    assert not q.is_empty and not q.has_text
    assert q.excluded_terms == ("survey",)


def test_negated_filter_is_an_error() -> None:
    with pytest.raises(SearchError, match=r"^-cat:cs\.CV: filters cannot be negated"):
        parse_query("transformers -cat:cs.CV")
    with pytest.raises(SearchError, match='-author:"Yann LeCun"'):
        parse_query('-author:"Yann LeCun"')
    with pytest.raises(SearchError):
        parse_query("-year:2024")


# ---- filters ------------------------------------------------------------------------------


def test_author_filters() -> None:
    q = parse_query('author:"Geoffrey Hinton" author:lecun au:Bengio')
    assert q.authors == ("Geoffrey Hinton", "lecun", "Bengio")
    assert q.terms == () and q.phrases == ()
    assert not q.has_text and q.has_constraints() and not q.is_empty
    assert q.free_text() == ""


def test_category_filters() -> None:
    q = parse_query("cat:cs.CL category:stat.ML CAT:hep-th cat:cs.IR,cs.LG")
    assert q.categories == ("cs.CL", "stat.ML", "hep-th", "cs.IR", "cs.LG")
    assert parse_query("cat:cs.CL,").categories == ("cs.CL",)
    assert parse_query("cat:-").categories == ()  # nothing to filter on


def test_title_filters() -> None:
    q = parse_query('title:diffusion ti:"flow matching" Title:State-of-the-art')
    assert q.title_terms == ("diffusion", "State-of-the-art")
    assert q.title_phrases == ("flow matching",)
    assert q.terms == ()


def test_keys_are_case_insensitive() -> None:
    q = parse_query("AUTHOR:hinton Cat:cs.LG TITLE:capsules After:2017 BEFORE:2018 Year:2017")
    assert q.authors == ("hinton",)
    assert q.categories == ("cs.LG",)
    assert q.title_terms == ("capsules",)
    assert (q.after, q.before) == (date(2017, 1, 1), date(2017, 12, 31))


def test_unknown_keys_stay_free_text() -> None:
    q = parse_query("BERT: C++: foo:bar http://arxiv.org/abs/1 note:")
    assert q.terms == ("BERT:", "C++:", "foo:bar", "http://arxiv.org/abs/1", "note:")
    assert q.authors == () and q.categories == ()


def test_known_key_without_value_is_a_word() -> None:
    q = parse_query("Title: Attention is all you need")
    assert q.terms == ("Title:", "Attention", "is", "all", "you", "need")
    assert q.title_terms == ()
    assert parse_query('author:""').is_empty  # an empty quoted value filters on nothing


def test_filters_combine_with_text_in_any_order() -> None:
    a = parse_query('cat:cs.CL "in-context learning" after:2025-01 -survey author:brown llm')
    b = parse_query('llm author:brown -survey after:2025-01 "in-context learning" cat:cs.CL')
    assert a.categories == b.categories == ("cs.CL",)
    assert a.authors == b.authors == ("brown",)
    assert a.excluded_terms == b.excluded_terms == ("survey",)
    assert a.phrases == b.phrases == ("in-context learning",)
    assert a.terms == b.terms == ("llm",)
    assert a.after == b.after == date(2025, 1, 1)
    assert a == b  # the typed order only matters for free_text()
    assert a.free_text() == "in-context learning llm"
    assert b.free_text() == "llm in-context learning"


# ---- dates --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "after", "before"),
    [
        ("after:2025-01-01", date(2025, 1, 1), None),
        ("after:2025", date(2025, 1, 1), None),
        ("after:2025-03", date(2025, 3, 1), None),
        ("after:2024-02-29", date(2024, 2, 29), None),
        ("before:2025-06-30", None, date(2025, 6, 30)),
        ("before:2025", None, date(2025, 12, 31)),
        ("before:2025-02", None, date(2025, 2, 28)),
        ("before:2024-02", None, date(2024, 2, 29)),  # leap year
        ("before:2025-12", None, date(2025, 12, 31)),
        ("year:2025", date(2025, 1, 1), date(2025, 12, 31)),
        ("after:2025-02 before:2025-02", date(2025, 2, 1), date(2025, 2, 28)),
        ("after:2025-05-05 before:2025-05-05", date(2025, 5, 5), date(2025, 5, 5)),
        ('after:"2025-03"', date(2025, 3, 1), None),
        # repeated bounds narrow: the latest after, the earliest before
        ("after:2024 after:2025-03 after:2025", date(2025, 3, 1), None),
        ("before:2025 before:2024-06 before:2025-01", None, date(2024, 6, 30)),
        ("year:2025 after:2025-04 before:2025-09", date(2025, 4, 1), date(2025, 9, 30)),
        ("year:2025 after:2020", date(2025, 1, 1), date(2025, 12, 31)),
    ],
)
def test_date_filters(text: str, after: date | None, before: date | None) -> None:
    q = parse_query(f"retrieval {text}")
    assert (q.after, q.before) == (after, before)
    assert q.terms == ("retrieval",)
    assert q.has_constraints()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("after:2025-13-01",
         "after:2025-13-01 is not a date (use YYYY, YYYY-MM or YYYY-MM-DD)"),
        ("before:2025-02-30",
         "before:2025-02-30 is not a date (use YYYY, YYYY-MM or YYYY-MM-DD)"),
        ("after:2025-13", "after:2025-13 is not a date (use YYYY, YYYY-MM or YYYY-MM-DD)"),
        ("After:2025-00", "after:2025-00 is not a date (use YYYY, YYYY-MM or YYYY-MM-DD)"),
        ("after:25", "after:25 is not a date (use YYYY, YYYY-MM or YYYY-MM-DD)"),
        ("after:0000", "after:0000 is not a date (use YYYY, YYYY-MM or YYYY-MM-DD)"),
        ("before:2025-1-5", "before:2025-1-5 is not a date (use YYYY, YYYY-MM or YYYY-MM-DD)"),
        ("after:yesterday",
         "after:yesterday is not a date (use YYYY, YYYY-MM or YYYY-MM-DD)"),
        ("before:2025-06-30T12:00",
         "before:2025-06-30T12:00 is not a date (use YYYY, YYYY-MM or YYYY-MM-DD)"),
        ('after:""', "after: needs a date (use YYYY, YYYY-MM or YYYY-MM-DD)"),
        ("year:25", "year:25 is not a year (use YYYY)"),
        ("year:2025-03", "year:2025-03 is not a year (use YYYY)"),
        ("year:0000", "year:0000 is not a year (use YYYY)"),
    ],
)
def test_bad_dates(text: str, message: str) -> None:
    with pytest.raises(SearchError) as err:
        parse_query(f"transformers {text}")
    assert str(err.value) == message
    assert "\n" not in str(err.value)


def test_after_later_than_before_is_an_error() -> None:
    with pytest.raises(SearchError) as err:
        parse_query("after:2025-07-01 before:2025-06-30")
    assert str(err.value) == (
        "after:2025-07-01 is later than before:2025-06-30, so no paper can match"
    )
    with pytest.raises(SearchError, match="later than"):
        parse_query("year:2024 year:2025")
    with pytest.raises(SearchError, match="later than"):
        ParsedQuery(after=date(2025, 1, 2), before=date(2025, 1, 1))


def test_date_key_followed_by_space_is_a_word() -> None:
    q = parse_query("papers after: 2025")
    assert q.terms == ("papers", "after:", "2025") and q.after is None


def test_parse_date_bound() -> None:
    assert parse_date_bound("2025", "after") == date(2025, 1, 1)
    assert parse_date_bound("2025", "before") == date(2025, 12, 31)
    assert parse_date_bound(" 2025-02 ", "before") == date(2025, 2, 28)
    assert parse_date_bound("2025-02-03", "after") == date(2025, 2, 3)
    with pytest.raises(SearchError, match=r"^before:2025/01 is not a date"):
        parse_date_bound("2025/01", "before")


# ---- the dataclass --------------------------------------------------------------------------


def test_parsed_query_is_frozen_and_hashable() -> None:
    q = parse_query("a cat:cs.CL")
    with pytest.raises(FrozenInstanceError):
        q.terms = ("b",)  # type: ignore[misc]
    assert hash(q) == hash(parse_query("a  cat:cs.CL"))


def test_free_text_of_a_hand_built_query() -> None:
    assert ParsedQuery(terms=("a", "b"), phrases=("c d",)).free_text() == "a b c d"
    assert ParsedQuery(title_terms=("x",)).free_text() == ""
    assert not ParsedQuery(title_terms=("x",)).is_empty
    assert ParsedQuery(after=date(2025, 1, 1)).has_constraints()


def test_literal_query_has_no_syntax() -> None:
    q = literal_query('What "is" -this cat:cs.CL after:2025-13 - ?')
    assert q.terms == ('What', '"is"', "-this", "cat:cs.CL", "after:2025-13")
    assert q.categories == () and q.after is None and q.excluded_terms == ()
    assert not q.has_constraints()
    assert literal_query("  ").is_empty


# ---- options ------------------------------------------------------------------------------


def test_search_options_defaults_and_validation() -> None:
    o = SearchOptions()
    assert (o.sort, o.limit, o.offset, o.categories, o.authors) == ("relevance", 20, 0, (), ())
    assert SearchOptions(categories=["cs.CL"]).categories == ("cs.CL",)  # type: ignore[arg-type]
    assert SearchOptions(authors="Hinton").authors == ("Hinton",)  # type: ignore[arg-type]
    for sort in ("relevance", "date", "trending"):
        assert SearchOptions(sort=sort).sort == sort
    with pytest.raises(SearchError, match="sort must be one of relevance, date, trending"):
        SearchOptions(sort="newest")  # type: ignore[arg-type]
    with pytest.raises(SearchError, match="limit"):
        SearchOptions(limit=0)
    with pytest.raises(SearchError, match="limit"):
        SearchOptions(limit=1001)
    with pytest.raises(SearchError, match="offset"):
        SearchOptions(offset=-1)
    with pytest.raises(SearchError, match="later than"):
        SearchOptions(after=date(2025, 2, 1), before=date(2025, 1, 1))


def test_merge_options() -> None:
    q = parse_query("retrieval cat:cs.IR author:lin after:2024 before:2025-06")
    merged = merge_options(q, SearchOptions(
        categories=("cs.CL", "CS.IR", " "), authors=("Jimmy  Lin", ""),
        after=date(2024, 3, 1), before=date(2025, 12, 31),
    ))
    assert merged.categories == ("cs.IR", "cs.CL")  # union, no repeats
    assert merged.authors == ("lin", "Jimmy Lin")
    assert merged.after == date(2024, 3, 1)  # the later of the two
    assert merged.before == date(2025, 6, 30)  # the earlier of the two
    assert merged.terms == ("retrieval",) and merged.free_text() == "retrieval"
    # options alone on an empty query make it a filter-only query
    only = merge_options(parse_query(""), SearchOptions(categories=("cs.CL",)))
    assert not only.is_empty and not only.has_text
    assert merge_options(q, SearchOptions()) == q
    with pytest.raises(SearchError, match="later than"):
        merge_options(parse_query("before:2024"), SearchOptions(after=date(2025, 1, 1)))
