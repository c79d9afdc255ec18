"""``paperwire db upgrade``: database maintenance."""

from __future__ import annotations

import typer

from paperwire.cli.common import out, settings

db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply database migrations (a no-op when up to date)."""
    from paperwire.store import db

    engine = db.make_engine(settings().resolved_database_url)
    before, after = db.upgrade(engine)
    if before == after:
        out.print(f"Database already at revision {after}.")
    else:
        out.print(f"Database upgraded from {before or 'empty'} to {after}.")


def register(root: typer.Typer) -> None:
    root.add_typer(db_app, name="db")
