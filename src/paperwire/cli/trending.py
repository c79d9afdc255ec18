"""``paperwire trending``: the trending list and why each paper is on it."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from paperwire.cli.common import application, cell, emit_json, err, out, parse_date


def trending(
    window: Annotated[str, typer.Option(help="day, week or month.")] = "week",
    on: Annotated[str | None, typer.Option("--date", help="As of this day (YYYY-MM-DD).")] = None,
    category: Annotated[str | None, typer.Option("--category", help="e.g. cs.CL")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="How many papers.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Trending papers and why (the formula: see /about/trending)."""
    from paperwire.trending import WINDOWS

    if window not in WINDOWS:
        raise typer.BadParameter(f"window must be one of {', '.join(WINDOWS)}")
    app = application()
    view = app.trending(window, parse_date(on), limit=limit, category=category)
    if as_json:
        emit_json(app.trending_json(view))
        return
    if view.note:
        err.print(view.note, markup=False)
    table = Table("#", "score", "id", "title", "why", box=None, highlight=False)
    for e, p in view.entries:
        table.add_row(str(e.rank), f"{e.score:.1f}", cell(p.id), cell(p.title),
                      cell(e.reason))
    out.print(table)


def register(root: typer.Typer) -> None:
    root.command()(trending)
