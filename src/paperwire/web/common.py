"""What the web's routers share: the application object of a request (a FastAPI
dependency), the page renderer (Jinja2, autoescaped), :class:`PageError`, parameter parsing
and the filters templates use. Titles, abstracts and authors are untrusted text: templates
always escape them."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Annotated, Any, cast
from urllib.parse import quote, urlencode

import jinja2
from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from paperwire import texts, trending
from paperwire.app import Paperwire, Reactions
from paperwire.config import Settings
from paperwire.errors import PageError
from paperwire.metadata import find_links, linkify
from paperwire.models import Paper, is_arxiv_category, parse_arxiv_id, quote_id, shorten
from paperwire.paper_ids import INVALID, PaperRef, parse_ref
from paperwire.search import MODES, Hit, SearchOptions
from paperwire.search.query import SORTS, Sort, check_day
from paperwire.web.auth import csrf_token, signed_in, signin_path
from paperwire.web.caching import static_url

HERE = Path(__file__).parent
TRENDING_LIMIT = 30
MAX_PAGE = 1000
SEARCH_LIMIT, SEARCH_MAX = 20, 100
RELATED = 10  # papers below the relevance floor shown after the last matches (page, API)
SIMILAR_LIMIT = 5
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATE_IN_TEXT = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n|\n(?=[ \t]+\S)")
_RANKED_BY = {"hf_upvotes": "Hugging Face upvotes", "upvote": "upvotes here",
              "save": "saves here", "digest_click": "clicks from digests"}


def get_app(request: Request) -> Paperwire:
    """The application object the web app was made for (see ``create_app``)."""
    return cast(Paperwire, request.app.state.paperwire)


App = Annotated[Paperwire, Depends(get_app)]


def paper_path(paper_id: str) -> str:
    """The site's path of a paper; ``/papers/{paper_id:path}`` reads it back as the id."""
    return "/papers/" + quote_id(paper_id)


def here(request: Request) -> str:
    """This page's local path and query: where a form on it comes back to."""
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def anchor_id(paper_id: str) -> str:
    """An HTML id for a paper's place on a page (any paper id, spaces and all, gives a
    valid one): a form's ``next`` comes back to it."""
    return "act-" + hashlib.sha256(paper_id.encode()).hexdigest()[:12]


def reactions_for(request: Request, app: Paperwire, paper_ids: Iterable[str]) -> Reactions:
    """The action bars' state for the papers a page lists (signed in or not)."""
    return app.reactions(signed_in(request), paper_ids)


def fmt_date(d: date | None) -> str:
    return f"{d.day} {d:%b %Y}" if d else ""


def keep_dates(text: str) -> Markup:
    """Escape ``text`` and keep the ISO dates in it from breaking across lines."""
    escaped = str(escape(text))
    return Markup(_DATE_IN_TEXT.sub(r'<span class="nowrap">\g<0></span>', escaped))


def tex_excerpt(text: str, limit: int = 300) -> Markup:
    """A short excerpt of ``text`` (see :func:`shorten`) with its math and TeX macros
    rendered."""
    return texts.to_html(shorten(text, limit))


def tex_links(text: str) -> Markup:
    """``text`` with its math and TeX macros rendered and the links of its text (not of its
    formulas) as links (:func:`paperwire.metadata.find_links`): an abstract."""
    return texts.to_html(text, links=[(x.start, x.end, x.url) for x in find_links(text)])


def author_search(name: str) -> str:
    """The search page for the papers of the author ``name`` (``author:"Name"``)."""
    clean = " ".join(name.replace('"', " ").split())
    return "/search?" + urlencode({"q": f'author:"{clean}"'})


def paragraphs(text: str) -> list[str]:
    """Split an abstract into paragraphs (blank lines or arXiv-style indented lines)."""
    parts = (" ".join(p.split()) for p in _PARAGRAPH_BREAK.split(text.strip()))
    return [p for p in parts if p]


def ordered_categories(p: Paper) -> list[str]:
    first = [p.primary_category] if p.primary_category else []
    return first + [c for c in p.categories if c != p.primary_category]


def parse_window(window: str) -> str:
    if window not in trending.WINDOWS:
        choices = ", ".join(trending.WINDOWS)
        raise PageError(400, f"Unknown window {window!r}: choose one of {choices}.")
    return window


def parse_date(value: str | None) -> date | None:
    if value is None or value == "":
        return None
    try:
        if not _ISO_DATE.match(value):
            raise ValueError
        day = date.fromisoformat(value)
    except ValueError:
        raise PageError(400, f"Invalid date {value!r}: use the form YYYY-MM-DD.") from None
    try:
        return check_day(day, f"The date {value}")
    except ValueError as exc:
        raise PageError(400, f"{exc}.") from None


def parse_category(value: str | None) -> str | None:
    """An arXiv category (``cs.CL``, ``math.AG``, ``hep-th``) or None for all of them."""
    if value is None or value == "":
        return None
    if not is_arxiv_category(value):
        raise PageError(
            400, f"Invalid category {value!r}: use an arXiv category like cs.CL or hep-th."
        )
    return value


def parse_limit(value: str | None) -> int:
    """How many results: SEARCH_LIMIT when not given, at most SEARCH_MAX (more is capped);
    not a whole number, or less than 1, is a 400."""
    if value is None or value == "":
        return SEARCH_LIMIT
    try:
        limit = int(value)
    except ValueError:
        raise PageError(400, f"Invalid limit {value!r}: use a whole number.") from None
    if limit < 1:
        raise PageError(400, f"Invalid limit {value!r}: ask for at least 1 result.")
    return min(limit, SEARCH_MAX)


def parse_sort(value: str) -> Sort:
    if value not in SORTS:
        raise PageError(400, f"Invalid sort {value!r}: use one of {', '.join(SORTS)}.")
    return cast(Sort, value)


def score_line(entry: trending.TrendingEntry) -> str:
    """``'score 8.00 = 8.00 from 13 upvotes on Hugging Face (×1)'``: what the score is made of."""
    parts = [
        f"{p.points:.2f} from {trending.count_phrase(p.source, p.count)} (×{p.weight:g})"
        for p in entry.parts
    ]
    head = f"score {entry.score:.2f}"
    return f"{head} = {' + '.join(parts)}" if parts else head


def _templates() -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters.update(paper_url=paper_path, fmt_date=fmt_date, shorten=shorten,
                       keep_dates=keep_dates, score_line=score_line, anchor_id=anchor_id,
                       tex=texts.to_html, tex_plain=texts.to_plain, tex_excerpt=tex_excerpt,
                       tex_links=tex_links,
                       author_search=author_search, linkify=linkify)
    env.globals.update(paragraphs=paragraphs, ordered_categories=ordered_categories,
                       csrf_token=csrf_token, signed_in=signed_in, signin_path=signin_path,
                       here=here, static_url=static_url)
    return Jinja2Templates(env=env)


def paper_json(p: Paper, base_url: str) -> dict[str, Any]:
    return {
        "id": p.id, "title": p.title, "abstract": p.abstract, "authors": list(p.authors),
        "categories": ordered_categories(p), "primary_category": p.primary_category,
        "version": p.version, "published": p.published.isoformat() if p.published else None,
        "updated": p.updated.isoformat() if p.updated else None, "comment": p.comment,
        "journal_ref": p.journal_ref, "doi": p.doi, "abs_url": p.abs_url,
        "pdf_url": p.pdf_url, "url": base_url + paper_path(p.id),
    }


TEMPLATES = _templates()


def page(request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
    """The page ``name`` rendered with ``context``."""
    return TEMPLATES.TemplateResponse(request, name, context, status_code=status_code)


def find_paper(app: Paperwire, paper_id: str, prefix: str,
               suffix: str = "") -> Paper | Response:
    """The stored paper ``paper_id``; a redirect to the canonical id for a versioned or
    prefixed arXiv id, or for a seed paper merged into its arXiv record (``prefix`` and
    ``suffix`` around the paper's path kept); a 404 otherwise."""
    paper = app.paper(paper_id)
    if paper is not None:
        return paper
    parsed = parse_arxiv_id(paper_id)
    canonical = parsed[0] if parsed else app.merged_into(paper_id)
    if canonical and canonical != paper_id:  # versioned, prefixed or merged: go to the paper
        return RedirectResponse(prefix + paper_path(canonical) + suffix, status_code=301)
    raise PageError(404, f"No paper with id {paper_id!r} is stored here.", "Paper not found")


def parse_order(value: str | None) -> str:
    """``trending`` (the default) or ``top`` (the top of the period)."""
    if value is None or value == "":
        return "trending"
    if value not in trending.ORDERS:
        raise PageError(400, f"Invalid order {value!r}: use one of {', '.join(trending.ORDERS)}.")
    return value


def parse_page(value: str | None, last: int | None = None) -> int:
    """A page number from 1 (the default) to ``last`` (MAX_PAGE when not given); anything
    else is a 400."""
    last = MAX_PAGE if last is None else last
    if value is None or value == "":
        return 1
    if not value.isdigit() or not 1 <= int(value) <= last:
        raise PageError(400, f"Invalid page {value!r}: use a whole number from 1 to {last}.")
    return int(value)


def trending_for(app: Paperwire, window: str, date_param: str | None,
                 cat: str | None, order: str | None = None,
                 page: str | None = None, limit: int = TRENDING_LIMIT) -> trending.TrendingView:
    """The trending view a page, feed or API call asks for (its parameters checked):
    ``order`` trending or top, page ``page`` (from 1) of TRENDING_LIMIT entries (or
    ``limit`` entries from the first, for the API's own paging)."""
    offset = (parse_page(page) - 1) * TRENDING_LIMIT
    return app.trending(parse_window(window), parse_date(date_param), limit=limit,
                        category=parse_category(cat), order=parse_order(order),
                        offset=offset)


def shown_weights(settings: Settings) -> dict[str, float]:
    """The weighted sources that something records: a page never promises the others."""
    return {source: weight for source, weight in settings.trending_weights.items()
            if source in trending.PRODUCED_SOURCES}


def ranked_by(settings: Settings) -> str:
    """``"Hugging Face upvotes, upvotes here and saves here"``: what trending is ranked by."""
    names = [_RANKED_BY[source] for source, weight in shown_weights(settings).items()
             if weight > 0 and source in _RANKED_BY]
    return " and ".join(filter(None, [", ".join(names[:-1]), *names[-1:]]))


def run_search(app: Paperwire, q: str, limit: str | None, sort: str, mode: str,
               highlight: bool, related: int = 0) -> tuple[list[Hit], int]:
    """The hits of a page's or the API's search parameters (checked: a 400 otherwise) and
    how many papers match; with ``related``, up to that many papers below the relevance
    floor follow the matches (``match=False``) when the matches end on this page."""
    if not q.strip():
        return [], 0
    if mode not in MODES:
        raise PageError(400, f"mode must be one of {', '.join(MODES)}")
    options = SearchOptions(limit=parse_limit(limit), sort=parse_sort(sort))
    return app.search_page(q, mode, options, depth=0, related=related, highlight=highlight)


def corrected_query(q: str, spelling: dict[str, str]) -> str:
    """``q`` with each misspelt word replaced by the word it was searched as."""
    return " ".join(spelling.get(w, w) for w in q.split())


def search_feed_path(q: str, limit: str | None = None) -> str:
    """The local path of a query's Atom feed (its papers newest first)."""
    return "/feeds/search.atom?" + urlencode({"q": q, **({"limit": limit} if limit else {})})


def category_feed_path(category: str) -> str:
    """The local path of a category's new-papers feed."""
    return f"/feeds/category/{quote(category)}.atom"


def reference(app: Paperwire, q: str) -> tuple[PaperRef, Paper | None] | None:
    """When ``q`` names a paper (an id, a link, a DOI): the reference and the stored paper
    (None: not stored); a malformed id is a 400 ("… is not a valid arXiv id"). None when
    ``q`` is a search."""
    ref = parse_ref(q)
    if ref is None:
        return None
    if ref.kind == INVALID:
        raise PageError(400, ref.invalid, "Not a valid arXiv id")
    return ref, app.paper_for(ref)


def searched_papers(app: Paperwire, q: str, limit: str | None, mode: str) -> list[Paper]:
    """The papers of the search page for ``q`` sorted newest first (``sort=date``): a
    search feed's entries. A reference gives its paper, or nothing when it is not stored."""
    named = reference(app, q)
    if named is not None:
        return [named[1]] if named[1] is not None else []
    return [h.paper for h in run_search(app, q, limit, "date", mode, highlight=False)[0]]
