"""Seed papers matched to their arXiv records.

The bundled seed papers (``seed:…``: a title and an abstract, no id, authors or dates) are
often on arXiv. When a stored arXiv paper has the same title — compared by :func:`title_key`:
case, accents, whitespace, punctuation and TeX markup aside — and no other arXiv paper has
it, the seed paper is merged into the arXiv paper (``Store.merge_into``): what named the seed
paper (signals, votes, library entries and tags, ratings, digest records) now names the arXiv
paper, which brings the id, authors, dates and categories; the seed id stays as an alias, so
``/papers/seed:…`` leads to the arXiv paper. A merged seed paper is gone, so a second run
finds nothing to do; a seed paper imported again after it was merged is merged again.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from datetime import datetime

from paperwire.store import Store

SEED_PREFIX = "seed:"
MIN_KEY = 16  # a shorter key ("Introduction") is too common to name one paper
# \textit{X}, \emph{X}, \mathrm{X}, … keep X; other commands (\alpha, \LaTeX) keep their name
_TEX_WRAPPER = re.compile(r"\\[a-zA-Z]+\*?\s*\{([^{}]*)\}")
_TEX_COMMAND = re.compile(r"\\([a-zA-Z]+)")
_NOT_WORD = re.compile(r"[\W_]+")


def title_key(title: str) -> str:
    """What two titles of one paper share: TeX wrappers and math signs dropped, accents and
    compatibility forms folded (``é`` → ``e``, ``³`` → ``3``), lower case, only letters and
    digits (so ``BERT:Pre-training`` and ``BERT: Pre training`` are one key)."""
    text = title
    for _ in range(3):  # nested wrappers: \textbf{\textit{x}}
        text = _TEX_WRAPPER.sub(r"\1", text)
    text = _TEX_COMMAND.sub(r"\1", text)
    folded = unicodedata.normalize("NFKD", text)
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    return _NOT_WORD.sub("", folded.casefold())


def matches(seeds: Iterable[tuple[str, str]],
            papers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """(seed id, arXiv id) for each seed whose title key is that of exactly one of
    ``papers`` (id, title) — pure."""
    owners: dict[str, set[str]] = {}
    for paper_id, title in papers:
        key = title_key(title)
        if len(key) >= MIN_KEY:
            owners.setdefault(key, set()).add(paper_id)
    found = []
    for seed_id, title in seeds:
        ids = owners.get(title_key(title), set())
        if len(ids) == 1:
            found.append((seed_id, next(iter(ids))))
    return found


def match_seeds(store: Store, since: datetime | None = None,
                now: datetime | None = None) -> list[tuple[str, str]]:
    """Merge every stored seed paper into the arXiv paper of the same title; returns the
    (seed id, arXiv id) pairs merged. ``since``: only arXiv papers changed since then can be
    new matches (an import's start), unless a seed paper changed since then too; None looks
    at every arXiv paper."""
    seeds = store.titles(SEED_PREFIX)
    if not seeds:
        return []
    merged = []
    for seed_id, _title, _changed in seeds:  # imported again after a merge
        target = store.alias_of(seed_id)
        if target is not None and store.merge_into(seed_id, target, now):
            merged.append((seed_id, target))
    done = {seed_id for seed_id, _ in merged}
    seeds = [s for s in seeds if s[0] not in done]
    if since is not None and any(changed >= since for _, _, changed in seeds):
        since = None  # new seed papers: any arXiv paper may be theirs
    pending = [(s[0], s[1]) for s in seeds]
    found = matches(pending, [(pid, title) for pid, title, _ in store.titles(None, since)])
    if found and since is not None:  # a title must be its only holder among every paper
        found = matches(pending, [(pid, title) for pid, title, _ in store.titles(None)])
    for seed_id, arxiv_id in found:
        if store.merge_into(seed_id, arxiv_id, now):
            merged.append((seed_id, arxiv_id))
    return merged
