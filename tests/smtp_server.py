"""A real SMTP server for tests that misbehaves on demand (aiosmtpd on 127.0.0.1, ephemeral port).

    with FaultySmtpServer() as server:             # or the ``smtp_server`` fixture
        server.fail_rcpt(451, to="a@x.org", times=1)  # first attempt 451, then accepted
        ...send to server.url...
        server.received                           # what was accepted, in order

Faults apply to every message, or only to those for one recipient (``to=``), forever or for
the first ``times`` attempts that reach their stage. The first matching fault fires.

    fail_rcpt(code)      reply ``code`` to RCPT TO (421 also closes the connection, as servers do)
    fail_data(code)      reply ``code`` after the final dot; nothing is recorded
    drop_before_dot()    answer DATA with 354, read a line, hang up: nothing is recorded (a
                         client that had already written the whole message cannot tell this
                         from drop_after_dot: both are ambiguous to it)
    drop_after_dot()     record the message, then hang up without a reply (the ambiguous case)
    stall(at, seconds)   sleep before replying at RCPT or after the final dot; a client that
                         gives up first leaves nothing recorded

``auth=(user, password)`` offers AUTH PLAIN/LOGIN without TLS and answers MAIL FROM with 530
until the client has logged in; a wrong password gets 535. ``tls_context`` offers STARTTLS
(or, with ``implicit_tls=True``, speaks TLS from the start). Tests import this module by name
(``from smtp_server import FaultySmtpServer``): pytest puts ``tests/`` on ``sys.path`` because
it holds a ``conftest.py`` and no ``__init__.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import ssl
import subprocess
import threading
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path
from types import TracebackType
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from paperwire.digests.outbox import LoopbackController

DEFAULT_TEXT = {
    421: "4.3.2 service not available, closing transmission channel",
    450: "4.2.1 mailbox unavailable, try again later",
    451: "4.3.0 try again later",
    452: "4.3.1 insufficient system storage",
    550: "5.1.1 mailbox unavailable",
    552: "5.3.4 message too big",
    553: "5.1.3 mailbox name not allowed",
    554: "5.7.1 transaction failed",
}
RCPT, DATA_START, DATA_END = "rcpt", "data_start", "data_end"


@dataclass(frozen=True)
class Received:
    """One accepted message: envelope, raw bytes as received, parsed, the client's address
    (one ``peer`` per connection), the MAIL FROM options, and whether TLS was on."""

    envelope_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes
    message: EmailMessage
    peer: tuple[str, int]
    mail_options: tuple[str, ...]
    tls: bool


@dataclass
class _Fault:
    stage: str
    action: str  # "reply", "drop" or "stall"
    code: int = 0
    text: str = ""
    to: str | None = None
    times: int | None = None
    seconds: float = 0.0

    def matches(self, stage: str, addresses: list[str]) -> bool:
        if self.stage != stage or self.times == 0:
            return False
        return self.to is None or self.to.lower() in (a.lower() for a in addresses)


class _FaultySMTP(SMTP):
    """aiosmtpd's SMTP with hooks for dropping connections and counting sessions."""

    def __init__(self, handler: Any, owner: FaultySmtpServer, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.owner = owner
        self.drop_reply = False  # hang up instead of sending the next reply
        self.close_after_reply = False  # hang up after sending the next reply
        self._greeted = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.owner._live.add(self)

    def connection_lost(self, error: Exception | None) -> None:
        self.owner._live.discard(self)
        super().connection_lost(error)

    async def push(self, status: Any) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if self.drop_reply:
            self.drop_reply = False
            transport.close()
            return
        await super().push(status)
        if self.close_after_reply:
            transport.close()

    def _count_session(self) -> None:
        if not self._greeted:
            self._greeted = True
            with self.owner._lock:
                self.owner._sessions += 1

    async def smtp_EHLO(self, hostname: str) -> None:
        self._count_session()
        await super().smtp_EHLO(hostname)

    async def smtp_HELO(self, hostname: str) -> None:
        self._count_session()
        await super().smtp_HELO(hostname)

    async def smtp_DATA(self, arg: str) -> None:
        envelope, session = self.envelope, self.session
        ready = envelope is not None and envelope.rcpt_tos and session and session.host_name
        if ready and not arg and envelope is not None:
            fault = self.owner._take(DATA_START, envelope.rcpt_tos)
            if fault is not None:
                await self.push("354 End data with <CR><LF>.<CR><LF>")
                with contextlib.suppress(TimeoutError, ConnectionError):
                    await asyncio.wait_for(self._reader.readline(), 2.0)
                if self.transport is not None:
                    self.transport.close()
                    # wait for connection_lost to cancel this session, so that data the
                    # client already sent is not read as commands
                    await asyncio.sleep(1.0)
                return
        await super().smtp_DATA(arg)


class _Handler:
    def __init__(self, owner: FaultySmtpServer) -> None:
        self.owner = owner

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.owner.auth is not None and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        fault = self.owner._take(RCPT, [address])
        if fault is not None:
            status = await self._apply(fault, server)
            if status is not None:
                return status
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        fault = self.owner._take(DATA_END, envelope.rcpt_tos)
        if fault is not None and fault.action == "drop":
            self.owner._record(server, session, envelope)
        if fault is not None:
            status = await self._apply(fault, server)
            if status is not None:
                return status
        self.owner._record(server, session, envelope)
        return "250 2.0.0 OK queued"

    async def _apply(self, fault: _Fault, server: SMTP) -> str | None:
        assert isinstance(server, _FaultySMTP)
        if fault.action == "stall":
            await asyncio.sleep(fault.seconds)
            return None
        if fault.action == "drop":
            server.drop_reply = True
            return "250 OK (never sent)"
        if fault.code == 421:
            server.close_after_reply = True
        return f"{fault.code} {fault.text}"


class _Controller(LoopbackController):
    def __init__(self, owner: FaultySmtpServer, **kwargs: Any) -> None:
        super().__init__(_Handler(owner), "127.0.0.1", 0, **kwargs)
        self.owner = owner

    def factory(self) -> SMTP:
        return _FaultySMTP(self.handler, self.owner, **self.SMTP_kwargs)


class FaultySmtpServer:
    """See the module docstring. Thread-safe: faults are set from the test's thread and
    consumed in the server's."""

    def __init__(
        self,
        *,
        auth: tuple[str, str] | None = None,
        tls_context: ssl.SSLContext | None = None,
        implicit_tls: bool = False,
    ) -> None:
        self.auth = auth
        self.implicit_tls = implicit_tls
        self._lock = threading.Lock()
        self._faults: list[_Fault] = []
        self._received: list[Received] = []
        self._fired: list[str] = []
        self._sessions = 0
        self._live: set[_FaultySMTP] = set()  # touched only in the server's thread
        kwargs: dict[str, Any] = {"server_hostname": "faulty.test", "ident": "FaultySMTP"}
        if auth is not None:
            kwargs.update(authenticator=self._authenticate, auth_require_tls=False)
        if tls_context is not None and not implicit_tls:
            kwargs["tls_context"] = tls_context
        ssl_context = tls_context if implicit_tls else None
        self._controller = _Controller(self, ssl_context=ssl_context, **kwargs)
        self._started = False

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FaultySmtpServer:
        self._controller.start()
        self._started = True
        return self

    def stop(self) -> None:
        if self._started:
            self._started = False
            self._controller.stop()

    def __enter__(self) -> FaultySmtpServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return int(self._controller.port)

    @property
    def url(self) -> str:
        return f"{'smtps' if self.implicit_tls else 'smtp'}://127.0.0.1:{self.port}"

    # -- what happened -----------------------------------------------------------------------

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    @property
    def sessions(self) -> int:
        """Connections that said EHLO or HELO (one per client connection)."""
        with self._lock:
            return self._sessions

    @property
    def fired(self) -> list[str]:
        """Each fault that fired, as ``stage:action[:code]:address``, in order."""
        with self._lock:
            return list(self._fired)

    def drop_connections(self) -> int:
        """Hang up on every open connection (as an idle timeout would); returns how many."""

        async def close_all() -> int:
            live = [s for s in self._live if s.transport is not None]
            for s in live:
                assert s.transport is not None
                s.transport.close()
            return len(live)

        loop = self._controller.loop
        return asyncio.run_coroutine_threadsafe(close_all(), loop).result(5)

    # -- faults ------------------------------------------------------------------------------

    def _add(self, fault: _Fault) -> None:
        if fault.times is not None and fault.times < 1:
            raise ValueError("times must be at least 1 (or None for always)")
        with self._lock:
            self._faults.append(fault)

    @staticmethod
    def _reply(code: int, text: str | None) -> tuple[int, str]:
        if not 400 <= code < 600:
            raise ValueError("a fault's reply code must be 4xx or 5xx")
        return code, text or DEFAULT_TEXT.get(code, "failed on purpose")

    def fail_rcpt(
        self, code: int, text: str | None = None, *, to: str | None = None, times: int | None = None
    ) -> None:
        code, text = self._reply(code, text)
        self._add(_Fault(RCPT, "reply", code, text, to, times))

    def fail_data(
        self, code: int, text: str | None = None, *, to: str | None = None, times: int | None = None
    ) -> None:
        code, text = self._reply(code, text)
        self._add(_Fault(DATA_END, "reply", code, text, to, times))

    def drop_before_dot(self, *, to: str | None = None, times: int | None = None) -> None:
        self._add(_Fault(DATA_START, "drop", to=to, times=times))

    def drop_after_dot(self, *, to: str | None = None, times: int | None = None) -> None:
        self._add(_Fault(DATA_END, "drop", to=to, times=times))

    def stall(
        self,
        at: str = "data",
        seconds: float = 5.0,
        *,
        to: str | None = None,
        times: int | None = None,
    ) -> None:
        if at not in ("rcpt", "data"):
            raise ValueError("stall at 'rcpt' or 'data' (after the final dot)")
        stage = RCPT if at == "rcpt" else DATA_END
        self._add(_Fault(stage, "stall", to=to, times=times, seconds=seconds))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    # -- used by the server's thread ---------------------------------------------------------

    def _take(self, stage: str, addresses: list[str]) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(stage, addresses):
                    if fault.times is not None:
                        fault.times -= 1
                    code = f":{fault.code}" if fault.code else ""
                    self._fired.append(f"{stage}:{fault.action}{code}:{','.join(addresses)}")
                    return fault
        return None

    def _record(self, server: SMTP, session: Session, envelope: Envelope) -> None:
        raw = envelope.original_content or b""
        message = BytesParser(policy=default_policy).parsebytes(raw)
        assert isinstance(message, EmailMessage)
        peer = session.peer if isinstance(session.peer, tuple) else ("", 0)
        tls = server.transport is not None and (
            server.transport.get_extra_info("ssl_object") is not None
        )
        item = Received(
            envelope.mail_from or "",
            tuple(envelope.rcpt_tos),
            raw,
            message,
            peer,
            tuple(envelope.mail_options),
            tls,
        )
        with self._lock:
            self._received.append(item)

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert self.auth is not None
        user, password = self.auth
        ok = isinstance(data, LoginPassword) and (
            data.login == user.encode() and data.password == password.encode()
        )
        return AuthResult(success=ok, handled=False, auth_data=data if ok else None)


def make_certificate(folder: Path) -> tuple[Path, Path] | None:
    """A self-signed certificate for 127.0.0.1 made with the openssl CLI: ``(cert, key)``,
    or None when openssl is not installed."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    return cert, key
