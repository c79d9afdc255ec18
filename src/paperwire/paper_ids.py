"""What a typed or pasted paper reference names — pure.

:func:`parse_ref` reads one reference, as a search box, the API or ``paperwire show`` gets
it: a bare arXiv id (``2606.30534``, ``2606.30534v2``, ``hep-th/9901001``,
``math.AG/0101001v3``), with an ``arXiv:`` prefix, an arXiv abs/pdf/html URL (``.pdf``,
``export.arxiv.org``, a version), a Hugging Face or alphaXiv paper URL, an arXiv DOI, or any
other DOI (``10.xxxx/…``, ``doi:``, a ``doi.org`` URL), matched against stored DOIs. Text that
only looks like one of these (``2606.3053x``, ``arXiv:foo``, an arXiv URL without an id) is
an :data:`INVALID` reference, so the reader is told instead of getting unrelated results;
anything else is not a reference at all (None): a search.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

# the id itself: new style (2406.12345) or old style (hep-th/9901001, math.AG/0601001)
ID = r"(?P<id>\d{4}\.\d{4,5}|[a-z][a-z\-]*(?:\.[a-z]{2})?/\d{7})(?!\d)(?:v(?P<version>\d+))?"
_HOSTS = (r"(?:www\.|export\.)?arxiv\.org/(?:abs|pdf|html|format)"
          r"|(?:www\.)?huggingface\.co/papers"
          r"|(?:www\.)?alphaxiv\.org/(?:abs|overview|pdf)")
_TAIL = r"(?:\.pdf)?/?(?:[?#]\S*)?"
_ARXIV_FORMS = tuple(re.compile(form, re.IGNORECASE) for form in (
    rf"(?:arxiv\s*:\s*)?{ID}(?:\.pdf)?",  # an id
    rf"(?:https?://)?(?:{_HOSTS})/{ID}{_TAIL}",  # a link to its page
    rf"(?:(?:https?://)?(?:dx\.)?doi\.org/|doi:\s*)?10\.48550/arxiv\.{ID}",  # its DOI
))
# what only an id or an id link would look like: a number with a dot, an arXiv prefix, a URL
# of one of the hosts above
_ID_LOOKING = re.compile(
    rf"\d{{4}}\.\d\S*|arxiv\s*:.*|(?:https?://)?(?:{_HOSTS})(?:/\S*)?",
    re.IGNORECASE)
_DOI = re.compile(r"(?:(?:https?://)?(?:dx\.)?doi\.org/|doi:\s*)?(?P<doi>10\.\d{4,9}/\S+)",
                  re.IGNORECASE)

Kind = Literal["arxiv", "doi", "invalid"]
ARXIV: Kind = "arxiv"
DOI: Kind = "doi"
INVALID: Kind = "invalid"


@dataclass(frozen=True)
class PaperRef:
    """A reference: ``kind`` ``arxiv`` (``key`` the id without version, as the store keys
    it; ``version`` when one was given), ``doi`` (``key`` the DOI) or ``invalid`` (``key`` the
    text as given)."""

    kind: Kind
    key: str
    version: int | None = None

    @property
    def source_url(self) -> str | None:
        """Where the paper is outside this site: its arXiv page, or its DOI's resolver."""
        if self.kind == ARXIV:
            return f"https://arxiv.org/abs/{self.key}"
        if self.kind == DOI:
            return f"https://doi.org/{self.key}"
        return None

    @property
    def not_stored(self) -> str:
        """The sentence telling a reader this site does not have it."""
        what = self.key if self.kind == ARXIV else f"with DOI {self.key}"
        return f"No paper {what} here."

    @property
    def invalid(self) -> str:
        return f"{shown(self.key)} is not a valid arXiv id."


def shown(text: str, limit: int = 80) -> str:
    """``text`` on one line, cut to ``limit`` characters, to quote back."""
    one = " ".join(text.split())
    return one if len(one) <= limit else one[: limit - 1] + "…"


def normalize(raw_id: str) -> str:
    """An id as the store keys it: old-style archive lower-case, subject class upper-case
    (``HEP-TH/9901001`` → ``hep-th/9901001``, ``math.ag/0601001`` → ``math.AG/0601001``)."""
    if "/" not in raw_id:
        return raw_id
    archive, number = raw_id.split("/", 1)
    if "." in archive:
        name, subject = archive.split(".", 1)
        archive = f"{name.lower()}.{subject.upper()}"
    else:
        archive = archive.lower()
    return f"{archive}/{number}"


def plausible(arxiv_id: str) -> bool:
    """Whether an id of the right shape could exist: a real month, four digits after the dot
    up to 1412 and five from 1501, old-style ids from 1991 to 2007."""
    number = arxiv_id.split("/")[-1]
    yymm = number[:4]
    if not 1 <= int(yymm[2:]) <= 12:
        return False
    if "/" in arxiv_id:
        return int(yymm[:2]) >= 91 or yymm <= "0703"
    digits = len(number) - 5
    return yymm >= "0704" and digits == (4 if yymm <= "1412" else 5)


def parse_ref(text: str) -> PaperRef | None:
    """The reference ``text`` is (see the module's doc), or None when it is no reference
    (a search). Surrounding spaces, quotes and angle brackets are ignored."""
    token = text.strip().strip("<>\"'").strip()
    if not token or (any(c.isspace() for c in token) and not token.lower().startswith("arxiv")):
        return None
    m = next(filter(None, (form.fullmatch(token) for form in _ARXIV_FORMS)), None)
    if m and plausible(m.group("id")):
        version = m.group("version")
        return PaperRef(ARXIV, normalize(m.group("id")), int(version) if version else None)
    if m or _ID_LOOKING.fullmatch(token):
        return PaperRef(INVALID, token)
    d = _DOI.fullmatch(token)
    if d:
        return PaperRef(DOI, d.group("doi").rstrip(".,;").lower())
    return None
