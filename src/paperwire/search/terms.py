"""Query terms beyond the words typed: stop words (never highlighted), acronyms and their
expansions mined from the corpus itself ("large language models (LLMs)"), and spelling
correction of words the index has never seen. Pure: no I/O, no index; the lexical index
feeds it what it stores and asks it dictionary questions.

Acronyms are found with the Schwartz–Hearst rule (A. Schwartz, M. Hearst, "A simple
algorithm for identifying abbreviation definitions in biomedical text", PSB 2003): a short
form in parentheses, its letters matched right to left in the words before it, the first
letter at the start of a word.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

Analyze = Callable[[str], list[str]]

# English function words: matched like any word, never highlighted (they are in every
# abstract; a bold "with" says nothing about why a paper was found).
_STOP_TEXT = """
a about above after again against all also am an and any are as at be because been before
being below between both but by can could did do does doing down during each either else
few for from further had has have having he her here hers herself him himself his how i if
in into is it its itself just may me might more most must my myself no nor not of off on
once only or other ought our ours ourselves out over own same shall she should so some such
than that the their theirs them themselves then there these they this those through thus to
too under until up upon us very via was we were what when where whether which while who whom
whose why will with within without would yet you your yours yourself yourselves
"""
STOP_WORDS = frozenset(_STOP_TEXT.split())

_SHORT = re.compile(r"\(([A-Za-z][A-Za-z0-9\-]{1,9})\)")
_SENTENCE_END = re.compile(r"[.;:!?()\[\]]")
MIN_SUPPORT = 2  # papers that must define a pair before queries use it
MIN_WORD = 4  # shorter unknown words are not corrected (too many neighbours)
MAX_WORD = 30
MIN_DF = 2  # a correction must be in at least this many papers


def _is_short_form(short: str) -> bool:
    """Two or more capitals (``LLM``, ``ViT``, ``LLMs``), not a plain word (``(Figure)``)."""
    return sum(c.isupper() for c in short) >= 2 and not short[1:].islower()


def _long_form(short: str, before: str) -> str | None:
    """The words of ``before`` that ``short`` abbreviates (Schwartz–Hearst), or None."""
    s, i = len(short) - 1, len(before) - 1
    while s >= 0:
        c = short[s].lower()
        if not c.isalnum():
            s -= 1
            continue
        while i >= 0 and (before[i].lower() != c
                          or (s == 0 and i > 0 and before[i - 1].isalnum())):
            i -= 1
        if i < 0:
            return None
        i -= 1
        s -= 1
    return before[i + 1:].strip()


def written_as_name(typed: str) -> bool:
    """Whether a word was typed with a capital or a digit after its first letter (``LLM``,
    ``mRNA``, ``Klf2``, ``PPARy``): an acronym or a gene, protein or chemical name, written
    so on purpose, unlike ``aging`` or ``Aged``."""
    word = "".join(c for c in typed if c.isalnum())
    return any(c.isupper() or c.isdigit() for c in word[1:])


def singular(short: str) -> str:
    """``LLMs`` → ``LLM``: a plural short form's trailing lower-case s dropped."""
    return short[:-1] if len(short) > 2 and short.endswith("s") and short[-2].isupper() else short


def find_acronyms(text: str) -> list[tuple[str, str]]:
    """(short form, long form) pairs defined in ``text``: ``large language models (LLMs)``
    gives ``("LLM", "large language models")``. At most one pair per short form."""
    out: dict[str, str] = {}
    for m in _SHORT.finditer(text):
        short = m[1].strip("-")
        if not _is_short_form(short):
            continue
        head = text[: m.start()]
        cut = max((b.end() for b in _SENTENCE_END.finditer(head, max(0, len(head) - 300))),
                  default=0)
        words = head[cut:].split()
        letters = sum(c.isalnum() for c in short)
        words = words[-min(letters + 5, 2 * letters):]
        if not words:
            continue
        long = _long_form(short, " ".join(words))
        if long is None or len(long.split()) < 2 or short.lower() in long.lower().split():
            continue
        out.setdefault(singular(short), long)
    return list(out.items())


def paper_pairs(text: str, analyze: Analyze) -> list[tuple[str, str]]:
    """The acronym pairs of a paper's text, normalised as the index analyses words: the
    short form as one token, the long form as its tokens joined by spaces."""
    pairs = []
    for short, long in find_acronyms(text):
        s = analyze(short)
        tokens = analyze(long)
        if len(s) == 1 and len(tokens) >= 2:
            pairs.append((s[0], " ".join(tokens)))
    return pairs


def surface_words(tokens: Iterable[str]) -> set[str]:
    """The words worth offering as spelling corrections: ASCII letters only, 4 to 30 long."""
    return {t for t in tokens if MIN_WORD <= len(t) <= MAX_WORD and _plain(t)}


def _plain(word: str) -> bool:
    return word.isascii() and word.isalpha()


def edit_distance(a: str, b: str, limit: int) -> int:
    """Optimal-string-alignment distance (insert, delete, substitute, swap neighbours), or
    ``limit + 1`` as soon as it must exceed ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            v = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                v = min(v, prev2[j - 2] + 1)
            cur[j] = v
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


def max_edits(word: str) -> int:
    """How far a correction may be: 1 edit for words up to 7 letters, 2 from 8."""
    return 1 if len(word) < 8 else 2


def _letters(words: Sequence[str]) -> np.ndarray:
    """How often each of a-z occurs in each (lower-case ASCII) word: one row per word."""
    if not words:
        return np.zeros((0, 26), dtype=np.int16)
    raw = np.frombuffer("".join(w.ljust(MAX_WORD) for w in words).encode("ascii"),
                        dtype=np.uint8).reshape(len(words), MAX_WORD)
    return np.stack([(raw == 97 + i).sum(axis=1, dtype=np.int16) for i in range(26)], axis=1)


@dataclass
class Lexicon:
    """What queries may use of the corpus's own vocabulary: acronym ↔ expansion pairs
    (both ways, plain dictionaries) and the words spelling correction may suggest.

    Built from how many papers define each (short token, long tokens) pair and the
    vocabulary (word → papers containing it). Build once per published index state; every
    query question is a dictionary lookup, except a correction, which scans the vocabulary's
    letter counts (one vectorised pass) and only for words the index does not know."""

    expansions: dict[str, str] = field(default_factory=dict)  # "llm" → "larg languag model"
    acronyms: dict[tuple[str, ...], str] = field(default_factory=dict)  # the reverse
    words: list[str] = field(default_factory=list)
    dfs: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    lengths: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int16))
    letters: np.ndarray = field(default_factory=lambda: np.zeros((0, 26), dtype=np.int16))
    longest_expansion: int = 0
    position: dict[str, int] = field(default_factory=dict)  # word → its row

    @classmethod
    def build(cls, pairs: Mapping[str, Sequence[Sequence[str]]],
              vocab: Mapping[str, int], min_support: int = MIN_SUPPORT,
              min_df: int = MIN_DF) -> Lexicon:
        """From each paper's pairs (paper id → its (short, long) pairs) and the vocabulary."""
        counts: Counter[tuple[str, str]] = Counter()
        for paper in pairs.values():
            for short, long in paper:
                counts[(short, long)] += 1
        return cls.counted(counts, vocab, min_support, min_df)

    @classmethod
    def counted(cls, counts: Mapping[tuple[str, str], int], vocab: Mapping[str, int],
                min_support: int = MIN_SUPPORT, min_df: int = MIN_DF) -> Lexicon:
        """From the number of papers defining each (short, long) pair and the vocabulary.
        The most frequent long form of a short one wins; ties go to the first in order."""
        expansions: dict[str, str] = {}
        acronyms: dict[str, str] = {}
        for (short, long), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
            if n < min_support:
                break
            expansions.setdefault(short, long)
            acronyms.setdefault(long, short)
        words = sorted(w for w, df in vocab.items()
                       if df >= min_df and MIN_WORD <= len(w) <= MAX_WORD and _plain(w))
        return cls.of(expansions, acronyms, {w: vocab[w] for w in words})

    @classmethod
    def of(cls, expansions: Mapping[str, str], long_forms: Mapping[str, str],
           words: Mapping[str, int]) -> Lexicon:
        """From its parts (what :meth:`dump` gives): acronym → long form, long form →
        acronym (both analysed, tokens joined by spaces), word → papers."""
        acronyms = {tuple(long.split()): short for long, short in long_forms.items()}
        # by length: the words within reach of a length are one slice of the rows
        listed = sorted((w for w in words if MIN_WORD <= len(w) <= MAX_WORD and _plain(w)),
                        key=lambda w: (len(w), w))
        return cls(
            expansions=dict(expansions),
            acronyms=acronyms,
            words=listed,
            dfs=np.array([words[w] for w in listed], dtype=np.int32),
            lengths=np.array([len(w) for w in listed], dtype=np.int16),
            letters=_letters(listed),
            longest_expansion=max((len(k) for k in acronyms), default=0),
            position={w: i for i, w in enumerate(listed)},
        )

    def dump(self) -> dict[str, object]:
        """A JSON-able form that :meth:`of` reads back (small: the readers load it)."""
        return {"expansions": self.expansions,
                "long_forms": {" ".join(k): v for k, v in self.acronyms.items()},
                "words": dict(zip(self.words, self.dfs.tolist(), strict=True))}

    def correctable(self, word: str, rare: int = 2) -> bool:
        """Whether ``word`` could need a correction: letters, long enough, no stop word,
        and not a word known to be in more than ``rare`` papers (a dictionary lookup)."""
        return (MIN_WORD <= len(word) <= MAX_WORD and _plain(word)
                and word not in STOP_WORDS and self.df(word) <= rare)

    def df(self, word: str) -> int:
        """How many papers hold ``word`` (0 when it is not a correctable word)."""
        i = self.position.get(word)
        return 0 if i is None else int(self.dfs[i])

    def expansion(self, token: str) -> str | None:
        """The long form (tokens joined by spaces) of an acronym token, or None."""
        return self.expansions.get(token)

    def acronyms_in(self, tokens: Sequence[str]) -> list[tuple[int, int, str]]:
        """Runs of ``tokens`` that spell a known long form: (start, end, short token),
        longest first and not overlapping."""
        out: list[tuple[int, int, str]] = []
        taken = [False] * len(tokens)
        for n in range(min(self.longest_expansion, len(tokens)), 1, -1):
            for i in range(len(tokens) - n + 1):
                short = self.acronyms.get(tuple(tokens[i:i + n]))
                if short is not None and not any(taken[i:i + n]):
                    out.append((i, i + n, short))
                    taken[i:i + n] = [True] * n
        return out

    def correct(self, word: str) -> str | None:
        """The vocabulary word closest to ``word`` (within :func:`max_edits`), the most
        frequent among equally close ones; None when there is none."""
        word = word.lower()
        if not (MIN_WORD <= len(word) <= MAX_WORD and _plain(word)) or not self.words:
            return None
        limit = max_edits(word)
        # a lower bound of the distance: each edit changes the length by at most 1 and the
        # letter counts by at most 2; only words within reach are compared, nearest first
        lo, hi = np.searchsorted(self.lengths, [len(word) - limit, len(word) + limit + 1])
        rows = np.arange(lo, hi)
        spread = np.abs(self.letters[lo:hi] - _letters([word])[0]).sum(axis=1)
        bound = np.maximum(np.abs(self.lengths[lo:hi] - len(word)), (spread + 1) // 2)
        near = bound <= limit
        rows, bound = rows[near], bound[near]
        best: tuple[int, int, str] | None = None
        for k in np.lexsort((-self.dfs[rows], bound)):
            if best is not None and bound[k] > best[0]:
                break
            i = int(rows[k])
            cand = self.words[i]
            d = edit_distance(word, cand, limit if best is None else best[0])
            if d == 0 or d > limit:
                continue
            key = (d, -int(self.dfs[i]), cand)
            if best is None or key < (best[0], -best[1], best[2]):
                best = (d, int(self.dfs[i]), cand)
        return best[2] if best is not None else None


def feedback_terms(docs: Sequence[tuple[float, Sequence[str]]], exclude: Iterable[str],
                   n: int) -> list[tuple[str, float]]:
    """Pseudo-relevance feedback (RM3's relevance model, V. Lavrenko, W. B. Croft, SIGIR
    2001; as in Anserini): the ``n`` words most probable in the top papers, each paper
    weighing its share of the summed scores and a word its share of the paper's tokens.
    ``docs``: (score, analysed tokens) of the top papers; ``exclude``: words left out (the
    query's own). Stop words, numbers and words under 3 letters are never chosen. Weights
    are scaled so that the first is 1."""
    total = sum(max(s, 0.0) for s, _ in docs)
    if total <= 0:
        return []
    left_out = set(exclude)
    weights: dict[str, float] = {}
    for score, tokens in docs:
        if not tokens or score <= 0:
            continue
        share = score / total / len(tokens)
        for t, tf in Counter(tokens).items():
            if len(t) >= 3 and not t.isdigit() and t not in STOP_WORDS and t not in left_out:
                weights[t] = weights.get(t, 0.0) + share * tf
    top = sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
    return [(t, w / top[0][1]) for t, w in top] if top else []


def author_marks(authors: Sequence[str], words: Iterable[str], names: Iterable[str],
                 analyze: Analyze, alone: Collection[str] | None = None) -> tuple[int, ...]:
    """Which ``authors`` (their positions) the query names: a free word (not a stop word)
    that is one of an author's name words, or an ``author:`` value whose words appear in
    the name in order. ``alone``: the free words that count by themselves (the search's
    name words; None: every one); any two free words typed in a row count where they are
    in a row in the name ("Ann Large")."""
    words = list(words)
    single = {t for w in words if alone is None or w in alone
              for t in analyze(w) if t not in STOP_WORDS}
    typed = [t for w in words for t in analyze(w)]
    phrases = [analyze(n) for n in names]
    phrases += [typed[j:j + 2] for j in range(len(typed) - 1)]
    out = []
    for i, author in enumerate(authors):
        tokens = analyze(author)
        if single & set(tokens) or any(
            p and any(tokens[j:j + len(p)] == p for j in range(len(tokens) - len(p) + 1))
            for p in phrases
        ):
            out.append(i)
    return tuple(out)
