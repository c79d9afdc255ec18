"""The web app for an ASGI process manager: each web process of a scaled-out deployment builds
one from the environment (the ``PAPERWIRE_*`` settings), e.g. under gunicorn::

    gunicorn -k uvicorn_worker.UvicornWorker -w 4 -b 127.0.0.1:8000 \\
        'paperwire.web.asgi:follower()'

(or ``uvicorn --factory paperwire.web.asgi:follower``). Such a process is a follower: no
scheduler and no index writer run in it; its searches follow the indexes that the writer
(a ``paperwire worker`` on the same ``PAPERWIRE_HOME``) publishes. See docs/deploy.md.
"""

from __future__ import annotations

from fastapi import FastAPI

from paperwire.app import Paperwire
from paperwire.config import Settings, load_settings
from paperwire.logsetup import configure_logging
from paperwire.web.app import create_app


def follower(settings: Settings | None = None) -> FastAPI:
    """The web app over a :class:`Paperwire` of ``settings`` (default: from the environment)
    that only serves requests: no background threads (but, on PostgreSQL, the one that
    hears the data version's notifications, ``Store.follow_version``), and no index writer
    even on demand (``paperwire serve --no-scheduler --no-indexer`` without the server
    around it). Its
    log lines go to stderr. Closed at the app's shutdown."""
    settings = settings if settings is not None else load_settings()
    configure_logging(settings.log_level)
    paperwire = Paperwire(settings)
    paperwire.indexer = False  # before the engine is built: a follower gets no writer
    return create_app(paperwire)
