"""The ``paperwire`` command. Each command is small and cron-friendly; failures print one line
(``error: …``) on stderr and exit non-zero: 1 for errors, 2 for bad usage, 3 when an import
skipped malformed records but kept the rest."""

from __future__ import annotations

import contextlib
import json
import re
import sys
from datetime import date
from pathlib import Path
from typing import Annotated, Any, NoReturn, cast

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from paperwire import __version__
from paperwire.config import Settings, load_settings
from paperwire.errors import PaperwireError
from paperwire.logsetup import configure_logging
from paperwire.store import Store

EXIT_ERROR, EXIT_USAGE, EXIT_PARTIAL = 1, 2, 3
DEMO_DATA = Path(__file__).parent / "demo_data"

app = typer.Typer(help="Paperwire: research-paper discovery.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(db_app, name="db")
ingest_app = typer.Typer(help="Pull new papers from live sources.", no_args_is_help=True)
app.add_typer(ingest_app, name="ingest")
out = Console()
err = Console(stderr=True)


class _State:
    settings: Settings | None = None


def settings() -> Settings:
    if _State.settings is None:
        _State.settings = load_settings()
    return _State.settings


def open_store() -> Store:
    return Store.open(settings().resolved_database_url)


# What a terminal would act on rather than show: escape sequences (CSI, OSC, and the rest of
# ESC …), C0 and C1 control characters but tab and newline, DEL, and the bidirectional
# overrides and isolates that reorder the text around them.
_ESCAPES = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?"
                      r"|[ -/]+[0-~]|[@-_]?)"
                      r"|\x9b[0-?]*[ -/]*[@-~]|\x9d[^\x07\x9c]*[\x07\x9c]?")
_UNSHOWABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e"
                         r"\u2066-\u2069]")
# The same characters, written as JSON escapes in --json output (lossless: the parsed value
# is unchanged); JSON already escapes C0.
_JSON_UNSAFE = re.compile(r"[\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def terminal_text(text: str) -> str:
    """``text`` with nothing a terminal would interpret: imported titles and abstracts are
    untrusted, and an escape sequence in one could rewrite the screen or reverse a line."""
    return _UNSHOWABLE.sub("", _ESCAPES.sub("", text))


def cell(text: str) -> Text:
    """A table cell shown as is: no rich markup (``[bold]`` in a title stays text), no
    terminal controls."""
    return Text(terminal_text(text))


def fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    """Print ``error: message`` as exactly one line on stderr and exit."""
    sys.stderr.write("error: " + " ".join(terminal_text(message).split()) + "\n")
    sys.exit(code)


def emit_json(doc: Any) -> None:
    text = json.dumps(doc, ensure_ascii=False, indent=2, default=str)
    sys.stdout.write(_JSON_UNSAFE.sub(lambda m: f"\\u{ord(m[0]):04x}", text) + "\n")


def _parse_date(value: str | None) -> date | None:
    if value is None:
        return None
    from paperwire.search.query import check_day

    try:
        day = date.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from exc
    try:
        return check_day(day, repr(value))
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


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
    _State.settings = load_settings()
    configure_logging(_State.settings.log_level)


@app.command("import")
def import_(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to import.")],
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="arxiv, hf, kaggle, beir, seed or listing-dates; "
                     "detected per file when left out."),
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Import papers and signals from JSONL/JSON files, plain or gzip."""
    from paperwire.importers import run_import
    from paperwire.search.writer import sync_lexical

    missing = [p for p in paths if not p.exists()]
    if missing:
        raise typer.BadParameter(f"{missing[0]} does not exist")
    store = open_store()
    report = run_import(store, paths, fmt=fmt, progress=progress and not as_json)
    sync_lexical(store, settings().index_dir)
    if as_json:
        emit_json(report.to_dict())
    else:
        lines = [f"skipped {where}: {reason}" for where, reason in report.skipped[:20]]
        if report.skipped_count > 20:
            lines.append(f"… and {report.skipped_count - 20:,} more skipped")
        lines += [f"failed {where}: {reason}" for where, reason in report.files_failed]
        lines += [f"warning: cut to size {where}: {fields}"
                  for where, fields in report.truncated[:20]]
        if report.truncated_count > 20:
            lines.append(f"… and {report.truncated_count - 20:,} more cut to size")
        sys.stderr.write("".join(terminal_text(line) + "\n" for line in lines))
        sys.stdout.write(report.summary() + "\n")
    if not report.ok:
        raise typer.Exit(EXIT_PARTIAL)


@app.command(context_settings={"ignore_unknown_options": True})
def search(
    query: Annotated[str, typer.Argument(help='What to find; supports "phrases", -word, '
                                         "author:, cat:, title:, after:, before:, year:. "
                                         "A query may start with '-' (-word).")],
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many results.")] = 10,
    mode: Annotated[str, typer.Option(help="hybrid, lexical or dense.")] = "hybrid",
    sort: Annotated[str, typer.Option(help="relevance, date or trending.")] = "relevance",
    category: Annotated[list[str] | None, typer.Option(
        "--category", help="Only these categories (any of them); repeatable.")] = None,
    author: Annotated[list[str] | None, typer.Option(
        "--author", help="Only papers by this author; repeatable.")] = None,
    after: Annotated[str | None, typer.Option(help="First version on or after (YYYY[-MM[-DD]]).")]
    = None,
    before: Annotated[str | None, typer.Option(
        help="First version on or before (YYYY[-MM[-DD]]).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Search papers: keywords and meaning together (hybrid), with filters."""
    from paperwire.search import MODES, SearchOptions
    from paperwire.search import search as run_search
    from paperwire.search.query import SORTS, Sort, parse_date_bound

    if mode not in MODES:
        raise typer.BadParameter(f"--mode must be one of {', '.join(MODES)}")
    if sort not in SORTS:
        raise typer.BadParameter(f"--sort must be one of {', '.join(SORTS)}")
    options = SearchOptions(
        categories=tuple(category or ()), authors=tuple(author or ()),
        after=parse_date_bound(after, "after") if after else None,
        before=parse_date_bound(before, "before") if before else None,
        sort=cast(Sort, sort), limit=limit,
    )
    hits = run_search(open_store(), settings(), query, mode=mode, options=options)
    if as_json:
        emit_json({"query": query, "mode": mode, "sort": sort, "results": [
            {"id": h.paper.id, "score": round(h.score, 4), "title": h.paper.title,
             "authors": list(h.paper.authors), "categories": list(h.paper.categories),
             "published": h.paper.published, "url": h.paper.abs_url,
             "lexical_rank": h.lexical_rank, "dense_rank": h.dense_rank}
            for h in hits]})
        return
    if not hits:
        out.print("No papers match.")
        return
    table = Table("#", "id", "title", "published", box=None, highlight=False)
    for i, h in enumerate(hits, 1):
        table.add_row(str(i), cell(h.paper.id), cell(h.paper.title),
                      str(h.paper.published or ""))
    out.print(table)


@app.command()
def similar(
    ids: Annotated[list[str] | None, typer.Argument(help="Paper ids (one, or a reading list).")]
    = None,
    text: Annotated[str | None, typer.Option(help="A pasted abstract or description.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100, help="How many papers.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Papers similar to some papers and/or to a pasted text."""
    from paperwire.search import SearchEngine

    if not ids and not text:
        raise typer.BadParameter("give paper ids, --text, or both")
    from paperwire.services import stored_ids

    store = open_store()
    known, missing = stored_ids(store, ids or [])
    if missing:
        fail(f"no paper with id {missing[0]!r} is stored")
    engine = SearchEngine(store, settings())
    engine.sync(embed=False)
    hits = engine.similar(known, text=text, limit=limit)
    if as_json:
        emit_json({"ids": ids or [], "text": text, "results": [
            {"id": h.paper.id, "title": h.paper.title, "score": round(h.score, 4)}
            for h in hits]})
        return
    table = Table("#", "id", "title", box=None, highlight=False)
    for i, h in enumerate(hits, 1):
        table.add_row(str(i), cell(h.paper.id), cell(h.paper.title))
    out.print(table if hits else "No similar papers found.")


@app.command()
def trending(
    window: Annotated[str, typer.Option(help="day, week or month.")] = "week",
    on: Annotated[str | None, typer.Option("--date", help="As of this day (YYYY-MM-DD).")] = None,
    category: Annotated[str | None, typer.Option("--category", help="e.g. cs.CL")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="How many papers.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Trending papers and why (the formula: see /about/trending)."""
    from paperwire.services import trending_json, trending_view
    from paperwire.trending import WINDOWS

    if window not in WINDOWS:
        raise typer.BadParameter(f"window must be one of {', '.join(WINDOWS)}")
    view = trending_view(open_store(), window, _parse_date(on), limit=limit, category=category,
                         weights=settings().trending_weights)
    if as_json:
        emit_json(trending_json(view, settings().base_url))
        return
    if view.note:
        err.print(view.note, markup=False)
    table = Table("#", "score", "id", "title", "why", box=None, highlight=False)
    for e, p in view.entries:
        table.add_row(str(e.rank), f"{e.score:.1f}", cell(p.id), cell(p.title),
                      cell(e.reason))
    out.print(table)


def _run_ingests(sources: list[Any], as_json: bool, progress: bool) -> None:
    """Run sources one after another with a progress line; print what each added."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from paperwire.errors import SourceError
    from paperwire.ingest import IngestReport, run_ingest
    from paperwire.search.writer import sync_lexical

    store = open_store()
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
                reports.append(run_ingest(store, source, on_batch=show))
            except SourceError as exc:
                reports.append(current)
                failure = exc
                break
    sync_lexical(store, settings().index_dir)
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


@ingest_app.command("arxiv")
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
    first, last = _parse_date(since), _parse_date(until)
    if first and last and first > last:
        raise typer.BadParameter("--since is after --until")
    try:
        sources = arxiv_sources(settings(), cats, via, since=first, until=last)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    _run_ingests(sources, as_json, progress)


@ingest_app.command("hf")
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
    first, last = _parse_date(since), _parse_date(until)
    if first and last and first > last:
        raise typer.BadParameter("--since is after --until")
    try:
        source = hf_source(settings(), day=_parse_date(on), since=first, until=last)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    _run_ingests([source], as_json, progress)


@app.command()
def worker(
    once: Annotated[bool, typer.Option("--once", help="Run what is due now, then exit.")] = False,
) -> None:
    """Run the scheduled ingests (PAPERWIRE_INGEST_SCHEDULE) until stopped, and keep the
    search indexes up to date (the index writer, unless another process is it)."""

    from paperwire.worker import Scheduler, start_in_background

    store = open_store()
    scheduler = Scheduler(store, settings())
    if once:
        if not scheduler.jobs:
            fail("PAPERWIRE_INGEST_SCHEDULE is empty: nothing to run")
        for name, result in scheduler.tick().items():
            sys.stdout.write(f"{name}: {result if isinstance(result, str) else 'done'}\n")
        return
    background = start_in_background(store, settings(), schedule=False)
    try:
        if scheduler.jobs:
            scheduler.run_forever(background.stop)
        else:
            background.stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        background.stop.set()
        if background.embedder_thread is not None:
            background.embedder_thread.join(timeout=30)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    scheduler: Annotated[bool, typer.Option(
        help="Also run the scheduled jobs (ingests, digests) in the background.")] = True,
    indexer: Annotated[bool, typer.Option(
        help="Also be the index writer (indexing, embedding) in the background when no "
             "other process is; --no-indexer: only follow what the writer publishes.")] = True,
) -> None:
    """Run the web app, with the scheduler and the index writer in the background. With no
    PAPERWIRE_SMTP_URL, mail goes to the local outbox (shown on the web only with
    PAPERWIRE_DEV_OUTBOX)."""
    _serve(host, port, scheduler, indexer=indexer)


def _serve(host: str, port: int, scheduler: bool, only: tuple[str, ...] | None = None,
           demo: bool = False, indexer: bool = True) -> None:
    import uvicorn

    from paperwire.config import served_at
    from paperwire.digests import outbox_folder
    from paperwire.web.app import create_app
    from paperwire.web.digest_routes import is_loopback
    from paperwire.worker import start_in_background

    # links (mails, feeds, the API) follow the address served, unless a base URL is set
    _State.settings = served_at(settings(), host, port)
    store = open_store()
    with contextlib.ExitStack() as stack:
        outbox_url = None
        if not settings().smtp_url:
            from paperwire.digests.outbox import LocalOutbox

            outbox = stack.enter_context(LocalOutbox(Path(outbox_folder(settings()))))
            outbox_url = outbox.url
            shown = settings().dev_outbox or (demo and is_loopback(host))
            where = (f"read it at {settings().base_url}/dev/outbox (every mail sent by this "
                     "server is visible there)" if shown else f"filed under {outbox.folder}")
            out.print(f"No PAPERWIRE_SMTP_URL: mail goes to the local outbox; {where}")
            if demo and not shown:
                out.print("The outbox page is off: the demo shows it only on a loopback "
                          "address (set PAPERWIRE_DEV_OUTBOX=true to show it anyway).")
        background = start_in_background(store, settings(), schedule=scheduler,
                                         embed=indexer, outbox_url=outbox_url, only=only)
        stack.callback(background.stop.set)
        web = create_app(settings(), store, background)
        web.state.outbox_url = outbox_url
        web.state.dev_outbox = demo and is_loopback(host)
        # log_config=None: uvicorn's lines go through logsetup (stderr), not its own stdout
        # handler; its access log stays at WARNING there (addresses carry tokens)
        uvicorn.run(web, host=host, port=port, log_config=None)


@app.command()
def demo(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    serve_after: Annotated[bool, typer.Option("--serve/--no-serve",
                                              help="Start the web app afterwards.")] = True,
) -> None:
    """Load the bundled demo data (once) and run the web app on it."""
    from paperwire.importers import run_import

    store = open_store()
    if store.count_papers() == 0:
        out.print(f"Loading the demo data into {settings().home} …")
        report = run_import(store, [DEMO_DATA], progress=True)
        sys.stdout.write(report.summary() + "\n")
    else:
        out.print(f"{store.count_papers():,} papers already in the store; not reloading.")
    if serve_after:  # the demo is offline: no ingests, but digests go to the local outbox
        _serve(host, port, scheduler=True, only=("digest",), demo=True)


@app.command("eval")
def eval_cmd(
    folder: Annotated[Path, typer.Argument(help="A BEIR-layout folder (corpus, queries, qrels).")],
    split: Annotated[str, typer.Option(help="Which qrels/<split>.tsv to score.")] = "test",
    mode: Annotated[str, typer.Option(help="lexical, dense or hybrid.")] = "hybrid",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Measure search quality (nDCG@10, Recall@100, MRR@10) and latency on a BEIR data set."""
    from paperwire.evaluate import evaluate
    from paperwire.search.engine import MODES

    if mode not in MODES:
        raise typer.BadParameter(f"--mode must be one of {', '.join(MODES)}")
    if not folder.is_dir():
        raise typer.BadParameter(f"{folder} is not a folder")
    say = None if as_json else (lambda msg: err.print(msg, markup=False, highlight=False))
    result = evaluate(folder, split=split, mode=mode, progress=say)
    if as_json:
        emit_json(result.to_dict())
        return
    table = Table("measure", "value", box=None, highlight=False)
    for key, value in result.to_dict().items():
        table.add_row(key, str(value))
    out.print(table)


@app.command("index")
def index_cmd(
    embed: Annotated[bool, typer.Option(help="Also embed new and changed papers "
                                        "(semantic search).")] = True,
    progress: Annotated[bool, typer.Option(help="Show progress.")] = True,
) -> None:
    """Bring the search indexes up to date: BM25, and embeddings for semantic search."""
    from rich.progress import Progress

    from paperwire.search import SearchEngine

    store = open_store()
    engine = SearchEngine(store, settings())
    todo = 0
    with Progress(console=err, disable=not progress) as bar:
        task = bar.add_task("embedding papers", total=None)

        def show(done: int, total: int) -> None:
            nonlocal todo
            todo = total
            bar.update(task, completed=done, total=total)

        wrote = engine.sync(modes=("hybrid",) if embed else ("lexical",), embed=embed,
                            on_progress=show)
    if not wrote:
        out.print("Another process is the index writer (paperwire serve or worker): it keeps "
                  "the search indexes up to date.")
        return
    vectors = f"; {todo:,} papers embedded" if embed else ""
    out.print(f"Search index up to date: {engine.lexical.num_docs():,} papers{vectors}.")


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


def main(argv: list[str] | None = None) -> None:
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
    sys.exit(rv if isinstance(rv, int) else 0)


def _register_digest_commands() -> None:
    from paperwire.cli_digest import register

    register(app)


_register_digest_commands()
