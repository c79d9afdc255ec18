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
import os
import shutil
import threading
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from paperwire.embed import Embedder, paper_text
from paperwire.errors import SearchError
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
# a reader maps the published graph from its file (usearch's view) instead of loading a copy:
# processes on one host share it in the page cache and hold only the pages their searches
# touch (a copy is made only where the graph changes: in the index writer)
HNSW_MAPPED = True
REFRESH_SECONDS = 0.25  # how often a reader looks whether a new generation was published


def _free_space(path: Path) -> str:
    """``"; 12.3 MiB free on its disk"`` (see :func:`paperwire.search.lexical.free_space`)."""
    try:
        st = os.statvfs(path)
    except OSError:
        return ""
    return f"; {st.f_bavail * st.f_frsize / 2**20:,.1f} MiB free on its disk"


def usearch_index() -> Any:
    """usearch's ``Index`` class, imported after ONNX Runtime: ONNX Runtime imported after
    usearch's native module crashes the process (a segmentation fault, with usearch 2.26 and
    onnxruntime 1.32), and a process may load the HNSW graph before its first query embedding
    (a writer with nothing to embed, a page of recommendations first)."""
    import onnxruntime  # noqa: F401  # first: see above
    from usearch.index import Index

    return Index


def embed_pending(
    store: Store, embedder: Embedder, on_progress: Callable[[int, int], None] | None = None
) -> int:
    """Embed every paper whose vectors for ``embedder`` are missing or stale (its text
    changed: the content hash differs; or they were stored before windows). Unchanged papers
    are never embedded again; a paper stored before windows keeps its first vector and only
    its later windows are embedded. A long paper gets one vector per window (the embedder's
    ``windows``, when it has that method). Returns the count of papers."""
    total = store.count_to_embed(embedder.name)
    windows = getattr(embedder, "windows", None)
    done = 0
    for batch in store.papers_to_embed(embedder.name, batch_size=256):
        kept = store.first_vectors(embedder.name, [p.id for p, _ in batch])
        firsts: list[str] = []
        later: list[list[str]] = []
        for p, h in batch:
            old = kept.get(p.id)
            if old is None or old[0] != h:
                firsts.append(paper_text(p.title, p.abstract))
            later.append(windows(p.title, p.abstract) if windows is not None else [])
        texts = firsts + [w for ws in later for w in ws]
        vectors = embedder.embed(texts) if texts else np.zeros((0, embedder.dim), np.float32)
        rows: list[tuple[str, str, bytes, bytes]] = []
        at_first, at_later = 0, len(firsts)
        for (p, h), ws in zip(batch, later, strict=True):
            old = kept.get(p.id)
            if old is None or old[0] != h:
                first = vectors[at_first].astype("<f4").tobytes()
                at_first += 1
            else:
                first = old[1]
            extra = vectors[at_later : at_later + len(ws)].astype("<f4").tobytes()
            at_later += len(ws)
            rows.append((p.id, h, first, extra))
        store.put_embeddings(embedder.name, rows)
        done += len(batch)
        if on_progress:
            on_progress(done, total)
    return done


@dataclass(frozen=True)
class _Snapshot:
    """One consistent generation of the index: its rows' owners and vectors (row ``i`` of
    ``matrix`` is a vector of paper ``owners[i]``; a long paper owns several rows, its first
    window first; a row given up when a paper's text got shorter is owned by ""). Never
    changed once published: a sync builds the next one and swaps it in with one assignment,
    so a search that took a snapshot reads ids and vectors of the same generation whatever
    happens meanwhile.

    Owners are numpy arrays of UTF-8 bytes, not Python strings, and a paper's rows are found
    by binary search (``keys``: the owners sorted, ``order``: their rows): a reader maps all
    of them from the generation's files, so millions of rows cost no Python objects and no
    start-up work."""

    owners: np.ndarray  # (rows,) bytes: each row's paper id
    order: np.ndarray  # (rows,) int64: rows sorted by owner, a paper's rows in row order
    keys: np.ndarray  # (rows,) bytes: owners[order]
    papers: int  # distinct owners, "" aside
    matrix: np.ndarray

    @classmethod
    def of(cls, ids: Sequence[str] | np.ndarray, matrix: np.ndarray,
           order: np.ndarray | None = None, keys: np.ndarray | None = None) -> _Snapshot:
        owners = (ids if isinstance(ids, np.ndarray)
                  else np.array([i.encode() for i in ids], dtype=bytes))
        if owners.dtype.kind != "S":
            owners = owners.astype(bytes)
        if order is None or keys is None:
            order = np.argsort(owners, kind="stable").astype(np.int64)
            keys = owners[order]
        matrix = np.asarray(matrix, dtype=np.float32)
        matrix.flags.writeable = False
        return cls(owners, order, keys, _distinct(keys), matrix)

    def __len__(self) -> int:
        return len(self.owners)

    def owner(self, row: int) -> str:
        return "" if row >= len(self.owners) else bytes(self.owners[row]).decode()

    def owner_list(self) -> list[str]:
        return [o.decode() for o in self.owners.tolist()]

    def rows_of(self, paper_ids: Sequence[str]) -> list[list[int]]:
        """Each paper's rows in row order (its first window first); [] for one with none."""
        out: list[list[int]] = [[] for _ in paper_ids]
        width = self.keys.dtype.itemsize
        asked = [(i, pid.encode()) for i, pid in enumerate(paper_ids)]
        asked = [(i, key) for i, key in asked if key and len(key) <= width]
        if not asked or not len(self.keys):
            return out
        needles = np.array([key for _, key in asked], dtype=self.keys.dtype)
        los = np.searchsorted(self.keys, needles, side="left")
        his = np.searchsorted(self.keys, needles, side="right")
        for (i, _), lo, hi in zip(asked, los.tolist(), his.tolist(), strict=True):
            if hi > lo:
                out[i] = sorted(int(r) for r in self.order[lo:hi])
        return out

    def first_row(self, paper_id: str) -> int | None:
        rows = self.rows_of([paper_id])[0]
        return rows[0] if rows else None


def _distinct(sorted_owners: np.ndarray) -> int:
    if not len(sorted_owners):
        return 0
    n = 1 + int(np.count_nonzero(sorted_owners[1:] != sorted_owners[:-1]))
    return n - (1 if sorted_owners[0] == b"" else 0)


def best_per_paper(snap: _Snapshot, order: np.ndarray, sims: np.ndarray,
                   k: int) -> list[tuple[str, float]]:
    """The first ``k`` papers met along ``order`` (rows, best first), each with the score of
    its best row: max-pooling over a paper's windows. Rows owned by "" are skipped."""
    out: list[tuple[str, float]] = []
    seen: set[str] = set()
    for row, sim in zip(order.tolist(), sims.tolist(), strict=True):
        pid = snap.owner(int(row))
        if pid and pid not in seen:
            seen.add(pid)
            out.append((pid, float(sim)))
            if len(out) == k:
                break
    return out


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
        self._hnsw_mapped = False  # the graph is the published file's mapping (read-only)
        self._loaded = False
        self._graph_lost = False  # the published generation's graph could not be loaded
        self._unreadable: tuple[int, int, int] | None = (0, 0, 0)  # manifest last found bad
        self._unsaved = False  # the last generation could not be published
        self._state: dict[str, str] = {}
        self._mark: tuple[int, int, int] | None = None  # the manifest as last read
        self._checked = 0.0
        self._sync_lock = threading.RLock()  # one sync (or load) at a time
        self._hnsw_lock = threading.RLock()  # usearch's graph: searched or changed, not both

    # ---- the current snapshot ----------------------------------------------------------

    def first_vectors(self, paper_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The first vector (whole text, or first window) of each of ``paper_ids`` that has
        one."""
        self._load()
        snap = self._snap
        return {pid: snap.matrix[rows[0]]
                for pid, rows in zip(paper_ids, snap.rows_of(paper_ids), strict=True) if rows}

    def sample_papers(self, n: int, seed: int, skip: Collection[str] = ()) -> list[str]:
        """``n`` distinct papers with vectors, none of ``skip``, drawn at random (the same
        ones for the same ``seed`` and generation); fewer when the index has fewer. Reads
        only the rows drawn, whatever the index's size."""
        self._load()
        snap = self._snap
        rng = np.random.default_rng(seed)
        out: dict[str, None] = {}
        rows = len(snap)
        tries = 0
        while len(out) < n and rows and tries < 8:
            for row in rng.integers(0, rows, size=2 * (n - len(out)) + 8).tolist():
                pid = snap.owner(int(row))
                if pid and pid not in skip and pid not in out:
                    out[pid] = None
                    if len(out) == n:
                        break
            tries += 1
        if len(out) < n and rows <= 4 * n:  # a small index: take every paper there is
            for pid in snap.owner_list():
                if pid and pid not in skip and pid not in out and len(out) < n:
                    out[pid] = None
        return list(out)

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
                self._hnsw, self._hnsw_mapped = None, False

    # ---- persistence: generations, published by one manifest ---------------------------
    #
    # The writer (the process holding the index folder's writer lock) saves each new state
    # as a generation folder ``gen-<n>`` (vectors, ids, the HNSW graph), complete before
    # ``current`` (a small JSON manifest naming it) is replaced atomically. Readers only ever
    # read: they follow ``current`` when it changes. The previous generation is kept, so a
    # reader still loading it when the next one is published finishes its load.

    @property
    def manifest(self) -> Path:
        return self.path / "current"

    def _manifest_mark(self) -> tuple[int, int, int] | None:
        try:
            st = self.manifest.stat()
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def _read_generation(self) -> tuple[dict[str, str], _Snapshot, Any] | None:
        """The published generation: its state, snapshot and HNSW graph (None when it has
        none). None when nothing (readable) is published."""
        try:
            if self.manifest.exists() or not (self.path / "state.json").exists():
                state: dict[str, str] = json.loads(self.manifest.read_text())
                gen = self.path / state["generation"]
            else:  # the layout before generations: one set of files, read as generation 0
                state, gen = json.loads((self.path / "state.json").read_text()), self.path
            # memory-mapped, read-only: a web process pages in only the rows it reads (HNSW
            # keeps its own copy; fill-in and similar read a few hundred rows), and processes
            # on one host share one copy in the page cache. The writer never changes a
            # published generation (its next one is a new folder), so the mapping stays valid.
            matrix = np.load(gen / "vectors.npy", mmap_mode="r")
            if (gen / "owners.npy").is_file():
                owners = np.load(gen / "owners.npy", mmap_mode="r")
                order = np.load(gen / "order.npy", mmap_mode="r")
                keys = np.load(gen / "keys.npy", mmap_mode="r")
                if not len(owners) == len(order) == len(keys):
                    raise ValueError("owners and their order disagree")
                snap = _Snapshot.of(owners, matrix, order, keys)
            else:  # a generation written before owners.npy: ids.json
                snap = _Snapshot.of(json.loads((gen / "ids.json").read_text()), matrix)
            if matrix.shape != (len(snap), self.dim):
                raise ValueError("ids and vectors disagree")
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            mark = self._manifest_mark()
            if mark == self._unreadable:
                pass  # told already
            elif self.manifest.exists() or any(self.path.glob("gen-*")):
                self._unreadable = mark
                log.warning("the dense index in %s cannot be read (%s); semantic search finds "
                            "nothing in it until the index writer rebuilds it from the store",
                            self.path, exc)
            else:
                log.debug("no dense index generation to load in %s: %s", self.path, exc)
            return None
        graph = None
        self._graph_lost = False
        if state.get("hnsw_rows") == str(len(snap)):
            saved = gen / "hnsw.usearch"
            graph = self._restore(saved, HNSW_MAPPED) if saved.is_file() else None
            if graph is None:  # built in memory; the writer publishes a new one
                if not saved.is_file():
                    log.warning("the HNSW index %s is missing; building it in memory", saved)
                self._graph_lost = True
        return state, snap, graph

    def _load(self) -> None:
        if self._loaded:
            return
        with self._sync_lock:
            if self._loaded:
                return
            self._mark = self._manifest_mark()
            found = self._read_generation()
            if found is not None:
                self._state, self._snap, graph = found
                with self._hnsw_lock:
                    self._hnsw, self._hnsw_mapped = graph, graph is not None and HNSW_MAPPED
            self._loaded = True
            self._checked = time.monotonic()

    def generation(self) -> tuple[int, int, int] | None:
        """Which published generation the searches read (its manifest as last taken in, or
        written by this process): a new value whenever a new one is."""
        self.refresh()
        return self._mark

    def refresh(self, every: float = REFRESH_SECONDS) -> bool:
        """Follow what the writer published: when the manifest changed (a stat, at most once
        every ``every`` seconds), load the new generation and swap it in. Never writes.
        Returns whether a new generation was taken in."""
        if not self._loaded:
            self._load()
            return True
        now = time.monotonic()
        if now - self._checked < every:
            return False
        self._checked = now
        mark = self._manifest_mark()
        if mark == self._mark:
            return False
        # one thread loads; the others go on with the snapshot they have meanwhile
        if not self._sync_lock.acquire(blocking=False):
            return False
        try:
            if mark == self._mark:
                return False
            found = self._read_generation()
            if found is None:  # damaged (or replaced again while being read): keep ours;
                self._unsaved = True  # the writer publishes what it has again (readers: no-op)
                self._mark = mark  # and look again when the manifest changes
                return False
            self._mark = mark
            self._state, snap, graph = found
            with self._hnsw_lock:
                self._snap = snap
                self._hnsw, self._hnsw_mapped = graph, graph is not None and HNSW_MAPPED
        finally:
            self._sync_lock.release()
        return True

    def _save(self) -> None:
        """Publish the current snapshot (and graph) as a new generation (writer only). When
        it cannot be written (a full disk), nothing of it is left, readers keep the last
        generation, and the next :meth:`sync` publishes again (:class:`SearchError`)."""
        self._unsaved = True
        snap = self._snap
        number = int(self._state.get("number", "0")) + 1
        name = f"gen-{number:08d}"
        tmp = self.path / f"{name}.tmp-{os.getpid()}"
        staged = self.path / f"current.tmp-{os.getpid()}"
        state = {**self._state, "generation": name, "number": str(number)}
        state.pop("hnsw_rows", None)
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir()
            np.save(tmp / "vectors.npy", snap.matrix)
            for name_, array in (("owners", snap.owners), ("order", snap.order),
                                 ("keys", snap.keys)):
                np.save(tmp / f"{name_}.npy", array)
            graph: Any = self._hnsw
            if graph is not None and self.approximate:
                with self._hnsw_lock:
                    graph.save(str(tmp / "hnsw.usearch"))
                state["hnsw_rows"] = str(len(snap))
            state["bytes"] = json.dumps({f.name: f.stat().st_size for f in tmp.iterdir()})
            shutil.rmtree(self.path / name, ignore_errors=True)
            tmp.rename(self.path / name)
            staged.write_text(json.dumps(state))
            os.replace(staged, self.manifest)
        except (OSError, RuntimeError, ValueError) as exc:  # usearch raises RuntimeError
            shutil.rmtree(tmp, ignore_errors=True)
            staged.unlink(missing_ok=True)
            if self._state_on_disk() != name:
                shutil.rmtree(self.path / name, ignore_errors=True)
            raise SearchError(
                f"the dense index in {self.path} could not be written "
                f"({exc}{_free_space(self.path)}); semantic "
                "search keeps its last complete generation: make room and run `paperwire "
                "index` (a running index writer retries by itself)") from exc
        self._unsaved = self._graph_lost = False
        self._state = state
        self._mark = self._manifest_mark()
        # keep this generation and the one before (readers may still be loading it)
        keep = {name, f"gen-{number - 1:08d}"}
        for old in self.path.iterdir():
            if old.name.startswith("gen-") and old.name not in keep:
                shutil.rmtree(old, ignore_errors=True)
        for stale in ("state.json", "ids.json", "vectors.npy", "hnsw.usearch"):  # layout 1
            (self.path / stale).unlink(missing_ok=True)

    # ---- sync and search --------------------------------------------------------------

    def sync(self, store: Store) -> int:
        """Take in vectors written since the last sync. Returns how many were taken in.
        Searches meanwhile see the previous snapshot until the new one is complete."""
        self._load()
        with self._sync_lock:
            return self._sync(store)

    def _published_intact(self) -> bool:
        """Whether the files of the generation last published or loaded are still as they
        were written (their sizes: a stat each; True when the manifest does not say)."""
        gen, sizes = self._state.get("generation"), self._state.get("bytes")
        if not gen or not sizes:
            return True
        try:
            expected = json.loads(sizes)
            return all((self.path / gen / name).stat().st_size == size
                       for name, size in expected.items())
        except (OSError, ValueError, AttributeError, TypeError):
            return False

    def _state_on_disk(self) -> str | None:
        """The generation the manifest names (None when none can be read)."""
        try:
            name = json.loads(self.manifest.read_text()).get("generation")
        except (OSError, ValueError, AttributeError):
            return None
        return name if isinstance(name, str) else None

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
        first_new = len(old)
        owners = old.owner_list()
        new_rows: list[np.ndarray] = []
        changes: dict[int, np.ndarray] = {}  # old rows with a new vector
        given_up: list[int] = []  # old rows no paper owns any more
        touched: dict[str, list[int]] = {}  # rows of the papers read in this sync

        def row_vector(r: int) -> np.ndarray:
            if r >= first_new:
                return new_rows[r - first_new]
            got: np.ndarray = changes[r] if r in changes else old.matrix[r]
            return got

        def set_row(r: int, vec: np.ndarray) -> None:
            if r >= first_new:
                new_rows[r - first_new] = vec
            else:
                changes[r] = vec

        changed = 0
        for batch in store.iter_embeddings(self.model, since=since):
            for pid, blob, extra in batch:
                vecs = [np.frombuffer(blob, dtype="<f4")]
                if extra:
                    vecs += list(np.frombuffer(extra, dtype="<f4").reshape(-1, self.dim))
                have = touched.get(pid) or old.rows_of([pid])[0]
                if len(have) == len(vecs) and all(
                        np.array_equal(row_vector(r), v) for r, v in zip(have, vecs, strict=True)):
                    continue  # re-read inside the safety margin, unchanged
                rows = []
                for i, vec in enumerate(vecs):
                    if i < len(have):
                        set_row(have[i], vec)
                        rows.append(have[i])
                    else:
                        rows.append(len(owners))
                        owners.append(pid)
                        new_rows.append(vec)
                for r in have[len(vecs):]:  # the text got shorter: fewer windows
                    owners[r] = ""
                    set_row(r, np.zeros(self.dim, dtype=np.float32))
                    if r < first_new:
                        given_up.append(r)
                touched[pid] = rows
                changed += 1
        if new_rows or changes or old is not self._snap:
            matrix = np.vstack([old.matrix, *new_rows]) if new_rows else old.matrix.copy()
            for at, vec in changes.items():
                matrix[at] = vec
            self._snap = _Snapshot.of(owners, matrix)  # published at once
        if changed or self._state.get("store") != key:
            self._state = {"store": key, "watermark": started.isoformat(),
                           "number": self._state.get("number", "0")}
            self._update_hnsw(sorted(changes), first_new, reset=since is None,
                              dropped=set(given_up))
            self._save()
        elif (self._unsaved or (self._graph_lost and self.approximate)
              or not self._published_intact()):
            # the last generation was not published, or what is published cannot be read
            # (whole, or its graph): publish again
            log.warning("the dense index in %s: publishing its vectors again (what was "
                        "published is missing, damaged or was not written)", self.path)
            if self.approximate:
                self._hnsw_index()
            self._save()
        return changed

    def _update_hnsw(self, replaced: list[int], first_new: int, reset: bool,
                     dropped: set[int] | None = None) -> None:
        """Keep the approximate index in step with the snapshot just published: reload it
        from disk or build it when it is not in memory (or the vectors were all re-read),
        else add new rows and re-add replaced ones."""
        snap = self._snap
        if not self.approximate or reset:
            with self._hnsw_lock:
                self._hnsw, self._hnsw_mapped = None, False
            if not self.approximate:
                return
        if self._hnsw is None:
            self._hnsw_index()  # built here, by the writer, and saved with the generation
            return
        dropped = dropped or set()
        keys = np.array([*(r for r in replaced if r not in dropped),
                         *range(first_new, len(snap))], dtype=np.uint64)
        index: Any = self._hnsw
        with self._hnsw_lock:
            if self._hnsw_mapped:  # the published file's read-only mapping: changed as a copy
                index = self._hnsw = index.copy()
                self._hnsw_mapped = False
            for pos in replaced:
                index.remove(pos)
            if len(keys):
                index.add(keys, snap.matrix[keys.astype(np.int64)])

    def vector(self, paper_id: str) -> np.ndarray | None:
        self._load()
        snap = self._snap
        pos = snap.first_row(paper_id)
        return None if pos is None else snap.matrix[pos]

    def __len__(self) -> int:
        self._load()
        return len(self._snap)

    @property
    def approximate(self) -> bool:
        return len(self) > self.exact_limit

    def _hnsw_index(self) -> Any:
        """The HNSW index: the published generation's (loaded with it), else built in memory
        (minutes for ~100k vectors on 2 cores; the writer does it once, publishes it and keeps
        it up incrementally). One thread builds it; others wait for it."""
        if self._hnsw is not None:
            return self._hnsw
        with self._hnsw_lock:
            if self._hnsw is None:
                self._hnsw, self._hnsw_mapped = self._restore_or_build(self._snap), False
            return self._hnsw

    @staticmethod
    def _restore(saved: Path, mapped: bool = False) -> Any:
        try:
            restored: Any = usearch_index().restore(str(saved), view=mapped)
        except (OSError, ValueError, RuntimeError) as exc:
            log.warning("cannot load the HNSW index %s: %s", saved, exc)
            return None
        if restored is None:
            return None
        # the search breadth is not saved with the graph: restore it (usearch's default,
        # 64, gave recall@10 0.88 on 75k arXiv vectors)
        restored.expansion_search = HNSW_EXPANSION_SEARCH
        return restored

    def _restore_or_build(self, snap: _Snapshot) -> Any:
        """The graph of the published generation when it covers ``snap``, else one built in
        memory (the writer saves it with its next generation; a reader never writes)."""
        index = usearch_index()(ndim=self.dim, metric="cos", dtype=HNSW_DTYPE,
                                connectivity=HNSW_CONNECTIVITY,
                                expansion_add=HNSW_EXPANSION_ADD,
                                expansion_search=HNSW_EXPANSION_SEARCH)
        if len(snap):
            log.info("building the HNSW index over %d vectors", len(snap))
            index.add(np.arange(len(snap), dtype=np.uint64), snap.matrix)
        return index

    def search(self, query: np.ndarray, k: int = 100, exact: bool | None = None) -> list[
        tuple[str, float]
    ]:
        """The k nearest papers by cosine similarity, best first, as (paper id, similarity); a
        paper with several windows scores its best one (max-pooling)."""
        self._load()
        snap = self._snap  # ids and vectors of one generation, whatever a sync does meanwhile
        if not len(snap) or k <= 0:
            return []
        k = min(k, len(snap))
        if exact is None:
            exact = len(snap) <= self.exact_limit
        windowed = snap.papers < len(snap)  # some paper owns several rows
        if exact:
            sims = snap.matrix @ query.astype(np.float32)
            m = min(len(snap), k * 4 if windowed else k)
            while True:
                top = np.argpartition(-sims, m - 1)[:m]
                top = top[np.argsort(-sims[top], kind="stable")]
                found = best_per_paper(snap, top, sims[top], k)
                if len(found) >= min(k, snap.papers) or m == len(snap):
                    return found
                m = min(len(snap), m * 4)
        graph = self._hnsw_index()
        m = min(len(snap), k * 3 if windowed else k)
        while True:
            with self._hnsw_lock:
                got = graph.search(query.astype(np.float32), m)
                keys, distances = np.array(got.keys), np.array(got.distances)
            found = best_per_paper(snap, keys, 1.0 - distances, k)
            if len(found) >= min(k, snap.papers) or m == len(snap) or len(keys) < m:
                return found
            m = min(len(snap), m * 4)

    def scores(self, query: np.ndarray, paper_ids: Sequence[str]) -> dict[str, float]:
        """Cosine similarity of ``query`` to each of ``paper_ids`` that has vectors (max over
        its windows): a few hundred dot products, for candidates another retriever found.
        With the HNSW graph in memory, its own float16 copies of the rows are read (exact to
        ~1e-3) instead of the float32 rows, which at millions of rows are a file mapped from
        disk: a few hundred random pages per query (92 of 158 ms a query at 3M, cold)."""
        self._load()
        with self._hnsw_lock:  # the snapshot and the graph of one generation
            snap = self._snap
            graph: Any = self._hnsw if len(snap) > self.exact_limit else None
        rows = [(pid, r) for pid, rs in zip(paper_ids, snap.rows_of(paper_ids), strict=True)
                for r in rs]
        if not rows:
            return {}
        at = [r for _, r in rows]
        held: Any = None
        if graph is not None:
            with self._hnsw_lock:
                held = graph.get(np.array(at, dtype=np.uint64), dtype=np.float32)
        if held is not None and all(v is not None for v in held):
            sims = np.stack(held) @ query.astype(np.float32)
        else:
            sims = snap.matrix[at] @ query.astype(np.float32)
        out: dict[str, float] = {}
        for (pid, _), sim in zip(rows, sims, strict=True):
            out[pid] = max(out.get(pid, -1.0), float(sim))
        return out
