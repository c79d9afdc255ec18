"""The ``paperwire`` command: a thin adapter over :class:`paperwire.app.Paperwire`. Each
command parses its arguments, calls the application object and prints; one module per
command group. Failures print one line (``error: …``) on stderr and exit non-zero: 1 for
errors, 2 for bad usage, 3 when an import skipped malformed records but kept the rest."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from paperwire import __version__
from paperwire.cli import db, digest, ingest, library, papers, serve, trending, users
from paperwire.cli.common import (
    EXIT_ERROR,
    EXIT_PARTIAL,
    EXIT_USAGE,
    State,
    err,
    fail,
    out,
    terminal_text,
)
from paperwire.cli.serve import DEMO_DATA
from paperwire.config import load_settings
from paperwire.errors import PaperwireError
from paperwire.logsetup import configure_logging

__all__ = ["DEMO_DATA", "EXIT_ERROR", "EXIT_PARTIAL", "EXIT_USAGE", "app", "main",
           "terminal_text"]

app = typer.Typer(help="Paperwire: research-paper discovery.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)


@app.callback(invoke_without_command=True)
def _root(
    ctx: typer.Context,
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    if version:
        out.print(__version__)
        raise typer.Exit()
    if ctx.invoked_subcommand is None:
        out.print(ctx.get_help())
        raise typer.Exit(EXIT_USAGE)
    settings = load_settings()
    State.reset(settings)
    configure_logging(settings.log_level)


papers.register(app)
trending.register(app)
ingest.register(app)
serve.register(app)
papers.register_tools(app)
db.register(app)
digest.register(app)
library.register(app)
users.register(app)


def main(argv: list[str] | None = None) -> None:
    """Run the command line; every error ends as one line and an exit code."""
    try:
        rv = app(args=argv, standalone_mode=False)
    except typer.Abort:
        err.print("aborted")
        sys.exit(130)
    except typer.TyperException as exc:  # bad usage: click's own one-line message
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            sys.stderr.write(f"error: {exc}\n")
        sys.exit(getattr(exc, "exit_code", EXIT_USAGE) or EXIT_USAGE)
    except PaperwireError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    finally:
        State.close()
    sys.exit(rv if isinstance(rv, int) else 0)
