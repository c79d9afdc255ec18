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
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True)
class _Snapshot:
    """One consistent generation of the index: ids, their positions and their vectors (row
    ``i`` of ``matrix`` is the vector of ``ids[i]``). Never changed once published: a sync
    builds the next one and swaps it in with one assignment, so a search that took a
    snapshot reads ids and vectors of the same generation whatever happens meanwhile."""

    ids: tuple[str, ...]
    pos: dict[str, int]
    matrix: np.ndarray

    @classmethod
    def of(cls, ids: Sequence[str], matrix: np.ndarray) -> _Snapshot:
        matrix = np.asarray(matrix, dtype=np.float32)
        matrix.flags.writeable = False
        return cls(tuple(ids), {pid: i for i, pid in enumerate(ids)}, matrix)


class DenseIndex:
    """Thread-safe: any number of threads may search while one syncs (syncs take turns).
    Searches read an immutable :class:`_Snapshot`; the HNSW graph, which usearch mutates in
    place, is searched and changed under a lock, and its hits are read against the snapshot
    the search took (a key that snapshot does not have yet is left out)."""

    def __init__(self, path: Path, model: str, dim: int, exact_limit: int = EXACT_LIMIT) -> None:
        self.path = path
        self.model = model
        self.dim = dim
        self.exact_limit = exact_limit
        self._snap = _Snapshot.of([], np.zeros((0, dim), dtype=np.float32))
        self._hnsw: object | None = None
        self._loaded = False
        self._state: dict[str, str] = {}
        self._sync_lock = threading.RLock()  # one sync (or load) at a time
        self._hnsw_lock = threading.RLock()  # usearch's graph: searched or changed, not both

    # ---- the current snapshot ----------------------------------------------------------

    @property
    def ids(self) -> tuple[str, ...]:
        return self._snap.ids

    @property
    def pos(self) -> dict[str, int]:
        return self._snap.pos

    @property
    def matrix(self) -> np.ndarray:
        return self._snap.matrix

    def publish(self, ids: Sequence[str], matrix: np.ndarray) -> None:
        """Make ``ids`` and their vectors (row ``i`` for ``ids[i]``) the index's contents, in
        memory only (benchmarks and tests; :meth:`sync` is the way from the store)."""
        if len(ids) != len(matrix):
            raise ValueError("one vector per id")
        with self._sync_lock:
            self._loaded = True
            self._snap = _Snapshot.of(ids, matrix)
            with self._hnsw_lock:
                self._hnsw = None

    # ---- persistence -------------------------------------------------------------------

    def _load(self) -> None:
        if self._loaded:
            return
        with self._sync_lock:
            if self._loaded:
                return
            try:
                state = json.loads((self.path / "state.json").read_text())
                ids = json.loads((self.path / "ids.json").read_text())
                matrix = np.load(self.path / "vectors.npy")
                if matrix.shape != (len(ids), self.dim):
                    raise ValueError("ids and vectors disagree")
            except (OSError, ValueError):
                state, ids = {}, []
                matrix = np.zeros((0, self.dim), dtype=np.float32)
            self._state = state
            self._snap = _Snapshot.of(ids, matrix)
            self._loaded = True

    def _save(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        snap = self._snap
        for name, write in (
            ("vectors.npy", lambda f: np.save(f, snap.matrix)),
            ("ids.json", lambda f: f.write(json.dumps(list(snap.ids)).encode())),
            ("state.json", lambda f: f.write(json.dumps(self._state).encode())),
        ):
            tmp = self.path / (name + ".tmp")
            with tmp.open("wb") as fh:
                write(fh)
            tmp.replace(self.path / name)

    # ---- sync and search --------------------------------------------------------------

    def sync(self, store: Store) -> int:
        """Take in vectors written since the last sync. Returns how many were taken in.
        Searches meanwhile see the previous snapshot until the new one is complete."""
        self._load()
        with self._sync_lock:
            return self._sync(store)

    def _sync(self, store: Store) -> int:
        key = hashlib.sha256(
            f"{store.engine.url.render_as_string()}|{self.model}".encode()).hexdigest()[:16]
        old = self._snap
        since = None
        if self._state.get("store") == key:
            since = datetime.fromisoformat(self._state["watermark"]) - SYNC_MARGIN
        else:
            old = _Snapshot.of([], np.zeros((0, self.dim), dtype=np.float32))
        started = datetime.utcnow()
        new_ids: list[str] = []
        new_pos: dict[str, int] = {}
        new_rows: list[np.ndarray] = []
        changes: dict[int, np.ndarray] = {}  # old rows with a new vector
        changed = 0
        for batch in store.iter_embeddings(self.model, since=since):
            for pid, blob in batch:
                vec = np.frombuffer(blob, dtype="<f4")
                at = old.pos.get(pid)
                if at is not None:
                    if np.array_equal(changes.get(at, old.matrix[at]), vec):
                        continue  # re-read inside the safety margin, unchanged
                    changes[at] = vec
                elif pid in new_pos:
                    new_rows[new_pos[pid]] = vec
                else:
                    new_pos[pid] = len(new_ids)
                    new_ids.append(pid)
                    new_rows.append(vec)
                changed += 1
        first_new = len(old.ids)
        if new_rows or changes or old is not self._snap:
            matrix = np.vstack([old.matrix, *new_rows]) if new_rows else old.matrix.copy()
            for at, vec in changes.items():
                matrix[at] = vec
            self._snap = _Snapshot.of([*old.ids, *new_ids], matrix)  # published at once
        if changed or self._state.get("store") != key:
            self._state = {"store": key, "watermark": started.isoformat()}
            self._update_hnsw(sorted(changes), first_new, reset=since is None)
            self._save()
        return changed

    def _update_hnsw(self, replaced: list[int], first_new: int, reset: bool) -> None:
        """Keep the approximate index in step with the snapshot just published: reload it
        from disk or build it when it is not in memory (or the vectors were all re-read),
        else add new rows and re-add replaced ones."""
        snap = self._snap
        if not self.approximate or reset:
            with self._hnsw_lock:
                self._hnsw = None
            if not self.approximate:
                return
        if self._hnsw is None:
            self._hnsw_index()
            return
        keys = np.array([*replaced, *range(first_new, len(snap.ids))], dtype=np.uint64)
        index: Any = self._hnsw
        with self._hnsw_lock:
            for pos in replaced:
                index.remove(pos)
            if len(keys):
                index.add(keys, snap.matrix[keys.astype(np.int64)])
        index.save(str(self.path / "hnsw.usearch"))  # reads the graph, as searches do
        self._state["hnsw_rows"] = str(len(snap.ids))

    def vector(self, paper_id: str) -> np.ndarray | None:
        self._load()
        snap = self._snap
        pos = snap.pos.get(paper_id)
        return None if pos is None else snap.matrix[pos]

    def __len__(self) -> int:
        self._load()
        return len(self._snap.ids)

    @property
    def approximate(self) -> bool:
        return len(self) > self.exact_limit

    def _hnsw_index(self) -> Any:
        """The HNSW index: in memory, else restored from disk when it covers every row, else
        built (minutes for ~100k vectors on 2 cores; done once, then kept up incrementally).
        One thread builds it; others wait for it rather than build their own."""
        if self._hnsw is not None:
            return self._hnsw
        with self._hnsw_lock:
            if self._hnsw is None:
                self._hnsw = self._restore_or_build(self._snap)
            return self._hnsw

    def _restore_or_build(self, snap: _Snapshot) -> Any:
        from usearch.index import Index

        saved = self.path / "hnsw.usearch"
        if saved.is_file() and self._state.get("hnsw_rows") == str(len(snap.ids)):
            try:
                restored: Any = Index.restore(str(saved))
                # the search breadth is not saved with the graph: restore it (usearch's default,
                # 64, gave recall@10 0.88 on 75k arXiv vectors)
                restored.expansion_search = HNSW_EXPANSION_SEARCH
                return restored
            except (OSError, ValueError, RuntimeError) as exc:
                log.warning("rebuilding the HNSW index: %s", exc)
        index = Index(ndim=self.dim, metric="cos", dtype=HNSW_DTYPE,
                      connectivity=HNSW_CONNECTIVITY, expansion_add=HNSW_EXPANSION_ADD,
                      expansion_search=HNSW_EXPANSION_SEARCH)
        if snap.ids:
            log.info("building the HNSW index over %d vectors", len(snap.ids))
            index.add(np.arange(len(snap.ids), dtype=np.uint64), snap.matrix)
        self.path.mkdir(parents=True, exist_ok=True)
        tmp = self.path / "hnsw.usearch.tmp"
        index.save(str(tmp))
        tmp.replace(saved)
        self._state["hnsw_rows"] = str(len(snap.ids))
        return index

    def search(self, query: np.ndarray, k: int = 100, exact: bool | None = None) -> list[
        tuple[str, float]
    ]:
        """The k nearest papers by cosine similarity, best first, as (paper id, similarity)."""
        self._load()
        snap = self._snap  # ids and vectors of one generation, whatever a sync does meanwhile
        if not snap.ids or k <= 0:
            return []
        k = min(k, len(snap.ids))
        if exact is None:
            exact = len(snap.ids) <= self.exact_limit
        if exact:
            sims = snap.matrix @ query.astype(np.float32)
            top = np.argpartition(-sims, k - 1)[:k]
            top = top[np.argsort(-sims[top], kind="stable")]
            return [(snap.ids[i], float(sims[i])) for i in top]
        graph = self._hnsw_index()
        with self._hnsw_lock:
            found = graph.search(query.astype(np.float32), k)
            keys, distances = np.array(found.keys), np.array(found.distances)
        return [(snap.ids[int(key)], 1.0 - float(dist))
                for key, dist in zip(keys, distances, strict=True) if int(key) < len(snap.ids)]
