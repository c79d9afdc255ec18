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
"""

from __future__ import annotations

import ctypes
import importlib
import os
import signal
import sys
from typing import Any

worker_class = "uvicorn_worker.UvicornWorker"
graceful_timeout = 10  # seconds a stopping web process has for the requests under way

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
APP_MODULE = "paperwire.web.asgi"  # what 'paperwire.web.asgi:follower()' imports


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
