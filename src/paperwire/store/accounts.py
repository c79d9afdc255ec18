"""SQL of accounts, their sign-in links and sessions, and their private feeds' secrets.

Reached as ``store.accounts``. An account is ``pending`` until a sign-in link mailed to its
address is used (``confirm_signin``: the link's nonce must be the live one, which using it
clears, so a link works once). Sessions are stored by the SHA-256 of the cookie's value.
Disabling or deleting an account ends its sessions and takes its votes and saves out of the
trending signals (:func:`paperwire.store.library.bump_account`).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete, func, select, update

from paperwire.records import Account
from paperwire.store.db import dialect_insert, store_errors
from paperwire.store.library import bump_account
from paperwire.store.schema import accounts, sessions, subscribers

SESSION_TOUCH_SECONDS = 300  # last_seen_at is written at most this often per session


def _account(row: Any) -> Account:
    return Account(id=row.id, email=row.email, status=row.status, is_admin=bool(row.is_admin),
                   created_at=row.created_at, confirmed_at=row.confirmed_at,
                   disabled_at=row.disabled_at)


@store_errors
class AccountStore:
    """Every public method raises :class:`StoreError` when the database fails."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _insert_ignore(self) -> Any:
        return dialect_insert(self.engine, accounts).on_conflict_do_nothing()

    def get(self, account_id: int) -> Account | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(accounts).where(accounts.c.id == account_id)).first()
        return _account(row) if row else None

    def by_email(self, email: str) -> Account | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(accounts)
                               .where(accounts.c.email == email.strip().lower())).first()
        return _account(row) if row else None

    def by_emails(self, emails: Iterable[str]) -> dict[str, Account]:
        """:meth:`by_email` for many addresses in one query: the accounts found, by the
        address as given."""
        wanted: dict[str, list[str]] = {}
        for email in emails:
            wanted.setdefault(email.strip().lower(), []).append(email)
        if not wanted:
            return {}
        with self.engine.connect() as conn:
            rows = conn.execute(select(accounts).where(accounts.c.email.in_(list(wanted))))
            return {given: _account(row) for row in rows for given in wanted[row.email]}

    def all(self) -> list[Account]:
        with self.engine.connect() as conn:
            return [_account(r) for r in conn.execute(select(accounts).order_by(accounts.c.id))]

    def count_by_status(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(accounts.c.status, func.count())
                                .group_by(accounts.c.status)).all()
        return {status: int(n) for status, n in rows}

    # ---- sign-in links ----------------------------------------------------------------

    def request_signin(self, email: str, nonce: str, now: datetime,
                       create: bool = True) -> Account | None:
        """Make ``nonce`` the account's live sign-in link (an earlier one stops working).
        Creates a pending account for a new address when ``create``; None for a disabled
        account, or an unknown one when not ``create``."""
        email = email.strip().lower()
        with self.engine.begin() as conn:
            if create:
                conn.execute(self._insert_ignore().values(
                    email=email, status="pending", is_admin=False, created_at=now))
            row = conn.execute(
                update(accounts).where(accounts.c.email == email,
                                       accounts.c.status != "disabled")
                .values(login_nonce=nonce).returning(*accounts.c)).first()
        return _account(row) if row else None

    def confirm_signin(self, account_id: int, nonce: str, now: datetime) -> Account | None:
        """Use a sign-in link: when ``nonce`` is the live one (and the account not
        disabled), clear it and make the account active. None otherwise (a used, replaced
        or forged link)."""
        if not nonce:
            return None
        with self.engine.begin() as conn:
            was = conn.execute(select(accounts.c.status).where(accounts.c.id == account_id)
                               .with_for_update()).scalar()
            row = conn.execute(
                update(accounts).where(accounts.c.id == account_id,
                                       accounts.c.login_nonce == nonce,
                                       accounts.c.status != "disabled")
                .values(login_nonce=None, status="active",
                        confirmed_at=func.coalesce(accounts.c.confirmed_at, now))
                .returning(*accounts.c)).first()
            if row is not None and was != "active":  # it counts from now on (not twice)
                bump_account(conn, account_id, 1, now)
        return _account(row) if row else None

    def add(self, email: str, now: datetime, admin: bool = False) -> Account:
        """An operator's account for ``email`` (pending until its first sign-in); an existing
        one is returned, made admin when ``admin``."""
        email = email.strip().lower()
        with self.engine.begin() as conn:
            conn.execute(self._insert_ignore().values(
                email=email, status="pending", is_admin=admin, created_at=now))
            if admin:
                conn.execute(update(accounts).where(accounts.c.email == email)
                             .values(is_admin=True))
            row = conn.execute(select(accounts).where(accounts.c.email == email)).one()
        return _account(row)

    def ensure_active(self, email: str, now: datetime) -> Account | None:
        """The active account of an address already confirmed some other way (a digest
        subscriber's): made, or made active, as a first sign-in would; None when disabled."""
        email = email.strip().lower()
        with self.engine.begin() as conn:
            conn.execute(self._insert_ignore().values(
                email=email, status="pending", is_admin=False, created_at=now))
            row = conn.execute(select(accounts).where(accounts.c.email == email)
                               .with_for_update()).one()
            if row.status == "disabled":
                return None
            if row.status != "active":
                conn.execute(update(accounts).where(accounts.c.id == row.id).values(
                    status="active", login_nonce=None,
                    confirmed_at=func.coalesce(accounts.c.confirmed_at, now)))
                bump_account(conn, row.id, 1, now)
                row = conn.execute(select(accounts).where(accounts.c.id == row.id)).one()
        return _account(row)

    def set_disabled(self, email: str, disabled: bool, now: datetime) -> Account | None:
        """Disable (sessions end, votes and saves stop counting, no sign-in) or enable
        again (back to active if it had been confirmed, else pending)."""
        email = email.strip().lower()
        with self.engine.begin() as conn:
            row = conn.execute(select(accounts).where(accounts.c.email == email)
                               .with_for_update()).first()
            if row is None:
                return None
            if disabled and row.status != "disabled":
                if row.status == "active":
                    bump_account(conn, row.id, -1, now)
                conn.execute(delete(sessions).where(sessions.c.account_id == row.id))
                conn.execute(update(accounts).where(accounts.c.id == row.id)
                             .values(status="disabled", disabled_at=now, login_nonce=None))
            elif not disabled and row.status == "disabled":
                status = "active" if row.confirmed_at else "pending"
                conn.execute(update(accounts).where(accounts.c.id == row.id)
                             .values(status=status, disabled_at=None))
                if status == "active":
                    bump_account(conn, row.id, 1, now)
            row = conn.execute(select(accounts).where(accounts.c.id == row.id)).one()
        return _account(row)

    def delete(self, account_id: int, now: datetime) -> bool:
        """Delete the account and everything it made: sessions, votes, library, ratings (by
        cascade), its counts in trending, and the digest subscription of its address."""
        with self.engine.begin() as conn:
            row = conn.execute(select(accounts).where(accounts.c.id == account_id)
                               .with_for_update()).first()
            if row is None:
                return False
            if row.status == "active":
                bump_account(conn, account_id, -1, now)
            conn.execute(delete(subscribers).where(subscribers.c.email == row.email))
            conn.execute(delete(accounts).where(accounts.c.id == account_id))
        return True

    def purge_pending(self, created_before: datetime) -> int:
        """Delete accounts whose sign-in link was never used, made before the cut-off."""
        with self.engine.begin() as conn:
            gone = conn.execute(delete(accounts).where(
                accounts.c.status == "pending", accounts.c.confirmed_at.is_(None),
                accounts.c.is_admin.is_(False), accounts.c.created_at < created_before))
        return int(gone.rowcount or 0)

    # ---- sessions ---------------------------------------------------------------------

    def new_session(self, account_id: int, session_hash: str, now: datetime,
                    expires: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(sessions.insert().values(
                id=session_hash, account_id=account_id, created_at=now, last_seen_at=now,
                expires_at=expires))

    def session_account(self, session_hash: str, now: datetime) -> Account | None:
        """The active account a live session belongs to (None when expired, ended or the
        account is not active); notes when the session was last seen."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(accounts, sessions.c.last_seen_at.label("seen"))
                .join(sessions, sessions.c.account_id == accounts.c.id)
                .where(sessions.c.id == session_hash, sessions.c.expires_at > now,
                       accounts.c.status == "active")).first()
        if row is None:
            return None
        if (now - row.seen).total_seconds() > SESSION_TOUCH_SECONDS:
            with self.engine.begin() as conn:
                conn.execute(update(sessions).where(sessions.c.id == session_hash)
                             .values(last_seen_at=now))
        return _account(row)

    def end_session(self, session_hash: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(sessions).where(sessions.c.id == session_hash))

    def end_sessions(self, account_id: int) -> int:
        """Sign the account out everywhere; how many sessions ended."""
        with self.engine.begin() as conn:
            gone = conn.execute(delete(sessions).where(sessions.c.account_id == account_id))
        return int(gone.rowcount or 0)

    def count_sessions(self, account_id: int, now: datetime) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(sessions).where(
                sessions.c.account_id == account_id, sessions.c.expires_at > now)).scalar()
                or 0)

    def purge_sessions(self, now: datetime) -> int:
        with self.engine.begin() as conn:
            gone = conn.execute(delete(sessions).where(sessions.c.expires_at <= now))
        return int(gone.rowcount or 0)

    # ---- private feeds ----------------------------------------------------------------

    def feed_secret(self, account_id: int, renew: bool = False) -> str:
        """The secret in the account's private feed URLs, made on first use; ``renew``
        replaces it (the old URLs stop working)."""
        with self.engine.begin() as conn:
            current = conn.execute(select(accounts.c.feed_secret)
                                   .where(accounts.c.id == account_id)).scalar()
            if current and not renew:
                return str(current)
            secret = secrets.token_urlsafe(24)
            conn.execute(update(accounts).where(accounts.c.id == account_id)
                         .values(feed_secret=secret))
        return secret

    def by_feed_secret(self, secret: str) -> Account | None:
        """The active account whose private feeds ``secret`` opens."""
        if not secret or len(secret) > 64:
            return None
        with self.engine.connect() as conn:
            row = conn.execute(select(accounts).where(
                accounts.c.feed_secret == secret, accounts.c.status == "active")).first()
        return _account(row) if row else None
