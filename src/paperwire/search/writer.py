"""The index writer: the one place that writes search indexes.

One writer per index folder at a time: it holds ``writer.lock`` in the folder (``fcntl.flock``,
freed by the kernel when its process dies). It takes in what the store holds (the BM25 index,
the vectors already stored), embeds new and changed papers (one process per database at a
time: a PostgreSQL advisory lock, :meth:`Store.advisory_lock`) and publishes each new state:
tantivy commits its segments and ``meta.json``; the dense index writes a new generation folder
and then swaps its ``current`` manifest (see :mod:`paperwire.search.dense`). Everything else
(request handlers, searches) only reads and follows what was published
(:meth:`SearchEngine.refresh`); a writer that cannot get the lock skips: another process is it.

In the process that holds the lock, a request that finds the store ahead of the indexes asks
the writer thread for a pass and waits for it a little (:data:`CATCH_UP_WAIT`), so what was
just stored is found at once there — the request itself still writes nothing.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from time import monotonic
from typing import TYPE_CHECKING, Any

from paperwire.errors import PaperwireError

if TYPE_CHECKING:
    from paperwire.search.engine import SearchEngine

log = logging.getLogger(__name__)
LOCK_NAME = "writer.lock"
CATCH_UP_WAIT = 5.0  # seconds a request waits for its process's writer to catch up
IDLE_EXIT = 30.0  # an on-demand writer thread ends after this long without work
EMBED_LOCK = "embed"  # the database-wide lock of the corpus embedder
PUBLISH_WHILE_EMBEDDING = 30.0  # seconds between publications during a long embedding run


class FolderLock:
    """An exclusive, non-blocking ``flock`` on ``folder/writer.lock``."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / LOCK_NAME
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> bool:
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


class IndexWriter:
    """Writes ``engine``'s indexes (its lexical index and dense index objects, which its
    searches read in memory) while it holds the folder's lock."""

    def __init__(self, engine: SearchEngine) -> None:
        self.engine = engine
        self.lock = FolderLock(engine.settings.index_dir)
        self._cond = threading.Condition()
        self._wake = threading.Event()
        self._started = 0  # passes begun
        self._finished = 0  # passes ended
        self._seen: tuple[datetime | None, datetime | None] | None = None
        self._thread: threading.Thread | None = None
        self._persistent = False
        self._pass_lock = threading.RLock()  # one pass at a time in this process
        self.last_error: str | None = None

    # ---- passes ------------------------------------------------------------------------

    def catch_up(self) -> int:
        """Take in what the store holds (papers; vectors already stored) and publish it.
        Only with the lock held. Returns how many papers and vectors were taken in."""
        engine = self.engine
        marks = engine.store.index_marks(engine.dense_model())
        with self._cond:
            self._started += 1
        try:
            count = engine.lexical.sync(engine.store)
            engine.recheck_vectors()  # the vectors embedded since count at once
            if engine.dense_wanted():
                dense = engine.dense()
                dense.refresh(every=0)  # start from what the last writer published
                count += dense.sync(engine.store)
            self._seen = marks
            return count
        finally:
            with self._cond:
                self._finished = self._started
                self._cond.notify_all()

    def embed(self, on_progress: Callable[[int, int], None] | None = None) -> int:
        """Embed new and changed papers (when no other process of the database is doing it),
        publishing along the way when asked to or every :data:`PUBLISH_WHILE_EMBEDDING` s."""
        from paperwire.search.dense import embed_pending

        engine = self.engine
        if not engine.dense_available():
            return 0
        last = monotonic()

        def progress(done: int, total: int) -> None:
            nonlocal last
            if on_progress:
                on_progress(done, total)
            if self._wake.is_set() or monotonic() - last > PUBLISH_WHILE_EMBEDDING:
                self._wake.clear()
                self.catch_up()
                last = monotonic()

        with engine.store.advisory_lock(EMBED_LOCK) as mine:
            if not mine:
                return 0
            return embed_pending(engine.store, engine.bulk_embedder(), progress)

    def run_once(self, embed: bool = True,
                 on_progress: Callable[[int, int], None] | None = None) -> bool:
        """One full pass (catch up, embed, publish) if this process can be the writer; False
        (nothing done) when another one holds the lock."""
        with self._pass_lock:
            keep = self.lock.held
            if not self.lock.acquire():
                return False
            try:
                self.catch_up()
                if embed and self.embed(on_progress):
                    self.catch_up()
                return True
            finally:
                if not keep and not self._persistent:
                    self.lock.release()

    # ---- what requests ask for ---------------------------------------------------------

    def behind(self) -> bool:
        """Whether the store holds papers or vectors the indexes have not taken in."""
        return self.engine.store.index_marks(self.engine.dense_model()) != self._seen

    def request(self, wait: float = CATCH_UP_WAIT) -> None:
        """Ask the writer thread for a pass and wait (at most ``wait`` s) for one that began
        after now. Starts an on-demand thread when none runs."""
        with self._cond:
            target = self._started + 1
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._serve_requests, daemon=True,
                                                name="paperwire-index-writer")
                self._thread.start()
            self._wake.set()
            self._cond.wait_for(lambda: self._finished >= target, timeout=wait)

    def _serve_requests(self) -> None:
        """On demand: a catch-up pass per wake-up, the lock held only during the pass."""
        while True:
            if not self._wake.wait(IDLE_EXIT):
                with self._cond:  # request() sets the event under this lock: none is lost
                    if not self._wake.is_set():
                        self._thread = None
                        return
            self._wake.clear()
            self._guarded_pass(embed=False)

    def _guarded_pass(self, embed: bool) -> None:
        try:
            if not self.run_once(embed=embed):
                with self._cond:  # another process writes: nothing to wait for here
                    self._started += 1
                    self._finished = self._started
                    self._cond.notify_all()
            self.last_error = None
        except PaperwireError as exc:
            log.error("index writer: %s", exc)
            self.last_error = str(exc)
        except Exception as exc:  # the loop must outlive any one pass
            log.exception("index writer: a pass failed")
            self.last_error = f"{type(exc).__name__}: {exc}"

    # ---- the writer loop (serve's background thread, paperwire worker) -----------------

    def run_forever(self, stop: threading.Event, every: float, embed: bool = True) -> None:
        """Be the writer of this index folder while no other process is: hold the lock for
        good once taken, then pass every ``every`` seconds (and whenever a request asks)."""
        self._persistent = True
        every = max(every, 0.2)
        with self._cond:
            self._thread = threading.current_thread()
        try:
            while not stop.is_set():
                if self.lock.acquire():
                    self._guarded_pass(embed=embed)
                else:  # another process is the writer: answer waiting requests at once
                    with self._cond:
                        self._started += 1
                        self._finished = self._started
                        self._cond.notify_all()
                deadline = monotonic() + every
                while not stop.is_set() and monotonic() < deadline:
                    if self._wake.wait(min(0.5, max(deadline - monotonic(), 0.0))):
                        self._wake.clear()
                        if self.lock.held:
                            self._guarded_pass(embed=False)
                        else:
                            with self._cond:
                                self._started += 1
                                self._finished = self._started
                                self._cond.notify_all()
        finally:
            self.lock.release()
            self._persistent = False


def writer_of(engine: Any) -> IndexWriter:
    """``engine``'s writer (one per engine, made on first use)."""
    writer: IndexWriter | None = getattr(engine, "_writer", None)
    if writer is None:
        writer = IndexWriter(engine)
        engine._writer = writer
    return writer


def sync_lexical(store: Any, index_dir: Path) -> bool:
    """Take new papers into the BM25 index now (after an import or an ingest) when no other
    process is the writer; False when one is (it takes them in on its next pass)."""
    from paperwire.search.lexical import LexicalIndex

    lock = FolderLock(index_dir)
    if not lock.acquire():
        return False
    try:
        LexicalIndex(index_dir / "lexical").sync(store)
        return True
    finally:
        lock.release()
