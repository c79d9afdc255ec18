"""Accounts without passwords: signing in by a link mailed to the address, the account's
data (download, delete), and the operators' account commands.

Signing in: someone gives an address; if it may have a link (an account that is not disabled,
or any address while ``PAPERWIRE_SIGNUP=open``), its mailbox still has one of its
:data:`MAX_SIGNIN_MAILS_PER_DAY` sign-in mails for the day, a fresh nonce becomes the
account's live ``login_nonce`` and a signed ``signin`` token carrying it is mailed
(:mod:`paperwire.digests.tokens`: 15 minutes, single use — confirming clears the nonce, and
each new link replaces the one before). The web answers every request the same way before
any of this runs (the mail is queued), so the form never tells whether an address has an
account. Following the link (a POST from the page it opens: mail scanners fetch links)
activates the account (its address is now confirmed) and the web starts a session.

An account and the digest subscription with the same address are one person: the account
page shows and changes the subscription, and deleting the account deletes it too. A
signed-in person's subscription is active at once, since signing in confirmed the address.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from paperwire.config import Settings
from paperwire.digests import tokens
from paperwire.digests.mailer import Mailer
from paperwire.digests.render import mail_host, render_signin
from paperwire.digests.subscriptions import mailbox_key, normalise_email, parse_preferences
from paperwire.errors import NotFound, TokenError
from paperwire.records import Account, LibraryEntry, Rating, Subscriber
from paperwire.store import Store

log = logging.getLogger(__name__)
MAX_SIGNIN_MAILS_PER_DAY = 5  # per mailbox (``user+tag@x`` counts as ``user@x``)
SIGNIN_PATH = "/signin/confirm/"
DEFAULT_NEXT = "/account"  # where a sign-in link goes without a ``next``
EXPORT_FORMAT = "paperwire-account"
EXPORT_VERSION = 1


# ---- pure parts ----------------------------------------------------------------------------


def may_get_link(account: Account | None, signup: str) -> bool:
    """Whether a sign-in link may be mailed for an address whose account is ``account``
    (None: no account yet): never to a disabled account; to a new address only while
    sign-up is open."""
    if account is None:
        return signup == "open"
    return account.status != "disabled"


def signin_token(key: bytes, account_id: int, nonce: str, now: datetime) -> str:
    """The signed, single-use (``nonce``), 15-minute token of one sign-in link."""
    return tokens.make_token(key, "signin", account_id, nonce=nonce,
                             expires=now + tokens.SIGNIN_VALID_FOR)


def signin_url(base_url: str, key: bytes, account_id: int, nonce: str, now: datetime,
               next_path: str = DEFAULT_NEXT) -> str:
    """The absolute sign-in link mailed for ``account_id`` (on the settings' base URL),
    going on to the local path ``next_path`` once signed in."""
    url = base_url.rstrip("/") + SIGNIN_PATH + signin_token(key, account_id, nonce, now)
    if next_path != DEFAULT_NEXT:
        url += "?next=" + quote(next_path, safe="/")
    return url


def read_signin(key: bytes, token: str, now: datetime) -> tokens.Claims:
    """The claims of a sign-in token: a genuine ``signin`` token, unexpired (TokenError
    otherwise — a confirmation or unsubscribe token of a mail is refused, whatever its id).
    Whether it is still the account's live link is for the store to say."""
    return tokens.read_token(key, "signin", token, now)


def _when(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") + "Z" if value is not None else None


def export_document(account: Account, *, votes: Iterable[str], library: Iterable[LibraryEntry],
                    ratings: Iterable[Rating], subscription: Subscriber | None,
                    now: datetime) -> dict[str, Any]:
    """Everything stored about ``account``, as one JSON document (the account page's
    download): the account, its votes, its library (tags, notes, reading state), its
    ratings and the digest subscription of its address. Times are UTC (``Z``)."""
    sub: dict[str, Any] | None = None
    if subscription is not None:
        sub = {"status": subscription.status, "frequency": subscription.frequency,
               "weekday": subscription.weekday, "hour": subscription.hour,
               "timezone": subscription.timezone, "size": subscription.size,
               "mode": subscription.mode, "skip_empty": subscription.skip_empty,
               "categories": list(subscription.categories),
               "queries": list(subscription.queries), "papers": list(subscription.papers),
               "created_at": _when(subscription.created_at),
               "confirmed_at": _when(subscription.confirmed_at),
               "unsubscribed_at": _when(subscription.unsubscribed_at)}
    return {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "exported_at": _when(now),
        "account": {"email": account.email, "status": account.status,
                    "is_admin": account.is_admin, "created_at": _when(account.created_at),
                    "confirmed_at": _when(account.confirmed_at)},
        "votes": [{"paper_id": p} for p in votes],
        "library": [{"paper_id": e.paper_id, "saved_at": _when(e.saved_at),
                     "updated_at": _when(e.updated_at), "state": e.state, "note": e.note,
                     "tags": list(e.tags)} for e in library],
        "ratings": [{"paper_id": r.paper_id, "value": r.value, "source": r.source,
                     "created_at": _when(r.created_at)} for r in ratings],
        "subscription": sub,
    }


def account_json(account: Account) -> dict[str, Any]:
    """One account as the CLI's ``--json`` prints it."""
    return {"email": account.email, "status": account.status, "admin": account.is_admin,
            "created_at": _when(account.created_at),
            "confirmed_at": _when(account.confirmed_at),
            "disabled_at": _when(account.disabled_at)}


# ---- use cases (the store, the key, the mailer) -------------------------------------------


@dataclass(frozen=True)
class AccountContext:
    """What account code needs: the store, the settings and the key that signs links."""

    store: Store
    settings: Settings
    key: bytes


def request_signin(ctx: AccountContext, mailer: Mailer, email: str, now: datetime,
                   next_path: str = DEFAULT_NEXT) -> bool:
    """Mail a sign-in link to ``email`` when it may have one (see :func:`may_get_link`) and
    its mailbox has a sign-in mail left today; the link goes on to ``next_path`` (a local
    path, already checked). Returns whether a mail was handed to the
    server — for logs and tests only: callers answer the same either way."""
    address = normalise_email(email)
    account = ctx.store.accounts.by_email(address)
    if not may_get_link(account, ctx.settings.signup):
        log.info("sign-in request for an address without a usable account; no mail sent")
        return False
    day = datetime(now.year, now.month, now.day)
    if not ctx.store.digests.take_limit(f"signin:{mailbox_key(address)}", day,
                                        MAX_SIGNIN_MAILS_PER_DAY):
        log.info("sign-in request for a mailbox over its daily limit; no mail sent")
        return False
    nonce = tokens.new_nonce()
    account = ctx.store.accounts.request_signin(address, nonce, now,
                                                create=ctx.settings.signup == "open")
    if account is None or account.status == "disabled":
        return False
    msg = render_signin(
        account.email, signin_url=signin_url(ctx.settings.base_url, ctx.key, account.id,
                                             nonce, now, next_path),
        from_addr=ctx.settings.mail_from, base_url=ctx.settings.base_url, now=now,
        valid_for=tokens.SIGNIN_VALID_FOR,
        message_id=f"<signin-{secrets.token_hex(12)}@{mail_host(ctx.settings.base_url)}>")
    result = mailer.send(msg)
    if not result.sent:
        log.warning("sign-in mail to account %s not sent: %s", account.id, result.detail)
    return result.sent


def confirm_signin(ctx: AccountContext, token: str, now: datetime) -> Account:
    """The account a sign-in link names, now active, its link used up; TokenError for a
    forged, expired, reused, replaced or wrong-purpose link, or a disabled account (then
    nothing changes)."""
    claims = read_signin(ctx.key, token, now)
    account = ctx.store.accounts.confirm_signin(claims.subscriber_id, claims.nonce, now)
    if account is None:
        raise TokenError("this sign-in link was already used or replaced by a newer one; "
                         "ask for a new one")
    return account


def subscription_of(ctx: AccountContext, account: Account) -> Subscriber | None:
    """The digest subscription with the account's address, if any."""
    return ctx.store.digests.by_email(account.email)


def subscribe(ctx: AccountContext, account: Account, wanted: Subscriber,
              now: datetime) -> Subscriber | None:
    """Subscribe a signed-in account's address with ``wanted`` (already checked), active at
    once: signing in confirmed the address. None when the address is suppressed (its mail
    bounced): then nothing changes."""
    current = subscription_of(ctx, account)
    if current is not None and current.status == "suppressed":
        return None
    return ctx.store.digests.activate(replace(wanted, id=0, email=account.email), now)


def save_digest(ctx: AccountContext, account: Account, form: Mapping[str, str],
                now: datetime) -> tuple[Subscriber | None, dict[str, str]]:
    """Apply the account page's digest form: (the subscription, now active, {}); or, when
    a field is bad, (the subscription as it was, an error per field) and nothing changes;
    (None, {}) when the address is suppressed."""
    current = subscription_of(ctx, account)
    base = current if current is not None else Subscriber(id=0, email=account.email)
    wanted, errors = parse_preferences(
        base, form, known_paper=lambda p: ctx.store.get_paper(p) is not None)
    if errors:
        return current, errors
    return subscribe(ctx, account, wanted, now), {}


def unsubscribe(ctx: AccountContext, account: Account, now: datetime) -> Subscriber | None:
    """Stop the digest to the account's address (repeating is harmless)."""
    current = subscription_of(ctx, account)
    if current is None:
        return None
    return ctx.store.digests.unsubscribe(current.id, now)


def export_account(ctx: AccountContext, account: Account, now: datetime) -> dict[str, Any]:
    """The account's data download (see :func:`export_document`)."""
    return export_document(
        account, votes=ctx.store.library.voted_ids(account.id),
        library=ctx.store.library.entries(account.id),
        ratings=ctx.store.library.ratings(account.id),
        subscription=subscription_of(ctx, account), now=now)


def delete_account(ctx: AccountContext, account: Account, now: datetime) -> None:
    """Delete the account and everything of it: votes, library, notes, ratings, sessions
    and the digest subscription of its address (the store recounts the trending signals)."""
    ctx.store.accounts.delete(account.id, now)


def purge(store: Store, settings: Settings, now: datetime) -> int:
    """Delete expired sessions and, while sign-up is open, accounts whose sign-in link was
    never used after ``PAPERWIRE_UNCONFIRMED_DAYS`` (anyone may ask again; with sign-up
    closed, pending accounts are the operators' and stay). How many rows went."""
    gone = store.accounts.purge_sessions(now)
    if settings.signup == "open":
        gone += store.accounts.purge_pending(now - timedelta(days=settings.unconfirmed_days))
    return gone


# ---- operators ---------------------------------------------------------------------------


def add_user(ctx: AccountContext, email: str, now: datetime, admin: bool = False) -> Account:
    """Add an account (pending until its first sign-in; it may sign in while sign-up is
    closed), or make an existing one an admin with ``admin``."""
    return ctx.store.accounts.add(normalise_email(email), now, admin=admin)


def disable_user(ctx: AccountContext, email: str, now: datetime) -> Account:
    """Disable an account: its sessions end, it cannot sign in, its votes and saves stop
    counting (the store recounts the signals). NotFound for an unknown address."""
    account = ctx.store.accounts.set_disabled(normalise_email(email), True, now)
    if account is None:
        raise NotFound(f"no account with the address {email.strip()!r}")
    return account
