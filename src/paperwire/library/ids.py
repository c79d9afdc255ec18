"""arXiv ids found in text a reader brings: a list (one per line: bare ids, versions,
``arXiv:`` prefixes, abs/pdf/html URLs, arXiv DOIs) and the fields of a BibTeX entry — pure."""

from __future__ import annotations

import re
from dataclasses import dataclass

from paperwire.paper_ids import ID, normalize, plausible, shown

__all__ = ["Found", "Parsed", "Problem", "id_of_token", "ids_in_text", "normalize",
           "parse_id_list", "plausible", "shown"]

# the id itself (new or old style, a version), as paper_ids reads it
_ID = ID.replace("(?P<version>", "(?:")
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
