"""gunicorn's settings for Paperwire's web processes (scripts/cluster, docs/deploy.md)::

    gunicorn -c python:paperwire.web.gunicorn_conf -w 4 -b 127.0.0.1:8000 \\
        'paperwire.web.asgi:follower()'

Each web process runs uvicorn (the worker class of the ``uvicorn-worker`` package). The master
starts a new one at once when one dies. When the master itself dies (``kill -9``), its web
processes end too (``PR_SET_PDEATHSIG``): uvicorn's worker never looks at its parent, and
orphans would keep the port, so the master started again in its place could not listen.

The master imports the web app's modules (not the app: no settings read, no connection, no
thread) before it starts its web processes, which so fork with them loaded: a web process
started in place of one that died is ready in well under a second instead of the seconds
that importing them takes (3.4 s of CPU on the 2-core machine; 35 s of wall time when it
shared a busy core with the load test, BENCHMARKS.md's fault runs). A code change therefore
needs the master started again (``scripts/cluster stop`` and ``start``), not a ``HUP``.

A client's connection is closed (``Connection: close`` on an answer) once it is
``CONNECTION_MAX_AGE`` seconds old: clients that keep their connections alive and never let
them idle (a proxy's upstream pool, a load generator) would otherwise stay with the process
they first reached, and a web process started in place of a dead one, which finds every
client already moved to the survivors, would get none (the fault runs of BENCHMARKS.md: one
web process of two held all 20 visitors' connections to the end). A new connection goes to
whichever process accepts it first, so clients spread again within that age.
"""

from __future__ import annotations

import ctypes
import importlib
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from uvicorn_worker import UvicornWorker

worker_class = "paperwire.web.gunicorn_conf.Worker"
graceful_timeout = 10  # seconds a stopping web process has for the requests under way

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
APP_MODULE = "paperwire.web.asgi"  # what 'paperwire.web.asgi:follower()' imports
CONNECTION_MAX_AGE = 30.0  # seconds a client's connection is kept before it is closed

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Message, Receive, Send], Awaitable[None]]


class ClosedWhenOld:
    """ASGI middleware: the first answer on a connection at least ``max_age`` seconds old says
    ``Connection: close`` (uvicorn then closes it). A connection is its client's address and
    port, first seen by this process; addresses not seen for a while are forgotten."""

    def __init__(self, app: ASGIApp, max_age: float = CONNECTION_MAX_AGE) -> None:
        self.app, self.max_age = app, max_age
        self.first_seen: dict[tuple[str, int], float] = {}

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if scope["type"] != "http" or not client:
            await self.app(scope, receive, send)
            return
        now, key = time.monotonic(), (str(client[0]), int(client[1]))
        if len(self.first_seen) > 4096:  # closed ones linger: drop those of another age
            self.first_seen = {k: t for k, t in self.first_seen.items()
                               if now - t < self.max_age}
        if now - self.first_seen.setdefault(key, now) < self.max_age:
            await self.app(scope, receive, send)
            return
        del self.first_seen[key]

        async def closing(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", [])
                           if k.lower() != b"connection"]
                message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)

        await self.app(scope, receive, closing)


class Worker(UvicornWorker):  # type: ignore[misc]
    """uvicorn's gunicorn worker, its app behind :class:`ClosedWhenOld`, outside uvicorn's own
    wrappers: behind a trusted proxy uvicorn's ``X-Forwarded-For`` handling replaces the
    client's address and port with the reader's (port 0), which names no connection."""

    async def _serve(self) -> None:
        self.config.app = self.wsgi
        closed_when_old(self.config)
        await super()._serve()


def closed_when_old(config: Any, max_age: float = CONNECTION_MAX_AGE) -> None:
    """uvicorn's ``config`` loaded (its app in uvicorn's wrappers, the proxy headers' among
    them), and the whole behind :class:`ClosedWhenOld`."""
    config.load()
    config.loaded_app = ClosedWhenOld(config.loaded_app, max_age)


def on_starting(server: Any) -> None:
    """In the master, once, before its first web process: import the app's modules."""
    importlib.import_module(APP_MODULE)


def post_fork(server: Any, worker: Any) -> None:
    """In each new web process: be sent SIGTERM (a graceful stop) when the master dies."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        server.log.warning("prctl(PR_SET_PDEATHSIG) failed: %s",
                           os.strerror(ctypes.get_errno()))
    elif os.getppid() != worker.ppid:  # the master died before the signal was asked for
        os.kill(os.getpid(), signal.SIGTERM)
