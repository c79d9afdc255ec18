"""BibTeX both ways — pure.

Export: papers as ``@misc`` entries the way arXiv's own export and biblatex expect them
(``eprint``, ``archivePrefix = {arXiv}``, ``primaryClass``), with stable, unique keys and text
made safe for BibTeX and LaTeX. Titles and author names are LaTeX already (arXiv keeps its
metadata as TeX source), so math (``$…$``) and commands (``\\"u``, ``\\emph{…}``) pass through;
what would break the file or the document is escaped: ``& % # _ ^``, a lone ``$``, unmatched
braces, a bare backslash, commands that read or write files or redefine things. ``@`` is
written ``{@}`` so that no parser takes it for the start of an entry. Accented letters stay
UTF-8. The title is wrapped in a second pair of braces, which keeps its capitals.

Import: the arXiv ids a BibTeX file names, read with bibtexparser (v2): an entry's ``eprint``
(with ``archivePrefix``/``eprinttype`` arXiv, or none), else an arXiv URL, an arXiv DOI or an
``arXiv:ID`` in its other fields (Google Scholar puts it in ``journal``). An entry the parser
cannot read is reported with its line, and the entries around it are kept.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from bibtexparser import model
from bibtexparser.entrypoint import parse_string

from paperwire.library.ids import Found, Parsed, Problem, id_of_token, ids_in_text, shown
from paperwire.library.ids import parse_id_list as parse_id_list
from paperwire.library.names import ascii_fold, is_group, split_name
from paperwire.models import Paper, is_arxiv_id, one_line

# bibtexparser logs each malformed block (with 0-based line numbers); the import reports them
# itself, with the file's own line numbers, so its warnings would only repeat them, wrongly
logging.getLogger("bibtexparser").setLevel(logging.ERROR)

# ---- text → BibTeX/LaTeX -----------------------------------------------------------------

# TeX commands that read or write files, run programs or redefine things: never passed through
# (a title from an imported file could otherwise run `\input`/`\write18` in a reader's build)
_DANGEROUS = frozenset({
    "input", "include", "includeonly", "InputIfFileExists", "write", "immediate", "openout",
    "openin", "read", "readline", "closeout", "closein", "write18", "ShellEscape", "catcode",
    "def", "edef", "gdef", "xdef", "let", "futurelet", "newcommand", "renewcommand",
    "providecommand", "DeclareRobustCommand", "newenvironment", "renewenvironment", "csname",
    "endcsname", "expandafter", "special", "directlua", "latelua", "luaexec", "usepackage",
    "RequirePackage", "documentclass", "makeatletter", "makeatother", "everypar", "everyeof",
    "endinput", "end", "begin", "output", "jobname", "scantokens", "uppercase", "lowercase",
    "lccode", "uccode", "mathcode", "delcode", "sfcode", "errhelp", "errmessage", "message",
    "typeout", "loop", "repeat", "afterassignment", "aftergroup", "global", "long", "outer",
    "protected", "detokenize", "unexpanded", "noexpand", "string", "meaning", "pdfprimitive",
    "primitive", "pdfshellescape", "newwrite", "newread",
})
_SPECIAL_AFTER_BACKSLASH = set("'\"^~=.`&%#_$ ,;:!-@{}|<>")
_COMMAND = re.compile(r"[A-Za-z]+")


def _tokens(text: str) -> list[tuple[str, str]]:
    """``text`` cut into (kind, text) tokens: ``cmd`` (a backslash command or escape), ``{``,
    ``}``, ``\\{``, ``\\}`` (braces, plain and escaped), ``$``, ``\\\\`` (a forced line
    break), ``bs`` (a backslash that escapes nothing) and ``ch`` (any other character)."""
    out: list[tuple[str, str]] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "\\":
            nxt = text[i + 1] if i + 1 < n else ""
            if nxt == "\\":
                out.append(("\\\\", "\\\\"))
                i += 2
            elif nxt in ("{", "}"):
                out.append(("\\" + nxt, "\\" + nxt))
                i += 2
            elif nxt and nxt.isascii() and nxt.isalpha():
                m = _COMMAND.match(text, i + 1)
                assert m is not None
                out.append(("cmd", "\\" + m.group()))
                i = m.end()
            elif nxt and nxt in _SPECIAL_AFTER_BACKSLASH:
                out.append(("cmd", "\\" + nxt))
                i += 2
            else:
                out.append(("bs", "\\"))
                i += 1
        elif ch in "{}$":
            out.append((ch, ch))
            i += 1
        else:
            out.append(("ch", ch))
            i += 1
    return out


def _unmatched(tokens: list[tuple[str, str]]) -> set[int]:
    """Indexes of the brace tokens without a partner (plain braces pair with plain ones,
    escaped with escaped) and of a last ``$`` left alone: those are written as literal
    characters, so the field's braces balance for BibTeX, bibtexparser and LaTeX alike."""
    lone: set[int] = set()
    for opening, closing in (("{", "}"), ("\\{", "\\}")):
        stack: list[int] = []
        for index, (kind, _) in enumerate(tokens):
            if kind == opening:
                stack.append(index)
            elif kind == closing:
                if stack:
                    stack.pop()
                else:
                    lone.add(index)
        lone.update(stack)
    dollars = [index for index, (kind, _) in enumerate(tokens) if kind == "$"]
    if len(dollars) % 2:
        lone.add(dollars[-1])
    return lone


_LITERAL = {
    "{": r"\textbraceleft{}", "}": r"\textbraceright{}",
    "\\{": r"\textbraceleft{}", "\\}": r"\textbraceright{}", "$": r"\$",
}
_ESCAPED = {"&": r"\&", "%": r"\%", "#": r"\#"}
_TEXT_ONLY = {"_": r"\_", "^": r"\textasciicircum{}"}


def latex(text: str) -> str:
    """``text`` (one line, TeX as arXiv keeps it) safe inside a braced BibTeX field."""
    tokens = _tokens(one_line(text))
    lone = _unmatched(tokens)
    out: list[str] = []
    math = False
    for index, (kind, value) in enumerate(tokens):
        if index in lone:
            out.append(_LITERAL[kind])
        elif kind == "$":
            math = not math
            out.append("$")
        elif kind == "\\\\":
            out.append(" ")
        elif kind == "bs":
            out.append(r"\textbackslash{}")
        elif kind == "cmd":
            name = value[1:]
            if name in _DANGEROUS:
                out.append(r"\textbackslash{}" + name)
            elif name == "@":
                out.append(r"\@{}")
            else:
                out.append(value)
        elif value in _ESCAPED:
            out.append(_ESCAPED[value])
        elif value == "@":
            out.append("{@}")
        elif value in _TEXT_ONLY and not math:
            out.append(_TEXT_ONLY[value])
        elif value == "^" and out and out[-1] == "^":
            out.append("{}^")  # TeX reads ^^5c as a backslash: never two carets in a row
        else:
            out.append(value)
    return "".join(out)


def _verbatim(text: str) -> str:
    """A URL or DOI as a field holds it: one line, no spaces, braces or backslashes."""
    return re.sub(r"[\s{}\\]", "", one_line(text)).replace("@", "%40")


def author_field(authors: Sequence[str]) -> str:
    """The ``author`` field: names joined with `` and ``, each as BibTeX reads it. A name as
    papers give it ("Ashish Vaswani", "Ludwig van Beethoven") is kept; a suffix moves to
    BibTeX's "von Last, Jr, First" form; a group ("ATLAS Collaboration") or a name containing
    the word "and" is braced, so it is never split or reordered."""
    out: list[str] = []
    for raw in authors:
        name = " ".join(raw.split())
        if not name:
            continue
        text = latex(name)
        if is_group(name) or re.search(r"\band\b", name, re.IGNORECASE) or name.count(",") > 2:
            out.append("{" + text + "}")
            continue
        parts = split_name(name)
        if parts.suffix and "," not in name:
            family = " ".join(p for p in (parts.particle, parts.family) if p)
            text = ", ".join(latex(p) for p in (family, parts.suffix, parts.given) if p)
        out.append(text)
    return " and ".join(out)


# ---- citation keys -----------------------------------------------------------------------

_STOPWORDS = frozenset({
    "a", "an", "the", "on", "of", "in", "for", "to", "and", "or", "with", "from", "by", "at",
    "as", "is", "are", "do", "does", "via", "towards", "toward", "into", "using", "about",
})


def year_of(paper: Paper) -> int | None:
    """The year of the paper's first version: its ``published`` date, else read from its
    arXiv id (``2406.12345`` → 2024, ``hep-th/9901001`` → 1999)."""
    if paper.published is not None:
        return paper.published.year
    if not is_arxiv_id(paper.id):
        return None
    digits = paper.id.split("/")[-1][:2] if "/" in paper.id else paper.id[:2]
    yy = int(digits)
    return 1900 + yy if "/" in paper.id and yy >= 91 else 2000 + yy


def _first_word(title: str) -> str:
    plain = re.sub(r"\$[^$]*\$", " ", title)  # math says nothing a key can use
    plain = re.sub(r"\\[A-Za-z]+", " ", plain)  # nor do commands' names
    for word in re.split(r"[^\w]+", plain):
        folded = ascii_fold(word)
        if folded and folded not in _STOPWORDS and not folded.isdigit():
            return folded[:20]
    return ""


def base_key(paper: Paper) -> str:
    """The key before de-duplication: first author's family name, year, first significant
    title word, ASCII lower-case (``vaswani2017attention``); ``anon`` with no author."""
    family = ""
    for raw in paper.authors:
        name = split_name(raw)
        words = (name.family or name.literal).split()
        family = ascii_fold(words[0] if name.literal and words else name.family)
        if family:
            break
    year = year_of(paper)
    return f"{(family or 'anon')[:24]}{year or ''}{_first_word(paper.title)}"


def _suffixes() -> Iterable[str]:
    """a, b, …, z, aa, ab, …"""
    letters = "abcdefghijklmnopqrstuvwxyz"
    yield from letters
    for first in letters:
        for second in letters:
            yield first + second
    n = 0
    while True:  # never reached in practice: 702 papers sharing a key
        n += 1
        yield f"x{n}"


def citation_keys(papers: Sequence[Paper]) -> dict[str, str]:
    """Paper id → its unique key. Papers sharing a base key are ordered by id: the first keeps
    it, the next get ``a``, ``b``, … appended (skipping any key already taken), so the keys
    do not depend on the order the papers come in."""
    groups: dict[str, list[str]] = {}
    for paper in papers:
        groups.setdefault(base_key(paper), []).append(paper.id)
    keys: dict[str, str] = {}
    taken: set[str] = set()
    for base, ids in sorted(groups.items()):
        ids.sort()
        keys[ids[0]] = base
        taken.add(base)
    for base, ids in sorted(groups.items()):
        suffixes = iter(_suffixes())
        for paper_id in ids[1:]:
            key = base + next(suffixes)
            while key in taken or key in groups:
                key = base + next(suffixes)
            keys[paper_id] = key
            taken.add(key)
    return keys


# ---- export --------------------------------------------------------------------------------


def entry(paper: Paper, key: str, keywords: Sequence[str] = ()) -> str:
    """One ``@misc`` entry for ``paper``."""
    title = latex(paper.title)
    fields: list[tuple[str, str]] = [("title", "{" + title + "}")] if title else []
    authors = author_field(paper.authors)
    if authors:
        fields.append(("author", authors))
    year = year_of(paper)
    if year is not None:
        fields.append(("year", str(year)))
    if is_arxiv_id(paper.id):
        fields.append(("eprint", paper.id))
        fields.append(("archivePrefix", "arXiv"))
        primary = paper.primary_category or (paper.categories[0] if paper.categories else "")
        if not primary and "/" in paper.id:  # an old-style id names its archive
            primary = paper.id.split("/")[0]
        if primary:
            fields.append(("primaryClass", latex(primary)))
        fields.append(("url", paper.abs_url or ""))
    if paper.doi:
        fields.append(("doi", _verbatim(paper.doi)))
    if paper.journal_ref:
        fields.append(("note", latex(paper.journal_ref)))
    if keywords:
        fields.append(("keywords", ", ".join(latex(k) for k in keywords)))
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields if value)
    return f"@misc{{{key},\n{body}\n}}\n"


def export(papers: Sequence[Paper], tags: Mapping[str, Sequence[str]] | None = None) -> str:
    """A BibTeX file of ``papers`` (in their order), entries separated by a blank line;
    ``tags`` (paper id → tags) become each entry's ``keywords``."""
    keys = citation_keys(papers)
    tags = tags or {}
    return "\n".join(entry(p, keys[p.id], tags.get(p.id, ())) for p in papers)


# ---- import --------------------------------------------------------------------------------

# the fields an arXiv id may hide in, after ``eprint``: in this order
_ID_FIELDS = ("arxiv", "arxivid", "eprint", "url", "doi", "journal", "note", "howpublished",
              "booktitle", "publisher", "pdf", "link", "annote", "archive")
_BIBTEX_START = re.compile(r"^[ \t]*@[ \t]*[A-Za-z]+[ \t]*[{(]", re.MULTILINE)


def looks_like_bibtex(text: str) -> bool:
    """Whether ``text`` has a line starting a BibTeX entry (``@article{`` …)."""
    return _BIBTEX_START.search(text) is not None


def arxiv_id_of(fields: Mapping[str, str]) -> str | None:
    """The arXiv id an entry's fields (lower-case names) name, or None."""
    prefix = (fields.get("archiveprefix") or fields.get("eprinttype") or "").strip().lower()
    eprint = fields.get("eprint", "")
    if eprint and prefix in ("", "arxiv"):
        found = id_of_token(eprint.strip("{} "))
        if found:
            return found
    for name in _ID_FIELDS:
        value = fields.get(name)
        if not value:
            continue
        if name in ("arxiv", "arxivid"):
            found = id_of_token(value.strip("{} "))
            if found:
                return found
        in_text = ids_in_text(value)
        if in_text:
            return in_text[0]
    return None


def _reason(error: Exception) -> str:
    """The parser's message without its own (0-based) line numbers: the last line of it."""
    text = str(getattr(error, "abort_reason", "") or error)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return shown(lines[-1] if lines else "unreadable entry", 160)


@dataclass(frozen=True)
class _Entry:
    key: str
    line: int
    fields: dict[str, str]


def _entries(text: str) -> tuple[list[_Entry], list[Problem]]:
    library = parse_string(text)
    entries: list[_Entry] = []
    problems: list[Problem] = []
    for block in library.blocks:
        if isinstance(block, model.ParsingFailedBlock):
            kept = block.ignore_error_block
            if isinstance(kept, model.Entry):  # a duplicate key or field: still readable
                block = kept
            else:
                line = (block.start_line or 0) + 1
                problems.append(Problem(line, "malformed", _reason(block.error)))
                continue
        if isinstance(block, model.Entry):
            fields = {f.key.lower(): str(f.value) for f in block.fields}
            entries.append(_Entry(block.key, (block.start_line or 0) + 1, fields))
    return entries, problems


def parse_bibtex(text: str) -> Parsed:
    """The arXiv ids of a BibTeX file, each once (its first entry kept), with a problem for
    every entry that is malformed or names no arXiv paper, each with its line (1-based)."""
    entries, problems = _entries(text)
    found: dict[str, Found] = {}
    for e in entries:
        arxiv_id = arxiv_id_of(e.fields)
        if arxiv_id is None:
            title = e.fields.get("title", "").replace("{", "").replace("}", "")
            detail = f"{shown(e.key, 60)}: {shown(title)}" if title else shown(e.key, 60)
            problems.append(Problem(e.line, "no-arxiv-id", detail))
        elif arxiv_id not in found:
            found[arxiv_id] = Found(arxiv_id, e.line, shown(e.key, 60))
    problems.sort(key=lambda p: p.line)
    return Parsed("bibtex", tuple(found.values()), tuple(problems))


def parse_import(text: str) -> Parsed:
    """An import file, whichever it is: BibTeX when a line starts an entry, else a list of
    arXiv ids and links."""
    return parse_bibtex(text) if looks_like_bibtex(text) else parse_id_list(text)
