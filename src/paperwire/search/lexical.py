"""A persistent BM25 index (tantivy) over title, abstract and authors, kept in step with the
store incrementally: each sync re-indexes only papers changed since the last one."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import tantivy

from paperwire.errors import SearchError
from paperwire.store import Store

log = logging.getLogger(__name__)
SCHEMA_VERSION = 1
FIELD_BOOSTS = {"title": 2.0, "authors": 1.5, "abstract": 1.0}
# Rows changed within this margin before the watermark are re-indexed again: re-adding is
# idempotent, and it covers writers whose transactions committed late with earlier clocks.
SYNC_MARGIN = timedelta(seconds=5)
WRITER_HEAP = 64_000_000


def _schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    sb.add_text_field("id", stored=True, tokenizer_name="raw")
    sb.add_text_field("title", tokenizer_name="en_stem")
    sb.add_text_field("abstract", tokenizer_name="en_stem")
    sb.add_text_field("authors", tokenizer_name="default")
    return sb.build()


@dataclass(frozen=True)
class LexicalHit:
    paper_id: str
    score: float


class LexicalIndex:
    """The index in ``path``; ``state.json`` beside it records the store it mirrors and the
    newest change it has seen."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.state_file = path / "state.json"
        self._index: tantivy.Index | None = None

    def _open(self) -> tantivy.Index:
        if self._index is None:
            self.path.mkdir(parents=True, exist_ok=True)
            try:
                self._index = tantivy.Index(_schema(), path=str(self.path))
            except Exception as exc:
                raise SearchError(f"cannot open the search index in {self.path}: {exc}") from exc
        return self._index

    def _state(self) -> dict[str, str]:
        try:
            data: dict[str, str] = json.loads(self.state_file.read_text())
            return data
        except (OSError, ValueError):
            return {}

    def sync(self, store: Store) -> int:
        """Bring the index up to date with ``store``. Returns how many papers were (re)indexed.
        When another process holds the writer lock, does nothing and returns 0."""
        store_key = hashlib.sha256(store.engine.url.render_as_string().encode()).hexdigest()[:16]
        state = self._state()
        rebuild = state.get("store") != store_key or state.get("schema") != str(SCHEMA_VERSION)
        newest = store.max_changed_at()
        since: datetime | None = None
        if not rebuild:
            watermark = datetime.fromisoformat(state["watermark"])
            if newest is None or newest <= watermark:
                return 0
            since = watermark - SYNC_MARGIN
        index = self._open()
        try:
            writer = index.writer(WRITER_HEAP, 1)
        except Exception as exc:  # tantivy raises ValueError on a busy lock
            log.info("search index busy, not syncing now: %s", exc)
            return 0
        count = 0
        try:
            if rebuild:
                writer.delete_all_documents()
            for batch in store.iter_changed_since(since):
                for paper, _hash in batch:
                    if not rebuild:
                        writer.delete_documents_by_term("id", paper.id)
                    writer.add_document(
                        tantivy.Document(
                            id=paper.id,
                            title=paper.title,
                            abstract=paper.abstract,
                            authors=" ; ".join(paper.authors),
                        )
                    )
                    count += 1
            writer.commit()
            writer.wait_merging_threads()
        except BaseException:
            writer.rollback()
            raise
        state = {
            "store": store_key,
            "schema": str(SCHEMA_VERSION),
            "watermark": (newest or datetime.min).isoformat(),
        }
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state))
        tmp.replace(self.state_file)
        index.reload()
        if count:
            log.info("search index: %d papers indexed", count)
        return count

    def search(self, query: str, limit: int = 20) -> list[LexicalHit]:
        if not query.strip():
            return []
        index = self._open()
        index.reload()
        parsed, _errors = index.parse_query_lenient(
            query, list(FIELD_BOOSTS), field_boosts=FIELD_BOOSTS
        )
        searcher = index.searcher()
        hits = searcher.search(parsed, limit).hits
        return [LexicalHit(searcher.doc(addr)["id"][0], float(score)) for score, addr in hits]

    def num_docs(self) -> int:
        index = self._open()
        index.reload()
        return int(index.searcher().num_docs)
