"""Subscribing with double opt-in, confirming, unsubscribing, preferences.

Nothing but the confirmation mail goes to an address until its link is followed. Every answer
to a subscription request is the same whether the address is new, pending, active or
suppressed, so the form cannot be used to learn who subscribes; at most three confirmation
mails go to one address a day.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from paperwire.digests import tokens
from paperwire.digests.mailer import Mailer
from paperwire.digests.model import FREQUENCIES, MODES, Subscriber
from paperwire.digests.render import mail_host, render_confirmation
from paperwire.digests.service import DigestContext
from paperwire.errors import PaperwireError, TokenError
from paperwire.models import is_arxiv_category

log = logging.getLogger(__name__)
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
MAX_INTERESTS = 20


class InvalidSubscription(PaperwireError):
    """An address or preference that cannot be used; the message says which and why."""


def normalise_email(email: str) -> str:
    email = email.strip()
    if len(email) > 254 or not _EMAIL.match(email):
        raise InvalidSubscription(f"{email[:80]!r} is not an email address")
    local, _, domain = email.rpartition("@")
    return f"{local}@{domain.lower()}".lower()


def checked_preferences(base: Subscriber, **changes: object) -> Subscriber:
    """``base`` with ``changes`` applied and validated (InvalidSubscription if one is bad)."""
    sub = replace(base, **changes)  # type: ignore[arg-type]
    if sub.frequency not in FREQUENCIES:
        raise InvalidSubscription(f"frequency must be one of {', '.join(FREQUENCIES)}")
    if sub.mode not in MODES:
        raise InvalidSubscription(f"mode must be one of {', '.join(MODES)}")
    if not 0 <= sub.weekday <= 6:
        raise InvalidSubscription("weekday must be 0 (Monday) to 6 (Sunday)")
    if not 0 <= sub.hour <= 23:
        raise InvalidSubscription("hour must be 0 to 23")
    if not 1 <= sub.size <= 50:
        raise InvalidSubscription("the number of papers must be 1 to 50")
    try:
        ZoneInfo(sub.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidSubscription(f"unknown time zone {sub.timezone!r}") from None
    bad = [c for c in sub.categories if not is_arxiv_category(c)]
    if bad:
        raise InvalidSubscription(f"{bad[0]!r} is not an arXiv category (like cs.CL)")
    sub = replace(sub, categories=_dedupe(sub.categories), papers=_dedupe(sub.papers),
                  queries=_dedupe(" ".join(q.split())[:200] for q in sub.queries))
    if max(len(sub.categories), len(sub.papers), len(sub.queries)) > MAX_INTERESTS:
        raise InvalidSubscription(f"at most {MAX_INTERESTS} categories, queries or papers")
    return sub


def _dedupe(items: Iterable[str]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for item in items:
        if item and item.strip():
            seen.setdefault(item.strip(), None)
    return tuple(seen)


def subscribe(ctx: DigestContext, mailer: Mailer, email: str, *, categories: Sequence[str] = (),
              queries: Sequence[str] = (), now: datetime) -> bool:
    """Ask ``email`` to confirm a digest subscription. Returns whether a mail was handed to
    the server — for logs and tests only: callers answer the same either way."""
    wanted = checked_preferences(Subscriber(id=0, email=normalise_email(email)),
                                 categories=tuple(categories), queries=tuple(queries))
    nonce = tokens.new_nonce()
    sub = ctx.store.digests.request(wanted, nonce, now)
    if sub is None:
        log.info("subscription request for a limited or suppressed address; no mail sent")
        return False
    msg = render_confirmation(
        sub.email, confirm_url=ctx.confirm_url(sub, nonce, now), from_addr=ctx.settings.mail_from,
        base_url=ctx.settings.base_url, now=now, valid_for=tokens.CONFIRM_VALID_FOR,
        message_id=f"<confirm-{secrets.token_hex(12)}@{mail_host(ctx.settings.base_url)}>",
    )
    result = mailer.send(msg)
    if not result.sent:
        log.warning("confirmation mail to subscriber %s not sent: %s", sub.id, result.detail)
    return result.sent


def confirm(ctx: DigestContext, token: str, now: datetime) -> Subscriber:
    claims = tokens.read_token(ctx.key, "confirm", token, now)
    sub = ctx.store.digests.confirm(claims.subscriber_id, claims.nonce, now)
    if sub is None:
        raise TokenError("this confirmation link was already used or replaced by a newer one")
    return sub


def unsubscribe(ctx: DigestContext, token: str, now: datetime) -> Subscriber:
    claims = tokens.read_token(ctx.key, "unsubscribe", token, now)
    sub = ctx.store.digests.unsubscribe(claims.subscriber_id, now)
    if sub is None:
        raise TokenError("this link is not valid")
    return sub


def subscriber_for(ctx: DigestContext, purpose: str, token: str, now: datetime) -> Subscriber:
    """The subscriber a signed link (unsubscribe or preferences) names, changing nothing."""
    claims = tokens.read_token(ctx.key, purpose, token, now)
    sub = ctx.store.digests.get(claims.subscriber_id)
    if sub is None:
        raise TokenError("this link is not valid")
    return sub


def save_preferences(ctx: DigestContext, token: str, now: datetime,
                     **changes: object) -> Subscriber:
    sub = subscriber_for(ctx, "preferences", token, now)
    wanted = checked_preferences(sub, **changes)
    saved = ctx.store.digests.set_preferences(sub.id, wanted)
    if saved is None:
        raise TokenError("this link is not valid")
    return saved


def purge_unconfirmed(ctx: DigestContext, now: datetime) -> int:
    return ctx.store.digests.purge_unconfirmed(
        now - timedelta(days=ctx.settings.unconfirmed_days))
