"""The daily digest: subscribers (double opt-in), composition, rendering and delivery.

``open_mailer`` is the one place that decides where mail goes: the SMTP server of
PAPERWIRE_SMTP_URL, or — when it is empty, the embedded default — a local outbox under
PAPERWIRE_HOME that a loopback SMTP server started for the purpose files messages into.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from paperwire.config import Settings
from paperwire.digests.mailer import Mailer, SmtpMailer, parse_smtp_url


def outbox_folder(settings: Settings) -> str:
    return str(settings.home / "outbox")


@contextmanager
def open_mailer(settings: Settings, outbox_url: str | None = None) -> Iterator[Mailer]:
    """A connected-on-demand mailer for the configured server, or for the local outbox (the
    running one at ``outbox_url``, else one started for as long as the block lasts)."""
    if settings.smtp_url:
        with SmtpMailer(parse_smtp_url(settings.smtp_url)) as mailer:
            yield mailer
        return
    if outbox_url:
        with SmtpMailer(parse_smtp_url(outbox_url)) as mailer:
            yield mailer
        return
    from pathlib import Path

    from paperwire.digests.outbox import LocalOutbox

    with LocalOutbox(Path(outbox_folder(settings))) as outbox, \
            SmtpMailer(parse_smtp_url(outbox.url)) as mailer:
        yield mailer
