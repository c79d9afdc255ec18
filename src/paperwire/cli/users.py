"""``paperwire user add | list | disable``: accounts, for operators."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from paperwire.cli.common import application, emit_json, terminal_text
from paperwire.errors import InvalidSubscription
from paperwire.records import Account

user_app = typer.Typer(help="Add, list and disable accounts.", no_args_is_help=True)
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _email(value: str) -> str:
    """EMAIL as the accounts store it; not an address is bad usage (exit 2)."""
    from paperwire.digests.subscriptions import normalise_email

    try:
        return normalise_email(value)
    except InvalidSubscription as exc:
        raise typer.BadParameter(str(exc), param_hint="'EMAIL'") from None


def _line(account: Account) -> str:
    flags = " admin" if account.is_admin else ""
    return terminal_text(f"{account.email}\t{account.status}{flags}") + "\n"


def add(
    email: Annotated[str, typer.Argument(help="The account's address.")],
    admin: Annotated[bool, typer.Option("--admin", help="Make it an admin.")] = False,
    as_json: AsJson = False,
) -> None:
    """Add an account for EMAIL (it signs in by a mailed link, even while PAPERWIRE_SIGNUP is
    closed); an existing account is kept, and made an admin with --admin."""
    from paperwire.accounts import account_json

    account = application().add_user(_email(email), admin=admin)
    if as_json:
        emit_json(account_json(account))
        return
    sys.stdout.write(_line(account))


def list_users(as_json: AsJson = False) -> None:
    """Every account: address, status (pending until its first sign-in, active, disabled)."""
    from paperwire.accounts import account_json

    accounts = application().users()
    if as_json:
        emit_json([account_json(a) for a in accounts])
        return
    for account in accounts:
        sys.stdout.write(_line(account))


def disable(
    email: Annotated[str, typer.Argument(help="The account's address.")],
    as_json: AsJson = False,
) -> None:
    """Disable EMAIL's account: its sessions end, it cannot sign in, and its votes and saves
    stop counting in trending. An unknown address is an error (exit 1)."""
    from paperwire.accounts import account_json

    account = application().disable_user(_email(email))
    if as_json:
        emit_json(account_json(account))
        return
    sys.stdout.write(_line(account))


def register(root: typer.Typer) -> None:
    user_app.command("add")(add)
    user_app.command("list")(list_users)
    user_app.command("disable")(disable)
    root.add_typer(user_app, name="user")
