"""Display text of titles, abstracts and snippets, which arrive as LaTeX-flavoured text:
``$...$``, ``$$...$$``, ``\\(...\\)`` and ``\\[...\\]`` math, and text-mode macros
(``\\textit{..}``, ``\\%``, ``~``, ``\\cite{..}``, ````quotes''``, ``--``). Pure.

* :func:`to_html`: escaped HTML. Math becomes MathML (latex2mathml, run server-side, its
  output re-built from an allow-list of MathML elements and attributes: nothing active, no
  link, no style); the TeX source stays in ``<annotation encoding="application/x-tex">`` for
  copying. Text macros become ``<i>``/``<b>`` or their characters. Highlight ranges (in
  positions of the raw text) wrap the text they cover in ``<b>``; a formula they touch is
  bolded whole, never split. ``links`` (spans of the raw text and their URLs, e.g. from
  :func:`paperwire.metadata.find_links`) become ``<a rel="nofollow noopener">`` showing the
  text as written: only ``http(s)`` URLs free of quotes and spaces, and only a span inside
  one text segment (a formula is never split, a link never made from one).
* :func:`to_plain`: readable plain text (feeds, mail text parts, meta descriptions): simple
  math as Unicode (``O(N^2)`` → ``O(N²)``), other math kept as TeX.
* :func:`widen`: moves cut points of an excerpt out of formulas.

The input is untrusted. A formula that does not convert (an error, an unknown element, too
long, too deep, too many formulas in one text) is shown as its escaped source."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from xml.etree.ElementTree import Element

import latex2mathml.converter
from defusedxml import ElementTree as SafeET
from markupsafe import Markup, escape

from paperwire.errors import FormulaError

MAX_FORMULA_CHARS = 600  # a formula longer than this is shown as source
MAX_FORMULA_DEPTH = 12  # brace / \left nesting beyond this is shown as source
MAX_FORMULAS = 200  # per text; later ones are shown as source
MAX_MATHML_CHARS = 30_000  # latex2mathml output longer than this is dropped (source shown)

Ranges = Sequence[tuple[int, int]]
Links = Sequence[tuple[int, int, str]]  # start, end (in the raw text) and URL
_LINK_URL = re.compile(r"https?://[^\s\"'<>`\\]+", re.IGNORECASE)


def _words(text: str) -> list[str]:
    return text.split()


_MATH = re.compile(
    r"\$\$(?P<dd>(?:\\.|[^$\\])+?)\$\$"  # $$ display $$
    r"|(?<!\\)\$(?=[^\s$])(?P<d>(?:\\.|[^$\\\n]|\n(?!\s*\n))+?)(?<=[^\s\\])\$"  # $..$
    r"|\\\((?P<p>.{1,1000}?)\\\)"  # \( .. \) (bounded: no quadratic scan of a long text)
    r"|\\\[(?P<b>.{1,1000}?)\\\]",  # \[ .. \]
    re.DOTALL,
)


@dataclass(frozen=True)
class Segment:
    """A stretch of the raw text: ``text``, or ``math`` (``body`` between the delimiters)."""

    kind: str
    start: int
    end: int
    body: str = ""
    display: bool = False


def _currency(m: re.Match[str], text: str) -> bool:
    """``$5 and $10``: a ``$...$`` closed right before a digit, with nothing TeX-like inside,
    is money, not math (``$\\sim$20`` and ``2$\\times$2`` are math)."""
    body = m.group("d")
    return (body is not None and m.end() < len(text) and text[m.end()].isdigit()
            and not any(c in body for c in "\\^_{}"))


def segments(text: str) -> list[Segment]:
    """``text`` cut into text and math segments covering it in order."""
    out: list[Segment] = []
    pos = 0
    text_from = pos = 0  # where the current text segment began; where to look for math
    while (m := _MATH.search(text, pos)) is not None:
        if _currency(m, text):  # the first $ is text: look again after it
            pos = m.start() + 1
            continue
        if m.start() > text_from:
            out.append(Segment("text", text_from, m.start()))
        key = next(k for k in ("dd", "d", "p", "b") if m.group(k) is not None)
        out.append(Segment("math", m.start(), m.end(), m.group(key), key in ("dd", "b")))
        text_from = pos = m.end()
    if text_from < len(text):
        out.append(Segment("text", text_from, len(text)))
    return out


def widen(text: str, start: int, end: int) -> tuple[int, int]:
    """An excerpt's cut points moved out of formulas: a formula cut at ``start`` is taken
    whole; one cut at ``end`` is taken whole when short, else left out."""
    for seg in segments(text):
        if seg.kind != "math":
            continue
        if seg.start < start < seg.end:
            start = seg.start
        if seg.start < end < seg.end:
            end = seg.end if seg.end - end <= 80 else seg.start
    return start, max(start, end)


# --- MathML ------------------------------------------------------------------------------

_NS = "{http://www.w3.org/1998/Math/MathML}"
_ELEMENTS = frozenset(
    _words(
        "math mrow mi mn mo ms mtext mspace msup msub msubsup mfrac msqrt mroot mstyle "
        "merror mpadded mphantom munder mover munderover mmultiscripts mprescripts none "
        "mtable mtr mtd menclose"
    )
)
_ATTRIBUTES = frozenset(
    _words(
        "display mathvariant stretchy fence separator form lspace rspace largeop "
        "movablelimits symmetric minsize maxsize accent accentunder linethickness "
        "displaystyle scriptlevel width height depth voffset columnalign rowalign "
        "columnspacing rowspacing columnlines rowlines frame framespacing equalrows "
        "equalcolumns notation bevelled numalign denomalign columnspan rowspan"
    )
)
_SAFE_VALUE = re.compile(r"^[\w .%#+\-]{0,40}$")


def _depth(tex: str) -> int:
    deepest = level = 0
    for token in re.finditer(r"\\left\b|\\right\b|\\begin\b|\\end\b|\\.|[{}]", tex):
        t = token.group()
        if t in ("{", "\\left", "\\begin"):
            level += 1
            deepest = max(deepest, level)
        elif t in ("}", "\\right", "\\end"):
            level -= 1
    return deepest


def _rebuild(node: Element, out: list[str]) -> None:
    tag = node.tag.removeprefix(_NS)
    if tag not in _ELEMENTS:
        raise FormulaError(f"<{tag}> is outside the allow-list")
    attrs = "".join(
        f' {name}="{escape(value)}"' for name, value in sorted(node.attrib.items())
        if name in _ATTRIBUTES and _SAFE_VALUE.match(value)
    )
    out.append(f"<{tag}{attrs}>{escape(node.text or '')}")
    for child in node:
        _rebuild(child, out)
        out.append(str(escape(child.tail or "")))
    out.append(f"</{tag}>")


@lru_cache(maxsize=512)
def mathml(tex: str, display: bool = False, annotate: bool = True) -> str | None:
    """The MathML of one formula (the TeX kept as its annotation unless ``annotate`` is
    false), or None when it cannot be shown safely and within bounds."""
    if not tex.strip() or len(tex) > MAX_FORMULA_CHARS or _depth(tex) > MAX_FORMULA_DEPTH:
        return None
    try:
        raw = latex2mathml.converter.convert(tex, display="block" if display else "inline")
        if len(raw) > MAX_MATHML_CHARS:
            return None
        root = SafeET.fromstring(raw)
        inner: list[str] = []
        for child in root:
            _rebuild(child, inner)
    except Exception:  # any failure of the converter shows the source
        return None
    mode = "block" if display else "inline"
    if not annotate:
        return f'<math display="{mode}"><mrow>{"".join(inner)}</mrow></math>'
    return (f'<math display="{mode}"><semantics><mrow>{"".join(inner)}</mrow>'
            f'<annotation encoding="application/x-tex">{escape(tex)}</annotation>'
            f"</semantics></math>")


# --- text-mode macros --------------------------------------------------------------------

_TEXT_TOKEN = re.compile(
    r"(?P<cite>[ ~]?\\(?:cite[tp]?|citeauthor|citeyear|ref|eqref|label)\*?(?:\[[^\]]*\])*"
    r"\{[^{}]*\})"
    r"|(?P<href>\\href\{[^{}]*\}\{)"
    r"|(?P<url>\\url\{(?P<urlbody>[^{}]*)\})"
    r"|(?P<accent>\\[\'`\"^~=.]\{?(?P<letter>[A-Za-z])\}?)"
    r"|(?P<open>\\(?P<cmd>[A-Za-z]+)\{)"
    r"|(?P<symbol>\\(?P<name>[A-Za-z]+))"  # \times, \approx in text: the symbol, if known
    r"|(?P<esc>\\[%&_$#{} ,;!\\])"
    r"|(?P<brace>[{}])"
    r"|(?P<quote>``|''|---|--|~)"
)
_TAGS = {"textit": "i", "emph": "i", "textsl": "i", "textbf": "b", "bf": "b", "it": "i"}
_PLAIN_GROUPS = frozenset(
    _words(
        "text textrm textsf texttt textsc textup textnormal mbox underline textmd "
        "footnote url"
    )
)
_ESCAPES = {"\\ ": " ", "\\,": "\u2009", "\\;": " ", "\\!": "", "\\\\": " "}
_QUOTES = {"``": "\u201c", "''": "\u201d", "---": "\u2014", "--": "\u2013", "~": " "}
_ACCENTS = {"'": "\u0301", "`": "\u0300", '"': "\u0308", "^": "\u0302", "~": "\u0303",
            "=": "\u0304", ".": "\u0307"}


@dataclass(frozen=True)
class _Piece:
    """Output for the raw span ``start:end``: ``text`` (to escape), or a fixed ``tag``."""

    start: int
    end: int
    text: str = ""
    tag: str = ""


def _text_pieces(text: str, start: int, end: int, stack: list[str]) -> list[_Piece]:
    """The text segment ``text[start:end]`` as pieces: literal runs, replaced macros, tags.
    ``stack`` holds the closing tags of the groups open ("" for a plain group, "}" for an
    unknown command's); it goes on across formulas (``\\textbf{$X$-Bench}``)."""
    out: list[_Piece] = []
    pos = start
    for m in _TEXT_TOKEN.finditer(text, start, end):
        if m.start() > pos:
            out.append(_Piece(pos, m.start(), text[pos:m.start()]))
        pos = m.end()
        tok = m.group()
        if m.group("cite"):
            continue
        if m.group("href"):
            stack.append("")
        elif m.group("url"):
            out.append(_Piece(m.start(), m.end(), m.group("urlbody")))
        elif m.group("accent"):
            letter = unicodedata.normalize("NFC", m.group("letter") + _ACCENTS[tok[1]])
            out.append(_Piece(m.start(), m.end(), letter))
        elif m.group("open"):
            cmd = m.group("cmd")
            if cmd in _TAGS:
                stack.append(f"</{_TAGS[cmd]}>")
                out.append(_Piece(m.start(), m.end(), tag=f"<{_TAGS[cmd]}>"))
            elif cmd in _PLAIN_GROUPS:
                stack.append("")
            else:  # unknown command: kept as written
                out.append(_Piece(m.start(), m.end(), tok))
                stack.append("}")
        elif m.group("symbol"):
            out.append(_Piece(m.start(), m.end(), _SYMBOLS.get(m.group("name"), tok)))
        elif m.group("esc"):
            out.append(_Piece(m.start(), m.end(), _ESCAPES.get(tok, tok[1:])))
        elif tok == "{":
            stack.append("")
        elif tok == "}":
            if stack:
                close = stack.pop()
                if close == "}":
                    out.append(_Piece(m.start(), m.end(), "}"))
                elif close:
                    out.append(_Piece(m.start(), m.end(), tag=close))
        elif m.group("quote"):
            out.append(_Piece(m.start(), m.end(), _QUOTES[tok]))
    if pos < end:
        out.append(_Piece(pos, end, text[pos:end]))
    return out


def _unclosed(stack: list[str]) -> str:
    """The tags that close the groups left open at the end of a text."""
    return "".join(close for close in reversed(stack) if close.startswith("<"))


def _overlaps(ranges: Ranges, start: int, end: int) -> bool:
    return any(s < end and start < e for s, e in ranges)


def _marked(piece: _Piece, text: str, ranges: Ranges) -> str:
    """A text piece escaped, with ``<b>`` around the parts the ranges cover (a literal run
    is split at their edges; a replaced macro is bolded whole)."""
    if not _overlaps(ranges, piece.start, piece.end):
        return str(escape(piece.text))
    if piece.text != text[piece.start:piece.end]:
        return f"<b>{escape(piece.text)}</b>"
    out: list[str] = []
    pos = piece.start
    for s, e in sorted(ranges):
        s, e = max(s, pos), min(e, piece.end)
        if s >= e:
            continue
        out.append(f"{escape(text[pos:s])}<b>{escape(text[s:e])}</b>")
        pos = e
    out.append(str(escape(text[pos:piece.end])))
    return "".join(out)


def _formula(text: str, seg: Segment, mail: bool) -> str:
    """One formula as HTML: MathML (in mail, plain Unicode when simple enough, which every
    mail client shows), else its escaped source."""
    if mail and (simple := plain_math(seg.body)) is not None:
        return str(escape(simple))
    rendered = mathml(seg.body, seg.display, annotate=not mail)
    if rendered is None:
        return f'<span class="tex">{escape(text[seg.start:seg.end])}</span>'
    return rendered


def _linked_text(text: str, seg: Segment, stack: list[str], ranges: Ranges,
                 links: Links) -> list[str]:
    """A text segment as HTML, each link of ``links`` that lies inside it (and has a safe
    ``http(s)`` URL) an ``<a>`` around its text as written."""
    out: list[str] = []
    pos = seg.start
    for start, end, url in sorted(links):
        if start < pos or end > seg.end or start >= end or not _LINK_URL.fullmatch(url):
            continue
        out.extend(piece.tag or _marked(piece, text, ranges)
                   for piece in _text_pieces(text, pos, start, stack))
        shown = _marked(_Piece(start, end, text[start:end]), text, ranges)
        out.append(f'<a href="{escape(url)}" rel="nofollow noopener">{shown}</a>')
        pos = end
    out.extend(piece.tag or _marked(piece, text, ranges)
               for piece in _text_pieces(text, pos, seg.end, stack))
    return out


def to_html(text: str, ranges: Ranges = (), *, mail: bool = False,
            links: Links = ()) -> Markup:
    """``text`` as safe HTML: math as MathML, text macros cleaned, ``ranges`` in ``<b>``,
    ``links`` (inside text, not math) as links. ``mail``: for mail clients (simple math as
    Unicode, no TeX annotation)."""
    out: list[str] = []
    stack: list[str] = []
    formulas = 0
    for seg in segments(text):
        if seg.kind == "text":
            out.extend(_linked_text(text, seg, stack, ranges, links))
            continue
        formulas += 1
        if formulas > MAX_FORMULAS:
            shown = f'<span class="tex">{escape(text[seg.start:seg.end])}</span>'
        else:
            shown = _formula(text, seg, mail)
        out.append(f"<b>{shown}</b>" if _overlaps(ranges, seg.start, seg.end) else shown)
    return Markup("".join(out) + _unclosed(stack))


# --- plain text --------------------------------------------------------------------------

_SYMBOLS: dict[str, str] = {
    **{name: chr(0x3B1 + i) for i, name in enumerate(
        _words(
            "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi "
            "omicron pi rho varsigma sigma tau upsilon phi chi psi omega"
        ))},
    "Gamma": "Γ", "Delta": "Δ", "Theta": "Θ", "Lambda": "Λ", "Xi": "Ξ", "Pi": "Π",
    "Sigma": "Σ", "Upsilon": "Υ", "Phi": "Φ", "Psi": "Ψ", "Omega": "Ω",
    "varepsilon": "ε", "vartheta": "ϑ", "varphi": "φ", "varrho": "ϱ", "ell": "ℓ",
    "times": "×", "cdot": "·", "pm": "±", "mp": "∓", "le": "≤", "leq": "≤", "ge": "≥",
    "geq": "≥", "neq": "≠", "ne": "≠", "approx": "≈", "sim": "~", "simeq": "≃",
    "equiv": "≡", "in": "∈", "notin": "∉", "subset": "⊂", "subseteq": "⊆", "cup": "∪",
    "cap": "∩", "infty": "∞", "to": "→", "rightarrow": "→", "leftarrow": "←",
    "Rightarrow": "⇒", "leftrightarrow": "↔", "mapsto": "↦", "sum": "∑", "prod": "∏",
    "int": "∫", "partial": "∂", "nabla": "∇", "forall": "∀", "exists": "∃", "neg": "¬",
    "land": "∧", "lor": "∨", "cdots": "⋯", "ldots": "…", "dots": "…", "langle": "⟨",
    "rangle": "⟩", "mid": "|", "|": "‖", "circ": "∘", "prec": "≺", "succ": "≻", "ll": "≪",
    "gg": "≫", "propto": "∝", "%": "%", "{": "{", "}": "}", "_": "_", "&": "&", "$": "$",
    "#": "#", ",": " ", ";": " ", " ": " ", "!": "", "quad": " ", "qquad": " ",
    "left": "", "right": "",
    **{f: f for f in _words(
        "log ln exp max min sin cos tan lim arg sup inf det Pr argmax"
    )},
}
_WRAPPERS = frozenset(
    _words(
        "mathrm mathbf mathit mathsf mathtt mathcal boldsymbol bm text textrm textbf "
        "textit operatorname mbox emph"
    )
)
_DOUBLE_STRUCK = {"R": "ℝ", "N": "ℕ", "Z": "ℤ", "Q": "ℚ", "C": "ℂ", "E": "𝔼", "P": "ℙ"}
_SUPER = dict(zip("0123456789+-=()nia", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿⁱᵃ", strict=True))
_SUB = dict(zip("0123456789+-=()aeiknt", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑᵢₖₙₜ", strict=True))
_MATH_TOKEN = re.compile(r"\\[A-Za-z]+|\\.|\s+|.", re.DOTALL)


class _PlainMath:
    """A small reader of simple TeX math into Unicode text."""

    def __init__(self, tex: str) -> None:
        self.tokens: list[str] = _MATH_TOKEN.findall(tex)
        self.pos = 0

    def run(self) -> str:
        out = self.sequence(0)
        if self.pos < len(self.tokens):
            raise FormulaError("no plain rendering")
        return " ".join(out.split()) if out.strip() else out

    def sequence(self, depth: int) -> str:
        out: list[str] = []
        while self.pos < len(self.tokens) and self.tokens[self.pos] != "}":
            out.append(self.atom(depth))
        return "".join(out)

    def group(self, depth: int) -> str:
        """The next argument: ``{...}`` or one token."""
        if depth > MAX_FORMULA_DEPTH or self.pos >= len(self.tokens):
            raise FormulaError("no plain rendering")
        if self.tokens[self.pos] == "{":
            self.pos += 1
            inner = self.sequence(depth + 1)
            if self.pos >= len(self.tokens):
                raise FormulaError("no plain rendering")
            self.pos += 1
            return inner
        return self.atom(depth + 1)

    def atom(self, depth: int) -> str:
        tok = self.tokens[self.pos]
        if tok == "{":
            return self.group(depth)
        self.pos += 1
        if tok in ("^", "_"):
            arg = self.group(depth).strip()
            table = _SUPER if tok == "^" else _SUB
            if arg and all(c in table for c in arg):
                return "".join(table[c] for c in arg)
            return tok + (arg if len(arg) == 1 else f"({arg})")
        if not tok.startswith("\\"):
            return " " if tok.isspace() else tok
        name = tok[1:]
        if name in _WRAPPERS:
            return self.group(depth)
        if name == "mathbb":
            arg = self.group(depth)
            return "".join(_DOUBLE_STRUCK.get(c, c) for c in arg)
        if name == "frac":
            num, den = self.group(depth), self.group(depth)
            return f"{_wrap(num)}/{_wrap(den)}"
        if name == "sqrt":
            return "√" + _wrap(self.group(depth))
        if name in _SYMBOLS:
            return _SYMBOLS[name]
        raise FormulaError("no plain rendering")


def _wrap(part: str) -> str:
    return part if len(part) <= 1 or part.isalnum() else f"({part})"


def plain_math(tex: str) -> str | None:
    """Simple math as Unicode text (``N^2`` → ``N²``, ``\\alpha`` → ``α``), else None."""
    if len(tex) > MAX_FORMULA_CHARS:
        return None
    try:
        return _PlainMath(tex).run()
    except (FormulaError, RecursionError):
        return None


def to_plain(text: str) -> str:
    """``text`` as readable plain text: text macros cleaned, simple math in Unicode, other
    math left as its TeX source; no space at either end (``~`` or ``\\ `` may leave one)."""
    out: list[str] = []
    stack: list[str] = []
    for seg in segments(text):
        if seg.kind == "math":
            converted = plain_math(seg.body)
            out.append(text[seg.start:seg.end] if converted is None else converted)
        else:
            pieces = _text_pieces(text, seg.start, seg.end, stack)
            out.extend(p.text for p in pieces if not p.tag)
    return "".join(out).strip()
