"""SQL of ``paper_meta``: Hugging Face's metadata of papers (see :mod:`paperwire.metadata`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update

from paperwire.metadata import PaperMeta, bounded_meta, merge_meta
from paperwire.records import WriteCounts
from paperwire.store.schema import paper_meta

_CHUNK = 500


def _row_to_meta(row: Any) -> PaperMeta:
    """The metadata of a row, bounded like every write is."""
    return bounded_meta(PaperMeta(
        paper_id=row.paper_id,
        code_url=row.code_url,
        project_url=row.project_url,
        ai_summary=row.ai_summary,
        ai_summary_model=row.ai_summary_model,
        ai_keywords=tuple(x for x in (row.ai_keywords or ()) if isinstance(x, str)),
        thumbnail_url=row.thumbnail_url,
        organization=row.organization,
        submitted_by=row.submitted_by,
        comments=row.comments,
        source=row.source,
        day=row.day,
    ))


def _meta_to_row(m: PaperMeta) -> dict[str, Any]:
    return {
        "paper_id": m.paper_id,
        "code_url": m.code_url,
        "project_url": m.project_url,
        "ai_summary": m.ai_summary,
        "ai_summary_model": m.ai_summary_model,
        "ai_keywords": list(m.ai_keywords),
        "thumbnail_url": m.thumbnail_url,
        "organization": m.organization,
        "submitted_by": m.submitted_by,
        "comments": m.comments,
        "source": m.source[:32],
        "day": m.day,
    }


def read(conn: Any, ids: Iterable[str]) -> dict[str, PaperMeta]:
    """The stored metadata of ``ids`` (papers without any are absent)."""
    ids = list(dict.fromkeys(ids))
    found: dict[str, PaperMeta] = {}
    for i in range(0, len(ids), _CHUNK):
        q = select(paper_meta).where(paper_meta.c.paper_id.in_(ids[i:i + _CHUNK]))
        for row in conn.execute(q):
            found[row.paper_id] = _row_to_meta(row)
    return found


def upsert(conn: Any, metas: Sequence[PaperMeta], now: datetime) -> WriteCounts:
    """Write ``metas`` (bounded first; several for one paper merged): a paper's row is
    inserted, or updated when :func:`merge_meta` changes it (an older day only fills gaps),
    else left alone. Writing the same metadata again changes no row."""
    counts = WriteCounts()
    latest: dict[str, PaperMeta] = {}
    for m in metas:
        m = bounded_meta(m)
        if m.is_empty():
            continue
        latest[m.paper_id] = merge_meta(latest[m.paper_id], m) if m.paper_id in latest else m
    existing = read(conn, latest)
    inserts, updates = [], []
    for pid, incoming in latest.items():
        old = existing.get(pid)
        if old is None:
            inserts.append({**_meta_to_row(incoming), "updated_at": now})
            counts.new += 1
            continue
        merged = bounded_meta(merge_meta(old, incoming))
        if merged == old:
            counts.unchanged += 1
            continue
        updates.append({**_meta_to_row(merged), "updated_at": now})
        counts.changed += 1
    if inserts:
        conn.execute(paper_meta.insert(), inserts)
    if updates:
        cols: dict[str, Any] = {k: bindparam(k) for k in updates[0] if k != "paper_id"}
        stmt = update(paper_meta).where(paper_meta.c.paper_id == bindparam("b_id")).values(**cols)
        conn.execute(stmt, [{**row, "b_id": row["paper_id"]} for row in updates])
    return counts
