"""Semantic search over stored embeddings: exact (one matrix product) while the collection is
small, an approximate HNSW index (usearch) beyond ``exact_limit`` vectors.

The vectors live in the store (table ``embeddings``, keyed by paper, model and content hash);
this index is a cache of them under ``$PAPERWIRE_HOME/index/dense/<model>``, brought up to
date incrementally by :meth:`DenseIndex.sync`, like the lexical index.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from paperwire.embed import Embedder, paper_text
from paperwire.store import Store

log = logging.getLogger(__name__)
SYNC_MARGIN = timedelta(seconds=5)
EXACT_LIMIT = 20_000
# HNSW settings: half-precision vectors, chosen for recall@10 >= 0.98 against exact search
# (tests/test_dense_hybrid.py, bench/search_bench.py) at a build cost 2 cores can afford.
HNSW_DTYPE = "f16"
# expansion_search 512: recall@10 0.984 against the exact scan on 75k real arXiv vectors with
# 300 title queries, 2.6 ms a query (128: 0.940; 256: 0.969) — bench/search_bench.py
HNSW_CONNECTIVITY, HNSW_EXPANSION_ADD, HNSW_EXPANSION_SEARCH = 16, 128, 512


def embed_pending(
    store: Store, embedder: Embedder, on_progress: Callable[[int, int], None] | None = None
) -> int:
    """Embed every paper whose vector for ``embedder`` is missing or stale (its text changed:
    the content hash differs). Unchanged papers are never embedded again. Returns the count."""
    total = store.count_to_embed(embedder.name)
    done = 0
    for batch in store.papers_to_embed(embedder.name, batch_size=256):
        vectors = embedder.embed([paper_text(p.title, p.abstract) for p, _ in batch])
        store.put_embeddings(embedder.name, [
            (p.id, h, vectors[i].astype("<f4").tobytes()) for i, (p, h) in enumerate(batch)
        ])
        done += len(batch)
        if on_progress:
            on_progress(done, total)
    return done


class DenseIndex:
    def __init__(self, path: Path, model: str, dim: int, exact_limit: int = EXACT_LIMIT) -> None:
        self.path = path
        self.model = model
        self.dim = dim
        self.exact_limit = exact_limit
        self.ids: list[str] = []
        self.pos: dict[str, int] = {}
        self.matrix = np.zeros((0, dim), dtype=np.float32)
        self._hnsw: object | None = None
        self._loaded = False
        self._state: dict[str, str] = {}

    # ---- persistence -------------------------------------------------------------------

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        try:
            self._state = json.loads((self.path / "state.json").read_text())
            self.ids = json.loads((self.path / "ids.json").read_text())
            self.matrix = np.load(self.path / "vectors.npy")
            if self.matrix.shape != (len(self.ids), self.dim):
                raise ValueError("ids and vectors disagree")
        except (OSError, ValueError):
            self._state, self.ids = {}, []
            self.matrix = np.zeros((0, self.dim), dtype=np.float32)
        self.pos = {pid: i for i, pid in enumerate(self.ids)}

    def _save(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        for name, write in (
            ("vectors.npy", lambda f: np.save(f, self.matrix)),
            ("ids.json", lambda f: f.write(json.dumps(self.ids).encode())),
            ("state.json", lambda f: f.write(json.dumps(self._state).encode())),
        ):
            tmp = self.path / (name + ".tmp")
            with tmp.open("wb") as fh:
                write(fh)
            tmp.replace(self.path / name)

    # ---- sync and search --------------------------------------------------------------

    def sync(self, store: Store) -> int:
        """Take in vectors written since the last sync. Returns how many were taken in."""
        self._load()
        key = hashlib.sha256(
            f"{store.engine.url.render_as_string()}|{self.model}".encode()).hexdigest()[:16]
        since = None
        if self._state.get("store") == key:
            since = datetime.fromisoformat(self._state["watermark"]) - SYNC_MARGIN
        else:
            self.ids, self.pos = [], {}
            self.matrix = np.zeros((0, self.dim), dtype=np.float32)
        started = datetime.utcnow()
        new_ids: list[str] = []
        new_rows: list[np.ndarray] = []
        replaced: list[int] = []
        changed = 0
        for batch in store.iter_embeddings(self.model, since=since):
            for pid, blob in batch:
                vec = np.frombuffer(blob, dtype="<f4")
                if pid in self.pos:
                    if np.array_equal(self.matrix[self.pos[pid]], vec):
                        continue  # re-read inside the safety margin, unchanged
                    self.matrix[self.pos[pid]] = vec
                    replaced.append(self.pos[pid])
                else:
                    self.pos[pid] = len(self.ids) + len(new_ids)
                    new_ids.append(pid)
                    new_rows.append(vec)
                changed += 1
        first_new = len(self.ids)
        if new_rows:
            self.matrix = np.vstack([self.matrix, np.stack(new_rows)]).astype(np.float32)
            self.ids += new_ids
        if changed or self._state.get("store") != key:
            self._state = {"store": key, "watermark": started.isoformat()}
            self._update_hnsw(replaced, first_new)
            self._save()
        return changed

    def _update_hnsw(self, replaced: list[int], first_new: int) -> None:
        """Keep the approximate index in step: reload it from disk or build it when it is not
        in memory, else add new rows and re-add replaced ones."""
        if not self.approximate:
            self._hnsw = None
            return
        if self._hnsw is None:
            self._hnsw_index()
            return
        index: Any = self._hnsw
        for pos in replaced:
            index.remove(pos)
        keys = np.array([*replaced, *range(first_new, len(self.ids))], dtype=np.uint64)
        if len(keys):
            index.add(keys, self.matrix[keys.astype(np.int64)])
        index.save(str(self.path / "hnsw.usearch"))
        self._state["hnsw_rows"] = str(len(self.ids))

    def vector(self, paper_id: str) -> np.ndarray | None:
        self._load()
        pos = self.pos.get(paper_id)
        return None if pos is None else self.matrix[pos]

    def __len__(self) -> int:
        self._load()
        return len(self.ids)

    @property
    def approximate(self) -> bool:
        return len(self) > self.exact_limit

    def _hnsw_index(self) -> Any:
        """The HNSW index: in memory, else restored from disk when it covers every row, else
        built (minutes for ~100k vectors on 2 cores; done once, then kept up incrementally)."""
        from usearch.index import Index

        if self._hnsw is not None:
            return self._hnsw
        saved = self.path / "hnsw.usearch"
        if saved.is_file() and self._state.get("hnsw_rows") == str(len(self.ids)):
            try:
                restored: Any = Index.restore(str(saved))
                # the search breadth is not saved with the graph: restore it (usearch's default,
                # 64, gave recall@10 0.88 on 75k arXiv vectors)
                restored.expansion_search = HNSW_EXPANSION_SEARCH
                self._hnsw = restored
                return restored
            except (OSError, ValueError, RuntimeError) as exc:
                log.warning("rebuilding the HNSW index: %s", exc)
        index = Index(ndim=self.dim, metric="cos", dtype=HNSW_DTYPE,
                      connectivity=HNSW_CONNECTIVITY, expansion_add=HNSW_EXPANSION_ADD,
                      expansion_search=HNSW_EXPANSION_SEARCH)
        if self.ids:
            log.info("building the HNSW index over %d vectors", len(self.ids))
            index.add(np.arange(len(self.ids), dtype=np.uint64), self.matrix)
        self.path.mkdir(parents=True, exist_ok=True)
        tmp = self.path / "hnsw.usearch.tmp"
        index.save(str(tmp))
        tmp.replace(saved)
        self._state["hnsw_rows"] = str(len(self.ids))
        self._hnsw = index
        return index

    def search(self, query: np.ndarray, k: int = 100, exact: bool | None = None) -> list[
        tuple[str, float]
    ]:
        """The k nearest papers by cosine similarity, best first, as (paper id, similarity)."""
        self._load()
        if not self.ids or k <= 0:
            return []
        k = min(k, len(self.ids))
        if exact is None:
            exact = not self.approximate
        if exact:
            sims = self.matrix @ query.astype(np.float32)
            top = np.argpartition(-sims, k - 1)[:k]
            top = top[np.argsort(-sims[top], kind="stable")]
            return [(self.ids[i], float(sims[i])) for i in top]
        found = self._hnsw_index().search(query.astype(np.float32), k)
        return [(self.ids[int(key)], 1.0 - float(dist))
                for key, dist in zip(found.keys, found.distances, strict=True)]
