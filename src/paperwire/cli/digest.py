"""``paperwire subscribe | unsubscribe | digest send | preview | status``."""

from __future__ import annotations

import sys
from datetime import date
from typing import Annotated

import typer

from paperwire.cli.common import application, emit_json, err, parse_date, terminal_text
from paperwire.errors import DeliveryError

digest_app = typer.Typer(help="Send, preview and inspect the daily digest.",
                         no_args_is_help=True)


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
    app = application()
    if confirmed:
        sub = app.subscribe_confirmed(email, category or (), query or ())
        sys.stdout.write(f"{sub.email} is subscribed (confirmed by an admin).\n")
        return
    app.subscribe(email, category or (), query or ())
    sys.stdout.write(f"If {email.strip()} can receive digests, a confirmation mail is on its "
                     "way; the subscription starts when its link is followed.\n")


def unsubscribe(email: Annotated[str, typer.Argument(help="The address to unsubscribe.")]) -> None:
    """Admin: stop all mail to EMAIL at once."""
    sub = application().unsubscribe(email)
    sys.stdout.write(f"{sub.email} is unsubscribed.\n")


def _digest_day(value: str | None) -> date | None:
    """``--date``: a day a digest can be for (bad usage, exit 2, otherwise)."""
    day = parse_date(value)
    if day is None:
        return None
    try:
        return application().digest_day(day)
    except DeliveryError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--date'") from None


def send(
    on: Annotated[str | None, typer.Option(
        "--date", help="Send the digests of this day (YYYY-MM-DD) to every subscriber it is "
        "due for, whatever the hour; default: what is due now.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Send the digests that are due, then exit (cron-friendly; safe to run twice)."""
    from rich.progress import Progress

    from paperwire.digests.deliver import RunReport

    day = _digest_day(on)
    with Progress(console=err, transient=True, disable=as_json) as bar:
        task = bar.add_task("sending digests", total=None)

        def show(report: RunReport, done: int) -> None:
            bar.update(task, completed=done, description=f"sending digests: {report.summary()}")

        report = application().send_digests(day, on_progress=show)
    if as_json:
        emit_json({**report.__dict__, "errors": report.errors[-5:]})
    else:
        sys.stdout.write(f"digests: {report.summary()}\n")
    if report.paused:
        raise DeliveryError(f"digest run paused: {report.paused}")


def preview(
    email: Annotated[str, typer.Argument(help="A subscriber's address.")],
    on: Annotated[str | None, typer.Option("--date", help="Digest date (YYYY-MM-DD).")] = None,
    html: Annotated[bool, typer.Option("--html", help="Print the HTML part.")] = False,
) -> None:
    """Print the digest EMAIL would get (nothing is sent or recorded)."""
    app = application()
    sub = app.subscriber(email)
    msg = app.preview_digest(sub, _digest_day(on))
    part = msg.get_body(("html",) if html else ("plain",))
    shown = f"Subject: {msg['Subject']}\nTo: {msg['To']}\n\n"
    shown += part.get_content() if part is not None else ""
    sys.stdout.write(terminal_text(shown))  # titles in it are imported, untrusted text


def status(
    on: Annotated[str | None, typer.Option("--date", help="Digest date (YYYY-MM-DD).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Subscribers by status, and digests by delivery state."""
    doc = application().digest_status(parse_date(on))
    if as_json:
        emit_json(doc)
        return
    for title, counts in doc.items():
        shown = ", ".join(f"{v} {k}" for k, v in sorted(counts.items())) or "none"
        sys.stdout.write(f"{title}: {shown}\n")


def register(root: typer.Typer) -> None:
    root.command()(subscribe)
    root.command()(unsubscribe)
    digest_app.command("send")(send)
    digest_app.command("preview")(preview)
    digest_app.command("status")(status)
    root.add_typer(digest_app, name="digest")
