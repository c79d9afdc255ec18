"""Small XML helpers shared by the arXiv sources (Atom API and OAI-PMH).

Everything that comes off the network is parsed with :mod:`defusedxml` (no entity expansion,
no external entities, no DTD tricks). A response that is not well-formed XML - an HTML error
page, a truncated body, an empty body - becomes one clear :class:`SourceError`.
"""

from __future__ import annotations

import email.utils
import re
from datetime import UTC, date, datetime
from xml.etree.ElementTree import Element  # the type only; parsing goes through defusedxml

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from paperwire.errors import SourceError

ATOM = "http://www.w3.org/2005/Atom"
OPENSEARCH = "http://a9.com/-/spec/opensearch/1.1/"
ARXIV_ATOM = "http://arxiv.org/schemas/atom"
OAI = "http://www.openarchives.org/OAI/2.0/"
ARXIV_RAW = "http://arxiv.org/OAI/arXivRaw/"

NS = {
    "atom": ATOM,
    "opensearch": OPENSEARCH,
    "arxiv": ARXIV_ATOM,
    "oai": OAI,
    "raw": ARXIV_RAW,
}

_SPACE = re.compile(r"\s+")


def collapse(text: str | None) -> str:
    """Whitespace runs (including the hard line breaks arXiv puts in titles and abstracts)
    collapsed to single spaces, ends stripped. LaTeX and everything else is kept as is."""
    return _SPACE.sub(" ", text or "").strip()


def child_text(elem: Element, path: str) -> str | None:
    """The collapsed text of the first element at ``path`` (prefixes from :data:`NS`);
    None when it is absent or blank."""
    found = elem.find(path, NS)
    if found is None:
        return None
    return collapse(found.text) or None


def _snippet(content: bytes) -> str:
    text = collapse(content[:120].decode("utf-8", errors="replace"))
    return text[:80] + ("…" if len(text) > 80 else "")


def looks_like_html(content: bytes) -> bool:
    head = content[:512].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<html" in head


def parse_xml(content: bytes, *, source: str, where: str, expected: str) -> Element:
    """The root element of ``content``, parsed safely.

    ``where`` names the request (URL, day) and ``expected`` what should have come back
    (``"an Atom feed"``); both go into the :class:`SourceError` raised when ``content`` is
    empty, HTML, truncated or otherwise not well-formed XML.
    """
    if not content.strip():
        raise SourceError(source, f"{where}: empty response, expected {expected}")
    if looks_like_html(content):
        raise SourceError(
            source,
            f"{where}: got an HTML page, not {expected} (starts {_snippet(content)!r})",
        )
    try:
        root: Element = SafeET.fromstring(content)
    except SafeET.ParseError as exc:
        raise SourceError(
            source,
            f"{where}: not {expected}: truncated or malformed XML ({exc}; "
            f"starts {_snippet(content)!r})",
        ) from exc
    except DefusedXmlException as exc:
        raise SourceError(
            source, f"{where}: refused unsafe XML ({type(exc).__name__}) instead of {expected}"
        ) from exc
    return root


def iso_date(text: str) -> date:
    """The UTC calendar date of an Atom timestamp like ``2021-04-20T16:07:14Z``.
    Raises ValueError when it is not one."""
    value = datetime.fromisoformat(text.strip())
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.date()


def rfc2822_date(text: str) -> date:
    """The UTC calendar date of an e-mail style timestamp like
    ``Mon, 2 Apr 2007 19:18:42 GMT`` (arXivRaw version dates).
    Raises ValueError when it is not one."""
    try:
        value = email.utils.parsedate_to_datetime(text.strip())
    except (TypeError, IndexError) as exc:  # older Pythons raise these on junk
        raise ValueError(f"not a date: {text!r}") from exc
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.date()


def first_doi(text: str | None) -> str | None:
    """arXiv's doi field may hold several DOIs separated by spaces (a paper and its
    erratum); the first is the paper's own."""
    if not text:
        return None
    parts = text.split()
    return parts[0] if parts else None
