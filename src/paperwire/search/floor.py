"""The relevance floor: which of a query's candidates are *matches* at all (pure, no I/O).

Both retrievers always return candidates: BM25 every paper sharing one word with the query
(its words are alternatives), the vector index the nearest papers however far they are. A
candidate is a match when

- it holds every word of the query (stop words aside; :func:`required_words`), as the
  search reads them (:meth:`LexicalView.with_every_word`): ``SPLADE`` matches the two papers
  that say SPLADE, whatever their vectors; a word no paper holds is held as its spelling
  correction ("tranformer" → transformer), an acronym as its long form too (``LLM``, "large
  language model"), and the reverse; or
- its embedding's cosine similarity to the query's is at least ``min_cosine``: a paper on
  the query's topic in other words; or
- it holds some of the words (a lexical candidate) and its cosine is at least
  ``lexical_cosine`` and at least ``relative`` times the best cosine among the query's
  candidates: words and meaning agree, each alone too weak (a paper sharing "learned" and
  "weights" with a query on sparse retrieval is not one of its matches).

A paper's cosine is its best window's (max-pooling, :meth:`DenseIndex.scores`): the same
similarity the fusion ranks by. Without a query vector (lexical mode, no model) only the
first rule applies. A query of
filters alone (no words) has every paper it keeps as a match. The thresholds were chosen on
SciFact *train* by bench/floor_bench.py (BENCHMARKS.md); the engine counts, sorts and pages
only matches and shows the rest, where asked, as related papers after them.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

# words a query may hold that need not be in a matching paper (English function words)
_STOP = """
a about above after again against all also am an and any are as at be because been before
being below between both but by can could did do does doing down during each few for from
further had has have having he her here hers herself him himself his how i if in into is it
its itself just me more most my myself no nor not of off on once only or other our ours
ourselves out over own same she should so some such than that the their theirs them
themselves then there these they this those through to too under until up very via was we
were what when where which while who whom why will with would you your yours yourself
yourselves vs versus using use based towards toward
"""
STOP_WORDS = frozenset(_STOP.split())


@dataclass(frozen=True)
class FloorParams:
    min_cosine: float = 0.47  # any candidate this close to the query in meaning matches
    lexical_cosine: float = 0.3  # a candidate with some of the words needs this much,
    relative: float = 0.7  # and this share of the best candidate's cosine


def required_words(terms: Sequence[str]) -> list[str]:
    """The query words a paper must hold to match on words alone: all but stop words (all
    of them when the query is nothing but stop words)."""
    kept = [t for t in terms if t.lower() not in STOP_WORDS]
    return kept or list(terms)


def matches(
    every_word: Collection[str], lexical: Collection[str], cosine: Mapping[str, float],
    params: FloorParams,
) -> set[str]:
    """The matches among the candidates: ``every_word`` holds those with all the required
    words, ``lexical`` those BM25 found (some of the words), ``cosine`` maps each candidate
    whose vector is known to its similarity to the query."""
    found = set(every_word)
    found.update(pid for pid, sim in cosine.items() if sim >= params.min_cosine)
    if cosine:
        bar = max(params.lexical_cosine, params.relative * max(cosine.values()))
        found.update(pid for pid in lexical if cosine.get(pid, -1.0) >= bar)
    return found


def split(
    ranked: list[tuple[str, float]], matched: Collection[str]
) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """``ranked`` (best first) as its matches and the rest, each in the same order."""
    return ([r for r in ranked if r[0] in matched], [r for r in ranked if r[0] not in matched])
