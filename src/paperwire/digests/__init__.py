"""The daily digest: subscribers (double opt-in), composition, rendering and delivery.

``open_mailer`` is the one place that decides where mail goes: the SMTP server of
PAPERWIRE_SMTP_URL, or — when it is empty, the embedded default — a local outbox under
PAPERWIRE_HOME that a loopback SMTP server started for the purpose files messages into.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from paperwire.config import Settings
from paperwire.digests.mailer import Mailer, SmtpMailer
from paperwire.smtp_url import parse_smtp_url


def outbox_folder(settings: Settings) -> str:
    return str(settings.home / "outbox")


@contextmanager
def open_mailer(settings: Settings, outbox_url: str | None = None) -> Iterator[Mailer]:
    """A connected-on-demand mailer for the configured server, or for the local outbox (the
    running one at ``outbox_url``, else one started for as long as the block lasts)."""
    with ExitStack() as stack:
        url = settings.smtp_url or outbox_url
        if not url:
            from paperwire.digests.outbox import LocalOutbox

            url = stack.enter_context(LocalOutbox(Path(outbox_folder(settings)))).url
        yield stack.enter_context(SmtpMailer(parse_smtp_url(url)))
