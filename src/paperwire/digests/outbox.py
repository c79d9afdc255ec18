"""The local outbox: a loopback SMTP server that files every message it accepts.

With no mail server configured, digests still travel through real SMTP: the app starts a
:class:`LocalOutbox` (aiosmtpd on 127.0.0.1, an ephemeral port by default) and sends to its
``url`` with the ordinary :class:`~paperwire.digests.mailer.SmtpMailer`. Each accepted message
is written, byte for byte as received, to ``<folder>/<UTC yyyymmddTHHMMSS>-<8 hex>.eml``: first
to a hidden temporary file, flushed to disk, then renamed, so a listing never sees a partial
message and a 250 reply means the file is there. The 8 hex digits are the microseconds (5) and
3 random digits, so names sort by arrival. :func:`list_messages` and :func:`read_message` read
the folder back, for the web page and the CLI.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from paperwire.errors import NotFound, PaperwireError

NAME_RE = re.compile(r"[0-9]{8}T[0-9]{6}-[0-9a-f]{8}\.eml")
_HEADER_BYTES = 64 * 1024  # list_messages reads no more of a file than this


class LoopbackController(Controller):
    """An aiosmtpd :class:`Controller` that binds its listening socket in :meth:`start`, in the
    caller's thread: a busy port fails at once with :class:`OSError`, and with ``port=0`` the
    real ephemeral port is in ``.port`` once started."""

    def __init__(self, handler: Any, hostname: str, port: int, **kwargs: Any) -> None:
        super().__init__(handler, hostname=hostname, port=port, **kwargs)
        self._sock: socket.socket | None = None

    def start(self) -> None:
        sock = socket.create_server((self.hostname, self.port))
        self._sock = sock
        self.port = sock.getsockname()[1]
        try:
            super().start()
        except BaseException:
            sock.close()
            raise

    def _create_server(self) -> Awaitable[Any]:
        assert self._sock is not None, "start() binds the socket first"
        return self.loop.create_server(self._factory_invoker, sock=self._sock, ssl=self.ssl_context)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. a platform that cannot open folders
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def store_message(folder: Path, raw: bytes, now: datetime | None = None) -> str:
    """Write ``raw`` atomically under ``folder`` (created if missing); return the file's name."""
    folder.mkdir(parents=True, exist_ok=True)
    now = (now or datetime.now(UTC)).astimezone(UTC)
    while True:
        name = f"{now:%Y%m%dT%H%M%S}-{now.microsecond:05x}{secrets.randbelow(0x1000):03x}.eml"
        if not (folder / name).exists():
            break
    tmp = folder / f".{name}.{secrets.token_hex(4)}.tmp"
    try:
        with tmp.open("xb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, folder / name)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(folder)
    return name


class _OutboxHandler:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        try:
            name = store_message(self.folder, raw)
        except OSError as exc:
            return f"451 4.3.0 the outbox cannot store the message: {exc.strerror or exc}"
        return f"250 2.0.0 OK stored as {name}"


class LocalOutbox:
    """The embedded outbox server. ``start()`` / ``stop()``, or use it as a context manager;
    once started, ``port`` and ``url`` (``smtp://127.0.0.1:PORT``) name the bound port."""

    def __init__(self, folder: Path, host: str = "127.0.0.1", port: int = 0) -> None:
        self.folder = Path(folder)
        self.host = host
        self._requested_port = port
        self._controller: LoopbackController | None = None

    @property
    def running(self) -> bool:
        return self._controller is not None

    @property
    def port(self) -> int:
        if self._controller is None:
            raise RuntimeError("the local outbox is not started")
        return int(self._controller.port)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"smtp://{host}:{self.port}"

    def start(self) -> None:
        if self._controller is not None:
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise PaperwireError(
                f"cannot create the outbox folder {self.folder}: {exc.strerror or exc}"
            ) from exc
        controller = LoopbackController(
            _OutboxHandler(self.folder),
            self.host,
            self._requested_port,
            server_hostname="paperwire-outbox",
            ident="Paperwire local outbox",
        )
        try:
            controller.start()
        except (OSError, RuntimeError) as exc:  # TimeoutError is an OSError
            reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            where = f"{self.host}:{self._requested_port or 'any port'}"
            raise PaperwireError(f"cannot start the local outbox on {where}: {reason}") from exc
        self._controller = controller

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def __enter__(self) -> LocalOutbox:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@dataclass(frozen=True)
class OutboxMessage:
    """One filed message, as listed: its file name and the headers a list shows."""

    name: str
    subject: str
    to: str
    from_: str
    date: datetime | None
    message_id: str | None
    size: int


def _header(message: EmailMessage, name: str) -> str:
    try:
        value = message[name]
    except Exception:  # a header too malformed to parse is shown as missing
        return ""
    return "" if value is None else " ".join(str(value).split())


def _date(message: EmailMessage) -> datetime | None:
    try:
        value = message["Date"]
        return getattr(value, "datetime", None) if value is not None else None
    except Exception:
        return None


def list_messages(folder: Path, limit: int = 200) -> list[OutboxMessage]:
    """The newest ``limit`` messages in ``folder`` (by name, newest first); none if missing."""
    if limit < 0:
        raise ValueError("limit must not be negative")
    try:
        names = [e.name for e in os.scandir(folder) if NAME_RE.fullmatch(e.name) and e.is_file()]
    except FileNotFoundError:
        return []
    parser = BytesParser(policy=default_policy)
    found: list[OutboxMessage] = []
    for name in sorted(names, reverse=True)[:limit]:
        try:
            with (Path(folder) / name).open("rb") as fh:
                head = fh.read(_HEADER_BYTES)
                size = os.fstat(fh.fileno()).st_size
        except FileNotFoundError:  # removed since the listing
            continue
        message = parser.parsebytes(head, headersonly=True)
        assert isinstance(message, EmailMessage)
        message_id = _header(message, "Message-ID") or None
        found.append(
            OutboxMessage(
                name=name,
                subject=_header(message, "Subject"),
                to=_header(message, "To"),
                from_=_header(message, "From"),
                date=_date(message),
                message_id=message_id,
                size=size,
            )
        )
    return found


def read_message(folder: Path, name: str) -> EmailMessage:
    """The message filed as ``name``, parsed; :class:`NotFound` for a bad or unknown name."""
    if not NAME_RE.fullmatch(name):
        raise NotFound(f"no message {name!r} in the outbox")
    try:
        raw = (Path(folder) / name).read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise NotFound(f"no message {name!r} in the outbox") from None
    message = BytesParser(policy=default_policy).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    return message
