"""A persistent BM25 index (tantivy) over title, abstract and authors, with category and
first-version-date filters, kept in step with the store incrementally: each sync re-indexes
only papers changed since the last one.

Queries are built from a :class:`~paperwire.search.query.ParsedQuery` with tantivy's query
objects, never by pasting user text into tantivy's query language; user words go through the
same analyzers as the indexed text (registered on the index under our own names, so the
query side and the index side cannot drift apart).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import shutil
import threading
import traceback
import zlib
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from time import monotonic

import tantivy
from tantivy import Filter, Occur, Query, TextAnalyzer, TextAnalyzerBuilder, Tokenizer

from paperwire import texts
from paperwire.errors import PaperwireError, SearchError
from paperwire.models import MAX_ABSTRACT_CHARS, MAX_TITLE_CHARS, Paper
from paperwire.search.query import ParsedQuery, parse_query
from paperwire.search.terms import (
    STOP_WORDS,
    Lexicon,
    author_marks,
    feedback_terms,
    paper_pairs,
    surface_words,
    written_as_name,
)
from paperwire.store import Store

log = logging.getLogger(__name__)
# 2: stored title/abstract for highlights, one author per value, categories, dates.
# 4: terms.json beside it (acronym pairs and the vocabulary for spelling correction).
SCHEMA_VERSION = 4
# Scoring fields: "text" is title and abstract as one field (so a word counts once, as in
# plain BM25), "title" adds a bonus for title matches (known-item searches), "authors" finds
# names. The weights were tuned on SciFact *train* and on title lookups; see BENCHMARKS.md.
FIELD_BOOSTS = {"text": 1.0, "title": 0.5, "authors": 1.0}
SHOWN_FIELDS = ("title", "abstract")  # where matches are highlighted
# Rows changed within this margin before the watermark are re-indexed again: re-adding is
# idempotent, and it covers writers whose transactions committed late with earlier clocks.
SYNC_MARGIN = timedelta(seconds=5)
WRITER_HEAP = 64_000_000
SNIPPET_CHARS = 240  # the abstract excerpt shown under a hit
# Highlighting reads at most this much of a text (above the stored abstract cap, so stored
# papers are highlighted whole; a longer text, stored before caps, costs no more than this).
HIGHLIGHT_CHARS = 4 * MAX_ABSTRACT_CHARS
SHOWN_TITLE_CHARS = MAX_TITLE_CHARS  # a longer title is shown cut, ending with an ellipsis
SNIPPET_LEAD = 60  # context kept before the first highlighted word
SORTS = ("relevance", "date")
REFRESH_SECONDS = 0.1  # how often a reader looks whether the writer committed
# Query terms the corpus adds (see paperwire.search.terms and BENCHMARKS.md, tuned on
# training queries only): an acronym typed adds its long form ("LLM" → "large language
# model") at LONG_FORM_WEIGHT; a long form typed adds its acronym, and an acronym typed its
# other number ("LLMs" ↔ "LLM"), at ACRONYM_WEIGHT (0 turns either off). A word the index
# has never seen is also searched as its closest vocabulary word ("tranformer").
LONG_FORM_WEIGHT = 0.1
ACRONYM_WEIGHT = 0.25
TYPO_CORRECTION = True
# A query with capitals reads as an acronym only a word written as one (a capital or digit
# after its first letter); every query reads a word the stemmer folds onto an acronym
# (``aging`` onto ``AGE``) as the word (see BENCHMARKS.md, "Query terms, issue 14").
ACRONYMS_AS_WRITTEN = True
# An acronym typed, or its long form typed, is searched as one concept, the same query
# whichever form was typed ("LLM" and "large language model" meet): the better of the two
# forms (the acronym scaled to count as much as its long form) at MEET_WEIGHT, MEET_TIE of
# the other, and the long form's words one by one at MEET_WORDS (0 turns a part off;
# MEET_WEIGHT 0: the expansions above instead). Chosen on training data: BENCHMARKS.md.
MEET_WEIGHT = 0.35
MEET_TIE = 0.0
MEET_WORDS = 0.25
MEET_TYPED = 0.0  # the form typed, on top (the two forms' queries then differ by it)
# Pseudo-relevance feedback (RM3-style, lexical only; PRF_WEIGHT 0 turns it off): the
# PRF_TERMS likeliest words of the first PRF_DOCS papers re-rank the matches.
PRF_DOCS, PRF_TERMS, PRF_WEIGHT = 5, 10, 0.0
# A free word counts in the authors field only where it names a person: words typed in a row
# that are words in a row of one author's name ("Ann Large"), or one word that more papers
# hold as an author's name than in their title and abstract ("Karpukhin", not "model" for
# "Charlotte Model"). A topic query is decided by title and abstract; an ``author:`` filter
# is unchanged. False: every free word in the authors field too (before issue 15).
NAME_WORDS = True
# A free word that is a stop word ("of", "a", "for") does not rank when the query has other
# words: it is in almost every paper (1M postings each at 1M papers, scored one by one) and
# moves BM25 by a hair. A query of nothing but stop words ranks by them. True: every word
# ranks (before issue 15's 3M papers).
STOP_WORDS_RANKED = False
# A query of nothing but free words (each one token) runs as one flat union of boosted term
# queries: tantivy ranks that by block-max WAND (nested groups it scores paper by paper).
# Same scores; at 3M papers the top 100 of a title query in 18.7 ms instead of 31.0 at p50
# (bench/scale_lexical.py, BENCHMARKS.md). False: always the nested form.
FLAT_WORDS = True
RARE_DF, RARE_RATIO = 2, 100  # "tranformer" is in 2 papers, "transformer" in 10,433
TERMS_SCHEMA = "2"  # terms.json; 2: pair counts instead of each paper's pairs
LEXICON_SCHEMA = "1"  # lexicon.json (the readers')

# Analyzers, by the name the schema uses. Text: split on non-alphanumerics, drop tokens over
# 40 bytes, lower-case, fold accents (naïve = naive), then English stemming for prose.
TEXT_ANALYZER = "pw_en"
NAME_ANALYZER = "pw_name"


def _analyzer(stem: bool) -> TextAnalyzer:
    b = (
        TextAnalyzerBuilder(Tokenizer.simple())
        .filter(Filter.remove_long(40))
        .filter(Filter.lowercase())
        .filter(Filter.ascii_fold())
    )
    if stem:
        b = b.filter(Filter.stemmer("english"))
    return b.build()


ANALYZERS: dict[str, TextAnalyzer] = {
    TEXT_ANALYZER: _analyzer(stem=True),
    NAME_ANALYZER: _analyzer(stem=False),
}
FIELD_ANALYZER = {
    "title": TEXT_ANALYZER, "abstract": TEXT_ANALYZER, "text": TEXT_ANALYZER,
    "authors": NAME_ANALYZER,
}


def _schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    sb.add_text_field("id", stored=True, tokenizer_name="raw")
    sb.add_text_field("title", stored=True, tokenizer_name=TEXT_ANALYZER)
    sb.add_text_field("abstract", stored=True, tokenizer_name=TEXT_ANALYZER)
    sb.add_text_field("text", stored=False, tokenizer_name=TEXT_ANALYZER)
    # one value per author: tantivy leaves a position gap between values, so the phrase
    # "lecun geoffrey" does not match "Yann LeCun", "Geoffrey Hinton"
    sb.add_text_field("authors", tokenizer_name=NAME_ANALYZER)
    # lower-cased categories (primary and cross-lists) and their archives ("cs" for cs.CL)
    sb.add_text_field("categories", tokenizer_name="raw", index_option="basic")
    sb.add_date_field("published", indexed=True, fast=True)
    # newest first with a deterministic tie-break: days << 32 | arXiv sequence (or crc32(id))
    sb.add_integer_field("date_order", fast=True)
    return sb.build()


_ARXIV_NEW = re.compile(r"(\d{4})\.(\d{4,5})")
_EPOCH = date(1970, 1, 1)


def _utc(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _date_order(paper: Paper, published: date) -> int:
    m = _ARXIV_NEW.fullmatch(paper.id)
    tie = int(m[1]) * 100_000 + int(m[2]) if m else zlib.crc32(paper.id.encode())
    return ((published - _EPOCH).days << 32) + tie


def _category_terms(paper: Paper) -> list[str]:
    cats = dict.fromkeys(c.strip().lower() for c in (paper.primary_category, *paper.categories)
                         if c and c.strip())
    archives = dict.fromkeys(c.split(".", 1)[0] for c in cats if "." in c)
    return list(dict.fromkeys([*cats, *archives]))


def _document(paper: Paper) -> tantivy.Document:
    doc = tantivy.Document()
    doc.add_text("id", paper.id)
    doc.add_text("title", paper.title)
    doc.add_text("abstract", paper.abstract)
    doc.add_text("text", paper.title)
    doc.add_text("text", paper.abstract)
    for name in paper.authors:
        doc.add_text("authors", name)
    for cat in _category_terms(paper):
        doc.add_text("categories", cat)
    if paper.published is not None:
        doc.add_date("published", _utc(paper.published))
        doc.add_integer("date_order", _date_order(paper, paper.published))
    return doc


@dataclass(frozen=True)
class LexicalHit:
    """``score`` is BM25 when ranked by relevance, 0.0 when ordered by date.
    ``title_html``/``snippet_html`` are escaped HTML with ``<b>`` around matched words."""

    paper_id: str
    score: float
    title_html: str = ""
    snippet_html: str = ""
    # where the document is in the view that found it (for highlights marked afterwards)
    address: tantivy.DocAddress | None = dc_field(default=None, compare=False, repr=False)


class _QueryBuilder:
    """Tantivy queries for one ParsedQuery against the schema."""

    def __init__(self, schema: tantivy.Schema, lexicon: Lexicon | None = None,
                 corrections: dict[str, str] | None = None,
                 idf: Callable[[str], float] | None = None,
                 doc_freq: Callable[[str, str], int] | None = None) -> None:
        self.schema = schema
        self.lexicon = lexicon
        self.corrections = corrections or {}
        self.idf = idf  # a token's BM25 idf in "text" (None: no concepts, see concepts())
        self.doc_freq = doc_freq  # papers holding a token in a field (None: no counts)

    def names_someone(self, text: str) -> bool:
        """Whether a free word ``text`` is searched in the authors field (see NAME_WORDS):
        a word of several name tokens (``O'Brien``), or one token more papers hold as an
        author's name than in their title and abstract. Without counts, every word."""
        if not NAME_WORDS or self.doc_freq is None:
            return True
        tokens = ANALYZERS[NAME_ANALYZER].analyze(text)
        if len(tokens) != 1:
            return True
        as_name = self.doc_freq("authors", tokens[0])
        stems = ANALYZERS[TEXT_ANALYZER].analyze(text)
        return as_name > 0 and as_name >= max((self.doc_freq("text", t) for t in stems),
                                               default=0)

    def names(self, pq: ParsedQuery) -> list[tuple[frozenset[str], Query]]:
        """Free words typed in a row that are words in a row of one author's name: each
        pair of neighbouring tokens as a phrase in the authors field (a phrase never spans
        two authors), at the authors field's boost, with the words it holds (for the
        relevance floor: "Ann Large" holds "large" in her name). The query names that
        person."""
        if not NAME_WORDS or self.doc_freq is None or not FIELD_BOOSTS["authors"]:
            return []
        owner: list[str] = []
        tokens: list[str] = []
        for w in pq.terms:
            toks = ANALYZERS[NAME_ANALYZER].analyze(w)
            tokens.extend(toks)
            owner.extend([w] * len(toks))
        pairs: dict[tuple[str, str], set[str]] = {}
        as_name: dict[str, bool] = {}
        for j in range(len(tokens) - 1):
            pair = (tokens[j], tokens[j + 1])
            for t in pair:  # a phrase with a token no author has matches nothing: left out
                if t not in as_name:
                    as_name[t] = self.doc_freq("authors", t) > 0
            if as_name[pair[0]] and as_name[pair[1]]:
                pairs.setdefault(pair, set()).update(owner[j:j + 2])
        out: list[tuple[frozenset[str], Query]] = []
        boost = FIELD_BOOSTS["authors"]
        for pair, words in pairs.items():
            q = Query.phrase_query(self.schema, "authors", list(pair))
            out.append((frozenset(words), Query.boost_query(q, boost) if boost != 1 else q))
        return out

    def concepts(self, pq: ParsedQuery) -> tuple[list[tuple[str, str]], set[int]]:
        """The acronyms of ``pq`` whose two forms are searched as one concept: (acronym,
        its long form), both analysed, once each; and which free words (their positions in
        ``pq.terms``) they stand for. A word typed that is a known acronym (read as
        :meth:`acronym_forms` does), or words typed in a row that spell a known long form
        (every token of each word inside the run). Nothing when MEET_WEIGHT is 0."""
        lex = self.lexicon
        if lex is None or self.idf is None or MEET_WEIGHT <= 0 or not pq.terms:
            return [], set()
        analyze = ANALYZERS[TEXT_ANALYZER].analyze
        cased = _cased(pq)
        found: dict[str, str] = {}
        taken: set[int] = set()
        owner: list[int] = []
        tokens: list[str] = []
        for i, t in enumerate(pq.terms):
            toks = analyze(t)
            tokens.extend(toks)
            owner.extend([i] * len(toks))
            pair = self.acronym_of(t, cased)
            if pair is not None and pair[0] not in STOP_WORDS:
                found.setdefault(*pair)
                taken.add(i)
        for start, end, short in lex.acronyms_in(tokens):
            if short in STOP_WORDS:
                continue
            inside = {owner[j] for j in range(start, end)}
            whole = {i for i in inside if all(start <= j < end
                                              for j, o in enumerate(owner) if o == i)}
            if not whole:
                continue
            found.setdefault(short, lex.expansion(short) or " ".join(tokens[start:end]))
            taken |= whole
        return list(found.items()), taken

    def concept(self, short: str, long: str) -> Query:
        """One concept, whichever form was typed: the acronym (either number) or its long
        form (a phrase), each with the title's bonus, the better of the two counting (a
        paper with both gets MEET_TIE of the other too); the acronym is scaled to count
        as much as the long form (their idfs, as BM25 weighs a phrase by the sum of its
        words'), the whole at MEET_WEIGHT. MEET_WORDS adds the long form's words one by
        one (papers that say it otherwise)."""
        assert self.idf is not None
        idf = self.idf
        one = Query.boolean_query([(Occur.Should, self.expansion(t, 1.0))
                                   for t in (short, short + "s")])
        phrase = self.expansion(long, 1.0)
        words = long.split()
        scale = sum(idf(w) for w in words) / max(min(idf(short), idf(short + "s")), 1e-3)
        best = Query.disjunction_max_query([Query.boost_query(one, scale), phrase],
                                           tie_breaker=MEET_TIE)
        parts = [(Occur.Should, Query.boost_query(best, MEET_WEIGHT))]
        if MEET_WORDS > 0 and len(words) > 1:
            parts += [(Occur.Should, self.expansion(w, MEET_WORDS)) for w in words]
        return Query.boolean_query(parts)

    def expansions(self, pq: ParsedQuery) -> list[str]:
        """Texts (analysed) the corpus says mean the same as the free words: the long form
        of an acronym typed and its other number (``llm`` for ``LLMs`` and the reverse: the
        stemmer leaves them apart), the acronym of a long form typed (its words in a row).
        Each once, none the query already holds, no stop word (``WHO``: ``who``).
        Dictionary lookups only."""
        lex = self.lexicon
        if lex is None or not pq.terms:
            return []
        analyze = ANALYZERS[TEXT_ANALYZER].analyze
        cased = _cased(pq)
        out: list[str] = []
        tokens: list[str] = []
        for t in pq.terms:
            tokens.extend(analyze(t))
            out.extend(self.acronym_forms(t, cased))
        for _, _, short in lex.acronyms_in(tokens):
            out.extend((short, short + "s"))  # "llms" is not stemmed to "llm"
        held = f" {' '.join(tokens)} "
        return [t for t in dict.fromkeys(out)
                if self.expansion_weight(t) > 0 and t not in STOP_WORDS
                and f" {t} " not in held]

    def acronym_forms(self, term: str, cased: bool = False) -> tuple[str, ...]:
        """For a word typed that is a known acronym (``LLM``, ``LLMs``): its other number
        and its long form, analysed (``("llms", "larg languag model")``); else nothing
        (see :meth:`acronym_of`)."""
        pair = self.acronym_of(term, cased)
        if pair is None:
            return ()
        short, long = pair
        typed = ANALYZERS[TEXT_ANALYZER].analyze(term)[0]
        return (short + "s" if short == typed else short, long)

    def acronym_of(self, term: str, cased: bool = False) -> tuple[str, str] | None:
        """(acronym, long form), analysed, for a word typed that is a known acronym in
        either number (``LLMs`` → ``("llm", "larg languag model")``), else None.
        The word must spell the acronym itself, not a word the stemmer folds onto it
        (``aging`` is not ``AGE``), and in a query with capitals (``cased``) be written as
        a name (:func:`~paperwire.search.terms.written_as_name`): ``Aged`` or ``act`` in
        a claim are words, ``llm`` in a query typed in lower case is the acronym."""
        toks = ANALYZERS[TEXT_ANALYZER].analyze(term)
        if self.lexicon is None or len(toks) != 1 or toks[0] in STOP_WORDS:
            return None
        if ACRONYMS_AS_WRITTEN and cased and not written_as_name(term):
            return None
        short = toks[0]
        long = self.lexicon.expansion(short)
        if _plural_acronym(term, short) and (
                long is None or self.lexicon.expansion(short[:-1]) == long):
            short = short[:-1]  # the singular is the concept's name ("llms" → "llm")
            long = self.lexicon.expansion(short)
        if long is None:
            return None
        if ACRONYMS_AS_WRITTEN and ANALYZERS[NAME_ANALYZER].analyze(term)[0] not in (
                short, short + "s"):
            return None
        return short, long

    def every_word(self, pq: ParsedQuery, words: Sequence[str]) -> list[Query]:
        """One query per word of ``words`` (free words of ``pq``) that a paper must hold to
        hold them all, as the search reads the word: as typed, or as its spelling correction,
        or (a known acronym) as its other number or long form. Words typed in a row that
        spell a known long form (``large language model``) are held together by its acronym
        too. What the relevance floor's "every word" rule asks of a paper."""
        alternatives: dict[str, list[Query]] = {}
        names = self.names(pq)
        for w in words:
            typed = self.any_field(w)
            if typed is None:
                continue  # no token left (punctuation): nothing to hold
            texts = [self.corrections[w]] if w in self.corrections else []
            alts = [typed, *(q for q in (self.any_field(t) for t in texts) if q is not None)]
            alts += [self.analysed("text", t) for t in self.acronym_forms(w, _cased(pq))
                     if self.expansion_weight(t) > 0 or MEET_WEIGHT > 0]  # as searched
            alts += [q for held_by, q in names if w in held_by]  # a word of a name typed
            alternatives[w] = alts
        words = [w for w in words if w in alternatives]

        def held(word: str) -> Query:
            alts = alternatives[word]
            return alts[0] if len(alts) == 1 else Query.boolean_query(
                [(Occur.Should, q) for q in alts])

        # runs of the words typed that spell a long form: its acronym holds the run's words
        owner: list[int] = []  # each token's term
        tokens: list[str] = []
        for i, t in enumerate(pq.terms):
            toks = ANALYZERS[TEXT_ANALYZER].analyze(t)
            tokens.extend(toks)
            owner.extend([i] * len(toks))
        grouped: set[str] = set()
        out: list[Query] = []
        runs = (self.lexicon.acronyms_in(tokens)
                if self.lexicon is not None and (ACRONYM_WEIGHT > 0 or MEET_WEIGHT > 0)
                else [])
        for start, end, short in runs:
            run = {pq.terms[owner[j]] for j in range(start, end)}
            inside = [w for w in dict.fromkeys(words) if w in run and w not in grouped]
            if not inside:
                continue
            grouped.update(inside)
            whole = Query.boolean_query([(Occur.Must, held(w)) for w in inside])
            out.append(Query.boolean_query([
                (Occur.Should, whole),
                (Occur.Should, self.analysed("text", short)),
                (Occur.Should, self.analysed("text", short + "s")),
            ]))
        out += [held(w) for w in words if w not in grouped]
        return out

    @staticmethod
    def expansion_weight(text: str) -> float:
        """A long form (several tokens) or an acronym (one)."""
        return LONG_FORM_WEIGHT if " " in text else ACRONYM_WEIGHT

    def analysed(self, field: str, text: str) -> Query:
        """An already analysed text (tokens joined by spaces) in ``field``."""
        tokens: list[str | tuple[int, str]] = list(text.split())
        if len(tokens) == 1:
            return Query.term_query(self.schema, field, tokens[0])
        return Query.phrase_query(self.schema, field, tokens)

    def expansion(self, text: str, weight: float | None = None) -> Query:
        """An expansion (analysed) in title and abstract, at ``weight`` (by default its
        expansion weight), with the title's bonus as for the words typed."""
        q = self.analysed("text", text)
        if FIELD_BOOSTS["title"]:
            q = Query.boolean_query([
                (Occur.Should, q),
                (Occur.Should, Query.boost_query(self.analysed("title", text),
                                                 FIELD_BOOSTS["title"])),
            ])
        return Query.boost_query(q, self.expansion_weight(text) if weight is None else weight)

    def text(self, field: str, text: str) -> Query | None:
        """``text`` analysed like ``field``: a term, a phrase, or None when no token is left."""
        tokens = ANALYZERS[FIELD_ANALYZER[field]].analyze(text)
        if not tokens:
            return None
        if len(tokens) == 1:
            return Query.term_query(self.schema, field, tokens[0])
        return Query.phrase_query(self.schema, field, list(tokens))

    def flat_terms(self, text: str) -> list[Query] | None:
        """:meth:`any_field`'s clauses as boosted term queries, for a word of one token
        (None for a word of several: a phrase)."""
        out: list[Query] = []
        for field, boost in FIELD_BOOSTS.items():
            if field == "authors" and not self.names_someone(text):
                continue
            tokens = ANALYZERS[FIELD_ANALYZER[field]].analyze(text)
            if len(tokens) > 1:
                return None
            if tokens:
                q = Query.term_query(self.schema, field, tokens[0])
                out.append(Query.boost_query(q, boost) if boost != 1 else q)
        return out

    def any_field(self, text: str, names: bool = False) -> Query | None:
        """``text`` in title, abstract or authors, each field with its boost; in authors
        only where it names someone (:meth:`names_someone`) unless ``names``."""
        parts: list[tuple[Occur, Query]] = []
        for field, boost in FIELD_BOOSTS.items():
            if field == "authors" and not (names or self.names_someone(text)):
                continue
            q = self.text(field, text)
            if q is not None:
                parts.append((Occur.Should, Query.boost_query(q, boost) if boost != 1 else q))
        return Query.boolean_query(parts) if parts else None

    def shown(self, text: str) -> Query | None:
        """``text`` in the fields a hit shows (title, abstract): what highlighting marks."""
        parts = [(Occur.Should, q) for q in (self.text(f, text) for f in SHOWN_FIELDS) if q]
        return Query.boolean_query(parts) if parts else None

    def build(self, pq: ParsedQuery, words_too: bool = True) -> tuple[Query, Query | None]:
        """The query to run and the query whose words to highlight (None: nothing to).
        ``words_too=False``: only the hard constraints (all but the free words)."""
        must: list[Query] = []
        highlight: list[Query] = []
        terms = pq.terms if words_too else ()
        concepts, taken = self.concepts(pq) if words_too else ([], set())
        unranked = set() if STOP_WORDS_RANKED else {
            i for i, t in enumerate(terms) if _only_stop_words(t)}
        if len(unranked) == len(terms):
            unranked = set()  # nothing but stop words: they rank
        # a word that is one form of a concept is searched as the concept (both forms)
        words = [q if i not in taken else Query.boost_query(q, MEET_TYPED)
                 for i, q in enumerate(self.any_field(t) for t in terms)
                 if q is not None and (i not in taken or MEET_TYPED > 0) and i not in unranked]
        fixed = [self.corrections[t] for t in terms if t in self.corrections]
        words.extend(q for q in (self.any_field(t) for t in fixed) if q is not None)
        words.extend(self.concept(short, long) for short, long in concepts)
        named = self.names(pq) if words_too else []
        words.extend(q for _, q in named)
        more = self.expansions(pq) if words_too else []
        flat = self._flat(pq, terms, unranked, fixed) if (
            FLAT_WORDS and words_too and not concepts and not named and not more) else None
        if concepts:  # only what the concepts leave out (an acronym's other long forms)
            held = {x for short, long in concepts for x in (short, short + "s", long)}
            words.extend(self.expansion(t) for t in more if t not in held)
        else:
            words.extend(self.expansion(t) for t in more)
        # highlight what was searched for, stop words aside ("with" is in every abstract)
        marked = [t for t in (*terms, *fixed)
                  if any(w not in STOP_WORDS for w in ANALYZERS[NAME_ANALYZER].analyze(t))]
        highlight.extend(q for q in (self.shown(t) for t in marked) if q is not None)
        highlight.extend(self.analysed(f, t) for t in more for f in SHOWN_FIELDS)
        phrases: list[Query] = []
        for phrase in pq.phrases:
            q = self.any_field(phrase, names=True)
            phrases.append(q if q is not None else Query.empty_query())
            shown = self.shown(phrase)
            if shown is not None:
                highlight.append(shown)
        must.extend(phrases)
        for text in (*pq.title_terms, *pq.title_phrases):
            q = self.text("title", text)
            must.append(q if q is not None else Query.empty_query())
            if q is not None:
                highlight.append(q)
        for name in pq.authors:
            q = self.text("authors", name)
            must.append(q if q is not None else Query.empty_query())
        if pq.categories:
            cats = [
                (Occur.Should, Query.term_query(self.schema, "categories", c.strip().lower()))
                for c in pq.categories
            ]
            must.append(Query.const_score_query(Query.boolean_query(cats), 0.0))
        if pq.after is not None or pq.before is not None:
            dates = Query.range_query(
                self.schema, "published", tantivy.FieldType.Date,
                lower_bound=_utc(pq.after) if pq.after else None,
                upper_bound=_utc(pq.before) if pq.before else None,
            )
            must.append(Query.const_score_query(dates, 0.0))
        clauses: list[tuple[Occur, Query]] = [(Occur.Must, q) for q in must]
        if words:
            # words are alternatives (BM25 ranks papers with more of them higher); without
            # a phrase at least one must occur, with one they only add to the score
            group = Query.boolean_query([(Occur.Should, q) for q in words])
            clauses.append((Occur.Should if phrases else Occur.Must, group))
        elif terms and not phrases:
            clauses.append((Occur.Must, Query.empty_query()))  # only words never indexed
        if not clauses:
            clauses.append((Occur.Must, Query.all_query()))  # only exclusions
        for text in (*pq.excluded_terms, *pq.excluded_phrases):
            q = self.any_field(text, names=True)
            if q is not None:
                clauses.append((Occur.MustNot, q))
        hl = Query.boolean_query([(Occur.Should, q) for q in highlight]) if highlight else None
        if flat is not None and len(clauses) == 1:  # nothing but the words: the same scores
            return flat, hl
        return Query.boolean_query(clauses), hl

    def _flat(self, pq: ParsedQuery, terms: Sequence[str], unranked: set[int],
              fixed: Sequence[str]) -> Query | None:
        """The words' query as one flat union of term queries, when each word is one token
        and the query holds nothing else: the same BM25 scores as the nested form (a sum
        over the same terms), but tantivy can then rank it by block-max WAND, skipping the
        papers that cannot reach the top (FLAT_WORDS)."""
        if (pq.phrases or pq.title_terms or pq.title_phrases or pq.authors or pq.categories
                or pq.after is not None or pq.before is not None or pq.excluded_terms
                or pq.excluded_phrases):
            return None
        parts: list[Query] = []
        for text in [t for i, t in enumerate(terms) if i not in unranked] + list(fixed):
            got = self.flat_terms(text)
            if got is None:
                return None
            parts.extend(got)
        if not parts:
            return None
        return Query.boolean_query([(Occur.Should, q) for q in parts])


def _only_stop_words(text: str) -> bool:
    return all(w in STOP_WORDS for w in ANALYZERS[NAME_ANALYZER].analyze(text))


def marked_authors(query: str | ParsedQuery, authors: Sequence[str],
                   alone: Collection[str] | None = None) -> tuple[int, ...]:
    """Which of a hit's ``authors`` (positions) the query names, to show in bold: an
    ``author:`` filter, free words in a row that are in a row in the name, or a free word
    that is one of the name's words (not a stop word; of ``alone`` only, when given: the
    words the search reads as names, :meth:`LexicalView.name_words`)."""
    parsed = parse_query(query) if isinstance(query, str) else query
    return author_marks(authors, parsed.terms, parsed.authors,
                        ANALYZERS[NAME_ANALYZER].analyze, alone)


def _cased(pq: ParsedQuery) -> bool:
    """Whether any free word of ``pq`` has a capital: then case tells acronyms apart."""
    return any(c.isupper() for t in pq.terms for c in t)


def _plural_acronym(typed: str, token: str) -> bool:
    """``LLMs``, ``llms``, ``ViTs``: a plural the stemmer leaves alone (no vowel before the
    s, or two capitals), whose singular may be a known acronym."""
    if not token.endswith("s") or len(token) < 3:
        return False
    return (not any(c in "aeiouy" for c in token[:-1])
            or sum(c.isupper() for c in typed[:-1]) >= 2)


def _char_ranges(text: str, base: int, ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Byte ranges (relative to byte ``base``) in ``text`` as character ranges, in one pass
    over the text however many ranges there are."""
    raw = text.encode("utf-8")
    out = []
    byte_pos = char_pos = 0

    def chars_to(byte: int) -> int:
        nonlocal byte_pos, char_pos
        byte = min(max(byte, 0), len(raw))
        if byte >= byte_pos:
            char_pos += len(raw[byte_pos:byte].decode("utf-8", "ignore"))
        else:  # out of order: count from the start
            char_pos = len(raw[:byte].decode("utf-8", "ignore"))
        byte_pos = byte
        return char_pos

    for start, end in ranges:
        s = chars_to(base + start)
        e = chars_to(base + end)
        if e > s:
            out.append((s, e))
    return out


def _render(text: str, ranges: Sequence[tuple[int, int]], start: int, end: int) -> str:
    """``text[start:end]`` as safe HTML (math as MathML, TeX macros cleaned, see
    :mod:`paperwire.texts`), with ``<b>`` around the given character ranges; a match inside
    a formula bolds the whole formula."""
    shifted = [(s - start, e - start) for s, e in ranges if s < end and e > start]
    return str(texts.to_html(text[start:end], shifted))


class _Highlighter:
    """Escaped HTML for a hit's title and abstract excerpt, marking the query's words."""

    def __init__(self, searcher: tantivy.Searcher, query: Query | None,
                 schema: tantivy.Schema) -> None:
        self.generators: dict[str, tantivy.SnippetGenerator] = {}
        if query is not None:
            for field in ("title", "abstract"):
                gen = tantivy.SnippetGenerator.create(searcher, query, schema, field)
                gen.set_max_num_chars(HIGHLIGHT_CHARS)  # one fragment: all the text read
                self.generators[field] = gen

    def _ranges(self, field: str, text: str) -> list[tuple[int, int]]:
        """Where the query's words are in ``text`` (a bounded prefix of the stored text: the
        generator is given a document holding only that, never the whole stored value)."""
        gen = self.generators.get(field)
        if gen is None or not text:
            return []
        doc = tantivy.Document()
        doc.add_text(field, text)
        snippet = gen.snippet_from_doc(doc)
        base = snippet.fragment_range().start
        return _char_ranges(text, base, ((h.start, h.end) for h in snippet.highlighted()))

    def title(self, doc: tantivy.Document) -> str:
        text = doc.get_first("title") or ""
        if len(text) <= SHOWN_TITLE_CHARS:
            return _render(text, self._ranges("title", text), 0, len(text))
        end = SHOWN_TITLE_CHARS - 1  # cut at a space near the end, then an ellipsis
        space = text.rfind(" ", end - 80, end)
        _, cut = texts.widen(text, 0, space if space > 0 else end)
        shown = text[:cut]
        return _render(shown, self._ranges("title", shown), 0, len(shown)) + "…"

    def snippet(self, doc: tantivy.Document) -> str:
        text = (doc.get_first("abstract") or "")[:HIGHLIGHT_CHARS]
        ranges = self._ranges("abstract", text)
        start = 0
        if ranges and ranges[0][0] > SNIPPET_LEAD:
            start = ranges[0][0] - SNIPPET_LEAD
            space = text.find(" ", start, ranges[0][0])
            start = space + 1 if space >= 0 else start
        end = len(text)
        if end - start > SNIPPET_CHARS:
            end = start + SNIPPET_CHARS
            space = text.rfind(" ", start + SNIPPET_CHARS // 2, end)
            end = space if space >= 0 else end
        start, end = texts.widen(text, start, end)
        body = _render(text, ranges, start, end).strip()
        return ("… " if start > 0 else "") + body + (" …" if end < len(text) else "")


@dataclass
class _Terms:
    """What terms.json holds: how many papers define each acronym pair, and the words of
    titles and abstracts with their document frequency (of the word's stem, read from the
    index). A paper re-indexed takes its old text's pairs away first (read from the stored
    document), so nothing per paper is kept: the file stays small at millions of papers."""

    pairs: Counter[tuple[str, str]] = dc_field(default_factory=Counter)
    vocab: dict[str, int] = dc_field(default_factory=dict)
    seen: set[str] = dc_field(default_factory=set)  # words of the papers (re)indexed now

    @staticmethod
    def _pairs(title: str, abstract: str) -> list[tuple[str, str]]:
        return paper_pairs(f"{title}. {abstract}", ANALYZERS[TEXT_ANALYZER].analyze)

    def take(self, paper: Paper) -> None:
        self.pairs.update(self._pairs(paper.title, paper.abstract))
        analyze = ANALYZERS[NAME_ANALYZER].analyze
        self.seen |= surface_words(analyze(paper.title[:HIGHLIGHT_CHARS]))
        self.seen |= surface_words(analyze(paper.abstract[:HIGHLIGHT_CHARS]))

    def drop(self, title: str, abstract: str) -> None:
        """Take away the pairs of an indexed text (one about to be replaced or removed)."""
        for pair in self._pairs(title, abstract):
            left = self.pairs[pair] - 1
            if left > 0:
                self.pairs[pair] = left
            else:
                del self.pairs[pair]

    def count(self, searcher: tantivy.Searcher) -> None:
        """The document frequency of the words seen now, from the committed index."""
        stem = ANALYZERS[TEXT_ANALYZER].analyze
        by_stem: dict[str, int] = {}
        for word in self.seen:
            tokens = stem(word)
            if len(tokens) != 1:
                continue
            df = by_stem.get(tokens[0])
            if df is None:
                df = by_stem[tokens[0]] = int(searcher.doc_freq("text", tokens[0]))
            self.vocab[word] = df
        self.seen = set()

    def lexicon(self) -> Lexicon:
        return Lexicon.counted(self.pairs, self.vocab)

    def dump(self) -> dict[str, object]:
        return {"schema": TERMS_SCHEMA, "vocab": self.vocab,
                "pairs": [[short, long, n] for (short, long), n in sorted(self.pairs.items())]}


def _load_lexicon(path: Path) -> Lexicon:
    """The lexicon the writer derived from terms.json (an empty one when unreadable)."""
    try:
        data = json.loads(path.read_text())
        if data.get("schema") != LEXICON_SCHEMA:
            return Lexicon()
        return Lexicon.of(data["expansions"], data["long_forms"], data["words"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        log.warning("the search index's %s cannot be read (%s); searches go without "
                    "acronyms and spelling corrections until the index writer rewrites it",
                    path, _one_line(exc))
        return Lexicon()


def free_space(path: Path) -> str:
    """``"; 12.3 MiB free on its disk"`` for the file system of ``path`` (what a failed write
    most often lacks, whatever the library's error says), or "" when unknown."""
    try:
        st = os.statvfs(path)
    except OSError:
        return ""
    return f"; {st.f_bavail * st.f_frsize / 2**20:,.1f} MiB free on its disk"


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300] or type(exc).__name__


def _write_json(path: Path, data: dict[str, object]) -> None:
    """``data`` as ``path``, whole or not at all (a full disk leaves the old file)."""
    tmp = path.with_suffix(".tmp")
    try:
        tmp.write_text(json.dumps(data))
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _load_terms(path: Path) -> _Terms | None:
    """The writer's terms.json; None when missing, unreadable or of another layout (the
    index is then rebuilt, which makes it again)."""
    try:
        data = json.loads(path.read_text())
        if data.get("schema") != TERMS_SCHEMA:
            return None
        pairs = Counter({(str(short), str(long)): int(n) for short, long, n in data["pairs"]})
        return _Terms(pairs=pairs, vocab=dict(data["vocab"]))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


class LexicalIndex:
    """The index in ``path``; ``state.json`` beside it records the store it mirrors and the
    newest change it has seen, ``terms.json`` the corpus's acronyms and vocabulary."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.state_file = path / "state.json"
        self.terms_file = path / "terms.json"  # the writer's: each paper's pairs, all words
        self.lexicon_file = path / "lexicon.json"  # the readers': derived from it, small
        self._lexicon = Lexicon()
        self._terms_mark: tuple[int, int, int] | None = None
        self._loading = False
        self._index: tantivy.Index | None = None
        self._mark: tuple[int, int, int] | None = None  # meta.json as last loaded
        self._unreadable: tuple[int, int, int] | None = None  # meta.json last found damaged
        self._described = False  # the index read is one a state.json described
        self._checked = 0.0

    def _meta_mark(self, name: str = "meta.json") -> tuple[int, int, int] | None:
        try:
            st = (self.path / name).stat()
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def lexicon(self) -> Lexicon:
        """The acronyms and vocabulary the writer last published (re-read when changed)."""
        mark = self._meta_mark(self.lexicon_file.name)
        if mark == self._terms_mark or (mark is None and self._terms_mark is not None):
            return self._lexicon  # (gone: the writer is rebuilding, and writes it again)
        if self._terms_mark is None or mark is None:  # the first one: read it now
            self._terms_mark = mark
            self._lexicon = _load_lexicon(self.lexicon_file) if mark else Lexicon()
        elif not self._loading:  # a newer one: read beside requests, which keep the last
            self._loading = True
            threading.Thread(target=self._reload, args=(mark,), daemon=True,
                             name="paperwire-lexicon").start()
        return self._lexicon

    def _reload(self, mark: tuple[int, int, int]) -> None:
        try:
            self._lexicon = _load_lexicon(self.lexicon_file)
            self._terms_mark = mark
        finally:
            self._loading = False

    def _reader(self) -> tantivy.Index | None:
        """The index for reading: opened when a writer has made one, never created, rebuilt
        or written here (None until then, or while it has another layout)."""
        if self._index is not None:
            return self._index
        if self._meta_mark() is None:
            return None
        if self._state().get("schema") != str(SCHEMA_VERSION):
            return None  # another layout: the writer rebuilds it
        mark = self._meta_mark()
        try:
            index = tantivy.Index.open(str(self.path))
        except Exception as exc:  # damaged: served as no index until the writer rebuilds it
            if mark != self._unreadable:
                self._unreadable = mark
                log.warning("the search index in %s cannot be read (%s); searches find "
                            "nothing in it until the index writer rebuilds it from the store",
                            self.path, _one_line(exc))
            return None
        for name, analyzer in ANALYZERS.items():
            index.register_tokenizer(name, analyzer)
        self._mark = mark
        self._index = index
        self._described = True
        return index

    def refresh(self, every: float = REFRESH_SECONDS) -> bool:
        """Take in what the writer committed: when ``meta.json`` changed (a stat, at most once
        every ``every`` seconds), reload the searcher. Never writes. Returns whether it did."""
        now = monotonic()
        if self._index is not None and now - self._checked < every:
            return False
        self._checked = now
        mark = self._meta_mark()
        if self._index is None:
            return self._reader() is not None
        if mark == self._mark:
            return False
        if self._described and self._state().get("schema") != str(SCHEMA_VERSION):
            return False  # rebuilt from nothing: keep the last view until the writer is done
        try:
            self._index.reload()
        except Exception as exc:  # damaged since: keep the last view, tell once
            if mark != self._unreadable:
                self._unreadable = mark
                log.warning("the search index in %s cannot be reloaded (%s); searches use "
                            "the last readable state until the index writer rebuilds it",
                            self.path, _one_line(exc))
            return False
        self._mark = mark
        return True

    def generation(self) -> tuple[int, int, int] | None:
        """Which committed state the searches read (``meta.json`` as last taken in): a new
        value whenever a new state is. None without an index."""
        self.refresh()
        return self._mark if self._index is not None else None

    def _open(self) -> tantivy.Index:
        """The index for writing: created when missing; started afresh (for :meth:`sync` to
        rebuild from the store) when of another layout, damaged, or missing its files."""
        if self._index is None:
            self._index = self._create()
        return self._index

    def _create(self) -> tantivy.Index:
        """The folder's index opened for writing (see :meth:`_open`); this object's readers
        keep the one they have until the caller installs it."""
        self.path.mkdir(parents=True, exist_ok=True)
        if self._meta_mark() is None and self.state_file.exists():
            self._discard("its meta.json is missing")
        try:
            index = tantivy.Index(_schema(), path=str(self.path))
        except Exception as exc:
            if "schema does not match" in str(exc):
                log.info("search index in %s has an older layout; rebuilding it", self.path)
                self._discard(None)
            else:
                self._discard(_one_line(exc))
            try:
                index = tantivy.Index(_schema(), path=str(self.path))
            except Exception as again:
                raise SearchError(f"cannot create the search index in {self.path}: "
                                  f"{_one_line(again)}") from again
        for name, analyzer in ANALYZERS.items():
            index.register_tokenizer(name, analyzer)
        return index

    def _discard(self, damage: str | None) -> None:
        """Start the folder afresh (state.json first, so no reader opens what follows, nor
        follows it, before it is complete); ``damage`` says what was wrong, for the log."""
        if damage is not None:
            log.warning("the search index in %s is damaged (%s); rebuilding it from the store",
                        self.path, damage)
        self.state_file.unlink(missing_ok=True)
        shutil.rmtree(self.path, ignore_errors=True)
        self.path.mkdir(parents=True, exist_ok=True)

    def _state(self) -> dict[str, str]:
        try:
            data: dict[str, str] = json.loads(self.state_file.read_text())
            return data
        except (OSError, ValueError):
            return {}

    def sync(self, store: Store, check_removed: bool = False) -> int:
        """Bring the index up to date with ``store``. Returns how many papers were (re)indexed.
        When another process holds the writer lock, does nothing and returns 0.

        Papers deleted from the store are noticed by comparing counts (the index holding
        more papers than the store means a rebuild) after every sync that had changes to
        index, and on every call with ``check_removed`` (one COUNT query more)."""
        index = self._open()  # first: opening may discard an index of an older layout
        store_key = hashlib.sha256(store.engine.url.render_as_string().encode()).hexdigest()[:16]
        state = self._state()
        damage = self._index_damage(index, state)
        if damage is not None:  # readers keep their last view (no state.json) meanwhile
            self._discard(damage)
            index, state = self._create(), {}
        rebuild = (
            state.get("store") != store_key
            or state.get("schema") != str(SCHEMA_VERSION)
            or "watermark" not in state
        )
        if not rebuild and (damage := self._terms_damage(state)) is not None:
            log.warning("the search index's %s; rebuilding it from the store", damage)
            rebuild = True
        rebuild = rebuild or not (self.terms_file.exists() and self.lexicon_file.exists())
        kept = None if rebuild else _load_terms(self.terms_file)
        if not rebuild and kept is None:
            log.warning("the search index's terms.json cannot be read or is of an older layout;"
                        " rebuilding the index from the store")
            rebuild = True
        newest = store.max_changed_at()
        since: datetime | None = None
        if not rebuild:
            watermark = datetime.fromisoformat(state["watermark"])
            if newest is None or newest <= watermark:
                if not (check_removed and self._holds_removed(store)):
                    return 0
                rebuild = True
            else:
                # an index made on an empty store has the earliest watermark
                since = max(watermark, datetime.min + SYNC_MARGIN) - SYNC_MARGIN
        try:
            writer = index.writer(WRITER_HEAP, 1)
        except Exception as exc:  # tantivy raises ValueError on a busy lock
            log.info("search index busy, not syncing now: %s", exc)
            return 0
        terms = kept if kept is not None and not rebuild else _Terms()
        try:
            count = self._write(index, writer, store, None if rebuild else since, rebuild, terms)
            if not rebuild:
                index.reload()
                if self._holds_removed(store):
                    log.info("search index holds papers the store lost; rebuilding it")
                    terms = _Terms()
                    count = self._write(index, writer, store, None, True, terms)
            writer.wait_merging_threads()
        except BaseException as exc:
            err = self._abandon(writer, exc)
            del writer  # tantivy's lock is held until the writer is dropped
            if err is exc:
                raise
            raise err from exc
        try:
            index.reload()
            terms.count(index.searcher())
            _write_json(self.terms_file, terms.dump())
            lexicon = terms.lexicon()
            _write_json(self.lexicon_file, {"schema": LEXICON_SCHEMA, **lexicon.dump()})
            self._lexicon, self._terms_mark = lexicon, self._meta_mark(self.lexicon_file.name)
            self._write_state({
                "store": store_key,
                "schema": str(SCHEMA_VERSION),
                "watermark": (newest or datetime.min).isoformat(),
                "docs": str(int(index.searcher().num_docs)),
                "terms_bytes": str(self.terms_file.stat().st_size),
                "lexicon_bytes": str(self.lexicon_file.stat().st_size),
            })
        except (OSError, ValueError) as exc:
            raise self._unwritten(exc) from exc
        index.reload()
        self._index, self._described = index, True
        self._mark = self._meta_mark()
        if count:
            log.info("search index: %d papers indexed", count)
        return count

    def _abandon(self, writer: tantivy.IndexWriter, exc: BaseException) -> BaseException:
        """Roll back a writer that failed with ``exc``, and return the error to raise (a
        SearchError for one from outside the exception tree). The caller drops its own name
        for the writer: the writer holds tantivy's lock until nothing refers to it, and the
        traceback's frames would (they are cleared here)."""
        with suppress(Exception):
            writer.rollback()
        traceback.clear_frames(exc.__traceback__)
        if isinstance(exc, Exception) and not isinstance(exc, PaperwireError):
            return self._unwritten(exc)
        return exc

    def _unwritten(self, exc: BaseException) -> SearchError:
        """A sync that could not write (a full disk, most often): tantivy's last commit and
        the state before it stay what readers see; the next sync does it again."""
        return SearchError(f"the search index in {self.path} could not be written "
                           f"({_one_line(exc)}{free_space(self.path)}); searches keep its last "
                           "complete state: make room and run `paperwire index` (a running "
                           "index writer retries by itself)")

    def _write_state(self, state: dict[str, str]) -> None:
        _write_json(self.state_file, dict(state))

    def _index_damage(self, index: tantivy.Index, state: dict[str, str]) -> str | None:
        """What is wrong with the tantivy files of an index ``state`` describes (None when
        nothing is seen): unreadable as a reader opening it now would find it (the files,
        not what this process has open), or holding fewer papers than it was left with (a
        segment or meta.json lost)."""
        if state.get("schema") != str(SCHEMA_VERSION):
            return None  # rebuilt anyway
        try:
            index.reload()
            held = int(tantivy.Index.open(str(self.path)).searcher().num_docs)
        except Exception as exc:
            return f"it cannot be read: {_one_line(exc)}"
        docs = state.get("docs")
        # fewer: a segment or meta.json lost; more is a commit whose state.json could not
        # be written, which the sync from the state's watermark takes in again
        if docs is not None and docs.isdigit() and held < int(docs):
            return f"it holds {held:,} papers where it was left with {int(docs):,}"
        return None

    def _terms_damage(self, state: dict[str, str]) -> str | None:
        """Whether terms.json or lexicon.json is not as the last sync wrote it (a stat)."""
        for key, file in (("terms_bytes", self.terms_file),
                          ("lexicon_bytes", self.lexicon_file)):
            want = state.get(key)
            if want is None:
                continue
            try:
                size = file.stat().st_size
            except OSError:
                return f"{file.name} is missing"
            if str(size) != want:
                return f"{file.name} has {size:,} bytes where {int(want):,} were written"
        return None

    @staticmethod
    def _write(index: tantivy.Index, writer: tantivy.IndexWriter, store: Store,
               since: datetime | None, rebuild: bool, terms: _Terms) -> int:
        """(Re)index the papers changed since ``since`` (all, after a wipe, when rebuilding)
        and commit; ``terms`` takes in their acronyms and words, and gives back those of
        the versions they replace."""
        count = 0
        if rebuild:
            writer.delete_all_documents()
        searcher = None if rebuild else index.searcher()  # the committed state
        for batch in store.iter_changed_since(since):
            if searcher is not None:
                ids = [paper.id for paper, _hash in batch]
                held = searcher.search(Query.term_set_query(index.schema, "id", ids), len(ids))
                for _score, address in held.hits:
                    old = searcher.doc(address)
                    terms.drop(old.get_first("title") or "", old.get_first("abstract") or "")
            for paper, _hash in batch:
                if not rebuild:
                    writer.delete_documents_by_term("id", paper.id)
                writer.add_document(_document(paper))
                terms.take(paper)
                count += 1
        writer.commit()
        return count

    def _holds_removed(self, store: Store) -> bool:
        index = self._open()
        index.reload()
        return int(index.searcher().num_docs) > store.count_papers()

    def delete(self, ids: Iterable[str]) -> int:
        """Remove papers from the index now (e.g. right after deleting them from the store).
        Returns how many of them the index held. SearchError when the index is busy."""
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return 0
        index = self._open()
        index.reload()
        present = Query.term_set_query(index.schema, "id", wanted)
        held = len(index.searcher().search(present, len(wanted)).hits)
        try:
            writer = index.writer(WRITER_HEAP, 1)
        except Exception as exc:
            raise SearchError(f"the search index is busy, cannot delete now: {exc}") from exc
        try:
            for pid in wanted:
                writer.delete_documents_by_term("id", pid)
            writer.commit()
            writer.wait_merging_threads()
        except BaseException as exc:
            err = self._abandon(writer, exc)
            del writer  # tantivy's lock is held until the writer is dropped
            if err is exc:
                raise
            raise err from exc
        index.reload()
        state = self._state()
        if "docs" in state:  # what the next sync checks the index against
            try:
                self._write_state({**state, "docs": str(int(index.searcher().num_docs))})
            except OSError as exc:
                raise self._unwritten(exc) from exc
        return held

    def view(self) -> LexicalView | None:
        """A consistent view of what was last published (one searcher): ranking, the
        constraint filter and highlights of one request all read it. None when there is no
        index yet."""
        self.refresh()
        index = self._reader()
        if index is None:
            return None
        return LexicalView(index.searcher(), index.schema, self.lexicon())

    def search(
        self,
        query: str | ParsedQuery,
        limit: int = 20,
        offset: int = 0,
        sort: str = "relevance",
        highlight: bool = True,
    ) -> list[LexicalHit]:
        """See :meth:`LexicalView.search` (over the current view)."""
        if sort not in SORTS:
            raise SearchError(f"the search index sorts by {' or '.join(SORTS)}, not {sort!r}")
        view = self.view()
        return [] if view is None else view.search(query, limit, offset, sort, highlight)

    def satisfying(self, query: str | ParsedQuery, ids: Iterable[str]) -> set[str]:
        """See :meth:`LexicalView.satisfying` (over the current view)."""
        view = self.view()
        return set() if view is None else view.satisfying(query, ids)

    def num_docs(self) -> int:
        view = self.view()
        return 0 if view is None else int(view.searcher.num_docs)


class LexicalView:
    """One searcher over one committed state of the index: what a request reads."""

    def __init__(self, searcher: tantivy.Searcher, schema: tantivy.Schema,
                 lexicon: Lexicon | None = None) -> None:
        self.searcher = searcher
        self.schema = schema
        self.lexicon = lexicon or Lexicon()
        self._spelling: dict[tuple[str, ...], dict[str, str]] = {}  # one request's answers

    def spelling(self, query: str | ParsedQuery) -> dict[str, str]:
        """Free words of ``query`` that no paper contains (in title, abstract or authors),
        or that hardly any does (at most RARE_DF papers: typos in abstracts) while a close
        word is in RARE_RATIO times as many, each with the closest word of the corpus that
        it is also searched as (``{"tranformer": "transformer"}``). Other words are never
        touched."""
        parsed = parse_query(query) if isinstance(query, str) else query
        if not TYPO_CORRECTION or not parsed.terms:
            return {}
        known = self._spelling.get(parsed.terms)
        if known is not None:
            return dict(known)
        out: dict[str, str] = {}
        stem, name = ANALYZERS[TEXT_ANALYZER].analyze, ANALYZERS[NAME_ANALYZER].analyze
        for term in parsed.terms:
            plain = name(term)
            if len(plain) != 1 or not self.lexicon.correctable(plain[0], RARE_DF):
                continue  # a word the lexicon knows to be common, a stop word, a number...
            tokens = stem(term)
            df = int(self.searcher.doc_freq("text", tokens[0])) if len(tokens) == 1 else -1
            if not 0 <= df <= RARE_DF:
                continue
            if any(self.searcher.doc_freq("authors", t) for t in name(term)):
                continue
            fix = self.lexicon.correct(plain[0])
            if fix is not None and (df == 0 or self.lexicon.df(fix) >= RARE_RATIO * df):
                out[term] = fix
        self._spelling[parsed.terms] = out
        return dict(out)

    def name_words(self, query: str | ParsedQuery) -> set[str]:
        """The free words of ``query`` the search looks for alone in author names (see
        NAME_WORDS): what bold marks in a hit's authors, besides names typed whole."""
        parsed = parse_query(query) if isinstance(query, str) else query
        builder = self._builder(parsed)
        return {t for t in parsed.terms if builder.names_someone(t)}

    def _builder(self, parsed: ParsedQuery) -> _QueryBuilder:
        return _QueryBuilder(self.schema, self.lexicon, self.spelling(parsed), self.idf,
                             self.doc_freq)

    def doc_freq(self, field: str, token: str) -> int:
        """How many papers hold an analysed token in ``field``."""
        return int(self.searcher.doc_freq(field, token))

    def idf(self, token: str) -> float:
        """BM25's idf of an analysed token in title and abstract (as tantivy computes it)."""
        n = int(self.searcher.num_docs)
        df = int(self.searcher.doc_freq("text", token))
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    def search(
        self,
        query: str | ParsedQuery,
        limit: int = 20,
        offset: int = 0,
        sort: str = "relevance",
        highlight: bool = True,
    ) -> list[LexicalHit]:
        """Papers matching ``query`` (a string is parsed with
        :func:`~paperwire.search.query.parse_query`).

        ``sort="relevance"`` ranks by BM25 over title (x2), abstract and authors (x1.5);
        a query with no words or phrases (only filters or exclusions) is ordered by date
        instead. ``sort="date"`` orders matches by first-version date, newest first, papers
        without a date last. Trending order is not the index's business: rank its hits.
        ``highlight=False`` leaves ``title_html``/``snippet_html`` empty (for candidate
        lists that are re-ranked before anything is shown: :meth:`highlight` marks the
        ones shown afterwards, from the same hits)."""
        parsed = parse_query(query) if isinstance(query, str) else query
        if sort not in SORTS:
            raise SearchError(f"the search index sorts by {' or '.join(SORTS)}, not {sort!r}")
        if parsed.is_empty or limit <= 0:
            return []
        searcher = self.searcher
        tq, _ = self._builder(parsed).build(parsed)
        by_date = sort == "date" or not parsed.has_text
        if not by_date and PRF_WEIGHT > 0 and parsed.terms:
            tq = self._with_feedback(tq, parsed)
        try:
            if by_date:
                result = searcher.search(tq, limit, count=False, offset=max(offset, 0),
                                         order_by_field="date_order", order=tantivy.Order.Desc)
            else:
                result = searcher.search(tq, limit, count=False, offset=max(offset, 0))
        except ValueError as exc:
            raise SearchError(f"the search index could not run the query: {exc}") from exc
        hits = [LexicalHit(paper_id=searcher.doc(addr)["id"][0],
                           score=0.0 if by_date else float(score), address=addr)
                for score, addr in result.hits]
        return self.highlight(parsed, hits) if highlight else hits

    def _with_feedback(self, tq: Query, parsed: ParsedQuery) -> Query:
        """``tq`` and, on top, the words of its first PRF_DOCS papers that
        :func:`~paperwire.search.terms.feedback_terms` picks (PRF_TERMS of them, in title
        and abstract, at PRF_WEIGHT times their weight): pseudo-relevance feedback. It only
        re-ranks what ``tq`` matches."""
        try:
            first = self.searcher.search(tq, PRF_DOCS, count=False).hits
        except ValueError:
            return tq
        analyze = ANALYZERS[TEXT_ANALYZER].analyze
        docs = []
        for score, addr in first:
            doc = self.searcher.doc(addr)
            text = " ".join([*doc.get_all("title"), *doc.get_all("abstract")])
            docs.append((float(score), analyze(text)))
        typed = {t for term in parsed.terms for t in analyze(term)}
        more = feedback_terms(docs, typed, PRF_TERMS)
        if not more:
            return tq
        extra = Query.boolean_query([
            (Occur.Should, Query.boost_query(Query.term_query(self.schema, "text", t),
                                             PRF_WEIGHT * w)) for t, w in more])
        return Query.boolean_query([(Occur.Must, tq), (Occur.Should, extra)])

    def highlight(self, query: ParsedQuery, hits: Sequence[LexicalHit]) -> list[LexicalHit]:
        """``hits`` (found by this view) with their title and abstract excerpt marked, read
        from their stored documents: no query runs again."""
        _, highlight_q = self._builder(query).build(query)
        marker = _Highlighter(self.searcher, highlight_q, self.schema)
        out = []
        for h in hits:
            if h.address is None:
                raise ValueError("a hit of this view is needed: it carries its document")
            doc = self.searcher.doc(h.address)
            out.append(LexicalHit(h.paper_id, h.score, marker.title(doc), marker.snippet(doc),
                                  h.address))
        return out

    def satisfying(self, query: str | ParsedQuery, ids: Iterable[str]) -> set[str]:
        """Which of ``ids`` meet the query's hard constraints: its phrases, exclusions and
        author/cat/title/date filters, with exactly the semantics of :meth:`search` (stemming,
        categories as any-of, ...). Free words are not required. For candidates found some
        other way (dense retrieval) that must obey the same query."""
        parsed = parse_query(query) if isinstance(query, str) else query
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return set()
        searcher = self.searcher
        constraints, _ = _QueryBuilder(self.schema).build(parsed, words_too=False)
        among = Query.term_set_query(self.schema, "id", wanted)
        q = Query.boolean_query([(Occur.Must, constraints), (Occur.Must, among)])
        hits = searcher.search(q, len(wanted), count=False).hits
        return {searcher.doc(addr)["id"][0] for _score, addr in hits}

    def with_every_word(self, query: ParsedQuery, words: Sequence[str],
                        ids: Iterable[str]) -> set[str]:
        """Which of ``ids`` hold every one of ``words`` (each in any field, analysed as
        :meth:`search` does, as its spelling correction or, an acronym, as its long form
        too: :meth:`_QueryBuilder.every_word`) and meet the query's hard constraints
        (:meth:`satisfying`): the papers a query's words match as a whole, what the
        relevance floor (:mod:`paperwire.search.floor`) always keeps."""
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return set()
        q = self._every_word(query, words, Query.term_set_query(self.schema, "id", wanted))
        hits = self.searcher.search(q, len(wanted), count=False).hits
        return {self.searcher.doc(addr)["id"][0] for _score, addr in hits}

    def count_with_every_word(self, query: ParsedQuery, words: Sequence[str]) -> int:
        """How many papers of the whole index :meth:`with_every_word` would keep (a count:
        no document is read)."""
        found = self.searcher.search(self._every_word(query, words), 1, count=True)
        return int(found.count)  # type: ignore[attr-defined]  # missing from tantivy's stub

    def _every_word(self, query: ParsedQuery, words: Sequence[str],
                    among: Query | None = None) -> Query:
        builder = self._builder(query)  # corrections and acronyms as the search has them
        constraints, _ = builder.build(query, words_too=False)
        clauses = [constraints, *([among] if among is not None else [])]
        clauses += builder.every_word(query, words)
        return Query.boolean_query([(Occur.Must, c) for c in clauses])
