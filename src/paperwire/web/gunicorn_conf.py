"""gunicorn's settings for Paperwire's web processes (scripts/cluster, docs/deploy.md)::

    gunicorn -c python:paperwire.web.gunicorn_conf -w 4 -b 127.0.0.1:8000 \\
        'paperwire.web.asgi:follower()'

Each web process runs uvicorn (the worker class of the ``uvicorn-worker`` package). The master
starts a new one at once when one dies. When the master itself dies (``kill -9``), its web
processes end too (``PR_SET_PDEATHSIG``): uvicorn's worker never looks at its parent, and
orphans would keep the port, so the master started again in its place could not listen.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from typing import Any

worker_class = "uvicorn_worker.UvicornWorker"
graceful_timeout = 10  # seconds a stopping web process has for the requests under way

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


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
