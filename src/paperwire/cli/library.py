"""``paperwire library export | import``: a reader's library out (BibTeX, CSL-JSON, JSON)
and in (a BibTeX file or a list of arXiv ids), by the account's address."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from paperwire.cli.common import EXIT_PARTIAL, application, emit_json, fail, terminal_text
from paperwire.library import service
from paperwire.records import Account

library_app = typer.Typer(help="Export and import a reader's library.", no_args_is_help=True)
FORMAT_NAMES = {"bibtex": "bibtex", "bib": "bibtex", "csl": "csl", "csl-json": "csl",
                "json": "json"}


def _account(email: str) -> Account:
    account = application().store.accounts.by_email(email)
    if account is None:
        fail(f"no account for {email.strip()!r}")
    return account


def export(
    email: Annotated[str, typer.Argument(help="The account's address.")],
    fmt: Annotated[str, typer.Option("--format", help="bibtex, csl (CSL-JSON) or json.")]
    = "bibtex",
    tag: Annotated[str | None, typer.Option(help="Only the papers with this tag.")] = None,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Write to this file instead of stdout.")] = None,
) -> None:
    """Export EMAIL's library (or one tag of it); stdout holds only the export."""
    name = FORMAT_NAMES.get(fmt.lower())
    if name is None:
        raise typer.BadParameter("--format must be bibtex, csl or json")
    app = application()
    account = _account(email)
    items = service.items(app.store, account.id, tag=tag or None)
    text = service.export(items, name, app.now(), tag or None)
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror or exc}")
    sys.stderr.write(f"wrote {len(items):,} paper{'s' if len(items) != 1 else ''} to "
                     f"{terminal_text(str(output))}\n")


def import_(
    email: Annotated[str, typer.Argument(help="The account's address.")],
    file: Annotated[Path, typer.Argument(
        help="A BibTeX file, or a text file of arXiv ids or links (one per line); "
        "- reads stdin.")],
    tag: Annotated[str | None, typer.Option(help="Add this tag to every paper found.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Import papers into EMAIL's library: each arXiv id the file names is saved when the
    paper is stored here; unknown ids and malformed entries are reported with their lines
    (exit code 3), the rest is kept."""
    try:
        if str(file) == "-":
            data = sys.stdin.buffer.read(service.MAX_IMPORT_BYTES + 1)
        else:
            with file.open("rb") as handle:
                data = handle.read(service.MAX_IMPORT_BYTES + 1)
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror or exc}")
    if len(data) > service.MAX_IMPORT_BYTES:
        fail(f"{file} is larger than {service.MAX_IMPORT_BYTES:,} bytes")
    app = application()
    account = _account(email)
    report = service.import_text(app.store, account.id, service.decode_upload(data),
                                 app.now(), [tag] if tag else [])
    if as_json:
        emit_json(report.to_dict())
    else:
        sys.stderr.write("".join(terminal_text(line) + "\n" for line in report.lines()))
        sys.stdout.write(report.summary() + "\n")
    if not report.ok:
        raise typer.Exit(EXIT_PARTIAL)


def register(root: typer.Typer) -> None:
    library_app.command("export")(export)
    library_app.command("import")(import_)
    root.add_typer(library_app, name="library")
