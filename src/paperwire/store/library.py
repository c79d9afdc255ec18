"""SQL of what accounts do with papers: upvotes, the library (saves, tags, private notes,
reading state) and ratings (👍 / 👎).

Reached as ``store.library``. Upvotes and saves are also trending signals (sources
``upvote`` and ``save``): each vote or save adds 1 to its paper's signal on the day it was
made, in the same transaction, and taking it back subtracts it again. Only active accounts'
votes and saves count; disabling or deleting an account takes its counts back
(:func:`bump_account`). The signal rows change by increments (an atomic upsert), so concurrent
voters never lose a count.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime

from sqlalchemy import Connection, Engine, and_, delete, func, select, update
from sqlalchemy.exc import IntegrityError

from paperwire.errors import NotFound
from paperwire.models import clean_text
from paperwire.records import READING_STATES, LibraryEntry, Rating
from paperwire.store import version as version_sql
from paperwire.store.db import dialect_insert, store_errors
from paperwire.store.schema import accounts, library, library_tags, papers, ratings, signals, votes

UPVOTE, SAVE = "upvote", "save"  # the trending sources of local upvotes and saves
MAX_TAGS, MAX_TAG_CHARS = 20, 64
MAX_NOTE_CHARS = 20_000
RATING_SOURCES = ("web", "digest")


def bump(conn: Connection, paper_id: str, source: str, day: date, delta: int,
         now: datetime) -> None:
    """Add ``delta`` to the paper's ``source`` signal of ``day`` (a row at 0 is removed);
    the data has a new version (``store/version.py``)."""
    version_sql.touch(conn, now)
    if delta > 0:
        conn.execute(
            dialect_insert(conn, signals)
            .values(paper_id=paper_id, source=source, day=day, value=float(delta),
                    observed_at=now)
            .on_conflict_do_update(
                index_elements=[signals.c.paper_id, signals.c.source, signals.c.day],
                set_={"value": signals.c.value + float(delta), "observed_at": now}))
        return
    where = and_(signals.c.paper_id == paper_id, signals.c.source == source,
                 signals.c.day == day)
    conn.execute(update(signals).where(where)
                 .values(value=signals.c.value + float(delta), observed_at=now))
    conn.execute(delete(signals).where(where, signals.c.value <= 0.0))


def bump_account(conn: Connection, account_id: int, delta: int, now: datetime) -> None:
    """Add (``delta`` = 1) or take back (−1) every vote and save of an account in the
    signals: on enabling, disabling or deleting it."""
    for table, source, stamp in ((votes, UPVOTE, votes.c.created_at),
                                 (library, SAVE, library.c.saved_at)):
        rows = conn.execute(select(table.c.paper_id, stamp)
                            .where(table.c.account_id == account_id)).all()
        for paper_id, when in rows:
            bump(conn, paper_id, source, when.date(), delta, now)


def _is_active(conn: Connection, account_id: int) -> bool:
    status = conn.execute(select(accounts.c.status)
                          .where(accounts.c.id == account_id)).scalar()
    return status == "active"


def clean_tags(tags: Iterable[str]) -> tuple[str, ...]:
    """Tags as stored: text any column takes (``clean_text``), whitespace collapsed, no
    commas, at most 64 characters, no repeats
    (case-insensitively; the first spelling wins), at most 20."""
    seen: dict[str, str] = {}
    for raw in tags:
        tag = " ".join(clean_text(raw).replace(",", " ").split())[:MAX_TAG_CHARS].strip()
        if tag and tag.casefold() not in seen:
            seen[tag.casefold()] = tag
    return tuple(seen.values())[:MAX_TAGS]


@store_errors
class LibraryStore:
    """Every public method raises :class:`StoreError` when the database fails, and
    :class:`NotFound` for a paper the store does not have (where one is written)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _check_paper(self, conn: Connection, paper_id: str) -> None:
        if conn.execute(select(papers.c.id).where(papers.c.id == paper_id)).first() is None:
            raise NotFound(f"no paper {paper_id!r} is stored here")

    # ---- upvotes ----------------------------------------------------------------------

    def vote(self, account_id: int, paper_id: str, now: datetime) -> bool:
        """Upvote; True when this made a new vote (one per account and paper)."""
        try:
            with self.engine.begin() as conn:
                added = conn.execute(
                    dialect_insert(conn, votes).values(account_id=account_id, paper_id=paper_id,
                                                created_at=now)
                    .on_conflict_do_nothing().returning(votes.c.paper_id)).first()
                if added is None:
                    return False
                if _is_active(conn, account_id):
                    bump(conn, paper_id, UPVOTE, now.date(), 1, now)
                return True
        except IntegrityError:  # the paper (or the account) is not there
            with self.engine.connect() as conn:
                self._check_paper(conn, paper_id)
            raise NotFound(f"no account {account_id}") from None

    def unvote(self, account_id: int, paper_id: str, now: datetime) -> bool:
        """Take an upvote back; True when there was one."""
        with self.engine.begin() as conn:
            gone = conn.execute(
                delete(votes).where(votes.c.account_id == account_id,
                                    votes.c.paper_id == paper_id)
                .returning(votes.c.created_at)).first()
            if gone is None:
                return False
            if _is_active(conn, account_id):
                bump(conn, paper_id, UPVOTE, gone.created_at.date(), -1, now)
            return True

    def votes_of(self, account_id: int, paper_ids: Sequence[str]) -> set[str]:
        """Which of ``paper_ids`` the account upvoted (one query)."""
        if not paper_ids:
            return set()
        with self.engine.connect() as conn:
            return set(conn.execute(select(votes.c.paper_id).where(
                votes.c.account_id == account_id,
                votes.c.paper_id.in_(list(paper_ids)))).scalars())

    def voted_ids(self, account_id: int) -> list[str]:
        """Every paper the account upvoted, newest vote first."""
        with self.engine.connect() as conn:
            return list(conn.execute(
                select(votes.c.paper_id).where(votes.c.account_id == account_id)
                .order_by(votes.c.created_at.desc(), votes.c.paper_id)).scalars())

    def vote_counts(self, paper_ids: Sequence[str]) -> dict[str, int]:
        """Local upvotes of each paper (active accounts, all time; papers with none are
        left out)."""
        if not paper_ids:
            return {}
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(votes.c.paper_id, func.count())
                .join(accounts, accounts.c.id == votes.c.account_id)
                .where(votes.c.paper_id.in_(list(paper_ids)), accounts.c.status == "active")
                .group_by(votes.c.paper_id)).all()
        return {paper_id: int(n) for paper_id, n in rows}

    # ---- the library ------------------------------------------------------------------

    def _save(self, conn: Connection, account_id: int, paper_id: str, now: datetime) -> bool:
        self._check_paper(conn, paper_id)
        added = conn.execute(
            dialect_insert(conn, library).values(account_id=account_id, paper_id=paper_id,
                                          saved_at=now, updated_at=now)
            .on_conflict_do_nothing().returning(library.c.paper_id)).first()
        if added is None:
            return False
        if _is_active(conn, account_id):
            bump(conn, paper_id, SAVE, now.date(), 1, now)
        return True

    def save(self, account_id: int, paper_id: str, now: datetime) -> bool:
        """Save a paper to the library; True when it was not saved before."""
        with self.engine.begin() as conn:
            return self._save(conn, account_id, paper_id, now)

    def unsave(self, account_id: int, paper_id: str, now: datetime) -> bool:
        """Remove a paper from the library, with its tags, note and state."""
        with self.engine.begin() as conn:
            gone = conn.execute(
                delete(library).where(library.c.account_id == account_id,
                                      library.c.paper_id == paper_id)
                .returning(library.c.saved_at)).first()
            if gone is None:
                return False
            conn.execute(delete(library_tags).where(library_tags.c.account_id == account_id,
                                                    library_tags.c.paper_id == paper_id))
            if _is_active(conn, account_id):
                bump(conn, paper_id, SAVE, gone.saved_at.date(), -1, now)
            return True

    def saved_of(self, account_id: int, paper_ids: Sequence[str]) -> set[str]:
        """Which of ``paper_ids`` are in the account's library (one query)."""
        if not paper_ids:
            return set()
        with self.engine.connect() as conn:
            return set(conn.execute(select(library.c.paper_id).where(
                library.c.account_id == account_id,
                library.c.paper_id.in_(list(paper_ids)))).scalars())

    def set_tags(self, account_id: int, paper_id: str, tags: Iterable[str],
                 now: datetime) -> tuple[str, ...]:
        """Replace the paper's tags (saving it first if needed); the tags as stored."""
        cleaned = clean_tags(tags)
        with self.engine.begin() as conn:
            self._save(conn, account_id, paper_id, now)
            conn.execute(delete(library_tags).where(library_tags.c.account_id == account_id,
                                                    library_tags.c.paper_id == paper_id))
            if cleaned:
                conn.execute(library_tags.insert(), [
                    {"account_id": account_id, "paper_id": paper_id, "tag": tag}
                    for tag in cleaned])
            self._touch(conn, account_id, paper_id, now)
        return cleaned

    def add_tags(self, account_id: int, paper_id: str, tags: Iterable[str],
                 now: datetime) -> tuple[str, ...]:
        """Add tags to the paper's (saving it first if needed); all its tags after."""
        entry = self.entry(account_id, paper_id)
        return self.set_tags(account_id, paper_id, [*(entry.tags if entry else ()), *tags],
                             now)

    def set_note(self, account_id: int, paper_id: str, note: str | None,
                 now: datetime) -> None:
        """The paper's private note (Markdown; empty removes it), saving it first if needed."""
        text = clean_text(note or "").strip()[:MAX_NOTE_CHARS] or None
        with self.engine.begin() as conn:
            self._save(conn, account_id, paper_id, now)
            conn.execute(update(library).where(library.c.account_id == account_id,
                                               library.c.paper_id == paper_id)
                         .values(note=text, updated_at=now))

    def set_state(self, account_id: int, paper_id: str, state: str | None,
                  now: datetime) -> None:
        """Reading state: None, ``to-read`` or ``read`` (ValueError otherwise)."""
        if state is not None and state not in READING_STATES:
            raise ValueError(f"unknown reading state {state!r}")
        with self.engine.begin() as conn:
            self._save(conn, account_id, paper_id, now)
            conn.execute(update(library).where(library.c.account_id == account_id,
                                               library.c.paper_id == paper_id)
                         .values(state=state, updated_at=now))

    def _touch(self, conn: Connection, account_id: int, paper_id: str, now: datetime) -> None:
        conn.execute(update(library).where(library.c.account_id == account_id,
                                           library.c.paper_id == paper_id)
                     .values(updated_at=now))

    def entry(self, account_id: int, paper_id: str) -> LibraryEntry | None:
        found = self.entries(account_id, paper_ids=[paper_id])
        return found[0] if found else None

    def entries(self, account_id: int, tag: str | None = None, state: str | None = None,
                paper_ids: Sequence[str] | None = None) -> list[LibraryEntry]:
        """The account's library, newest save first; only a tag's (exact spelling, any
        case) or a state's when given."""
        query = select(library).where(library.c.account_id == account_id)
        if state is not None:
            query = query.where(library.c.state == state)
        if paper_ids is not None:
            query = query.where(library.c.paper_id.in_(list(paper_ids)))
        if tag is not None:
            tagged = select(library_tags.c.paper_id).where(
                library_tags.c.account_id == account_id,
                func.lower(library_tags.c.tag) == tag.strip().lower())
            query = query.where(library.c.paper_id.in_(tagged))
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(library.c.saved_at.desc(),
                                               library.c.paper_id)).all()
            tag_rows = conn.execute(
                select(library_tags.c.paper_id, library_tags.c.tag)
                .where(library_tags.c.account_id == account_id,
                       library_tags.c.paper_id.in_([r.paper_id for r in rows]))
                .order_by(library_tags.c.tag)).all()
        tags: dict[str, list[str]] = {}
        for paper_id, name in tag_rows:
            tags.setdefault(paper_id, []).append(name)
        return [LibraryEntry(paper_id=r.paper_id, saved_at=r.saved_at, updated_at=r.updated_at,
                             state=r.state, note=r.note, tags=tuple(tags.get(r.paper_id, ())))
                for r in rows]

    def tags_of(self, account_id: int) -> dict[str, int]:
        """The account's tags and how many papers carry each, by name."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(library_tags.c.tag, func.count())
                .where(library_tags.c.account_id == account_id)
                .group_by(library_tags.c.tag).order_by(library_tags.c.tag)).all()
        return {name: int(n) for name, n in rows}

    # ---- ratings ----------------------------------------------------------------------

    def rate(self, account_id: int, paper_id: str, value: int, source: str,
             now: datetime) -> None:
        """👍 (``value`` 1) or 👎 (−1); a later rating replaces an earlier one."""
        if value not in (1, -1) or source not in RATING_SOURCES:
            raise ValueError(f"bad rating {value!r} from {source!r}")
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    dialect_insert(conn, ratings).values(account_id=account_id, paper_id=paper_id,
                                                  value=value, source=source, created_at=now)
                    .on_conflict_do_update(
                        index_elements=[ratings.c.account_id, ratings.c.paper_id],
                        set_={"value": value, "source": source, "created_at": now}))
        except IntegrityError:
            with self.engine.connect() as conn:
                self._check_paper(conn, paper_id)
            raise NotFound(f"no account {account_id}") from None

    def unrate(self, account_id: int, paper_id: str) -> bool:
        with self.engine.begin() as conn:
            return conn.execute(delete(ratings).where(
                ratings.c.account_id == account_id, ratings.c.paper_id == paper_id)
                .returning(ratings.c.paper_id)).first() is not None

    def ratings(self, account_id: int) -> list[Rating]:
        """The account's ratings, newest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(ratings).where(ratings.c.account_id == account_id)
                                .order_by(ratings.c.created_at.desc(),
                                          ratings.c.paper_id)).all()
        return [Rating(paper_id=r.paper_id, value=r.value, source=r.source,
                       created_at=r.created_at) for r in rows]
