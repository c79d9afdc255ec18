"""The Store: every query Paperwire runs lives here (the only module that speaks SQL)."""

from __future__ import annotations

import json
import logging
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from time import monotonic
from typing import Any

from sqlalchemy import (
    Engine,
    String,
    and_,
    bindparam,
    cast,
    func,
    literal,
    or_,
    select,
    true,
    tuple_,
    update,
)
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from paperwire.errors import StoreError
from paperwire.metadata import PaperMeta
from paperwire.models import Paper, Signal, bounded, merge
from paperwire.records import DataVersion, WriteCounts
from paperwire.store import db
from paperwire.store import meta as meta_sql
from paperwire.store import version as version_sql
from paperwire.store.accounts import AccountStore
from paperwire.store.digests import DigestStore
from paperwire.store.library import LibraryStore
from paperwire.store.schema import (
    cursors,
    digest_clicks,
    embeddings,
    leases,
    library,
    library_tags,
    papers,
    ratings,
    sent_papers,
    signals,
    votes,
)

log = logging.getLogger(__name__)
ALIAS_KEY = "alias:"  # cursors key prefix: a merged paper's id → the id it was merged into
# the tables that name a paper, in the order their rows are copied to a merged paper's new id
# (a library entry before its tags); deleted in the reverse order
_PAPER_ROWS = (signals, votes, ratings, sent_papers, digest_clicks, library, library_tags)
_CHUNK = 500  # ids per IN (...) clause; well under SQLite's variable limit
# a cursor's value, or how to make it from the counts of the writes it goes with (papers and
# signals for write_batch; the dates' counts, twice, for set_published), so that it can
# carry totals that include the batch of its own transaction
CursorValue = dict[str, Any] | Callable[[WriteCounts, WriteCounts], dict[str, Any]]


def _value(value: CursorValue, first: WriteCounts, second: WriteCounts) -> dict[str, Any]:
    return value(first, second) if callable(value) else value


def _row_to_paper(row: Any) -> Paper:
    """The paper of a row, bounded (:func:`paperwire.models.bounded`) like every write is: a
    row stored before the caps existed is served cleaned and cut, never as it was."""
    return bounded(Paper(
        id=row.id,
        title=row.title,
        abstract=row.abstract or "",
        authors=tuple(row.authors or ()),
        categories=tuple(row.categories or ()),
        primary_category=row.primary_category,
        version=row.version,
        published=row.published,
        updated=row.updated,
        comment=row.comment,
        journal_ref=row.journal_ref,
        doi=row.doi,
        source=row.source,
    ))[0]


def _paper_to_row(p: Paper) -> dict[str, Any]:
    return {
        "id": p.id,
        "version": p.version,
        "title": p.title,
        "abstract": p.abstract,
        "authors": list(p.authors),
        "categories": list(p.categories),
        "primary_category": p.primary_category,
        "published": p.published,
        "updated": p.updated,
        "comment": p.comment,
        "journal_ref": p.journal_ref,
        "doi": p.doi,
        "source": p.source,
        "content_hash": p.content_hash(),
    }


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


@db.store_errors
class Store:
    """Papers and signals in SQLite or PostgreSQL. Open with :meth:`open`. Every public
    method raises :class:`StoreError` when the database fails (:func:`db.store_errors`)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._digests: DigestStore | None = None
        self._accounts: AccountStore | None = None
        self._library: LibraryStore | None = None
        self._counted: tuple[float, int] | None = None  # (monotonic time, papers) of health()
        self._listener: version_sql.VersionListener | None = None

    @property
    def digests(self) -> DigestStore:
        """Subscribers and the delivery ledger (SQL in ``store/digests.py``)."""
        if self._digests is None:
            self._digests = DigestStore(self.engine)
        return self._digests

    @property
    def accounts(self) -> AccountStore:
        """Accounts, sign-in links, sessions (SQL in ``store/accounts.py``)."""
        if self._accounts is None:
            self._accounts = AccountStore(self.engine)
        return self._accounts

    @property
    def library(self) -> LibraryStore:
        """Upvotes, saves, tags, notes, reading state, ratings (``store/library.py``)."""
        if self._library is None:
            self._library = LibraryStore(self.engine)
        return self._library

    @classmethod
    def open(cls, url: str, migrate: bool = True) -> Store:
        store = cls(db.make_engine(url))
        if migrate:
            db.upgrade(store.engine)
        return store

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def close(self) -> None:
        self.stop_following_version()
        self.engine.dispose()

    def ping(self) -> bool:
        """Whether the database answers (one trivial query)."""
        try:
            with self.engine.connect() as conn:
                conn.execute(select(literal(1))).scalar_one()
        except (StoreError, SQLAlchemyError):
            return False
        return True

    def health(self, max_age: float = 0.0) -> int | None:
        """The number of papers, or None when the database cannot answer. With ``max_age``,
        a count made less than ``max_age`` seconds ago is given again once :meth:`ping`
        answers: counting reads a whole index (/healthz took 16 ms at 1M papers on SQLite)."""
        now = monotonic()
        if max_age > 0 and self._counted is not None and now - self._counted[0] < max_age:
            return self._counted[1] if self.ping() else None
        try:
            count = self.count_papers()
        except StoreError:
            return None
        self._counted = (now, count)
        return count

    # ---- writes ---------------------------------------------------------------------

    def write_batch(
        self,
        batch: Sequence[Paper],
        sigs: Sequence[Signal] = (),
        now: datetime | None = None,
        cursor: tuple[str, CursorValue] | None = None,
        metas: Sequence[PaperMeta] = (),
    ) -> tuple[WriteCounts, WriteCounts]:
        """Upsert papers, then signals, then the papers' metadata (``metas``, see
        :func:`paperwire.store.meta.upsert`), then the source's cursor (``(key, value)``; a
        callable value is given the batch's paper and signal counts), in one transaction: all
        of the batch or none of it, so a cursor never runs ahead of the data.

        Every paper is first cleaned and cut to the stored sizes
        (:func:`paperwire.models.bounded`; a cut is logged), whatever wrote it: an import or a
        live source. Papers are merged with what is stored (:func:`paperwire.models.merge`); a
        row is written only when the merge changes it. Returns (paper counts, signal counts).
        """
        now = now or datetime.utcnow()
        for attempt in range(2):
            try:
                with self.engine.begin() as conn:
                    pc = self._upsert_papers(conn, batch, now)
                    sc = self._upsert_signals(conn, sigs, now)
                    mc = WriteCounts()
                    if metas:
                        mc = meta_sql.upsert(conn, metas, now)
                        log.debug("paper metadata: %s", mc)
                    if any(c.new or c.changed for c in (pc, sc, mc)):
                        version_sql.touch(conn, now)
                    if cursor is not None:
                        self._put_cursor(conn, cursor[0], _value(cursor[1], pc, sc), now)
                return pc, sc
            except IntegrityError as exc:
                # a concurrent writer inserted one of our new ids: the retry merges with it;
                # a second failure is the data's fault (e.g. a signal for an unknown paper)
                if attempt == 1:
                    reason = db.first_line(exc)
                    raise StoreError(f"the database rejected the batch: {reason}") from exc
        raise AssertionError("unreachable")

    def _upsert_papers(self, conn: Any, batch: Sequence[Paper], now: datetime) -> WriteCounts:
        counts = WriteCounts()
        latest: dict[str, Paper] = {}
        for p in batch:  # the same id twice in a batch: merge them first
            p, cuts = bounded(p)
            if cuts:
                log.warning("paper %s: cut to the stored size: %s", p.id, "; ".join(cuts))
            latest[p.id] = merge(latest[p.id], p) if p.id in latest else p
        ids = list(latest)
        existing: dict[str, Paper] = {}
        for chunk in _chunks(ids):
            for row in conn.execute(select(papers).where(papers.c.id.in_(chunk))):
                existing[row.id] = _row_to_paper(row)
        inserts, updates = [], []
        for pid, incoming in latest.items():
            old = existing.get(pid)
            if old is None:
                inserts.append({**_paper_to_row(incoming), "created_at": now, "changed_at": now})
                counts.new += 1
                continue
            merged = bounded(merge(old, incoming))[0]  # also cuts a row stored before caps
            if merged == old:
                counts.unchanged += 1
                continue
            updates.append({**_paper_to_row(merged), "changed_at": now})
            counts.changed += 1
        if inserts:
            conn.execute(papers.insert(), inserts)
        if updates:  # one executemany, not one round trip per row
            cols: dict[str, Any] = {k: bindparam(k) for k in updates[0] if k != "id"}
            stmt = update(papers).where(papers.c.id == bindparam("b_id")).values(**cols)
            conn.execute(stmt, [{**row, "b_id": row["id"]} for row in updates])
        return counts

    def _upsert_signals(self, conn: Any, sigs: Sequence[Signal], now: datetime) -> WriteCounts:
        counts = WriteCounts()
        latest = {(s.paper_id, s.source, s.day): s for s in sigs}
        keys = list(latest)
        existing: dict[tuple[str, str, date], float] = {}
        key_cols = tuple_(signals.c.paper_id, signals.c.source, signals.c.day)
        for chunk in _chunks(keys, 300):
            q = select(signals.c.paper_id, signals.c.source, signals.c.day, signals.c.value)
            for row in conn.execute(q.where(key_cols.in_(chunk))):
                existing[(row.paper_id, row.source, row.day)] = row.value
        inserts = []
        for key, s in latest.items():
            if key not in existing:
                inserts.append(
                    {"paper_id": s.paper_id, "source": s.source, "day": s.day,
                     "value": s.value, "observed_at": now}
                )
                counts.new += 1
            elif existing[key] != s.value:
                conn.execute(
                    update(signals)
                    .where(and_(signals.c.paper_id == s.paper_id, signals.c.source == s.source,
                                signals.c.day == s.day))
                    .values(value=s.value, observed_at=now)
                )
                counts.changed += 1
            else:
                counts.unchanged += 1
        if inserts:
            conn.execute(signals.insert(), inserts)
        return counts

    def set_published(self, dates: dict[str, date], now: datetime | None = None,
                      cursor: tuple[str, CursorValue] | None = None) -> WriteCounts:
        """Lower the first-version date of known papers to the given dates where earlier.
        Ids the store lacks are counted as missing. ``cursor`` is written in the same
        transaction (a callable value is given the counts, twice)."""
        now = now or datetime.utcnow()
        counts = WriteCounts()
        changes: list[dict[str, Any]] = []
        with self.engine.begin() as conn:
            seen = 0
            for chunk in _chunks(list(dates)):
                q = select(papers.c.id, papers.c.published).where(papers.c.id.in_(chunk))
                for row in conn.execute(q):
                    seen += 1
                    d = dates[row.id]
                    if row.published is None or d < row.published:
                        changes.append({"b_id": row.id, "published": d, "changed_at": now})
                    else:
                        counts.unchanged += 1
            if changes:
                stmt = (
                    update(papers)
                    .where(papers.c.id == bindparam("b_id"))
                    .values(published=bindparam("published"),
                            changed_at=bindparam("changed_at"))
                )
                conn.execute(stmt, changes)
                version_sql.touch(conn, now)
            counts.changed = len(changes)
            counts.missing = len(dates) - seen
            if cursor is not None:
                self._put_cursor(conn, cursor[0], _value(cursor[1], counts, counts), now)
        return counts

    def _put_cursor(self, conn: Any, key: str, value: dict[str, Any], now: datetime) -> None:
        # one statement (an upsert): two processes writing a new key at once (two workers'
        # schedulers starting on a new database) both succeed, the later value kept
        stmt = db.dialect_insert(conn, cursors).values(key=key, value=value, updated_at=now)
        conn.execute(stmt.on_conflict_do_update(
            index_elements=[cursors.c.key],
            set_={"value": stmt.excluded.value, "updated_at": stmt.excluded.updated_at}))

    def set_cursor(self, key: str, value: dict[str, Any], now: datetime | None = None) -> None:
        with self.engine.begin() as conn:
            self._put_cursor(conn, key, value, now or datetime.utcnow())

    def get_cursor(self, key: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            value = conn.execute(select(cursors.c.value).where(cursors.c.key == key)).scalar()
        return dict(value) if value is not None else None

    # ---- merging a paper into another (a seed paper into its arXiv record) ---------------

    def titles(self, prefix: str | None = None,
               since: datetime | None = None) -> list[tuple[str, str, datetime]]:
        """(id, title, changed_at) of the papers whose id starts with ``prefix`` (a namespace
        such as ``seed:``), or of every arXiv paper (no ``:`` in the id) when None; with
        ``since``, only those changed at or after it."""
        cond = (papers.c.id.startswith(prefix, autoescape=True) if prefix is not None
                else papers.c.id.not_like("%:%"))
        q = select(papers.c.id, papers.c.title, papers.c.changed_at).where(cond)
        if since is not None:
            q = q.where(papers.c.changed_at >= since)
        with self.engine.connect() as conn:
            return [(r.id, r.title, r.changed_at) for r in conn.execute(q.order_by(papers.c.id))]

    def merge_into(self, old_id: str, new_id: str, now: datetime | None = None) -> bool:
        """Make ``old_id`` a name of ``new_id``, in one transaction: every row naming the old
        paper (signals, votes, ratings, library entries and their tags, digest records) is
        carried over to the new one, unless the new one already has that row (then the new
        paper's own row wins); the old paper is deleted and ``old_id`` recorded as an alias
        (:meth:`alias_of`). The new paper counts as changed (so the search index catches
        up). False when either paper is not stored (nothing done)."""
        now = now or datetime.utcnow()
        with self.engine.begin() as conn:
            found = {r[0] for r in conn.execute(
                select(papers.c.id).where(papers.c.id.in_([old_id, new_id])))}
            if found != {old_id, new_id}:
                return False
            for table in _PAPER_ROWS:
                _copy_rows(conn, table, old_id, new_id)
            for table in reversed(_PAPER_ROWS):
                conn.execute(table.delete().where(table.c.paper_id == old_id))
            conn.execute(papers.delete().where(papers.c.id == old_id))
            conn.execute(update(papers).where(papers.c.id == new_id).values(changed_at=now))
            self._put_cursor(conn, ALIAS_KEY + old_id, {"paper": new_id}, now)
            version_sql.touch(conn, now)
        return True

    def alias_of(self, paper_id: str) -> str | None:
        """The paper ``paper_id`` was merged into (:meth:`merge_into`), or None."""
        value = self.get_cursor(ALIAS_KEY + paper_id)
        target = value.get("paper") if value else None
        return target if isinstance(target, str) else None

    # ---- embeddings: one vector per (paper, model), valid while the content hash matches ----

    def papers_to_embed(
        self, model: str, batch_size: int = 256
    ) -> Iterator[list[tuple[Paper, str]]]:
        """Papers with no vector for ``model``, one made from older text or one written
        before windows (migration 0010), in batches of (paper, content hash), ordered by id."""
        stale = (
            select(papers)
            .outerjoin(embeddings, and_(embeddings.c.paper_id == papers.c.id,
                                        embeddings.c.model == model))
            .where((embeddings.c.paper_id.is_(None))
                   | (embeddings.c.content_hash != papers.c.content_hash)
                   | (embeddings.c.windows.is_(None)))
        )
        yield from self._paper_pages(stale, batch_size)

    def has_embeddings(self) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(select(embeddings.c.paper_id).limit(1)).first() is not None

    def count_to_embed(self, model: str) -> int:
        q = (
            select(func.count())
            .select_from(papers.outerjoin(embeddings, and_(embeddings.c.paper_id == papers.c.id,
                                                           embeddings.c.model == model)))
            .where((embeddings.c.paper_id.is_(None))
                   | (embeddings.c.content_hash != papers.c.content_hash)
                   | (embeddings.c.windows.is_(None)))
        )
        with self.engine.connect() as conn:
            return int(conn.execute(q).scalar_one())

    def first_vectors(self, model: str, ids: Sequence[str]) -> dict[str, tuple[str, bytes]]:
        """The stored (content hash, first-window vector) of ``ids`` for ``model``: what a
        paper written before windows keeps (its first window is the same text)."""
        out: dict[str, tuple[str, bytes]] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(list(ids)):
                for r in conn.execute(select(embeddings.c.paper_id, embeddings.c.content_hash,
                                             embeddings.c.vector)
                                      .where(embeddings.c.model == model,
                                             embeddings.c.paper_id.in_(chunk))):
                    out[r.paper_id] = (r.content_hash, bytes(r.vector))
        return out

    def put_embeddings(
        self, model: str, rows: Sequence[tuple[str, str, bytes] | tuple[str, str, bytes, bytes]],
        now: datetime | None = None,
    ) -> None:
        """Store (paper id, content hash, vector bytes[, later windows' vectors]) for
        ``model``, replacing old ones. No windows given: the text fits in one."""
        now = now or datetime.utcnow()
        ids = [r[0] for r in rows]
        with self.engine.begin() as conn:
            for chunk in _chunks(ids):
                conn.execute(embeddings.delete().where(embeddings.c.model == model)
                             .where(embeddings.c.paper_id.in_(chunk)))
            if rows:
                conn.execute(embeddings.insert(), [
                    {"paper_id": r[0], "model": model, "content_hash": r[1], "vector": r[2],
                     "windows": r[3] if len(r) > 3 else b"", "created_at": now}
                    for r in rows])

    def iter_embeddings(
        self, model: str, since: datetime | None = None, batch_size: int = 5000
    ) -> Iterator[list[tuple[str, bytes, bytes]]]:
        """(paper id, vector bytes, later windows' vector bytes — empty when none) for
        ``model``, in id order, optionally only those written at or after ``since``."""
        last = ""
        while True:
            q = select(embeddings.c.paper_id, embeddings.c.vector, embeddings.c.windows).where(
                embeddings.c.model == model, embeddings.c.paper_id > last)
            if since is not None:
                q = q.where(embeddings.c.created_at >= since)
            q = q.order_by(embeddings.c.paper_id).limit(batch_size)
            with self.engine.connect() as conn:
                rows = conn.execute(q).all()
            if not rows:
                return
            yield [(r.paper_id, bytes(r.vector), bytes(r.windows or b"")) for r in rows]
            last = rows[-1].paper_id

    # ---- leases: at most one holder per name, expiring so a crashed holder frees it ----

    def acquire_lease(
        self,
        name: str,
        holder: str,
        ttl: timedelta,
        now: datetime | None = None,
        steal_from: str | None = None,
    ) -> bool:
        """Take (or renew) the lease ``name`` for ``holder`` until now + ttl. False when
        another holder has it and it has not expired (unless that holder is ``steal_from``,
        one known to be dead). Safe across processes and hosts."""
        now = now or datetime.utcnow()
        until = now + ttl
        free = (leases.c.holder == holder) | (leases.c.expires_at < now)
        if steal_from is not None:
            free = free | (leases.c.holder == steal_from)
        try:
            with self.engine.begin() as conn:
                taken = conn.execute(
                    update(leases)
                    .where(leases.c.name == name)
                    .where(free)
                    .values(holder=holder, expires_at=until)
                ).rowcount
                if taken:
                    return True
                exists = conn.execute(select(leases.c.name).where(leases.c.name == name)).first()
                if exists:
                    return False
                conn.execute(leases.insert().values(name=name, holder=holder, expires_at=until))
                return True
        except IntegrityError:
            return False  # another process inserted the same name first

    def lease_holder(self, name: str) -> tuple[str, datetime] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(leases).where(leases.c.name == name)).first()
        return (row.holder, row.expires_at) if row else None

    def release_lease(self, name: str, holder: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                leases.delete().where(leases.c.name == name).where(leases.c.holder == holder)
            )

    # ---- reads ----------------------------------------------------------------------

    def get_paper(self, paper_id: str) -> Paper | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(papers).where(papers.c.id == paper_id)).first()
        return _row_to_paper(row) if row else None

    def paper_by_doi(self, doi: str) -> Paper | None:
        """The stored paper whose DOI is ``doi`` (case does not matter, as in DOIs)."""
        q = (select(papers).where(func.lower(papers.c.doi) == doi.lower())
             .order_by(papers.c.id).limit(1))
        with self.engine.connect() as conn:
            row = conn.execute(q).first()
        return _row_to_paper(row) if row else None

    def get_papers(self, ids: Iterable[str]) -> dict[str, Paper]:
        ids = list(dict.fromkeys(ids))
        found: dict[str, Paper] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(ids):
                for row in conn.execute(select(papers).where(papers.c.id.in_(chunk))):
                    found[row.id] = _row_to_paper(row)
        return found

    def get_metas(self, ids: Iterable[str]) -> dict[str, PaperMeta]:
        """Hugging Face's stored metadata of the papers ``ids`` (those without are absent)."""
        with self.engine.connect() as conn:
            return meta_sql.read(conn, ids)

    def latest_signals(self, ids: Iterable[str], source: str) -> dict[str, Signal]:
        """The newest signal of ``source`` of each of the papers ``ids`` (e.g. GitHub stars)."""
        ids = list(dict.fromkeys(ids))
        found: dict[str, Signal] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(ids):
                q = (select(signals).where(signals.c.source == source)
                     .where(signals.c.paper_id.in_(chunk)).order_by(signals.c.day))
                for r in conn.execute(q):
                    found[r.paper_id] = Signal(r.paper_id, r.source, r.day, float(r.value))
        return found

    def count_papers(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(papers)).scalar_one())

    def count_signals(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(signals)).scalar_one())

    def index_marks(self, model: str | None) -> tuple[datetime | None, datetime | None]:
        """The newest paper change and the newest vector of ``model`` (None: not asked):
        what the search indexes must have taken in to be up to date. Two indexed reads."""
        with self.engine.connect() as conn:
            changed: datetime | None = conn.execute(select(func.max(papers.c.changed_at))).scalar()
            vector: datetime | None = None
            if model is not None:
                vector = conn.execute(select(func.max(embeddings.c.created_at))
                                      .where(embeddings.c.model == model)).scalar()
        return changed, vector

    @contextmanager
    def advisory_lock(self, name: str) -> Iterator[bool]:
        """Try to take the database-wide lock ``name`` without waiting; yields whether it was
        taken, and holds it until the block ends. On PostgreSQL a session advisory lock, held
        by a connection kept for the block (a process that dies frees it at once); SQLite has
        no such lock and yields True: there, the callers' lock files are what count."""
        if self.dialect != "postgresql":
            yield True
            return
        try:
            conn = self.engine.connect()
        except SQLAlchemyError as exc:
            raise StoreError(f"taking the lock {name!r} failed: {db.first_line(exc)}") from exc
        try:
            try:
                # advisory locks are database-wide: the key names the schema too, so two
                # Paperwires in one database (one schema each) never hold each other's lock
                schema = conn.execute(select(func.current_schema())).scalar()
                key = zlib.crc32(f"paperwire:{schema}:{name}".encode())
                taken = bool(conn.execute(select(func.pg_try_advisory_lock(key))).scalar())
                conn.commit()
            except SQLAlchemyError as exc:
                raise StoreError(f"taking the lock {name!r} failed: {db.first_line(exc)}") from exc
            try:
                yield taken
            finally:
                if taken:
                    try:
                        conn.execute(select(func.pg_advisory_unlock(key)))
                        conn.commit()
                    except SQLAlchemyError:  # the session ends below, which frees it anyway
                        conn.invalidate()
        finally:
            conn.close()

    def data_version(self) -> DataVersion:
        """The version of what trending and its pages read (``store/version.py``): one
        primary-key lookup; every write of papers, signals or paper metadata changes it.
        While :meth:`follow_version` listens, no query: the version its notifications
        brought."""
        listener = self._listener
        known = listener.current() if listener is not None else None
        if known is not None:
            return known
        with self.engine.connect() as conn:
            return version_sql.read(conn)

    def follow_version(self) -> None:
        """On PostgreSQL, keep the data version in memory from its notifications (a thread
        of :class:`~paperwire.store.version.VersionListener`) instead of reading it on each
        call of :meth:`data_version`; a no-op on SQLite (read per call: one process, cheap)
        or when already following."""
        if self.dialect == "postgresql" and self._listener is None:
            self._listener = version_sql.VersionListener(self.engine)
            self._listener.start()

    def stop_following_version(self) -> None:
        """Stop the thread of :meth:`follow_version` (if any) and read per call again."""
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.stop()

    def version_source(self) -> dict[str, Any]:
        """Where :meth:`data_version` comes from, for ``/healthz``."""
        listener = self._listener
        if listener is None:
            return {"source": "read per request"}
        if listener.listening:
            return {"source": "notifications", "backend_pid": listener.backend_pid,
                    "heard": listener.heard}
        return {"source": "read per request",
                "detail": "listening again after: " + (listener.error or "starting")}

    def max_changed_at(self) -> datetime | None:
        with self.engine.connect() as conn:
            value: datetime | None = conn.execute(select(func.max(papers.c.changed_at))).scalar()
            return value

    def iter_changed_since(
        self, since: datetime | None, batch_size: int = 2000
    ) -> Iterator[list[tuple[Paper, str]]]:
        """Papers changed at or after ``since`` (all when None), in batches of
        (paper, content hash), ordered by id so that paging is stable."""
        cond = papers.c.changed_at >= since if since is not None else true()
        yield from self._paper_pages(select(papers).where(cond), batch_size)

    def _paper_pages(self, query: Any, batch_size: int) -> Iterator[list[tuple[Paper, str]]]:
        """Run ``query`` (a select of papers) page by page in id order, keyset-paged so rows
        written meanwhile neither repeat nor shift pages; yields (paper, content hash)."""
        last = ""
        while True:
            q = query.where(papers.c.id > last).order_by(papers.c.id).limit(batch_size)
            with self.engine.connect() as conn:
                rows = conn.execute(q).all()
            if not rows:
                return
            yield [(_row_to_paper(r), r.content_hash) for r in rows]
            last = rows[-1].id

    def all_ids(self) -> set[str]:
        with self.engine.connect() as conn:
            return {r[0] for r in conn.execute(select(papers.c.id))}

    def latest_papers(self, limit: int = 20, category: str | None = None) -> list[Paper]:
        """The newest papers by first-version date; with ``category``, those listed in it as
        primary or cross-list (as ``cat:`` in a search)."""
        q = select(papers).where(papers.c.published.is_not(None))
        if category:
            # categories is a JSON list of strings: the quoted name matches one element
            listed = cast(papers.c.categories, String).contains(json.dumps(category),
                                                                 autoescape=True)
            q = q.where(or_(papers.c.primary_category == category, listed))
        q = q.order_by(papers.c.published.desc(), papers.c.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [_row_to_paper(r) for r in conn.execute(q)]

    def published_between(self, start: date, end: date, category: str | None = None,
                          limit: int = 100) -> list[Paper]:
        """Papers first released from ``start`` to ``end`` (inclusive), newest first; with
        ``category``, those whose primary category it is."""
        q = select(papers).where(papers.c.published >= start, papers.c.published <= end)
        if category:
            q = q.where(papers.c.primary_category == category)
        q = q.order_by(papers.c.published.desc(), papers.c.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [_row_to_paper(r) for r in conn.execute(q)]

    def count_published_between(self, start: date, end: date) -> int:
        q = select(func.count()).select_from(papers).where(papers.c.published >= start,
                                                           papers.c.published <= end)
        with self.engine.connect() as conn:
            return int(conn.execute(q).scalar_one())

    def signals_between(
        self, start: date, end: date, source: str | None = None
    ) -> list[Signal]:
        """Signals with ``start <= day <= end``."""
        q = select(signals).where(and_(signals.c.day >= start, signals.c.day <= end))
        if source:
            q = q.where(signals.c.source == source)
        with self.engine.connect() as conn:
            return [
                Signal(r.paper_id, r.source, r.day, float(r.value))
                for r in conn.execute(q.order_by(signals.c.day, signals.c.paper_id))
            ]

    def signals_for(self, paper_id: str) -> list[Signal]:
        q = select(signals).where(signals.c.paper_id == paper_id).order_by(signals.c.day)
        with self.engine.connect() as conn:
            return [Signal(r.paper_id, r.source, r.day, float(r.value)) for r in conn.execute(q)]

    def signals_for_papers(self, paper_ids: Iterable[str]) -> dict[str, list[Signal]]:
        """Every signal of each of ``paper_ids`` that has any, oldest first."""
        found: dict[str, list[Signal]] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(list(dict.fromkeys(paper_ids))):
                q = (select(signals).where(signals.c.paper_id.in_(chunk))
                     .order_by(signals.c.day, signals.c.source))
                for r in conn.execute(q):
                    found.setdefault(r.paper_id, []).append(
                        Signal(r.paper_id, r.source, r.day, float(r.value)))
        return found

    def latest_published_day(self, on_or_before: date) -> date | None:
        """The newest first-version date up to ``on_or_before`` (None: no dated paper)."""
        q = select(func.max(papers.c.published)).where(papers.c.published <= on_or_before)
        with self.engine.connect() as conn:
            value: date | None = conn.execute(q).scalar()
            return value

    def signal_day_totals(self, days: int = 400) -> list[tuple[date, str, float]]:
        """(day, source, sum of values) for the ``days`` most recent (day, source) pairs
        that have signals, newest first: what trending's "as of" day is chosen from."""
        q = (select(signals.c.day, signals.c.source, func.sum(signals.c.value))
             .group_by(signals.c.day, signals.c.source)
             .order_by(signals.c.day.desc(), signals.c.source).limit(days))
        with self.engine.connect() as conn:
            return [(r[0], r[1], float(r[2])) for r in conn.execute(q)]

    def latest_signal_day(self, on_or_before: date | None = None) -> date | None:
        q = select(func.max(signals.c.day))
        if on_or_before is not None:
            q = q.where(signals.c.day <= on_or_before)
        with self.engine.connect() as conn:
            value: date | None = conn.execute(q).scalar()
            return value


def _copy_rows(conn: Any, table: Any, old_id: str, new_id: str) -> None:
    """Copy ``table``'s rows of paper ``old_id`` to ``new_id``, but those whose key the new
    paper already has."""
    other = table.alias("other")
    keys = [c.name for c in table.primary_key.columns if c.name != "paper_id"]
    taken = select(other.c.paper_id).where(
        other.c.paper_id == new_id, *(other.c[k] == table.c[k] for k in keys))
    names = [c.name for c in table.columns]
    rows = select(*(literal(new_id, String).label(n) if n == "paper_id" else table.c[n]
                    for n in names)).where(table.c.paper_id == old_id, ~taken.exists())
    conn.execute(table.insert().from_select(names, rows))
