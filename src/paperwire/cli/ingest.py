"""``paperwire ingest arxiv | hf``: pull new papers from the live sources, resumably."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from paperwire.cli.common import (
    application,
    emit_json,
    err,
    fail,
    parse_date,
    settings,
    terminal_text,
)

ingest_app = typer.Typer(help="Pull new papers from live sources.", no_args_is_help=True)


def _run_ingests(sources: list[Any], as_json: bool, progress: bool) -> None:
    """Run sources one after another with a progress line; print what each added."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from paperwire.errors import SearchError, SourceError
    from paperwire.ingest import IngestReport

    app = application()
    reports: list[IngestReport] = []
    failure: SourceError | None = None
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=err, disable=not progress or as_json) as bar:
        for source in sources:
            task = bar.add_task(source.key, total=None)
            current = IngestReport(source.key)

            def show(batch: Any, report: IngestReport, task: Any = task,
                     key: str = source.key) -> None:
                nonlocal current
                current = report
                bar.update(task, description=f"{batch.note or key}: "
                           f"{report.papers.new:,} added, {report.papers.changed:,} updated")

            try:
                reports.append(app.ingest(source, on_batch=show))
            except SourceError as exc:
                reports.append(current)
                failure = exc
                break
    unindexed: SearchError | None = None
    try:
        app.sync_lexical()
    except SearchError as exc:  # what was ingested stands; said after the reports
        unindexed = exc
    if as_json:
        emit_json({"ok": failure is None, "error": str(failure) if failure else None,
                   "runs": [r.to_dict() for r in reports]})
    else:
        for r in reports:
            sys.stdout.write(r.summary() + "\n")
            for where, why in r.skipped[:10]:
                sys.stderr.write(terminal_text(f"skipped {where}: {why}") + "\n")
    if failure is not None:
        fail(f"{failure} (everything before it was kept; run again to resume)")
    if unindexed is not None:
        fail(f"the papers are stored, but {unindexed}")


def ingest_arxiv(
    category: Annotated[list[str] | None, typer.Option(
        "--category", help="arXiv category, e.g. cs.LG; repeat for more "
        "(default: PAPERWIRE_ARXIV_CATEGORIES).")] = None,
    since: Annotated[str | None, typer.Option(help="First day (YYYY-MM-DD).")] = None,
    until: Annotated[str | None, typer.Option(help="Last day (YYYY-MM-DD), default today.")] = None,
    via: Annotated[str, typer.Option(help="api, oai or rss.")] = "api",
    progress: Annotated[bool, typer.Option(help="Show progress.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the reports as JSON.")] = False,
) -> None:
    """Ingest arXiv papers by category (resumes where the last run stopped)."""
    from paperwire.config import _categories
    from paperwire.sources import VIAS, arxiv_sources

    if via not in VIAS:
        raise typer.BadParameter(f"--via must be one of {', '.join(VIAS)}")
    try:
        cats = _categories(",".join(category)) if category else settings().arxiv_categories
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    first, last = parse_date(since), parse_date(until)
    if first and last and first > last:
        raise typer.BadParameter("--since is after --until")
    try:
        sources = arxiv_sources(settings(), cats, via, since=first, until=last)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    _run_ingests(sources, as_json, progress)


def ingest_hf(
    on: Annotated[str | None, typer.Option("--date", help="Just this day (YYYY-MM-DD).")] = None,
    since: Annotated[str | None, typer.Option(help="First day (YYYY-MM-DD).")] = None,
    until: Annotated[str | None, typer.Option(help="Last day (YYYY-MM-DD), default today.")] = None,
    progress: Annotated[bool, typer.Option(help="Show progress.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Ingest Hugging Face daily papers and their upvotes (re-polls recent days)."""
    from paperwire.sources import hf_source

    if on and (since or until):
        raise typer.BadParameter("--date cannot be combined with --since/--until")
    first, last = parse_date(since), parse_date(until)
    if first and last and first > last:
        raise typer.BadParameter("--since is after --until")
    try:
        source = hf_source(settings(), day=parse_date(on), since=first, until=last)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    _run_ingests([source], as_json, progress)


def register(root: typer.Typer) -> None:
    ingest_app.command("arxiv")(ingest_arxiv)
    ingest_app.command("hf")(ingest_hf)
    root.add_typer(ingest_app, name="ingest")
