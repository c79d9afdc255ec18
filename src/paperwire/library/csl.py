"""CSL-JSON (the Citation Style Language's input format, read by pandoc, Zotero and every
citeproc) of papers — pure. Each paper is an ``article`` item whose ``id`` is its BibTeX key,
so ``[@vaswani2017attention]`` cites the same paper from either file."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from paperwire.library.bibtex import citation_keys, year_of
from paperwire.library.names import split_name
from paperwire.models import Paper, is_arxiv_id


def name(raw: str) -> dict[str, str]:
    """A CSL name: ``{"family", "given"}`` (with ``non-dropping-particle`` and ``suffix``
    when there are), or ``{"literal"}`` for a group."""
    parts = split_name(raw)
    if parts.literal:
        return {"literal": parts.literal}
    out = {"family": parts.family}
    if parts.given:
        out["given"] = parts.given
    if parts.particle:
        out["non-dropping-particle"] = parts.particle
    if parts.suffix:
        out["suffix"] = parts.suffix
    return out


def item(paper: Paper, key: str, keywords: Sequence[str] = ()) -> dict[str, Any]:
    """One CSL item for ``paper``."""
    out: dict[str, Any] = {"id": key, "type": "article", "title": paper.title}
    authors = [name(a) for a in paper.authors if a.strip()]
    if authors:
        out["author"] = authors
    if paper.published is not None:
        d = paper.published
        out["issued"] = {"date-parts": [[d.year, d.month, d.day]]}
    else:
        year = year_of(paper)
        if year is not None:
            out["issued"] = {"date-parts": [[year]]}
    if paper.abstract:
        out["abstract"] = paper.abstract
    if is_arxiv_id(paper.id):
        out["number"] = paper.id
        out["publisher"] = "arXiv"
        out["genre"] = "preprint"
        out["URL"] = paper.abs_url
        out["DOI"] = paper.doi or f"10.48550/arXiv.{paper.id}"
    elif paper.doi:
        out["DOI"] = paper.doi
    if paper.journal_ref:
        out["note"] = paper.journal_ref
    if keywords:
        out["keyword"] = ", ".join(keywords)
    return out


def items(papers: Sequence[Paper],
          tags: Mapping[str, Sequence[str]] | None = None) -> list[dict[str, Any]]:
    """The CSL items of ``papers``, in their order, with the BibTeX export's keys as ids."""
    keys = citation_keys(papers)
    tags = tags or {}
    return [item(p, keys[p.id], tags.get(p.id, ())) for p in papers]


def export(papers: Sequence[Paper], tags: Mapping[str, Sequence[str]] | None = None) -> str:
    """A CSL-JSON file: the array of items, UTF-8, indented."""
    return json.dumps(items(papers, tags), ensure_ascii=False, indent=2) + "\n"
