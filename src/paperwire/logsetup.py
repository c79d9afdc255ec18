"""Logging is configured once, at start-up, by the CLI entry point. Every log line goes to
stderr: stdout carries only a command's result (``--json``: exactly one JSON document)."""

from __future__ import annotations

import logging

from rich.console import Console
from rich.logging import RichHandler

_configured = False


def configure_logging(level: str = "INFO") -> None:
    global _configured
    if _configured:
        logging.getLogger().setLevel(level)
        return
    handler = RichHandler(console=Console(stderr=True), show_path=False, rich_tracebacks=False,
                          markup=False)
    logging.basicConfig(level=level, format="%(message)s", datefmt="[%X]", handlers=[handler])
    # aiosmtpd logs every SMTP command of the local outbox at INFO as "mail.log"
    for noisy in ("alembic", "httpx", "uvicorn.access", "mail.log"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
    _configured = True
