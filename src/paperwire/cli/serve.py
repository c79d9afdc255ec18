"""``paperwire serve | demo | worker``: the long-running processes."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from paperwire.cli.common import State, application, fail, out, settings

DEMO_DATA = Path(__file__).parent.parent / "demo_data"


def worker(
    once: Annotated[bool, typer.Option("--once", help="Run what is due now, then exit.")] = False,
) -> None:
    """Run the scheduled ingests (PAPERWIRE_INGEST_SCHEDULE) until stopped, and keep the
    search indexes up to date (the index writer, unless another process is it)."""
    from paperwire.worker import Scheduler

    app = application()
    scheduler = Scheduler(app.store, app.settings, digest_context=app.digest_context)
    if once:
        if not scheduler.jobs:
            fail("PAPERWIRE_INGEST_SCHEDULE is empty: nothing to run")
        for name, result in scheduler.tick().items():
            sys.stdout.write(f"{name}: {result if isinstance(result, str) else 'done'}\n")
        return
    background = app.start_background(schedule=False)
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
    run_server(host, port, scheduler, indexer=indexer)


def run_server(host: str, port: int, scheduler: bool, only: tuple[str, ...] | None = None,
               demo: bool = False, indexer: bool = True) -> None:
    import contextlib

    import uvicorn

    from paperwire.config import served_at
    from paperwire.digests import outbox_folder
    from paperwire.web.app import create_app
    from paperwire.web.digest_routes import is_loopback

    # links (mails, feeds, the API) follow the address served, unless a base URL is set
    State.reset(served_at(settings(), host, port))
    app = application()
    app.indexer = indexer  # before the engine is built: a follower gets no writer
    with contextlib.ExitStack() as stack:
        if not app.settings.smtp_url:
            from paperwire.digests.outbox import LocalOutbox

            outbox = stack.enter_context(LocalOutbox(Path(outbox_folder(app.settings))))
            app.outbox_url = outbox.url
            shown = app.settings.dev_outbox or (demo and is_loopback(host))
            where = (f"read it at {app.settings.base_url}/dev/outbox (every mail sent by this "
                     "server is visible there)" if shown else f"filed under {outbox.folder}")
            out.print(f"No PAPERWIRE_SMTP_URL: mail goes to the local outbox; {where}")
            if demo and not shown:
                out.print("The outbox page is off: the demo shows it only on a loopback "
                          "address (set PAPERWIRE_DEV_OUTBOX=true to show it anyway).")
        background = app.start_background(schedule=scheduler, embed=indexer, only=only)
        stack.callback(background.stop.set)
        web = create_app(app, dev_outbox=demo and is_loopback(host))
        # log_config=None: uvicorn's lines go through logsetup (stderr), not its own stdout
        # handler; its access log stays at WARNING there (addresses carry tokens)
        uvicorn.run(web, host=host, port=port, log_config=None)


def demo(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    serve_after: Annotated[bool, typer.Option("--serve/--no-serve",
                                              help="Start the web app afterwards.")] = True,
) -> None:
    """Load the bundled demo data (once) and run the web app on it."""
    app = application()
    if app.store.count_papers() == 0:
        out.print(f"Loading the demo data into {app.settings.home} …")
        report = app.import_files([DEMO_DATA], progress=True)
        sys.stdout.write(report.summary() + "\n")
    else:
        out.print(f"{app.store.count_papers():,} papers already in the store; not reloading.")
    if serve_after:  # the demo is offline: no ingests, but digests go to the local outbox
        run_server(host, port, scheduler=True, only=("digest",), demo=True)


def register(root: typer.Typer) -> None:
    root.command()(worker)
    root.command()(serve)
    root.command()(demo)
