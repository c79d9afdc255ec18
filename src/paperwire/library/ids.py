"""arXiv ids found in text a reader brings: a list (one per line: bare ids, versions,
``arXiv:`` prefixes, abs/pdf/html URLs, arXiv DOIs) and the fields of a BibTeX entry — pure."""

from __future__ import annotations

import re
from dataclasses import dataclass

# the id itself: new style (2406.12345) or old style (hep-th/9901001, math.AG/0601001)
_ID = r"(?P<id>\d{4}\.\d{4,5}|[a-z][a-z\-]*(?:\.[a-z]{2})?/\d{7})(?!\d)(?:v\d+)?"
# an id alone, as a list's line or an eprint field holds it
_BARE = re.compile(rf"(?:arxiv\s*:\s*)?{_ID}(?:\.pdf)?", re.IGNORECASE)
# an id inside longer text: an arXiv URL, an arXiv DOI (bare or as a URL), "arXiv:ID"
_IN_TEXT = re.compile(
    rf"(?:arxiv\.org/(?:abs|pdf|html|format)/|10\.48550/arxiv\.|\barxiv\s*:\s*){_ID}",
    re.IGNORECASE)
# a whole token of a list that is a link: the same, with the scheme and host, and whatever
# follows the id in a URL (".pdf", "/", "?query", "#fragment")
_URL = re.compile(
    rf"(?:https?://)?(?:www\.|export\.)?"
    rf"(?:arxiv\.org/(?:abs|pdf|html|format)/|(?:dx\.)?doi\.org/10\.48550/arxiv\.)"
    rf"{_ID}(?:\.pdf)?/?(?:[?#]\S*)?",
    re.IGNORECASE)
_DOI = re.compile(rf"(?:doi:\s*)?10\.48550/arxiv\.{_ID}", re.IGNORECASE)


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


def id_of_token(token: str) -> str | None:
    """The arXiv id (without version) ``token`` is or links to, or None."""
    token = token.strip().strip("<>\"'")
    for pattern in (_BARE, _URL, _DOI):
        m = pattern.fullmatch(token)
        if m and plausible(m.group("id")):
            return normalize(m.group("id"))
    return None


def ids_in_text(text: str) -> list[str]:
    """The arXiv ids ``text`` links to or cites (URLs, arXiv DOIs, ``arXiv:ID``), in order."""
    seen: list[str] = []
    for m in _IN_TEXT.finditer(text):
        found = normalize(m.group("id"))
        if plausible(found) and found not in seen:
            seen.append(found)
    return seen


@dataclass(frozen=True)
class Found:
    """An arXiv id found at ``line`` (1-based) of the input; ``label`` says where from
    (a BibTeX entry's key, or the list's token as written)."""

    arxiv_id: str
    line: int
    label: str


@dataclass(frozen=True)
class Problem:
    """Something of the input that gave no arXiv id: ``kind`` is ``malformed`` (a BibTeX
    entry the parser could not read), ``no-arxiv-id`` (an entry that names no arXiv paper) or
    ``not-an-id`` (a token of a list); ``detail`` says what, for the reader."""

    line: int
    kind: str
    detail: str


@dataclass(frozen=True)
class Parsed:
    """What an import file holds: ``format`` (``bibtex`` or ``ids``), the ids found (each
    once, first place kept), and every problem with its line."""

    format: str
    found: tuple[Found, ...]
    problems: tuple[Problem, ...]

    @property
    def ids(self) -> list[str]:
        return [f.arxiv_id for f in self.found]


MAX_TOKEN_SHOWN = 80


def shown(text: str, limit: int = MAX_TOKEN_SHOWN) -> str:
    """``text`` on one line, cut to ``limit`` characters, to quote back in a report."""
    one = " ".join(text.split())
    return one if len(one) <= limit else one[: limit - 1] + "…"


def parse_id_list(text: str) -> Parsed:
    """The ids of a list: one or more per line (separated by spaces or commas); blank lines
    and lines starting with ``#`` are skipped; every other token that is not an arXiv id or
    link is a problem with its line."""
    found: dict[str, Found] = {}
    problems: list[Problem] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        for token in re.split(r"[\s,;]+", line.strip()):
            if not token:
                continue
            arxiv_id = id_of_token(token)
            if arxiv_id is None:
                problems.append(Problem(number, "not-an-id", shown(token)))
            elif arxiv_id not in found:
                found[arxiv_id] = Found(arxiv_id, number, shown(token))
    return Parsed("ids", tuple(found.values()), tuple(problems))
