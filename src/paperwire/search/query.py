"""The search-box language, parsed into a :class:`ParsedQuery`. Pure: no I/O, no index.

Grammar (what a researcher types; tokens are separated by whitespace)::

    query    := token*
    token    := ["-"] phrase | ["-"] word | filter
    phrase   := QUOTE text [QUOTE]          closing quote optional at the end of the text
    filter   := key ":" (value | QUOTE text [QUOTE])
    key      := author | au | cat | category | title | ti | after | before | year
                                            (case-insensitive)

* ``word``: a run of characters up to whitespace or a quote. Hyphens inside a word keep it
  one word (``state-of-the-art``, ``GPT-4``). A word without any letter or digit (``-``,
  ``&``, ``...``) is ignored. Quotes are ``"`` and the typographic ``“ ” „``.
* ``-word`` / ``-"phrase"``: exclude papers containing it. A lone ``-`` is ignored.
  Filters cannot be negated: ``-cat:cs.CV`` is an error rather than a silent no-op.
* ``author:lecun`` / ``author:"Yann LeCun"`` (alias ``au:``): one of the authors' names
  contains the word / the words in this order. Several author filters must all hold.
* ``cat:cs.CL`` (aliases ``category:``): the paper is listed in the category, as primary or
  cross-list, compared case-insensitively; ``cat:cs`` means any ``cs.*`` category;
  ``cat:cs.CL,cs.IR`` lists several. Several categories: any of them.
* ``title:word`` / ``title:"phrase"`` (alias ``ti:``): the title contains it.
* Dates apply to the first-version date (``Paper.published``); both bounds are inclusive:
  ``after:D`` keeps papers published on or after the *first* day of D, ``before:D`` papers
  published on or before the *last* day of D, where D is ``YYYY``, ``YYYY-MM`` or
  ``YYYY-MM-DD``. So ``after:2025`` is ``>= 2025-01-01``, ``after:2025-03`` is
  ``>= 2025-03-01``, ``before:2025`` is ``<= 2025-12-31``, ``before:2025-02`` is
  ``<= 2025-02-28`` and ``year:2025`` is both ``after:2025 before:2025``. Repeated date
  filters narrow (the latest ``after``, the earliest ``before`` win). A bad date, a date
  outside FIRST_DAY … LAST_DAY (1900 to 2199), or an ``after`` later than the ``before``,
  raises :class:`~paperwire.errors.QueryError`.
* ``key:`` followed by whitespace or the end is just the word (``Title: ...`` pasted from
  somewhere stays text); an unknown key (``BERT:``, ``foo:bar``, ``http://...``) is a word.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Literal, get_args

from paperwire.errors import QueryError

__all__ = [
    "FIRST_DAY",
    "LAST_DAY",
    "MAX_LIMIT",
    "MAX_OFFSET",
    "SORTS",
    "ParsedQuery",
    "SearchOptions",
    "Sort",
    "check_day",
    "literal_query",
    "merge_options",
    "parse_date_bound",
    "parse_query",
]

Sort = Literal["relevance", "date", "trending"]
SORTS: tuple[str, ...] = get_args(Sort)
# The days any date a user gives (a query bound, a trending day) may name: the search index
# stores dates as nanoseconds (1677 to 2262) and windows subtract days, so only this range is
# exact everywhere. Nothing real lies outside it.
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2199, 12, 31)


def check_day(day: date, what: str) -> date:
    """``day`` when it lies from FIRST_DAY to LAST_DAY, else a ValueError whose message says
    so, naming ``what`` (e.g. ``"after:0001-01-01"``, ``"date 9999-12-31"``)."""
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(f"{what} is out of range: use a day from {FIRST_DAY.isoformat()} "
                         f"to {LAST_DAY.isoformat()}")
    return day
MAX_LIMIT = 1000
MAX_OFFSET = 10_000

QUOTES = '"“”„'  # ASCII and typographic double quotes
KEYS = {
    "author": "author",
    "au": "author",
    "cat": "cat",
    "category": "cat",
    "title": "title",
    "ti": "title",
    "after": "after",
    "before": "before",
    "year": "year",
}
_KEY_PREFIX = re.compile(r"([A-Za-z]+):")
_DATE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")
_DATE_HINT = "use YYYY, YYYY-MM or YYYY-MM-DD"


def _has_alnum(text: str) -> bool:
    return any(c.isalnum() for c in text)


def _norm_space(text: str) -> str:
    return " ".join(text.split())


def _dedupe(items: Iterable[str]) -> tuple[str, ...]:
    """Items in first-seen order without case-insensitive repeats."""
    seen: set[str] = set()
    out: list[str] = []
    for item in items:
        k = item.casefold()
        if k not in seen:
            seen.add(k)
            out.append(item)
    return tuple(out)


@dataclass(frozen=True)
class ParsedQuery:
    """What a query asks for. Words and phrases are kept as typed (the index analyses them);
    ``after`` and ``before`` are inclusive bounds on the first-version date."""

    terms: tuple[str, ...] = ()
    phrases: tuple[str, ...] = ()
    excluded_terms: tuple[str, ...] = ()
    excluded_phrases: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    title_terms: tuple[str, ...] = ()
    title_phrases: tuple[str, ...] = ()
    after: date | None = None
    before: date | None = None
    # words and phrases in the order typed, for free_text(); not part of equality
    text_order: tuple[str, ...] = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.after is not None and self.before is not None and self.after > self.before:
            raise QueryError(
                f"after:{self.after.isoformat()} is later than before:"
                f"{self.before.isoformat()}, so no paper can match"
            )

    def free_text(self) -> str:
        """The positive words and phrases (without quotes) in the order typed: the text for
        a semantic (embedding) search. Filters and exclusions are not part of it."""
        parts = self.text_order if self.text_order else self.terms + self.phrases
        return " ".join(parts)

    def has_constraints(self) -> bool:
        """Whether anything besides the free words restricts the matches: phrases,
        exclusions, author/cat/title filters or dates."""
        return bool(
            self.phrases or self.excluded_terms or self.excluded_phrases or self.authors
            or self.categories or self.title_terms or self.title_phrases
            or self.after or self.before
        )

    @property
    def has_text(self) -> bool:
        """Whether there are positive words or phrases to rank by relevance."""
        return bool(self.terms or self.phrases)

    @property
    def is_empty(self) -> bool:
        """Nothing at all to search for or filter by."""
        return not (
            self.terms or self.phrases or self.excluded_terms or self.excluded_phrases
            or self.authors or self.categories or self.title_terms or self.title_phrases
            or self.after or self.before
        )


def _date_bounds(key: str, value: str) -> tuple[date, date]:
    """The first and last day of ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``."""
    m = _DATE.fullmatch(value)
    try:
        if not m:
            raise ValueError(value)
        year = int(m[1])
        if m[3]:
            first = last = date(year, int(m[2]), int(m[3]))
        elif m[2]:
            month = int(m[2])
            end = calendar.monthrange(year, month)[1] if 1 <= month <= 12 else 0
            first, last = date(year, month, 1), date(year, month, end)
        else:
            first, last = date(year, 1, 1), date(year, 12, 31)
    except ValueError:
        raise QueryError(f"{key}:{value} is not a date ({_DATE_HINT})") from None
    try:
        check_day(first, f"{key}:{value}")
        return first, check_day(last, f"{key}:{value}")
    except ValueError as exc:
        raise QueryError(str(exc)) from None


def parse_date_bound(value: str, key: Literal["after", "before"]) -> date:
    """``after`` → the first day of ``value``, ``before`` → its last day (both inclusive),
    for ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``; QueryError otherwise. For API and CLI
    options that take the same forms as the query language."""
    first, last = _date_bounds(key, value.strip())
    return first if key == "after" else last


def _year_bounds(value: str) -> tuple[date, date]:
    if not re.fullmatch(r"\d{4}", value) or int(value) < 1:
        raise QueryError(f"year:{value} is not a year (use YYYY)")
    return _date_bounds("year", value)


def _read_quoted(text: str, i: int) -> tuple[str, int]:
    """The text after the quote at ``i`` up to the next quote (or the end); the index after."""
    j = i + 1
    while j < len(text) and text[j] not in QUOTES:
        j += 1
    return text[i + 1 : j], j + 1


class _Builder:
    def __init__(self) -> None:
        self.terms: list[str] = []
        self.phrases: list[str] = []
        self.excluded_terms: list[str] = []
        self.excluded_phrases: list[str] = []
        self.authors: list[str] = []
        self.categories: list[str] = []
        self.title_terms: list[str] = []
        self.title_phrases: list[str] = []
        self.order: list[str] = []
        self.after: date | None = None
        self.before: date | None = None

    def word(self, word: str, negated: bool) -> None:
        if not _has_alnum(word):
            return
        if negated:
            self.excluded_terms.append(word)
        else:
            self.terms.append(word)
            self.order.append(word)

    def phrase(self, phrase: str, negated: bool) -> None:
        phrase = _norm_space(phrase)
        if not _has_alnum(phrase):
            return
        if negated:
            self.excluded_phrases.append(phrase)
        else:
            self.phrases.append(phrase)
            self.order.append(phrase)

    def narrow(self, first: date | None, last: date | None) -> None:
        if first is not None:
            self.after = first if self.after is None else max(self.after, first)
        if last is not None:
            self.before = last if self.before is None else min(self.before, last)

    def filter(self, key: str, typed_key: str, value: str, quoted: bool) -> None:
        value = _norm_space(value)
        if key in ("after", "before", "year"):
            if not value:
                raise QueryError(f"{typed_key}: needs a date ({_DATE_HINT})")
            if key == "year":
                self.narrow(*_year_bounds(value))
            else:
                first, last = _date_bounds(typed_key, value)
                if key == "after":
                    self.narrow(first, None)
                else:
                    self.narrow(None, last)
            return
        if not _has_alnum(value):
            return  # author:"" or cat:- filters on nothing
        if key == "author":
            self.authors.append(value)
        elif key == "cat":
            for cat in value.split(","):
                cat = cat.strip(" ;")
                if _has_alnum(cat):
                    self.categories.append(cat)
        elif quoted or " " in value:
            self.title_phrases.append(value)
        else:
            self.title_terms.append(value)

    def build(self) -> ParsedQuery:
        return ParsedQuery(
            terms=_dedupe(self.terms),
            phrases=_dedupe(self.phrases),
            excluded_terms=_dedupe(self.excluded_terms),
            excluded_phrases=_dedupe(self.excluded_phrases),
            authors=_dedupe(self.authors),
            categories=_dedupe(self.categories),
            title_terms=_dedupe(self.title_terms),
            title_phrases=_dedupe(self.title_phrases),
            after=self.after,
            before=self.before,
            text_order=_dedupe(self.order),
        )


def parse_query(text: str) -> ParsedQuery:
    """Parse what was typed into the search box (see the module docstring for the grammar).
    Never fails on stray syntax; raises QueryError only for bad or contradictory dates and
    for negated filters."""
    b = _Builder()
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        negated = False
        if text[i] == "-":
            i += 1
            if i >= n or text[i].isspace():
                continue  # a lone "-"
            negated = True
        if text[i] in QUOTES:
            phrase, i = _read_quoted(text, i)
            b.phrase(phrase, negated)
            continue
        start = i
        while i < n and not text[i].isspace() and text[i] not in QUOTES:
            i += 1
        word = text[start:i]
        m = _KEY_PREFIX.match(word)
        key = KEYS.get(m[1].lower()) if m else None
        if m is None or key is None:
            b.word(word, negated)
            continue
        value = word[m.end():]
        quoted = not value and i < n and text[i] in QUOTES
        if quoted:
            value, i = _read_quoted(text, i)
        elif not value:
            b.word(word, negated)  # "Title:" followed by a space is just a word
            continue
        if negated:
            shown = f'{word}"{value}"' if quoted else word
            raise QueryError(
                f"-{shown}: filters cannot be negated (only words and \"phrases\" can)"
            )
        b.filter(key, m[1].lower(), value, quoted)
    return b.build()


def literal_query(text: str) -> ParsedQuery:
    """Every whitespace-separated word of ``text`` as a free word, with no syntax at all
    (quotes, ``-`` and ``key:`` are literal): for benchmark queries and other text that was
    not typed in the search language. Never raises."""
    words = [w for w in text.split() if _has_alnum(w)]
    return ParsedQuery(terms=_dedupe(words), text_order=_dedupe(words))


@dataclass(frozen=True)
class SearchOptions:
    """What the API and CLI pass besides the query text. Categories and authors join those
    typed in the query; dates narrow its date range (see :func:`merge_options`)."""

    categories: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    after: date | None = None
    before: date | None = None
    sort: Sort = "relevance"
    limit: int = 20
    offset: int = 0

    def __post_init__(self) -> None:
        # accept any sequence (a list from a JSON body) but keep the dataclass hashable
        for name in ("categories", "authors"):
            value: Sequence[str] = getattr(self, name)
            if isinstance(value, str):
                value = (value,)
            object.__setattr__(self, name, tuple(value))
        if self.sort not in SORTS:
            raise QueryError(f"sort must be one of {', '.join(SORTS)}, not {self.sort!r}")
        if not 1 <= self.limit <= MAX_LIMIT:
            raise QueryError(f"limit must be between 1 and {MAX_LIMIT}, not {self.limit}")
        if not 0 <= self.offset <= MAX_OFFSET:
            raise QueryError(f"offset must be between 0 and {MAX_OFFSET}, not {self.offset}")
        if self.after is not None and self.before is not None and self.after > self.before:
            raise QueryError(
                f"after {self.after.isoformat()} is later than before "
                f"{self.before.isoformat()}, so no paper can match"
            )


def merge_options(parsed: ParsedQuery, options: SearchOptions) -> ParsedQuery:
    """``parsed`` with the options' filters added: categories and authors are appended
    (categories then match any of them, authors must all match); ``after``/``before``
    narrow the range (the later after, the earlier before). QueryError when the result
    is an empty date range."""
    after, before = parsed.after, parsed.before
    if options.after is not None:
        after = options.after if after is None else max(after, options.after)
    if options.before is not None:
        before = options.before if before is None else min(before, options.before)
    categories = [c.strip() for c in options.categories if _has_alnum(c)]
    authors = [_norm_space(a) for a in options.authors if _has_alnum(a)]
    return replace(
        parsed,
        categories=_dedupe([*parsed.categories, *categories]),
        authors=_dedupe([*parsed.authors, *authors]),
        after=after,
        before=before,
    )
