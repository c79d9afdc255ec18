"""Math and TeX text macros in titles, abstracts and snippets (``paperwire.texts``): real
abstracts from the bundled arXiv data, and hostile formulas that must produce no active
content, in bounded time."""

from __future__ import annotations

import gzip
import json
import re
import time
from functools import cache
from html.parser import HTMLParser
from pathlib import Path

import pytest

from paperwire import texts

DEMO = Path(__file__).parents[1] / "src/paperwire/demo_data/arxiv-papers.jsonl.gz"


@cache
def demo_record(arxiv_id: str) -> dict[str, str]:
    with gzip.open(DEMO, "rt", encoding="utf-8") as f:
        for line in f:
            record = json.loads(line)
            if record["id"] == arxiv_id:
                return dict(record)
    raise LookupError(arxiv_id)


class _Tags(HTMLParser):
    """Every start tag and attribute of an HTML fragment, and whether tags balance."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.open: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open[-1] == tag, f"</{tag}> closes {self.open}"
        self.open.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html: str) -> _Tags:
    parser = _Tags()
    parser.feed(html)
    parser.close()
    assert parser.open == [], f"unclosed {parser.open}"
    return parser


def test_real_abstract_math_and_macros() -> None:
    abstract = demo_record("2606.16093")["summary"]
    html = str(texts.to_html(abstract))
    assert "$O(N^2)$" in abstract and "24\\%" in abstract
    assert "<msup><mi>N</mi><mn>2</mn></msup>" in html
    assert '<annotation encoding="application/x-tex">O(N^2)</annotation>' in html
    assert "24% higher throughput" in html and "\\%" not in html
    assert "<i>Parallel Hybrid Architecture (PHA)</i>" in html
    assert "$" not in html and "\\textit" not in html
    parse(html)


def test_real_title_superscript() -> None:
    title = demo_record("2606.16396")["title"]
    assert title.startswith("SP$^3$")
    html = str(texts.to_html(title))
    assert html.startswith("SP<math") and "<mn>3</mn>" in html
    assert texts.to_plain(title).startswith("SP³: Spherical Priors")


def test_real_citations_quotes_and_links_cleaned() -> None:
    dialnav = texts.to_plain(demo_record("2606.19948")["summary"])
    assert "\\cite" not in dialnav and "han2025dialnav" not in dialnav
    assert "While DialNav provides" in dialnav
    quoted = str(texts.to_html(demo_record("2606.28739")["summary"]))
    assert "“alignment tax.”" in quoted and "<i>category error</i>" in quoted
    href = str(texts.to_html(demo_record("2606.30319")["summary"]))
    assert "available at GitHub." in href and "<a" not in href and "\\href" not in href


def test_plain_text_is_readable_unicode() -> None:
    assert texts.to_plain(r"scale as ($O(N^2)$) -- up to 24\% ~faster") == (
        "scale as (O(N²)) – up to 24%  faster")
    assert texts.to_plain(r"$\alpha \le 0.5$, $\mathbb{R}^{d}$, $k^{-1}$") == (
        "α ≤ 0.5, ℝ^d, k⁻¹")
    assert texts.to_plain(r"keeps $\tilde{x}$ as TeX") == r"keeps $\tilde{x}$ as TeX"
    assert texts.to_plain("A title ending in a tie~") == "A title ending in a tie"


def test_currency_is_not_math() -> None:
    assert str(texts.to_html("costs $5 and $10 today")) == "costs $5 and $10 today"
    assert texts.to_plain(r"\textit{pay $5 and $10} now") == "pay $5 and $10 now"


def test_math_right_before_a_number_and_symbols_in_text() -> None:
    # $\sim$6$\times$/$\sim$68$\times$: each $...$ closes before a digit, and is math
    assert "reducing training/inference overhead by ~6×/~68×." in texts.to_plain(
        demo_record("2606.22870")["summary"])
    # \approx and \times written outside math
    assert "differs by ≈ 7.4× between" in texts.to_plain(demo_record("2606.20726")["summary"])
    html = str(texts.to_html(r"a 2$\times$2 grid"))
    assert html.startswith("a 2<math") and html.endswith("</math>2 grid")


def test_unparsable_formula_shows_its_source() -> None:
    html = str(texts.to_html(r"see $a & b$ here"))
    assert '<span class="tex">$a &amp; b$</span>' in html
    parse(html)


def test_highlight_never_splits_a_formula() -> None:
    text = "We get $O(N^2)$ speedups"
    # a match inside the formula, one across its edge, one in plain text
    html = str(texts.to_html(text, [(8, 9), (13, 15), (16, 24)]))
    assert html.startswith("We get <b><math")
    assert "</math></b> <b>speedups</b>" in html
    assert html.count("<math") == 1
    parse(html)


def test_highlight_inside_macros_nests_properly() -> None:
    text = r"we propose \textit{Parallel Hybrid} models"
    start = text.index("Hybrid")
    html = str(texts.to_html(text, [(start, start + 6)]))
    assert html == "we propose <i>Parallel <b>Hybrid</b></i> models"


def test_macro_groups_go_on_across_formulas() -> None:
    html = str(texts.to_html(r"we build \textbf{$X$-Bench and $Y$} and \emph{open"))
    assert re.fullmatch(r"we build <b><math .*</math>-Bench and <math .*</math></b> and "
                        r"<i>open</i>", html)
    parse(html)
    assert texts.to_plain(r"\textbf{$X$-Bench} here}") == "X-Bench here"


def test_widen_keeps_formulas_whole() -> None:
    text = "abc $x^2 + y^2$ def"
    assert texts.widen(text, 6, 12) == (4, 15)


HOSTILE = [
    r"$\href{javascript:alert(1)}{click}$",
    r"\href{javascript:alert(1)}{click}",
    r"\url{javascript:alert(1)}",
    r"$\text{<script>alert(1)</script>}$",
    r"<script>alert(1)</script> $x$",
    r"$\text{<img src=x onerror=alert(1)>}$",
    r"<img src=x onerror=alert(1)>",
    r"$\color{red\" onmouseover=\"alert(1)}{x}$",
    r"$\mathrm{\"><svg onload=alert(1)>}$",
    r"$x$ <a href='javascript:alert(1)'>y</a>",
    r"\textit{<b onclick=alert(1)>x</b>}",
    r"$\style{color:red}{x}$ $\class{a}{b}$ $\cssId{c}{d}$",
    "$" + r"\text{" * 40 + "x" + "}" * 40 + "$",
]


@pytest.mark.parametrize("source", HOSTILE)
def test_hostile_input_has_no_active_content(source: str) -> None:
    html = str(texts.to_html(source))
    tags = parse(html)
    allowed = {"math", "semantics", "annotation", "mrow", "mi", "mn", "mo", "mtext", "msup",
               "msub", "mstyle", "span", "i", "b", "mspace", "mfrac"}
    for tag, attrs in tags.tags:
        assert tag in allowed, tag
        for name, value in attrs:
            assert name in {"display", "encoding", "class", "stretchy", "mathvariant",
                            "width"}, (tag, name, value)
    assert not re.search(r"<(script|img|svg|a)\b", html, re.I)


def test_text_stays_text() -> None:
    html = str(texts.to_html("<script>alert(1)</script> & $x$"))
    assert html.startswith("&lt;script&gt;alert(1)&lt;/script&gt; &amp; <math")


@pytest.mark.parametrize("source", [
    "$" + "{" * 20000 + "x" + "}" * 20000 + "$",
    "$" + "x^" * 25000 + "$",
    "$" + "\\sqrt" * 1000 + "x$",
    "$" + "\\left(" * 200 + "x$",
    "$" + "\\frac{a}{b}" * 50 + "$ " * 1000,
    "$a$ " * 12000,
    "\\textit{" * 20000,
    "$" * 50000,
    "\\(" * 25000,
])
def test_hostile_input_is_bounded(source: str) -> None:
    began = time.perf_counter()
    html = str(texts.to_html(source))
    plain = texts.to_plain(source)
    assert time.perf_counter() - began < 5
    assert len(html) < 60 * len(source) + 1000 and plain is not None
    parse(html)


def test_formula_too_long_shows_source() -> None:
    formula = "$" + "x+" * 400 + "y$"
    assert str(texts.to_html(formula)) == f'<span class="tex">{formula}</span>'
