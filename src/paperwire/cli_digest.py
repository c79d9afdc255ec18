"""CLI commands for the digest: subscribe, unsubscribe, digest send | preview | status.

Registered on the main app by :mod:`paperwire.cli`; shares its settings, store and output.
"""

from __future__ import annotations

import sys
from datetime import date
from typing import TYPE_CHECKING, Annotated

import typer

from paperwire import cli as base
from paperwire.errors import DeliveryError, NotFound

if TYPE_CHECKING:
    from paperwire.digests.service import DigestContext

digest_app = typer.Typer(help="Send, preview and inspect the daily digest.",
                         no_args_is_help=True)


def _context() -> DigestContext:
    from paperwire.digests.service import DigestContext

    return DigestContext(base.open_store(), base.settings())


def subscribe(
    email: Annotated[str, typer.Argument(help="The address to subscribe.")],
    category: Annotated[list[str] | None, typer.Option(
        "--category", help="An arXiv category of interest (repeatable).")] = None,
    query: Annotated[list[str] | None, typer.Option(
        "--query", help="A search query of interest (repeatable).")] = None,
    confirmed: Annotated[bool, typer.Option(
        "--confirmed", help="Admin: add as already confirmed, without a confirmation mail "
        "(only for addresses whose owner asked you directly).")] = False,
) -> None:
    """Subscribe EMAIL: a confirmation mail is sent; nothing else until its link is followed."""
    from paperwire.digests import open_mailer
    from paperwire.digests.model import Subscriber
    from paperwire.digests.subscriptions import checked_preferences, normalise_email, subscribe
    from paperwire.models import utcnow

    ctx = _context()
    if confirmed:
        wanted = checked_preferences(Subscriber(id=0, email=normalise_email(email)),
                                     categories=tuple(category or ()), queries=tuple(query or ()))
        sub = ctx.store.digests.activate(wanted, utcnow())
        sys.stdout.write(f"{sub.email} is subscribed (confirmed by an admin).\n")
        return
    with open_mailer(ctx.settings) as mailer:
        subscribe(ctx, mailer, email, categories=category or (), queries=query or (),
                  now=utcnow())
    sys.stdout.write(f"If {email.strip()} can receive digests, a confirmation mail is on its "
                     "way; the subscription starts when its link is followed.\n")


def unsubscribe(email: Annotated[str, typer.Argument(help="The address to unsubscribe.")]) -> None:
    """Admin: stop all mail to EMAIL at once."""
    from paperwire.models import utcnow

    ctx = _context()
    sub = ctx.store.digests.by_email(email.strip())
    if sub is None:
        raise NotFound(f"no subscriber with the address {email.strip()!r}")
    ctx.store.digests.unsubscribe(sub.id, utcnow())
    sys.stdout.write(f"{sub.email} is unsubscribed.\n")


def _digest_day(value: str | None) -> date | None:
    """``--date``: a day a digest can be for (bad usage, exit 2, otherwise)."""
    from paperwire.digests.deliver import check_digest_day
    from paperwire.models import utcnow

    day = base._parse_date(value)
    if day is None:
        return None
    try:
        return check_digest_day(day, utcnow())
    except DeliveryError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--date'") from None


@digest_app.command("send")
def send(
    on: Annotated[str | None, typer.Option(
        "--date", help="Send the digests of this day (YYYY-MM-DD) to every subscriber it is "
        "due for, whatever the hour; default: what is due now.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Send the digests that are due, then exit (cron-friendly; safe to run twice)."""
    from rich.progress import Progress

    from paperwire.digests import open_mailer
    from paperwire.digests.deliver import RunReport, run
    from paperwire.models import utcnow

    day = _digest_day(on)
    ctx = _context()
    with open_mailer(ctx.settings) as mailer, Progress(console=base.err, transient=True,
                                                      disable=as_json) as bar:
        task = bar.add_task("sending digests", total=None)

        def show(report: RunReport, done: int) -> None:
            bar.update(task, completed=done, description=f"sending digests: {report.summary()}")

        report = run(ctx, mailer, utcnow, day, on_progress=show)
    if as_json:
        base.emit_json({**report.__dict__, "errors": report.errors[-5:]})
    else:
        sys.stdout.write(f"digests: {report.summary()}\n")
    if report.paused:
        raise DeliveryError(f"digest run paused: {report.paused}")


@digest_app.command("preview")
def preview(
    email: Annotated[str, typer.Argument(help="A subscriber's address.")],
    on: Annotated[str | None, typer.Option("--date", help="Digest date (YYYY-MM-DD).")] = None,
    html: Annotated[bool, typer.Option("--html", help="Print the HTML part.")] = False,
) -> None:
    """Print the digest EMAIL would get (nothing is sent or recorded)."""
    from paperwire.digests.service import gather, message_for, stored_digest
    from paperwire.models import utcnow

    ctx = _context()
    sub = ctx.store.digests.by_email(email.strip())
    if sub is None:
        raise NotFound(f"no subscriber with the address {email.strip()!r}")
    day = _digest_day(on) or utcnow().date()
    row = ctx.store.digests.get_delivery(sub.id, day)
    if row is not None and row.items is not None and row.period is not None:
        digest = stored_digest(ctx, sub, day, row.period, row.items, row.note)
    else:
        digest = gather(ctx, sub, day)
    msg = message_for(ctx, digest, utcnow())
    part = msg.get_body(("html",) if html else ("plain",))
    shown = f"Subject: {msg['Subject']}\nTo: {msg['To']}\n\n"
    shown += part.get_content() if part is not None else ""
    sys.stdout.write(base.terminal_text(shown))  # titles in it are imported, untrusted text


@digest_app.command("status")
def status(
    on: Annotated[str | None, typer.Option("--date", help="Digest date (YYYY-MM-DD).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Subscribers by status, and digests by delivery state."""
    ctx = _context()
    day: date | None = base._parse_date(on)
    doc = {"subscribers": ctx.store.digests.count_by_status(),
           "deliveries": ctx.store.digests.count_deliveries(day)}
    if as_json:
        base.emit_json(doc)
        return
    for title, counts in doc.items():
        shown = ", ".join(f"{v} {k}" for k, v in sorted(counts.items())) or "none"
        sys.stdout.write(f"{title}: {shown}\n")


def register(app: typer.Typer) -> None:
    app.command()(subscribe)
    app.command()(unsubscribe)
    app.add_typer(digest_app, name="digest")
