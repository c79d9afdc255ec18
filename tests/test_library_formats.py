"""The library's formats, pure: BibTeX export read back by a real BibTeX parser (bibtexparser
v2, its LaTeX decoded by pylatexenc) and compared field by field; citation keys; escaping of
hostile titles; BibTeX and arXiv-id-list import with malformed entries reported by line;
CSL-JSON checked against the rules of the CSL-JSON schema (csl-data.json); notes rendered
from hostile Markdown and checked with an HTML parser."""

from __future__ import annotations

import json
import logging
import random
import re
from datetime import date
from html.parser import HTMLParser
from typing import Any

import bibtexparser
import pytest
from bibtexparser import middlewares, model
from pylatexenc.latex2text import LatexNodes2Text

from paperwire.library import bibtex, csl, notes
from paperwire.library.ids import id_of_token, ids_in_text, parse_id_list
from paperwire.library.names import ascii_fold, split_name
from paperwire.models import Paper

ATTENTION = Paper(
    id="1706.03762", title="Attention Is All You Need",
    authors=("Ashish Vaswani", "Noam Shazeer", "Niki Parmar"),
    categories=("cs.CL", "cs.LG"), primary_category="cs.CL", published=date(2017, 6, 12),
    abstract="The dominant sequence transduction models…")
SPECIAL = Paper(
    id="2406.12345", title="Q&A at 100% for #1: snake_case and Gödel's Café in the {BERT} Era",
    authors=("José García", "Ludwig van Beethoven", "Jörg Müller-Lüdenscheidt"),
    categories=("cs.AI",), primary_category="cs.AI", published=date(2024, 6, 18),
    doi="10.1234/foo_bar-1", journal_ref="Proc. ACL 2024, pp. 1–10")
OLD = Paper(id="hep-th/9901001", title="On the Theory of Branes",
            authors=("Edward Witten",), categories=("hep-th",), primary_category="hep-th",
            published=date(1999, 1, 4))
OLD_SUBJECT = Paper(id="math.AG/0601001", title="Moduli of Curves",
                    authors=("Anne Author",), categories=("math.AG",))
GROUP = Paper(id="1207.7214", title="Observation of a new particle",
              authors=("ATLAS Collaboration",), categories=("hep-ex",),
              primary_category="hep-ex", published=date(2012, 7, 31))
MATH = Paper(id="2301.00001", title=r"Bounds for $\alpha_1^2$-divergences of $\mathcal{F}$",
             authors=("Ada Lovelace",), categories=("math.ST",), published=date(2023, 1, 1))
PAPERS = [ATTENTION, SPECIAL, OLD, OLD_SUBJECT, GROUP, MATH]
TO_TEXT = LatexNodes2Text()


def parse_back(text: str) -> list[model.Entry]:
    """``text`` through bibtexparser: every block an entry, none failed."""
    library = bibtexparser.parse_string(
        text, append_middleware=[middlewares.SeparateCoAuthors()])
    assert library.failed_blocks == []
    assert all(isinstance(b, model.Entry) for b in library.blocks)
    return library.entries


def decoded(value: str) -> str:
    """A field's LaTeX as the text a reader sees (pylatexenc, bibtexparser's decoder)."""
    return TO_TEXT.latex_to_text(value)


def bibtex_braces_balance(value: str) -> bool:
    """BibTeX's own rule: braces count whatever precedes them, backslashes included."""
    depth = 0
    for ch in value:
        depth += ch == "{"
        depth -= ch == "}"
        if depth < 0:
            return False
    return depth == 0


# ---- BibTeX export --------------------------------------------------------------------------


def test_export_round_trips_through_a_bibtex_parser() -> None:
    tags = {ATTENTION.id: ["transformers", "to cite"]}
    entries = parse_back(bibtex.export(PAPERS, tags))
    assert [e.fields_dict["eprint"].value for e in entries] == [p.id for p in PAPERS]
    for paper, e in zip(PAPERS, entries, strict=True):
        fields = {k: f.value for k, f in e.fields_dict.items()}
        assert e.entry_type == "misc"
        assert fields["archivePrefix"] == "arXiv"
        assert fields["url"] == f"https://arxiv.org/abs/{paper.id}"
        if paper is not MATH:  # math decodes to symbols: compared raw below
            # braces are TeX's grouping (arXiv titles are TeX): a reader sees none
            assert decoded(fields["title"]) == paper.title.replace("{BERT}", "BERT")
        assert [decoded(a).strip("{}") for a in fields["author"]] == list(paper.authors)
        assert fields["year"] == str(paper.published.year if paper.published else 2006)
        for value in fields.values():
            if isinstance(value, str):
                assert bibtex_braces_balance(value), value
    by_key = {e.key: e for e in entries}
    assert by_key["vaswani2017attention"].fields_dict["keywords"].value == "transformers, to cite"
    assert by_key["vaswani2017attention"].fields_dict["primaryClass"].value == "cs.CL"
    special = entries[1].fields_dict
    assert special["doi"].value == SPECIAL.doi
    assert decoded(special["note"].value) == SPECIAL.journal_ref
    # capitals protected: the whole title is one brace group inside the field
    assert special["title"].value.startswith("{") and special["title"].value.endswith("}")
    assert "Gödel" in special["title"].value  # accents stay UTF-8, not {\"o}


def test_math_and_commands_of_a_title_pass_through() -> None:
    (e,) = parse_back(bibtex.export([MATH]))
    assert e.fields_dict["title"].value == "{" + MATH.title + "}"  # nothing escaped in math


def test_old_style_ids_give_their_year_and_archive() -> None:
    entries = parse_back(bibtex.export([OLD, OLD_SUBJECT]))
    assert [e.key for e in entries] == ["witten1999theory", "author2006moduli"]
    assert entries[1].fields_dict["eprint"].value == "math.AG/0601001"
    assert entries[1].fields_dict["primaryClass"].value == "math.AG"
    assert entries[1].fields_dict["year"].value == "2006"  # from the id: no date known


def test_group_and_suffix_names_are_read_as_bibtex_reads_them() -> None:
    paper = Paper(id="2401.00002", title="On the Team, Jr",
                  authors=("John Smith Jr.", "Research and Development Team", "Tom and Jerry"))
    (e,) = parse_back(bibtex.export([paper]))
    assert e.fields_dict["author"].value == [
        "Smith, Jr., John", "{Research and Development Team}", "{Tom and Jerry}"]
    assert e.key == "smith2024team"


def test_keys_are_stable_unique_and_ordered_by_id() -> None:
    twins = [Paper(id=f"2405.0000{i}", title="Deep Learning", authors=("Yann LeCun",),
                   published=date(2024, 5, 1)) for i in (3, 1, 2)]
    # a paper whose own key is what the second twin would get with "a"
    clash = Paper(id="2405.09999", title="Deepa Networks", authors=("Yann LeCun",),
                  published=date(2024, 5, 2))
    everything = [*twins, clash, *PAPERS]
    keys = bibtex.citation_keys(everything)
    assert keys["2405.00001"] == "lecun2024deep"
    assert keys["2405.00002"] == "lecun2024deepb"  # "a" is clash's own key
    assert keys["2405.00003"] == "lecun2024deepc"
    assert keys[clash.id] == "lecun2024deepa"
    assert len(set(keys.values())) == len(everything)
    shuffled = everything[:]
    random.Random(7).shuffle(shuffled)
    assert bibtex.citation_keys(shuffled) == keys
    assert all(re.fullmatch(r"[a-z][a-z0-9]*", k) for k in keys.values())
    assert keys[SPECIAL.id] == "garcia2024q"  # accents folded, stop words skipped
    assert keys[GROUP.id] == "atlas2012observation"
    assert keys[MATH.id] == "lovelace2023bounds"


def test_keys_without_a_latin_name_or_a_date() -> None:
    paper = Paper(id="seed:1", title="", authors=("张伟",))
    assert bibtex.citation_keys([paper]) == {"seed:1": "anon"}
    (e,) = parse_back(bibtex.export([paper]))
    assert "eprint" not in e.fields_dict and "archivePrefix" not in e.fields_dict
    assert e.fields_dict["author"].value == ["张伟"]


HOSTILE_TITLES = [
    "Closing } early, then @misc{evil, title = {pwned}} and % a comment",
    "Unmatched { brace and \\{ escaped \\} and lone \\",
    "Ends with a backslash \\",
    "\\input{/etc/passwd} \\immediate\\write18{rm -rf ~} $^^5cinput$ x^^5c",
    "Line one\\\\ line two with $ one dollar and # hash & amp",
    "@comment{ @string{x = {y}} }",
    "Right } then left {",
]


@pytest.mark.parametrize("title", HOSTILE_TITLES)
def test_a_hostile_title_stays_inside_its_field(title: str) -> None:
    paper = Paper(id="2402.00001", title=title, authors=(title,), published=date(2024, 2, 1))
    text = bibtex.export([paper, ATTENTION])
    entries = parse_back(text)
    assert [e.fields_dict["eprint"].value for e in entries] == ["2402.00001", ATTENTION.id]
    fields = entries[0].fields_dict
    assert set(fields) == {"title", "author", "year", "eprint", "archivePrefix", "url"}
    for f in fields.values():
        if isinstance(f.value, str):
            assert bibtex_braces_balance(f.value), f.value
    raw = fields["title"].value
    for command in ("input", "immediate", "write18"):
        assert f"\\{command}" not in raw.replace("\\textbackslash{}" + command, "")
    assert "^^" not in raw
    assert re.search(r"(?<!\\)%", raw) is None  # no comment starts in the field
    assert re.search(r"@\w", raw) is None  # no "@misc" a parser could take for an entry


# ---- import ---------------------------------------------------------------------------------

IMPORT_FILE = r"""% a reference list
@misc{vaswani2017attention,
  title = {Attention Is {All} You Need},
  author = {Vaswani, Ashish and Shazeer, Noam},
  year = {2017},
  eprint = {1706.03762},
  archivePrefix = {arXiv},
  primaryClass = {cs.CL}
}

@article{broken,
  title = {Never closed,
  author = {Someone}

@article{scholar, title = {BERT}, journal = {arXiv preprint arXiv:1810.04805}, year = 2018}
@online{biblatex, title = {X}, eprint = {2106.09685v2}, eprinttype = {arxiv}}
@misc{byurl, title = "Y", url = {https://arxiv.org/pdf/2005.14165v4.pdf}}
@misc{bydoi, title = "Z", doi = {10.48550/arXiv.2303.08774}}
@book{knuth, title = {The {\TeX}book}, author = {Knuth, Donald}, year = 1984}
@misc{pubmed, title = {W}, eprint = {12345678}, archivePrefix = {PubMed}}
@misc{old, title = {Old}, eprint = {HEP-TH/9901001}}
@misc{again, title = {Again}, eprint = {1706.03762v5}}
@misc{nocomma title = {oops}}
@misc{scholar, title = {Duplicate key, still read}, eprint = {2212.00001}}
"""


def line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


def test_bibtex_import_keeps_the_good_entries_and_reports_the_rest_by_line() -> None:
    parsed = bibtex.parse_import(IMPORT_FILE)
    assert parsed.format == "bibtex"
    assert parsed.ids == ["1706.03762", "1810.04805", "2106.09685", "2005.14165",
                          "2303.08774", "hep-th/9901001", "2212.00001"]
    assert parsed.found[0].line == line_of(IMPORT_FILE, "@misc{vaswani")
    assert parsed.found[0].label == "vaswani2017attention"
    problems = [(p.line, p.kind) for p in parsed.problems]
    assert problems == [
        (line_of(IMPORT_FILE, "@article{broken"), "malformed"),
        (line_of(IMPORT_FILE, "@book{knuth"), "no-arxiv-id"),
        (line_of(IMPORT_FILE, "@misc{pubmed"), "no-arxiv-id"),
        (line_of(IMPORT_FILE, "@misc{nocomma"), "malformed"),
    ]
    knuth = parsed.problems[1]
    assert knuth.detail.startswith("knuth: The")
    assert "comma" in parsed.problems[3].detail  # the parser's reason, without its line numbers


def test_the_parser_logs_nothing_of_its_own(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        bibtex.parse_import(IMPORT_FILE)
    assert [r for r in caplog.records if r.name.startswith("bibtexparser")
            and r.levelno >= logging.INFO] == []


def test_an_exported_file_imports_back_to_the_same_ids() -> None:
    parsed = bibtex.parse_import(bibtex.export(PAPERS))
    assert parsed.ids == [p.id for p in PAPERS]
    assert parsed.problems == ()


def test_a_file_with_only_broken_entries_loses_nothing_silently() -> None:
    text = "@misc{a,\n title = {x\n\n@misc{b, title = {y}, eprint = {2401.00001}}\n"
    parsed = bibtex.parse_import(text)
    assert parsed.ids == ["2401.00001"]
    assert [(p.line, p.kind) for p in parsed.problems] == [(1, "malformed")]


ID_LIST = """# my reading list
2406.12345
arXiv:2406.12346v2
https://arxiv.org/abs/2406.12347v3
http://arxiv.org/pdf/2406.12348.pdf   https://www.arxiv.org/abs/hep-th/9901001

https://export.arxiv.org/abs/math.AG/0601001?context=math
https://doi.org/10.48550/arXiv.2406.12349, 10.48550/ARXIV.2406.12350
not-an-id https://example.org/paper 2406.1234
2406.12345v7
<https://arxiv.org/abs/2406.12351>
"""


def test_an_id_list_gives_every_id_once_and_reports_the_rest() -> None:
    parsed = bibtex.parse_import(ID_LIST)
    assert parsed.format == "ids"
    assert parsed.ids == [f"2406.1234{i}" for i in range(5, 9)] + [
        "hep-th/9901001", "math.AG/0601001", "2406.12349", "2406.12350", "2406.12351"]
    assert [(p.line, p.detail) for p in parsed.problems] == [
        (9, "not-an-id"), (9, "https://example.org/paper"), (9, "2406.1234")]
    assert {p.kind for p in parsed.problems} == {"not-an-id"}
    assert parse_id_list("").found == ()


@pytest.mark.parametrize(("token", "expected"), [
    ("2406.12345", "2406.12345"), ("2406.12345v12", "2406.12345"),
    ("arxiv: 0704.0001", "0704.0001"), ("hep-th/9901001v2", "hep-th/9901001"),
    ("Math.ag/0601001", "math.AG/0601001"), ("https://arxiv.org/html/2406.12345v1", "2406.12345"),
    ("2406.123456", None), ("2406.1234", None), ("1412.12345", None), ("2413.12345", None),
    ("0703.0001", None), ("hep-th/0801001", None), ("0704.0001", "0704.0001"),
    ("javascript:alert(1)", None), ("", None), ("https://arxiv.org/abs/", None),
])
def test_tokens(token: str, expected: str | None) -> None:
    assert id_of_token(token) == expected


def test_ids_inside_text() -> None:
    assert ids_in_text("arXiv preprint arXiv:1810.04805 and https://arxiv.org/abs/2005.14165v2"
                       " (doi 10.48550/arXiv.1810.04805)") == ["1810.04805", "2005.14165"]
    assert ids_in_text("Phys. Rev. D 99, 2019; 1234.5678") == []


# ---- names ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "family", "given", "particle", "suffix", "literal"), [
    ("Ashish Vaswani", "Vaswani", "Ashish", "", "", ""),
    ("Ludwig van Beethoven", "Beethoven", "Ludwig", "van", "", ""),
    ("Juan de la Cruz", "Cruz", "Juan", "de la", "", ""),
    ("John Smith Jr.", "Smith", "John", "", "Jr.", ""),
    ("Vaswani, Ashish", "Vaswani", "Ashish", "", "", ""),
    ("van Beethoven, Ludwig", "Beethoven", "Ludwig", "van", "", ""),
    ("Smith, Jr., John", "Smith", "John", "", "Jr.", ""),
    ("Plato", "Plato", "", "", "", ""),
    ("The CMS Collaboration", "", "", "", "", "The CMS Collaboration"),
])
def test_split_name(raw: str, family: str, given: str, particle: str, suffix: str,
                    literal: str) -> None:
    name = split_name(raw)
    assert (name.family, name.given, name.particle, name.suffix, name.literal) == (
        family, given, particle, suffix, literal)


def test_ascii_fold() -> None:
    assert ascii_fold("Müller-Lüdenscheidt") == "mullerludenscheidt"
    assert ascii_fold("Øster Straße") == "osterstrasse"
    assert ascii_fold("张伟") == ""


# ---- CSL-JSON -------------------------------------------------------------------------------
# The rules of the CSL-JSON schema (citation-style-language/schema, csl-data.json) that these
# items touch: an array of objects; "type" (one of the enumerated types) and "id" (string or
# number) required; no properties beyond the schema's; names are objects of the name-variable
# keys; dates are {"date-parts": [[y, m?, d?]]} with 1-2 parts of 1-3 items each.
CSL_TYPES_USED = {"article", "article-journal", "paper-conference", "report"}
CSL_STRING_FIELDS = {"title", "abstract", "URL", "DOI", "publisher", "genre", "note",
                     "keyword", "container-title"}
CSL_STRING_OR_NUMBER = {"id", "number"}
CSL_NAME_KEYS = {"family", "given", "dropping-particle", "non-dropping-particle", "suffix",
                 "comma-suffix", "static-ordering", "literal", "parse-names"}


def check_csl(data: Any) -> None:
    assert isinstance(data, list)
    for item in data:
        assert isinstance(item, dict)
        assert {"type", "id"} <= item.keys()
        assert item["type"] in CSL_TYPES_USED
        allowed = CSL_STRING_FIELDS | CSL_STRING_OR_NUMBER | {"type", "author", "issued"}
        assert item.keys() <= allowed, item.keys() - allowed
        for key in CSL_STRING_FIELDS & item.keys():
            assert isinstance(item[key], str)
        for key in CSL_STRING_OR_NUMBER & item.keys():
            assert isinstance(item[key], str | int | float)
        for name in item.get("author", []):
            assert isinstance(name, dict) and name and name.keys() <= CSL_NAME_KEYS
            assert all(isinstance(v, str) for v in name.values())
        if "issued" in item:
            assert item["issued"].keys() == {"date-parts"}
            parts = item["issued"]["date-parts"]
            assert 1 <= len(parts) <= 2
            assert all(1 <= len(p) <= 3 and all(isinstance(x, int) for x in p) for p in parts)


def test_csl_json_has_the_schema_shape_and_the_bibtex_keys() -> None:
    data = json.loads(csl.export(PAPERS, {ATTENTION.id: ["a", "b"]}))
    check_csl(data)
    keys = bibtex.citation_keys(PAPERS)
    assert [item["id"] for item in data] == [keys[p.id] for p in PAPERS]
    first = data[0]
    assert first["type"] == "article" and first["title"] == ATTENTION.title
    assert first["author"][0] == {"family": "Vaswani", "given": "Ashish"}
    assert first["issued"] == {"date-parts": [[2017, 6, 12]]}
    assert first["number"] == "1706.03762" and first["publisher"] == "arXiv"
    assert first["URL"] == "https://arxiv.org/abs/1706.03762"
    assert first["DOI"] == "10.48550/arXiv.1706.03762"
    assert first["keyword"] == "a, b"
    assert data[1]["DOI"] == SPECIAL.doi and data[1]["note"] == SPECIAL.journal_ref
    assert data[1]["author"][1] == {"family": "Beethoven", "given": "Ludwig",
                                    "non-dropping-particle": "van"}
    assert data[3]["issued"] == {"date-parts": [[2006]]}
    assert data[4]["author"] == [{"literal": "ATLAS Collaboration"}]


def test_csl_check_catches_a_bad_item() -> None:
    with pytest.raises(AssertionError):
        check_csl([{"type": "article"}])  # no id
    with pytest.raises(AssertionError):
        check_csl([{"id": "x", "type": "article", "issued": {"date-parts": [[2017, 1, 2, 3]]}}])


# ---- notes ----------------------------------------------------------------------------------


class Elements(HTMLParser):
    """Every element and attribute of an HTML fragment."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def elements(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Elements()
    parser.feed(html)
    parser.close()
    return parser.tags


SAFE_TAGS = {"p", "a", "em", "strong", "code", "pre", "blockquote", "ul", "ol", "li", "h3",
             "h4", "h5", "h6", "hr", "br", "table", "thead", "tbody", "tr", "th", "td", "s"}
HOSTILE_NOTES = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    "<div>\n<iframe src=https://evil.example></iframe>\n</div>",
    "<style>body{display:none}</style>",
    "<svg onload=alert(1)>",
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](  javascript:alert(1))",
    "[click](java\tscript:alert(1))",
    "[click](&#106;avascript:alert(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[click](vbscript:msgbox(1))",
    "[click](file:///etc/passwd)",
    "[click](//evil.example/x)",
    "![pic](data:image/png;base64,iVBORw0KGgo=)",
    "![pic](https://evil.example/track.png)",
    "![pic](javascript:alert(1))",
    "[ref]: javascript:alert(1)\n\n[x][ref]",
    "<javascript:alert(1)>",
    '[x](https://ok.example "a\\" onmouseover=\\"alert(1)")',
    "``` onload=alert(1)\n<script>x</script>\n```",
    "<!-- comment --><p onclick=alert(1)>",
]


@pytest.mark.parametrize("text", HOSTILE_NOTES)
def test_a_hostile_note_is_rendered_inert(text: str) -> None:
    html = notes.render(text)
    for tag, attrs in elements(html):
        assert tag in SAFE_TAGS, html
        for name, value in attrs.items():
            assert not name.startswith("on"), html
            assert name in {"href", "rel", "title", "class"}, html
            if name == "href":
                assert re.match(r"(https?://[^/]|mailto:)", value or ""), html
        if tag == "a":
            assert attrs["rel"] == "nofollow noopener"
    assert "<script" not in html and "<img" not in html and "<iframe" not in html


def test_a_note_keeps_its_markdown() -> None:
    html = notes.render("# Idea\n\nSee **this** and [the code](https://github.com/x/y)"
                        " — mail <mailto:me@example.org>.\n\n![fig 1](https://e.org/f.png)\n\n"
                        "| a | b |\n|---|---|\n| 1 | 2 |\n\n~~gone~~ `x < y`")
    assert "<h3>Idea</h3>" in html
    assert "<strong>this</strong>" in html
    assert '<a href="https://github.com/x/y" rel="nofollow noopener">the code</a>' in html
    assert '<a href="mailto:me@example.org" rel="nofollow noopener">' in html
    assert '<a href="https://e.org/f.png" rel="nofollow noopener">fig 1</a>' in html
    assert "<td>2</td>" in html and "<s>gone</s>" in html and "<code>x &lt; y</code>" in html
    assert notes.plain("# Idea\n\nSee **this** [link](https://x.org) `c`") == "Idea See this link c"


def test_a_disallowed_link_stays_as_its_text() -> None:
    html = notes.render("[click](javascript:alert(1)) and <b>bold</b>")
    assert "<a" not in html
    assert "[click](javascript:alert(1))" in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html
