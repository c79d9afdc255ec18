"""The lexical side of recommendations: TF-IDF rows of papers, as sparse (CSR) numpy arrays —
pure, numpy only.

A :class:`LexicalSpace` is built from the papers one ranking looks at (the user's, a
background sample of the collection, the candidates). Two blocks of terms:

- words of title and abstract: lower-cased, accents stripped, English stop words out, word
  unigrams and bigrams (as arxiv-sanity-lite's vectoriser), ``1 + log tf`` times a smoothed idf;
- authors: one term per author name (``@yang liu``), idf-weighted: a reader who saved three
  papers of one group notices that group's next paper.

Each block is scaled to unit length, the author block then by ``author_weight``. Terms seen in
only one document carry nothing from one paper to another and are dropped, as are terms in
more than ``max_df`` of the documents.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import compress, filterfalse, pairwise

import numpy as np
import numpy.typing as npt

_WORD = re.compile(r"[a-z][a-z0-9]+")
# scikit-learn's English stop words, and the filler words of abstracts
_STOP = """
a about above across after afterwards again against all almost alone along already also
although always am among amongst amoungst amount an and another any anyhow anyone anything
anyway anywhere are around as at back be became because become becomes becoming been before
beforehand behind being below beside besides between beyond both bottom but by call can cannot
cant co con could couldnt de describe detail do done down due during each eg eight either
eleven else elsewhere empty enough etc even ever every everyone everything everywhere except
few fifteen fifty fill find fire first five for former formerly forty found four from front
full further get give go had has hasnt have he hence her here hereafter hereby herein hereupon
hers herself him himself his how however hundred ie if in inc indeed interest into is it its
itself keep last latter latterly least less ltd made many may me meanwhile might mill mine more
moreover most mostly move much must my myself name namely neither never nevertheless next nine
no nobody none noone nor not nothing now nowhere of off often on once one only onto or other
others otherwise our ours ourselves out over own part per perhaps please put rather re same see
seem seemed seeming seems serious several she should show side since sincere six sixty so some
somehow someone something sometime sometimes somewhere still such system take ten than that the
their them themselves then thence there thereafter thereby therefore therein thereupon these
they thick thin third this those though three through throughout thru thus to together too top
toward towards twelve twenty two un under until up upon us very via was we well were what
whatever when whence whenever where whereafter whereas whereby wherein whereupon wherever
whether which while whither who whoever whole whom whose why will with within without would yet
you your yours yourself yourselves paper propose proposed approach method methods results show
shows using based new work
"""
STOP_WORDS = frozenset(_STOP.split())

Floats = npt.NDArray[np.float32]
Ints = npt.NDArray[np.int64]


def _fold(text: str) -> str:
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def word_terms(text: str) -> list[str]:
    """Unigrams and bigrams of the non-stop words of ``text``."""
    words = list(filterfalse(STOP_WORDS.__contains__, _WORD.findall(_fold(text))))
    return words + list(map(" ".join, pairwise(words)))


def author_terms(authors: Iterable[str]) -> list[str]:
    """One term per author name, folded (case, accents, spacing)."""
    out = []
    for name in authors:
        folded = " ".join(_fold(name).replace(".", " ").split())
        if folded:
            out.append("@" + folded)
    return list(dict.fromkeys(out))


@dataclass(frozen=True)
class Rows:
    """Sparse rows (CSR): row ``i`` holds ``data[indptr[i]:indptr[i+1]]`` at columns
    ``indices[...]``. ``width`` is the number of columns."""

    indptr: Ints
    indices: Ints
    data: Floats
    width: int
    row_of: Ints = field(init=False, repr=False, compare=False)  # the row of every value

    def __post_init__(self) -> None:
        object.__setattr__(self, "row_of",
                           np.repeat(np.arange(len(self)), np.diff(self.indptr)))

    def __len__(self) -> int:
        return len(self.indptr) - 1

    def take(self, rows: Sequence[int] | Ints) -> Rows:
        rows = np.asarray(rows, dtype=np.int64)
        starts, ends = self.indptr[rows], self.indptr[rows + 1]
        lengths = ends - starts
        indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        if indptr[-1] == 0:
            return Rows(indptr, np.zeros(0, np.int64), np.zeros(0, np.float32), self.width)
        # positions of every value of the chosen rows, in order
        offsets = np.repeat(starts - indptr[:-1], lengths) + np.arange(indptr[-1])
        return Rows(indptr, self.indices[offsets], self.data[offsets], self.width)

    def dot(self, w: Floats) -> Floats:
        """Each row times the dense vector ``w`` (length ``width``)."""
        out: Floats = np.bincount(self.row_of, weights=self.data * w[self.indices],
                                  minlength=len(self)).astype(np.float32, copy=False)
        return out

    def t_dot(self, r: Floats) -> Floats:
        """The transpose times ``r`` (one value per row): a vector of length ``width``."""
        out: Floats = np.bincount(self.indices, weights=self.data * r[self.row_of],
                                  minlength=self.width).astype(np.float32, copy=False)
        return out

    def dense(self) -> Floats:
        out = np.zeros((len(self), self.width), dtype=np.float32)
        out[self.row_of, self.indices] = self.data
        return out


@dataclass(frozen=True)
class LexicalSpace:
    """The TF-IDF rows of a set of papers, in the order they were given."""

    ids: tuple[str, ...]
    pos: dict[str, int]
    rows: Rows
    vocabulary: dict[str, int]

    def of(self, ids: Sequence[str]) -> Rows:
        return self.rows.take([self.pos[i] for i in ids])


def build_space(
    papers: Sequence[tuple[str, str, Sequence[str]]],
    author_weight: float = 0.5,
    max_df: float = 0.1,
    min_df: int = 2,
) -> LexicalSpace:
    """TF-IDF rows of ``papers`` given as (id, title + abstract, authors). Python only lists
    each paper's terms; numbering and weighing them is done in C (dicts, numpy)."""
    ids = tuple(p[0] for p in papers)
    occurrences: list[str] = []  # every (paper, term) once, paper after paper
    count: list[int] = []
    sizes: list[int] = []
    is_name: list[bool] = []
    for _, text, authors in papers:
        words = Counter(word_terms(text))
        names = author_terms(authors)
        occurrences += words
        occurrences += names
        count += words.values()
        count += [1] * len(names)
        sizes.append(len(words) + len(names))
        is_name += [False] * len(words) + [True] * len(names)
    n = len(papers)
    unique = dict.fromkeys(occurrences)
    number = dict(zip(unique, range(len(unique)), strict=True))
    terms = np.fromiter(map(number.__getitem__, occurrences), dtype=np.int64,
                        count=len(occurrences))
    rows = np.repeat(np.arange(n, dtype=np.int64), sizes)
    tf = np.asarray(count, dtype=np.float64)
    block = np.asarray(is_name, dtype=np.int64)  # 0: words, 1: authors
    names_of = np.bincount(terms, weights=block, minlength=len(unique)) > 0
    df = np.bincount(terms, minlength=len(unique))  # a term is listed once per paper
    top = max(min_df, int(max_df * n))
    keep_term = (df >= min_df) & ((df <= top) | names_of)
    column = np.cumsum(keep_term) - 1
    idf = np.log((1 + n) / (1 + df)) + 1.0
    kept = keep_term[terms]
    weight = np.where(kept, np.where(block == 1, 1.0, 1.0 + np.log(np.maximum(tf, 1.0))), 0.0)
    weight = weight * idf[terms]
    norms = np.sqrt(np.bincount(rows * 2 + block, weights=weight * weight, minlength=2 * n))
    value = weight * np.where(block == 1, author_weight, 1.0) / np.maximum(
        norms[rows * 2 + block], 1e-12)
    kept &= value > 0
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows[kept], minlength=n), out=indptr[1:])
    vocabulary = dict(zip(compress(unique, keep_term), range(int(keep_term.sum())),
                          strict=True))
    lex = Rows(indptr, column[terms[kept]], value[kept].astype(np.float32), len(vocabulary))
    return LexicalSpace(ids, {pid: i for i, pid in enumerate(ids)}, lex, vocabulary)
