"""Subscribing with double opt-in, confirming, unsubscribing, preferences.

Nothing but the confirmation mail goes to an address until its link is followed. Every answer
to a subscription request is the same whether the address is new, pending, active or
suppressed, so the form cannot be used to learn who subscribes; at most three confirmation
mails go to one mailbox a day (``User+tag@x`` counts as ``user@x``), counted atomically in the
store.

Unsubscribe and preferences links are bound to the subscription's epoch (bumped by each
confirmation) and expire (:mod:`paperwire.digests.tokens`). After unsubscribing, the
preferences link shows and changes nothing; it offers to resubscribe, which sends a new
confirmation mail (double opt-in again).
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from paperwire.digests import tokens
from paperwire.digests.mailer import Mailer
from paperwire.digests.render import mail_host, render_confirmation
from paperwire.digests.service import DigestContext
from paperwire.errors import InvalidSubscription, TokenError
from paperwire.models import is_arxiv_category, is_arxiv_id
from paperwire.records import FREQUENCIES, MODES, Subscriber

log = logging.getLogger(__name__)
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
MAX_INTERESTS = 20


def normalise_email(email: str) -> str:
    email = email.strip()
    if len(email) > 254 or not _EMAIL.match(email):
        raise InvalidSubscription(f"{email[:80]!r} is not an email address")
    local, _, domain = email.rpartition("@")
    return f"{local}@{domain.lower()}".lower()


def mailbox_key(email: str) -> str:
    """The mailbox an address reaches, for limits: lower case, without a ``+tag``
    (``User+news@X.org`` → ``user@x.org``)."""
    local, _, domain = email.strip().lower().rpartition("@")
    local = local.split("+", 1)[0] or local
    return f"{local}@{domain}"


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


PREFERENCE_FORM = ("frequency", "weekday", "hour", "timezone", "size", "mode", "categories",
                   "queries", "papers", "skip_empty")


def preference_form(sub: Subscriber) -> dict[str, str]:
    """The preferences form's fields (as text) for ``sub``."""
    return {"frequency": sub.frequency, "weekday": str(sub.weekday), "hour": str(sub.hour),
            "timezone": sub.timezone, "size": str(sub.size), "mode": sub.mode,
            "categories": ", ".join(sub.categories), "queries": "\n".join(sub.queries),
            "papers": ", ".join(sub.papers), "skip_empty": "on" if sub.skip_empty else ""}


def split_lines(text: str) -> list[str]:
    """One item per line (a search may hold commas)."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def split_words(text: str) -> list[str]:
    """Items separated by commas or lines (categories, paper ids); each is checked whole, so
    ``cs.CL cs.IR`` is named as one bad entry rather than silently split."""
    return [t.strip() for t in re.split(r"[,;\n]+", text) if t.strip()]


def _whole(text: str, low: int, high: int, what: str) -> tuple[int | None, str | None]:
    try:
        value = int(text.strip())
    except ValueError:
        return None, f"{what} must be a whole number from {low} to {high}"
    if not low <= value <= high:
        return None, f"{what} must be a whole number from {low} to {high}"
    return value, None


def parse_preferences(base: Subscriber, form: Mapping[str, str],
                      known_paper: Callable[[str], bool] = lambda _: False,
                      ) -> tuple[Subscriber, dict[str, str]]:
    """``base`` with the posted ``form`` applied, and an error message per bad field (empty
    when all is well: then the subscriber is checked and may be saved). Every field is
    checked, so the page can show each message next to its field, with the user's edits."""
    errors: dict[str, str] = {}
    frequency = form.get("frequency", "daily")
    if frequency not in FREQUENCIES:
        errors["frequency"] = f"choose one of {', '.join(FREQUENCIES)}"
    mode = form.get("mode", "personal")
    if mode not in MODES:
        errors["mode"] = f"choose one of {', '.join(MODES)}"
    weekday, bad = _whole(form.get("weekday", "0"), 0, 6, "the weekday")
    if bad:
        errors["weekday"] = bad
    hour, bad = _whole(form.get("hour", "7"), 0, 23, "the hour")
    if bad:
        errors["hour"] = bad
    size, bad = _whole(form.get("size", "10"), 1, 50, "the number of papers")
    if bad:
        errors["size"] = bad
    timezone = form.get("timezone", "UTC").strip() or "UTC"
    if timezone not in time_zones():
        errors["timezone"] = f"{timezone[:60]!r} is not a time zone; choose one from the list"
    categories = _dedupe(split_words(form.get("categories", "")))
    wrong = [c for c in categories if not is_arxiv_category(c)]
    if wrong:
        errors["categories"] = f"{wrong[0][:60]!r} is not an arXiv category (like cs.CL)"
    queries = _dedupe(" ".join(q.split())[:200] for q in split_lines(form.get("queries", "")))
    papers = _dedupe(split_words(form.get("papers", "")))
    unknown = [p for p in papers if not (is_arxiv_id(p) or known_paper(p))]
    if unknown:
        errors["papers"] = f"{unknown[0][:60]!r} is not an arXiv id (like 2606.01234)"
    for name, items in (("categories", categories), ("queries", queries), ("papers", papers)):
        if len(items) > MAX_INTERESTS and name not in errors:
            errors[name] = f"at most {MAX_INTERESTS}"
    if errors:
        return base, errors
    assert weekday is not None and hour is not None and size is not None
    wanted = checked_preferences(
        base, frequency=frequency, weekday=weekday, hour=hour, timezone=timezone,
        categories=categories, queries=queries, papers=papers, size=size, mode=mode,
        skip_empty=form.get("skip_empty") == "on")
    return wanted, {}


@lru_cache(maxsize=1)
def time_zones() -> tuple[str, ...]:
    """Every IANA time zone name this system knows, sorted (the form's list)."""
    return tuple(sorted(available_timezones() | {"UTC"}))


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
    return send_confirmation(ctx, mailer, wanted, now)


def send_confirmation(ctx: DigestContext, mailer: Mailer, wanted: Subscriber,
                      now: datetime) -> bool:
    """Record the request for ``wanted`` (already checked) and mail its confirmation link,
    unless the address is suppressed or its mailbox had its mails for the day."""
    nonce = tokens.new_nonce()
    sub = ctx.store.digests.request(wanted, nonce, now, mailbox=mailbox_key(wanted.email))
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


def _claims(ctx: DigestContext, purpose: str, token: str, now: datetime) -> tokens.Claims:
    claims = tokens.read_token(ctx.key, purpose, token, now)
    if claims.epoch is None or (purpose == "preferences" and claims.expires is None):
        raise TokenError("this link is not valid; use the one in your latest digest")
    return claims


def _linked(ctx: DigestContext, claims: tokens.Claims) -> Subscriber:
    sub = ctx.store.digests.get(claims.subscriber_id)
    if sub is None or sub.epoch != claims.epoch:
        raise TokenError("this link is from an earlier subscription and no longer works; "
                         "use the one in your latest digest")
    return sub


def unsubscribe(ctx: DigestContext, token: str, now: datetime) -> Subscriber:
    """Stop all mail to the link's subscriber (repeating is harmless)."""
    sub = _linked(ctx, _claims(ctx, "unsubscribe", token, now))
    done = ctx.store.digests.unsubscribe(sub.id, now)
    if done is None:
        raise TokenError("this link is not valid")
    return done


def subscriber_for(ctx: DigestContext, purpose: str, token: str, now: datetime) -> Subscriber:
    """The subscriber a signed link (unsubscribe or preferences) names, changing nothing: the
    link must be unexpired and made for the subscription as it is now (same epoch)."""
    return _linked(ctx, _claims(ctx, purpose, token, now))


def subscribed(sub: Subscriber) -> bool:
    """Whether a preferences link may show and change the subscription (not after an
    unsubscribe or a suppression: then it only offers to resubscribe)."""
    return sub.status in ("active", "pending")


def save_preferences(ctx: DigestContext, token: str, now: datetime,
                     form: Mapping[str, str]) -> tuple[Subscriber, dict[str, str]]:
    """Apply the posted preferences form: (the saved subscriber, {}) or, when a field is
    bad, (the subscriber unchanged, an error per field) and nothing is saved."""
    sub = subscriber_for(ctx, "preferences", token, now)
    if not subscribed(sub):
        raise TokenError("this address is unsubscribed; resubscribe to choose its digest")
    wanted, errors = parse_preferences(
        sub, form, known_paper=lambda p: ctx.store.get_paper(p) is not None)
    if errors:
        return sub, errors
    saved = ctx.store.digests.set_preferences(sub.id, wanted)
    if saved is None:
        raise TokenError("this link is not valid")
    return saved, {}


def resubscribe(ctx: DigestContext, mailer: Mailer, token: str, now: datetime) -> bool:
    """From an unsubscribed address's preferences link: a new confirmation mail, with the
    preferences it had (double opt-in again; the usual limits apply). Returns whether a mail
    went out (for logs and tests)."""
    sub = subscriber_for(ctx, "preferences", token, now)
    if sub.status != "unsubscribed":
        return False
    return send_confirmation(ctx, mailer, sub, now)


def purge_unconfirmed(ctx: DigestContext, now: datetime) -> int:
    ctx.store.digests.purge_limits(now - timedelta(days=2))
    return ctx.store.digests.purge_unconfirmed(
        now - timedelta(days=ctx.settings.unconfirmed_days))
