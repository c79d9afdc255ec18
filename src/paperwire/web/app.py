"""The web app: server-rendered pages (Jinja2, autoescaped), a small JSON API and the
trending feeds, over one :class:`~paperwire.app.Paperwire`. A thin adapter: each router
(:mod:`.pages`, :mod:`.api`, :mod:`.feeds_routes`, :mod:`.digest_routes`,
:mod:`.vote_routes`, :mod:`.library_routes`, :mod:`.account_routes`, :mod:`.hub_routes`,
:mod:`.recommend_routes`) holds plain handler
functions that take the application object from the request; errors go through one mapper
(:mod:`.errors`)."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.middleware.gzip import GZipMiddleware
from starlette.routing import BaseRoute

from paperwire.app import Paperwire
from paperwire.digests.mailqueue import MailQueue
from paperwire.web import (
    account_routes,
    api,
    caching,
    digest_routes,
    docs_routes,
    errors,
    feeds_routes,
    hub_routes,
    library_routes,
    pages,
    recommend_routes,
    vote_routes,
)
from paperwire.web.common import HERE
from paperwire.web.middleware import GZIP_MIN_BYTES, HeadersOnlyForHead, SecurityHeaders

API_VERSION = "1"
API_DESCRIPTION = """Paperwire's JSON API: search, similar papers, trending, a paper, upvotes and
saves, digest subscriptions, health.

**Stability**: `/api` is version 1 and stable. Fields are only ever added, never renamed or
removed: ignore fields you do not know. A breaking change would come under a new prefix.

**Errors**: every error is JSON, `{"detail": "a message"}`, with the status each operation
declares (400 for a parameter, query or cursor that cannot be used; never a 500). A method an
address does not take is a 405 whose `Allow` header lists those it takes.

**Paging**: lists answer `total` and `next_cursor`; pass `cursor=<next_cursor>` with the same
other parameters for the next page (`null` on the last one). Cursors are opaque and signed:
an altered one is a 400. Up to 1000 results page through.
"""


def create_app(paperwire: Paperwire, dev_outbox: bool = False) -> FastAPI:
    """The web app over ``paperwire``. ``dev_outbox``: show the local outbox's pages (the
    demo on a loopback address). At shutdown, mails of requests already answered are sent,
    then ``paperwire`` is closed (its store only if it opened it). While it runs, a
    PostgreSQL store's data version comes from its notifications (``Store.follow_version``):
    no query per request for it."""
    queue = MailQueue(paperwire.mailer)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        paperwire.store.follow_version()
        yield
        await run_in_threadpool(paperwire.store.stop_following_version)
        await run_in_threadpool(queue.drain, digest_routes.SHUTDOWN_DRAIN_SECONDS)
        paperwire.close()

    app = FastAPI(title="Paperwire", version=API_VERSION, description=API_DESCRIPTION,
                  docs_url=None, redoc_url=None, lifespan=lifespan)
    app.state.paperwire, app.state.mail_queue, app.state.dev_outbox = (
        paperwire, queue, dev_outbox)
    app.state.cache = caching.SharedCache.of(paperwire.settings)
    app.mount("/static", caching.FingerprintedStatic(directory=HERE / "static"), name="static")
    app.mount(docs_routes.ASSETS_PATH, StaticFiles(directory=docs_routes.ASSETS),
              name="docs-assets")
    # this app's own copies of the routers' routes (the Hub's first: its /papers/{id}.md and
    # /api/papers/search come before /papers/{id} and /api/papers/{id})
    for module in (hub_routes, pages, feeds_routes, api, digest_routes, vote_routes,
                   library_routes, account_routes, recommend_routes, docs_routes):
        app.router.routes.extend(_own(route) for route in module.router.routes)
    errors.install(app)
    digest_routes.install_log_redaction()
    library_routes.install_log_redaction()
    _without_422(app.openapi())  # made (and kept) before HEAD joins GET in every route
    for route in app.routes:  # HEAD wherever GET: the same headers, no body
        if isinstance(route, APIRoute) and route.methods and "GET" in route.methods:
            route.methods.add("HEAD")
    app.add_middleware(caching.PrivateWithSession)
    app.add_middleware(GZipMiddleware, minimum_size=GZIP_MIN_BYTES, compresslevel=6)
    app.add_middleware(HeadersOnlyForHead)
    app.add_middleware(SecurityHeaders)
    return app


def _without_422(schema: dict[str, Any]) -> None:
    """FastAPI declares a 422 for every route with parameters; here invalid parameters are
    a 400 (``web/errors.py``, declared by each route), so the 422s are taken out."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            operation.get("responses", {}).pop("422", None)
    for name in ("HTTPValidationError", "ValidationError"):
        schema.get("components", {}).get("schemas", {}).pop(name, None)


def _own(route: BaseRoute) -> BaseRoute:
    """A copy of a router's route for one app (HEAD is added to the copy, not the router)."""
    mine = copy.copy(route)
    if isinstance(mine, APIRoute):
        mine.methods = set(mine.methods or ())
    return mine
