"""What a paper has besides its text: Hugging Face's metadata, links, a one-line TL;DR — pure.

- :class:`PaperMeta`: what the Hugging Face daily papers hold about a paper beyond its text
  (code repository, project page, AI summary and keywords, organization, submitter, thumbnail,
  comment count), as of the day of the list it came from. :func:`bounded_meta` cleans it the
  way :func:`paperwire.models.bounded` cleans a paper: only ``http``/``https`` URLs are kept,
  every text is cleaned and cut to its cap. :func:`merge_meta` decides what a newer or older
  day changes.
- :func:`find_links`: the links in an abstract or an arXiv comment (GitHub, GitLab, Hugging
  Face, project pages, any ``http(s)`` URL), trailing punctuation stripped.
- :func:`linkify`: text as safe HTML with those links as ``<a rel="nofollow noopener">``.
- :func:`extract_tldr`: the first sentence of an abstract that states a claim ("We propose …"),
  else its first sentence: the offline TL;DR shown where Hugging Face has no summary.
- :func:`extras`: what a page shows of a paper besides its text (:class:`Extras`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any
from urllib.parse import urlsplit

from markupsafe import Markup, escape

from paperwire.models import Paper, Signal, clean_text, one_line, shorten

STARS_SIGNAL = "github_stars"  # a dated signal like upvotes; never ranks (trending.NOT_RANKED)

MAX_URL_CHARS = 500
MAX_SUMMARY_CHARS = 2_000
MAX_MODEL_CHARS = 200
MAX_KEYWORDS = 30
MAX_KEYWORD_CHARS = 100
MAX_NAME_CHARS = 200
MAX_COMMENTS = 10**9
MAX_TLDR_CHARS = 280


@dataclass(frozen=True)
class PaperMeta:
    """Hugging Face's metadata of one paper, as of ``day`` (the daily list it came from)."""

    paper_id: str
    code_url: str | None = None
    project_url: str | None = None
    ai_summary: str | None = None
    ai_summary_model: str | None = None
    ai_keywords: tuple[str, ...] = ()
    thumbnail_url: str | None = None
    organization: str | None = None
    submitted_by: str | None = None
    comments: int | None = None
    source: str = "hf"
    day: date | None = None

    def is_empty(self) -> bool:
        return all(getattr(self, name) in (None, ()) for name in _FIELDS)


_FIELDS = ("code_url", "project_url", "ai_summary", "ai_summary_model", "ai_keywords",
           "thumbnail_url", "organization", "submitted_by", "comments")


# ---- cleaning ------------------------------------------------------------------------------

_URL_BAD = re.compile(r"[\s\x00-\x1f\x7f<>\"'`\\]")


def safe_url(value: Any, limit: int = MAX_URL_CHARS) -> str | None:
    """``value`` when it is an absolute ``http``/``https`` URL with a host, at most ``limit``
    characters and free of spaces, quotes and controls; else None."""
    if not isinstance(value, str):
        return None
    url = value.strip()
    if not url or len(url) > limit or _URL_BAD.search(url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return url


def _text(value: Any, limit: int) -> str | None:
    if not isinstance(value, str):
        return None
    text = one_line(clean_text(value))
    if not text:
        return None
    return shorten(text, limit) if len(text) > limit else text


def bounded_meta(meta: PaperMeta) -> PaperMeta:
    """``meta`` as the store keeps it: URLs that are not safe ``http(s)`` dropped, texts
    cleaned to one line and cut to their caps, at most ``MAX_KEYWORDS`` keywords (each
    once), a comment count that is a sane non-negative integer. Idempotent."""
    keywords: list[str] = []
    for k in meta.ai_keywords[: MAX_KEYWORDS * 2]:
        text = _text(k, MAX_KEYWORD_CHARS)
        if text and text not in keywords:
            keywords.append(text)
    comments = meta.comments
    if isinstance(comments, bool) or not isinstance(comments, int) \
            or not 0 <= comments <= MAX_COMMENTS:
        comments = None
    return replace(
        meta,
        code_url=safe_url(meta.code_url),
        project_url=safe_url(meta.project_url),
        ai_summary=_text(meta.ai_summary, MAX_SUMMARY_CHARS),
        ai_summary_model=_text(meta.ai_summary_model, MAX_MODEL_CHARS),
        ai_keywords=tuple(keywords[:MAX_KEYWORDS]),
        thumbnail_url=safe_url(meta.thumbnail_url),
        organization=_text(meta.organization, MAX_NAME_CHARS),
        submitted_by=_text(meta.submitted_by, MAX_NAME_CHARS),
        comments=comments,
    )


def merge_meta(old: PaperMeta, new: PaperMeta) -> PaperMeta:
    """What to keep when ``new`` arrives for a paper whose stored metadata is ``old``: the
    values of the newer day (``new`` on a tie or when a day is unknown), each gap filled
    from the other."""
    newer = old.day is None or new.day is None or new.day >= old.day
    first, second = (new, old) if newer else (old, new)
    filled = {name: getattr(first, name) if getattr(first, name) not in (None, ())
              else getattr(second, name) for name in _FIELDS}
    day = max((d for d in (old.day, new.day) if d is not None), default=None)
    return replace(first, day=day, **filled)


# ---- links in text ---------------------------------------------------------------------------

# An http(s) URL, or a bare github.com / gitlab.com / huggingface.co address.
_LINK = re.compile(
    r"(?:https?://|(?<![\w./@-])(?=(?:www\.)?(?:github\.com|gitlab\.com|huggingface\.co)/))"
    r"[^\s<>\"'`{}|\\^\[\]]+",
    re.IGNORECASE,
)
_TRAILING = ".,;:!?'\"*~_"
_PAIRS = {")": "(", "]": "[", "}": "{"}
_PROJECT_CUE = re.compile(r"(project|home)[ -]?(page|website|site|webpage)|website|homepage"
                          r"|demo", re.IGNORECASE)
_CODE_HOSTS = ("github.com", "gitlab.com")


@dataclass(frozen=True)
class Link:
    """A link found in text: its URL, what it points to (``code``, ``huggingface``,
    ``project``, ``web``) and where it sits in the text (``start``, ``end``)."""

    url: str
    kind: str
    start: int = field(default=0, compare=False)
    end: int = field(default=0, compare=False)


def _trim(url: str) -> str:
    """``url`` without the punctuation that ends the sentence around it: trailing dots,
    commas, quotes, and closing brackets that open nowhere in the URL."""
    while url:
        last = url[-1]
        closes = last in _PAIRS and url.count(_PAIRS[last]) < url.count(last)
        if last in _TRAILING or closes:
            url = url[:-1]
        else:
            break
    return url


def _kind(url: str, before: str) -> str:
    host = (urlsplit(url).hostname or "").lower().removeprefix("www.")
    if host in _CODE_HOSTS:
        path = [p for p in urlsplit(url).path.split("/") if p]
        return "code" if len(path) >= 2 else "web"
    if host == "huggingface.co" or host.endswith(".hf.space"):
        return "huggingface"
    if _PROJECT_CUE.search(before[-40:]):
        return "project"
    if host.endswith(".github.io"):
        return "project"
    return "web"


def find_links(text: str | None) -> list[Link]:
    """The links in ``text`` (an abstract, an arXiv comment), in order, each URL once. Bare
    ``github.com/…`` addresses get ``https://``; LaTeX ``\\url{…}`` braces, closing brackets
    and the sentence's punctuation are not part of a link; only safe ``http(s)`` URLs
    (:func:`safe_url`) are kept."""
    if not text:
        return []
    found: list[Link] = []
    seen: set[str] = set()
    for m in _LINK.finditer(text):
        raw = _trim(m.group())
        url = raw if raw.lower().startswith(("http://", "https://")) else "https://" + raw
        if url.lower().endswith(".git"):
            url = url[:-4]
        checked = safe_url(url)
        if checked is None or "." not in (urlsplit(checked).hostname or ""):
            continue
        if checked in seen:
            continue
        seen.add(checked)
        found.append(Link(checked, _kind(checked, text[: m.start()]), m.start(),
                          m.start() + len(raw)))
    return found


def linkify(text: str | None) -> Markup:
    """``text`` as HTML: escaped, with each link of :func:`find_links` an
    ``<a href rel="nofollow noopener">`` showing the link as written."""
    if not text:
        return Markup("")
    out: list[str] = []
    pos = 0
    for link in find_links(text):
        out.append(escape(text[pos:link.start]))
        out.append(Markup('<a href="{}" rel="nofollow noopener">{}</a>').format(
            link.url, text[link.start:link.end]))
        pos = link.end
    out.append(escape(text[pos:]))
    return Markup("").join(out)


def code_link(meta: PaperMeta | None, paper: Paper) -> tuple[str, str] | None:
    """The paper's code repository and where it was found: Hugging Face's ``githubRepo``,
    else the first GitHub/GitLab repository named in the comment, else in the abstract."""
    if meta is not None and meta.code_url:
        return meta.code_url, "Hugging Face"
    for where, text in (("the arXiv comment", paper.comment), ("the abstract", paper.abstract)):
        for link in find_links(text):
            if link.kind == "code":
                return link.url, where
    return None


# ---- the extractive TL;DR --------------------------------------------------------------------

# Abbreviations after which a full stop does not end the sentence.
_ABBREVIATIONS = ("e.g.", "i.e.", "et al.", "etc.", "cf.", "vs.", "Fig.", "Figs.", "Eq.",
                  "Eqs.", "Sec.", "Ref.", "Refs.", "al.", "approx.", "resp.", "No.", "Dr.",
                  "Prof.", "St.", "Tab.", "w.r.t.", "a.k.a.")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[A-Z0-9\"'(\[$\\])")
_CLAIM = re.compile(
    r"\b(?:we|here(?:,)? we|this (?:paper|work|study|article|letter|note)|in this "
    r"(?:paper|work|study)(?:,)? we|our (?:method|approach|work|results?|model))\s+"
    r"(?:\w+ly\s+)?(?:propose|introduce|present|show|develop|describe|demonstrate|report|"
    r"find|establish|prove|derive|design|build|release|construct|provide|study|investigate|"
    r"explore|address|tackle|argue|identify|reveal|achieve|extend|formulate|analy[sz]e|"
    r"offer|presents?|proposes?|introduces?|shows?|develops?|describes?|demonstrates?|"
    r"reports?|provides?|studies|investigates?|establishes?)\b",
    re.IGNORECASE,
)


def sentences(text: str) -> list[str]:
    """``text`` (one paragraph) cut into sentences, not after the usual abbreviations
    (``e.g.``, ``et al.``, ``Fig.``) nor inside numbers."""
    text = one_line(text)
    out: list[str] = []
    start = 0
    for m in _SENTENCE_END.finditer(text):
        head = text[start:m.start()]
        if head.endswith(_ABBREVIATIONS) or re.search(r"\b[A-Z]\.$", head):
            continue
        out.append(text[start:m.end()].strip())
        start = m.end()
    rest = text[start:].strip()
    if rest:
        out.append(rest)
    return out


def extract_tldr(abstract: str | None, limit: int = MAX_TLDR_CHARS) -> str | None:
    """One sentence of ``abstract`` to stand for it: the first that states what the paper
    does ("We propose …", "This paper presents …"), else the first; cut to ``limit``
    characters. None for an empty abstract."""
    if not abstract or not abstract.strip():
        return None
    found = sentences(abstract)
    if not found:
        return None
    claim = next((s for s in found if _CLAIM.search(s)), found[0])
    return shorten(claim, limit)


# ---- what pages show -------------------------------------------------------------------------


@dataclass(frozen=True)
class Extras:
    """What a page, a digest or the API shows of a paper besides its text."""

    meta: PaperMeta | None
    code_url: str | None
    code_from: str | None  # "Hugging Face", "the arXiv comment", "the abstract"
    stars: int | None  # GitHub stars, as of ``stars_day``
    stars_day: date | None
    tldr: str | None
    tldr_from: str | None  # "hf" (Hugging Face's AI summary) or "abstract" (extracted)
    links: tuple[Link, ...] = ()  # every link of the comment and the abstract

    @property
    def project_url(self) -> str | None:
        if self.meta is not None and self.meta.project_url:
            return self.meta.project_url
        return next((link.url for link in self.links if link.kind == "project"), None)

    def as_json(self) -> dict[str, Any]:
        """The ``meta`` object of the API: every field, null when unknown."""
        m = self.meta or PaperMeta("")
        return {
            "code_url": self.code_url,
            "code_from": self.code_from,
            "github_stars": self.stars,
            "github_stars_day": self.stars_day.isoformat() if self.stars_day else None,
            "project_url": self.project_url,
            "ai_summary": m.ai_summary,
            "ai_summary_model": m.ai_summary_model,
            "ai_keywords": list(m.ai_keywords),
            "thumbnail_url": m.thumbnail_url,
            "organization": m.organization,
            "submitted_by": m.submitted_by,
            "comments": m.comments,
            "source": m.source if self.meta is not None else None,
            "as_of": m.day.isoformat() if m.day else None,
            "tldr": self.tldr,
            "tldr_from": self.tldr_from,
            "links": [{"url": link.url, "kind": link.kind} for link in self.links],
        }


def latest_stars(signals: list[Signal]) -> Signal | None:
    """The newest GitHub stars signal among ``signals``."""
    stars = [s for s in signals if s.source == STARS_SIGNAL]
    return max(stars, key=lambda s: s.day) if stars else None


def extras(paper: Paper, meta: PaperMeta | None, stars: Signal | None = None) -> Extras:
    """What to show of ``paper`` besides its text, from its stored metadata and its newest
    GitHub stars signal."""
    code = code_link(meta, paper)
    tldr: str | None = None
    tldr_from: str | None = None
    if meta is not None and meta.ai_summary:
        tldr, tldr_from = shorten(meta.ai_summary, MAX_TLDR_CHARS), "hf"
    else:
        tldr = extract_tldr(paper.abstract)
        tldr_from = "abstract" if tldr else None
    unique: dict[str, Link] = {}
    for link in find_links(paper.comment) + find_links(paper.abstract):
        unique.setdefault(link.url, link)
    has_stars = stars is not None and code is not None and code[1] == "Hugging Face"
    return Extras(
        meta=meta,
        code_url=code[0] if code else None,
        code_from=code[1] if code else None,
        stars=int(stars.value) if has_stars and stars is not None else None,
        stars_day=stars.day if has_stars and stars is not None else None,
        tldr=tldr,
        tldr_from=tldr_from,
        links=tuple(unique.values()),
    )
