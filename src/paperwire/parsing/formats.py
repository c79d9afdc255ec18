"""The record formats: how to recognise each, and how one record becomes a Paper (+ signals).

Every parser takes one decoded record and a :class:`Context`, and returns what it holds or
raises :class:`RecordError` saying why not. Title and abstract get their whitespace collapsed
(arXiv hard-wraps lines); everything else about the text (LaTeX, Unicode) is kept.
"""

from __future__ import annotations

import ast
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from paperwire.errors import RecordError, TooDeep
from paperwire.metadata import STARS_SIGNAL, PaperMeta, safe_url
from paperwire.models import Paper, Signal, clean_text, parse_arxiv_id
from paperwire.parsing.reading import MAX_DEPTH, depth_ok

FORMATS = ("arxiv", "hf", "kaggle", "beir", "seed", "listing-dates")

HF_SIGNAL = "hf_upvotes"
# Column sizes in the store's schema; longer values would make the whole batch fail.
MAX_ID, MAX_CATEGORY, MAX_DOI = 64, 32, 255
MAX_REPR_CHARS = 10_000_000  # a Python-repr record longer than this is not parsed
MAX_CLEAN_CHARS = 100_000  # text collapsed per field at most: above every cap in models
_WORD = re.compile(r"[^\s\x00]+")


@dataclass
class Context:
    """What a parser may need besides the record itself."""

    path: Path
    meta: dict[str, Any] = field(default_factory=dict)  # wrapper members, e.g. {"date": ...}
    columns: tuple[int, int] | None = None  # listing dates: (id column, date column)

    @property
    def day(self) -> date | None:
        """The date in the file name (``2025-01-15.json.gz``), if there is one."""
        m = re.search(r"(\d{4}-\d{2}-\d{2})", self.path.name)
        return _date(m.group(1), "file name date", strict=False) if m else None


Parsed = tuple[Paper, list[Signal]]
HfParsed = tuple[Paper, list[Signal], PaperMeta | None]  # a Hugging Face entry's, with its meta


# ---- field helpers -----------------------------------------------------------------------


def clean(text: str, max_chars: int = MAX_CLEAN_CHARS) -> str:
    """Collapse every run of whitespace (newlines included) to one space; strip; drop what no
    stored text keeps (:func:`paperwire.models.clean_text`: controls, bidi overrides, lone
    surrogates). A text that would come out longer than ``max_chars`` (above every field's cap,
    so the store still cuts it and the import reports the cut) is only read that far."""
    if len(text) <= max_chars:
        return " ".join(clean_text(text.replace("\x00", " ")).split())
    words, size = [], 0  # a hostile megabyte field: collapse only the words that can be kept
    for m in _WORD.finditer(text):
        word = clean_text(m.group())
        if word:
            words.append(word)
            size += len(word) + 1
            if size > max_chars:
                break
    return " ".join(words)


def _obj(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RecordError(f"expected a JSON object, got {type(value).__name__}")
    return value


def _text(d: dict[str, Any], key: str, required: bool = False) -> str:
    value = d.get(key)
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise RecordError(f"{key} is not a string")
    value = clean(value)
    if required and not value:
        raise RecordError(f"missing {key}")
    return value


def _opt(d: dict[str, Any], key: str) -> str | None:
    value = d.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise RecordError(f"{key} is not a string")
    return clean(value) or None


def _names(value: Any, key: str) -> tuple[str, ...]:
    """A list of names, or one string of names separated by commas and 'and'."""
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(n for n in (clean(x) for x in re.split(r",|\band\b", value)) if n)
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise RecordError(f"{key} is not a list of strings")
    return tuple(n for n in (clean(x) for x in value) if n)


def _categories(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(clean(value).split())
    return _names(value, "categories")


def _arxiv_id(value: Any) -> tuple[str, int | None]:
    if value is None or value == "":
        raise RecordError("missing id")
    if not isinstance(value, str):
        raise RecordError(f"id is not a string: {value!r}")
    parsed = parse_arxiv_id(value)
    if parsed is None:
        raise RecordError(f"not an arXiv id: {value[:80]!r}")
    return parsed


def _date(value: Any, key: str, strict: bool = True) -> date | None:
    """The date of an ISO date or timestamp (``2024-05-24T17:34:15.000Z``)."""
    if value is None or value == "":
        return None
    try:
        if not isinstance(value, str):
            raise ValueError
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        if strict:
            raise RecordError(f"{key} is not a date: {str(value)[:40]!r}") from None
        return None


def _checked(paper: Paper) -> Paper:
    if len(paper.id) > MAX_ID:
        raise RecordError(f"id longer than {MAX_ID} characters")
    if paper.primary_category and len(paper.primary_category) > MAX_CATEGORY:
        raise RecordError(f"primary category longer than {MAX_CATEGORY} characters")
    if paper.doi and len(paper.doi) > MAX_DOI:
        raise RecordError(f"doi longer than {MAX_DOI} characters")
    return paper


# ---- the formats -------------------------------------------------------------------------


def parse_arxiv(value: Any, ctx: Context) -> Parsed:
    """daily-arXiv crawl lines: id, title, summary, authors, categories, comment, pdf, abs."""
    d = _obj(value)
    pid, version = _arxiv_id(d.get("id"))
    cats = _categories(d.get("categories"))
    paper = Paper(
        id=pid,
        title=_text(d, "title", required=True),
        abstract=_text(d, "summary"),
        authors=_names(d.get("authors"), "authors"),
        categories=cats,
        primary_category=cats[0] if cats else None,
        version=version,
        comment=_opt(d, "comment"),
        source="arxiv",
    )
    return _checked(paper), []


def parse_hf(value: Any, ctx: Context) -> Parsed:
    """An HF entry from a saved file: its day is the one in the file name or wrapper."""
    paper, signals, _ = parse_hf_record(value, ctx)
    return paper, signals


def parse_hf_record(value: Any, ctx: Context) -> HfParsed:
    """:func:`parse_hf`, with the entry's metadata (:func:`parse_hf_full`)."""
    return parse_hf_full(value, ctx.day or _date(ctx.meta.get("date"), "date", strict=False))


def parse_hf_entry(value: Any, day: date | None = None) -> Parsed:
    """One entry of the HF daily-papers API as a paper and its signals (see
    :func:`parse_hf_full`)."""
    paper, signals, _ = parse_hf_full(value, day)
    return paper, signals


def _decode_repr(value: str) -> Any:
    if len(value) > MAX_REPR_CHARS:
        raise RecordError("string record too long to decode")
    try:
        value = ast.literal_eval(value)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError) as exc:
        raise RecordError(f"string record is not a Python literal: {exc}") from None
    if not depth_ok(value):
        raise TooDeep(MAX_DEPTH)
    return value


def parse_hf_full(value: Any, day: date | None = None) -> HfParsed:
    """One entry of the HF daily-papers API: ``{paper: {...}, publishedAt, ...}``, or the
    Python repr of one (as some saved files hold), decoded with ``ast.literal_eval``. The
    upvotes (and the GitHub stars) become signals on ``day`` (the day asked for), else on the
    entry's own date; the rest of what Hugging Face knows becomes a :class:`PaperMeta` of
    that day (None when it holds nothing). Metadata of the wrong type is left out, never a
    reason to skip the paper."""
    if isinstance(value, str):
        value = _decode_repr(value)
    entry = _obj(value)
    p = entry.get("paper")
    if not isinstance(p, dict):
        raise RecordError("missing paper")
    pid, version = _arxiv_id(p.get("id"))
    authors = p.get("authors") or []
    if not isinstance(authors, list):
        raise RecordError("paper.authors is not a list")
    names = [a.get("name") if isinstance(a, dict) else a for a in authors]
    paper = Paper(
        id=pid,
        title=_text(p, "title") or _text(entry, "title", required=True),
        abstract=_text(p, "summary"),
        authors=_names([n for n in names if isinstance(n, str)], "authors"),
        version=version,
        published=_date(p.get("publishedAt"), "paper.publishedAt"),
        source="hf",
    )
    upvotes = p.get("upvotes")
    if upvotes is not None and (isinstance(upvotes, bool)
                                or not isinstance(upvotes, int | float)):
        raise RecordError(f"paper.upvotes is not a number: {upvotes!r}")
    day = (
        day
        or _date(p.get("submittedOnDailyAt"), "paper.submittedOnDailyAt", strict=False)
        or _date(entry.get("submittedOnDailyAt"), "submittedOnDailyAt", strict=False)
        or _date(entry.get("publishedAt"), "publishedAt", strict=False)
    )
    signals: list[Signal] = []
    if day and upvotes is not None:
        signals.append(Signal(pid, HF_SIGNAL, day, float(upvotes)))
    stars = p.get("githubStars")
    if day and isinstance(stars, int) and not isinstance(stars, bool) and stars >= 0 \
            and safe_url(p.get("githubRepo")):
        signals.append(Signal(pid, STARS_SIGNAL, day, float(stars)))
    return _checked(paper), signals, _hf_meta(pid, entry, p, day)


def _hf_name(value: Any, *keys: str) -> str | None:
    """The first of ``keys`` that is a non-empty string in ``value`` (a dict), else None."""
    if isinstance(value, dict):
        for key in keys:
            if isinstance(value.get(key), str) and value[key].strip():
                return str(value[key])
    return None


def _hf_meta(pid: str, entry: dict[str, Any], p: dict[str, Any],
             day: date | None) -> PaperMeta | None:
    keywords = p.get("ai_keywords")
    comments = entry.get("numComments")
    meta = PaperMeta(
        paper_id=pid,
        code_url=p.get("githubRepo") if isinstance(p.get("githubRepo"), str) else None,
        project_url=p.get("projectPage") if isinstance(p.get("projectPage"), str) else None,
        ai_summary=p.get("ai_summary") if isinstance(p.get("ai_summary"), str) else None,
        ai_summary_model=_hf_name(p, "ai_summary_model"),
        ai_keywords=tuple(k for k in keywords if isinstance(k, str))
        if isinstance(keywords, list) else (),
        thumbnail_url=entry.get("thumbnail") if isinstance(entry.get("thumbnail"), str)
        else None,
        organization=_hf_name(entry.get("organization") or p.get("organization"),
                              "fullname", "name"),
        submitted_by=_hf_name(entry.get("submittedBy") or p.get("submittedOnDailyBy"),
                              "fullname", "name"),
        comments=comments if isinstance(comments, int) else None,
        source="hf",
        day=day,
    )
    return None if meta.is_empty() else meta


def _kaggle_versions(value: Any) -> list[tuple[int, date | None]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise RecordError("versions is not a list")
    out = []
    for v in value:
        if not isinstance(v, dict) or not re.fullmatch(r"v\d+", str(v.get("version", ""))):
            raise RecordError(f"bad entry in versions: {str(v)[:60]}")
        created = v.get("created")
        try:
            day = parsedate_to_datetime(created).date() if created else None
        except (TypeError, ValueError):
            raise RecordError(f"bad date in versions: {str(created)[:40]!r}") from None
        out.append((int(v["version"][1:]), day))
    return out


def _kaggle_authors(d: dict[str, Any]) -> tuple[str, ...]:
    parsed = d.get("authors_parsed")
    if isinstance(parsed, list) and parsed:
        names = []
        for parts in parsed:
            if not isinstance(parts, list) or not all(isinstance(x, str) for x in parts):
                raise RecordError("authors_parsed is not a list of [last, first, suffix]")
            last, first, *rest = [*parts, "", ""]
            name = clean(" ".join([first, last, *rest]))
            if name:
                names.append(name)
        return tuple(names)
    return _names(d.get("authors"), "authors")


def parse_kaggle(value: Any, ctx: Context) -> Parsed:
    """A line of Kaggle's ``arxiv-metadata-oai-snapshot.json``."""
    d = _obj(value)
    pid, id_version = _arxiv_id(d.get("id"))
    versions = _kaggle_versions(d.get("versions"))
    by_number = dict(versions)
    dated = sorted((n, day) for n, day in versions if day)
    cats = _categories(d.get("categories"))
    paper = Paper(
        id=pid,
        title=_text(d, "title", required=True),
        abstract=_text(d, "abstract"),
        authors=_kaggle_authors(d),
        categories=cats,
        primary_category=cats[0] if cats else None,
        version=max(by_number) if by_number else id_version,
        published=by_number.get(1) or (dated[0][1] if dated else None),
        updated=_date(d.get("update_date"), "update_date") or (dated[-1][1] if dated else None),
        comment=_opt(d, "comments"),
        journal_ref=_opt(d, "journal-ref"),
        doi=_opt(d, "doi"),
        source="kaggle",
    )
    return _checked(paper), []


def parse_beir(value: Any, ctx: Context) -> Parsed:
    """A BEIR corpus line: ``{_id, title, text, metadata}``."""
    d = _obj(value)
    doc_id = d.get("_id")
    if isinstance(doc_id, int) and not isinstance(doc_id, bool):
        doc_id = str(doc_id)
    if not isinstance(doc_id, str) or not doc_id.strip():
        raise RecordError("missing _id")
    if not doc_id.strip().isprintable():
        raise RecordError(f"bad _id {doc_id[:40]!r}")
    paper = Paper(
        id=f"beir:{doc_id.strip()}",
        title=_text(d, "title") or "(untitled)",
        abstract=_text(d, "text"),
        source="beir",
    )
    return _checked(paper), []


def seed_id(title: str) -> str:
    """Stable id of a seed paper: a hash of its whitespace-normalised, lower-cased title."""
    return "seed:" + hashlib.sha1(clean(title).lower().encode("utf-8")).hexdigest()[:12]


def parse_seed(value: Any, ctx: Context) -> Parsed:
    """A seed line: ``{rank, title, abstract}`` with no id."""
    d = _obj(value)
    title = _text(d, "title", required=True)
    return Paper(id=seed_id(title), title=title, abstract=_text(d, "abstract"), source="seed"), []


def parse_listing_date(value: Any, ctx: Context) -> tuple[str, date] | None:
    """A TSV row ``id, first_listing_file_date, ...``; None for the header row."""
    if not isinstance(value, list):
        raise RecordError("not a row of tab-separated fields")
    fields = [f.strip() for f in value]
    if ctx.columns is None:
        if fields[0].lower() == "id":
            date_col = next((i for i, f in enumerate(fields) if "date" in f.lower()), 1)
            ctx.columns = (0, date_col)
            return None
        ctx.columns = (0, 1)
    id_col, date_col = ctx.columns
    if len(fields) <= max(id_col, date_col):
        raise RecordError(f"expected at least {max(id_col, date_col) + 1} tab-separated fields")
    pid, _ = _arxiv_id(fields[id_col])
    day = _date(fields[date_col], "date")
    if day is None:
        raise RecordError("missing date")
    return pid, day


PaperParser = Callable[[Any, Context], Parsed]
PARSERS: dict[str, PaperParser] = {
    "arxiv": parse_arxiv,
    "hf": parse_hf,
    "kaggle": parse_kaggle,
    "beir": parse_beir,
    "seed": parse_seed,
}

_KAGGLE_KEYS = ("versions", "authors_parsed", "update_date", "submitter", "journal-ref")


def detect(value: Any) -> str | None:
    """The format of a file, from its first decodable record (None: not recognised)."""
    if isinstance(value, list):  # a TSV row
        if any("first_listing_file_date" in f for f in value if isinstance(f, str)):
            return "listing-dates"
        if len(value) >= 2 and parse_arxiv_id(value[0]) and _date(value[1], "", strict=False):
            return "listing-dates"
        return None
    if isinstance(value, str):  # HF entries saved as Python reprs
        head = value.lstrip()[:200]
        return "hf" if head.startswith("{") and "'paper'" in head else None
    if not isinstance(value, dict):
        return None
    if "paper" in value:
        return "hf"
    if "_id" in value and ("text" in value or "title" in value):
        return "beir"
    if "id" in value and any(k in value for k in _KAGGLE_KEYS):
        return "kaggle"
    if "id" in value and any(k in value for k in ("summary", "pdf", "abs")):
        return "arxiv"
    if "id" not in value and "title" in value and ("abstract" in value or "rank" in value):
        return "seed"
    return None
