"""SMTP delivery: one reused connection, and every outcome a :class:`SendResult`, never a raise.

:func:`parse_smtp_url` reads ``PAPERWIRE_SMTP_URL``; :class:`SmtpMailer` sends one
:class:`~email.message.EmailMessage` at a time over :mod:`smtplib` and maps each reply, dropped
connection, timeout and TLS failure to a result:

    SENT      the server accepted the message (250 after the final dot)
    RETRY     a 4xx reply, a dropped or refused connection, a timeout: try again later
    REJECTED  a 5xx reply: permanent for this message or address

``systemic`` marks failures about the server, the connection or the account rather than the
message (authentication, TLS, 421, no connection, a sender the server refuses), so a runner
pauses after a burst of them instead of burning through its list. A systemic REJECTED (a wrong
password) is not this message's fault and should not fail it for good.

Crash safety. Only one window has an unknown outcome: from the moment the final dot of DATA
is written until the server's reply is read. A failure inside it (the connection drops, the
reply times out) gives RETRY with ``ambiguous=True``: the server may have accepted the message.
The optional ``on_data_sent`` callback runs at the start of that window, so a caller can record
that it was entered; a failure anywhere before it means the message was certainly not accepted.

On a reused connection the server may have hung up while idle; when the very first command of a
message (MAIL FROM) finds the connection gone or a 421, the mailer reconnects once, silently:
nothing of the message had been sent.
"""

from __future__ import annotations

import enum
import logging
import re
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from email.generator import BytesGenerator
from email.message import EmailMessage
from email.policy import SMTPUTF8, EmailPolicy
from email.utils import getaddresses
from io import BytesIO
from types import TracebackType
from typing import Protocol

from paperwire.errors import SendFailed
from paperwire.smtp_url import SECURITIES, SmtpTarget

log = logging.getLogger(__name__)

# Replies that speak about the server or the account, whatever the stage.
_SYSTEMIC_CODES = frozenset({421, 454, 530, 534, 535, 538})
# Stages before the message's own transaction: any failure there is systemic.
_SESSION_STAGES = frozenset({"connect", "EHLO", "STARTTLS", "AUTH"})
_END_OF_DATA = "end of DATA"


class SendStatus(enum.Enum):
    SENT = "sent"
    RETRY = "retry"  # 4xx, dropped/refused connection, timeout: worth trying again later
    REJECTED = "rejected"  # 5xx: permanent for this message or address


@dataclass(frozen=True)
class SendResult:
    """The outcome of one :meth:`Mailer.send`. ``detail`` is one readable line such as
    ``451 4.3.0 try again later (at RCPT)``. ``systemic``: the failure is about the server,
    connection or account, not this message. ``ambiguous``: the whole message was sent but no
    reply came back, so the server may have accepted it (always with RETRY)."""

    status: SendStatus
    code: int | None
    detail: str
    systemic: bool = False
    ambiguous: bool = False

    @property
    def sent(self) -> bool:
        return self.status is SendStatus.SENT


@dataclass(frozen=True)
class Flattened:
    """A mail already written as the bytes SMTP sends (headers and body, CRLF line ends,
    not dot-stuffed) and its envelope: the sender is its From address, the recipients its
    To addresses. The digest runner sends these (see :func:`render.encode_digest`)."""

    sender: str
    recipients: tuple[str, ...]
    data: bytes


class Mailer(Protocol):
    """What the digest runner sends through."""

    def send(self, message: EmailMessage | Flattened) -> SendResult: ...

    def close(self) -> None: ...


def _failed(result: SendResult, stale: bool = False) -> SendFailed:
    """The exception that ends a transaction with ``result`` (see :class:`SendFailed`)."""
    return SendFailed(result, result.detail, stale)


def _result_of(failed: SendFailed) -> SendResult:
    assert isinstance(failed.result, SendResult)
    return failed.result


def _one_line(text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return " ".join(text.split())


def _is_timeout(exc: BaseException) -> bool:
    return any(isinstance(e, TimeoutError) for e in (exc, exc.__context__, exc.__cause__))


def _ssl_error(exc: BaseException) -> ssl.SSLError | None:
    for e in (exc, exc.__context__, exc.__cause__):
        if isinstance(e, ssl.SSLError):
            return e
    return None


def _dot_stuffed(payload: bytes) -> bytes:
    """CRLF line ends, a leading dot doubled (RFC 5321 4.5.2), and the final ``.`` line."""
    data = re.sub(rb"\r\n|\r|\n", b"\r\n", payload)
    data = re.sub(rb"(?m)^\.", b"..", data)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n"


def _flatten(message: EmailMessage, utf8: bool) -> bytes:
    policy = message.policy
    if utf8:
        policy = policy.clone(utf8=True) if isinstance(policy, EmailPolicy) else SMTPUTF8
    buffer = BytesIO()
    BytesGenerator(buffer, policy=policy).flatten(message, linesep="\r\n")
    return buffer.getvalue()


def _addresses(message: EmailMessage, header: str) -> list[str]:
    values = [str(v) for v in message.get_all(header, [])]
    return list(dict.fromkeys(addr for _, addr in getaddresses(values) if addr))


class SmtpMailer:
    """Sends over one lazily opened connection, reused across messages and dropped after any
    failure. Not thread-safe: use one per thread.

    ``envelope_from`` overrides the From header as the envelope sender; recipients are the To
    header's addresses (a message with several is all or nothing: any refused recipient aborts
    it, and the worst refusal is the result). ``ssl_context`` replaces the default verifying
    context (e.g. to trust a private CA). ``on_data_sent`` runs after the final dot is written
    and before the reply is read (see the module docstring); if it raises, the connection is
    dropped and the exception propagates.
    """

    def __init__(
        self,
        target: SmtpTarget,
        local_hostname: str | None = None,
        *,
        envelope_from: str | None = None,
        on_data_sent: Callable[[], None] | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if target.security not in SECURITIES:
            raise ValueError(f"security must be one of {', '.join(SECURITIES)}")
        self.target = target
        self.local_hostname = local_hostname
        self.envelope_from = envelope_from
        self.on_data_sent = on_data_sent
        self._ssl_context = ssl_context
        self._conn: smtplib.SMTP | None = None
        self._stage = "connect"

    @property
    def connected(self) -> bool:
        return self._conn is not None

    def __enter__(self) -> SmtpMailer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Say QUIT and close; never raises."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.quit()
        except (smtplib.SMTPException, OSError):
            pass
        finally:
            conn.close()

    def send(self, message: EmailMessage | Flattened) -> SendResult:
        """Deliver ``message`` (a :class:`Flattened` one as its bytes are). Raises only
        :class:`ValueError` for a message without From (and no ``envelope_from``) or To;
        every delivery failure is a :class:`SendResult`."""
        if isinstance(message, Flattened):
            sender: str | None = self.envelope_from or message.sender
            recipients = list(message.recipients)
        else:
            sender = self.envelope_from or next(iter(_addresses(message, "From")), None)
            recipients = _addresses(message, "To")
        if not sender:
            raise ValueError("the message has no From address and no envelope_from was given")
        if not recipients:
            raise ValueError("the message has no To address")
        international = not sender.isascii() or not all(r.isascii() for r in recipients)
        if isinstance(message, Flattened):
            payload = message.data
        else:
            payload = _flatten(message, international)
        for attempt in (1, 2):
            reused = self._conn is not None
            try:
                return self._transact(sender, recipients, payload, international, reused)
            except SendFailed as failed:
                self._discard()
                if not (failed.stale and attempt == 1):
                    result = _result_of(failed)
                    log.debug("send to %s failed: %s", ", ".join(recipients), result.detail)
                    return result
                log.debug("reused SMTP connection had gone (%s); reconnecting", failed)
        raise AssertionError("unreachable")

    # -- internals ---------------------------------------------------------------------------

    def _discard(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _tls_context(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            self._ssl_context = ssl.create_default_context()
        return self._ssl_context

    def _open(self) -> smtplib.SMTP:
        t = self.target
        self._stage = "connect"
        conn: smtplib.SMTP  # connects in __init__: SMTPConnectError for a greeting other than 220
        if t.security == "tls":
            conn = smtplib.SMTP_SSL(
                t.host, t.port, self.local_hostname, timeout=t.timeout, context=self._tls_context()
            )
        else:
            conn = smtplib.SMTP(t.host, t.port, self.local_hostname, timeout=t.timeout)
        try:
            self._stage = "EHLO"
            conn.ehlo_or_helo_if_needed()
            if t.security == "starttls":
                self._stage = "STARTTLS"
                conn.starttls(context=self._tls_context())
                self._stage = "EHLO"
                conn.ehlo_or_helo_if_needed()
            if t.username is not None:
                self._stage = "AUTH"
                conn.login(t.username, t.password or "")
        except BaseException:
            conn.close()
            raise
        log.debug("connected to %s", t.display_url)
        return conn

    def _mail_options(self, conn: smtplib.SMTP, payload: bytes, international: bool) -> list[str]:
        options: list[str] = []
        if conn.has_extn("size"):
            options.append(f"SIZE={len(payload)}")
        if international:
            if not conn.has_extn("smtputf8"):
                detail = "the server does not support SMTPUTF8, needed for a non-ASCII address"
                raise _failed(SendResult(SendStatus.REJECTED, None, detail))
            options += ["SMTPUTF8", "BODY=8BITMIME"]
        elif not payload.isascii() and conn.has_extn("8bitmime"):
            options.append("BODY=8BITMIME")
        return options

    def _transact(
        self,
        sender: str,
        recipients: list[str],
        payload: bytes,
        international: bool,
        reused: bool,
    ) -> SendResult:
        try:
            if self._conn is None:
                self._conn = self._open()
            conn = self._conn
            options = self._mail_options(conn, payload, international)
            self._stage = "MAIL"
            code, text = conn.mail(sender, options)
            if code != 250:
                raise _failed(self._reply_result(code, text), stale=reused and code == 421)
            self._stage = "RCPT"
            refused: list[SendResult] = []
            for rcpt in recipients:
                code, text = conn.rcpt(rcpt)
                if code not in (250, 251):
                    refused.append(self._reply_result(code, text))
                    if code == 421:
                        break
            if refused:
                worst = [r for r in refused if r.status is SendStatus.REJECTED] or refused
                raise _failed(worst[0])
            self._stage = "DATA"
            code, text = conn.docmd("DATA")
            if code != 354:
                raise _failed(self._reply_result(code, text))
            self._stage = _END_OF_DATA
            conn.send(_dot_stuffed(payload))
        except (smtplib.SMTPException, OSError) as exc:
            stale = reused and self._stage == "MAIL" and not _is_timeout(exc)
            stale = stale and isinstance(exc, smtplib.SMTPServerDisconnected)
            raise _failed(self._exception_result(exc, data_sent=False), stale=stale) from exc
        if self.on_data_sent is not None:
            try:
                self.on_data_sent()
            except BaseException:
                self._discard()
                raise
        try:
            code, text = conn.getreply()
        except (smtplib.SMTPException, OSError) as exc:
            raise _failed(self._exception_result(exc, data_sent=True)) from exc
        if code != 250:
            raise _failed(self._reply_result(code, text))
        return SendResult(SendStatus.SENT, code, f"{code} {_one_line(text)}".strip())

    def _reply_result(self, code: int, text: bytes | str) -> SendResult:
        stage = self._stage
        detail = f"{code} {_one_line(text)} (at {stage})"
        if not 400 <= code < 600:  # a success or 3xx where it makes no sense
            return SendResult(SendStatus.RETRY, code, f"unexpected reply {detail}", systemic=True)
        status = SendStatus.RETRY if code < 500 else SendStatus.REJECTED
        systemic = (
            stage in _SESSION_STAGES
            or code in _SYSTEMIC_CODES
            or (stage == "MAIL" and code != 552)  # the sender is every message's sender
        )
        return SendResult(status, code, detail, systemic=systemic)

    def _exception_result(self, exc: BaseException, data_sent: bool) -> SendResult:
        t, stage = self.target, self._stage
        if stage == _END_OF_DATA:
            where = "after DATA" if data_sent else "during DATA"
        else:
            where = f"at {stage}"
        ambiguous = stage == _END_OF_DATA and data_sent
        maybe = "; the message may have been delivered" if ambiguous else ""
        retry = SendStatus.RETRY
        if isinstance(exc, smtplib.SMTPResponseException):  # AUTH, EHLO, STARTTLS replies
            return self._reply_result(exc.smtp_code, exc.smtp_error)
        if isinstance(exc, smtplib.SMTPNotSupportedError):
            if stage == "AUTH":
                detail = f"{t.host} does not offer AUTH; drop the user name from the SMTP URL"
                return SendResult(SendStatus.REJECTED, None, detail, systemic=True)
            if stage == "STARTTLS":
                detail = f"{t.host} does not offer STARTTLS; use smtps:// or no starttls"
                return SendResult(retry, None, detail, systemic=True)
            return SendResult(retry, None, f"{_one_line(str(exc))} ({where})", systemic=True)
        if _is_timeout(exc):
            if stage == "connect" and isinstance(exc, smtplib.SMTPServerDisconnected):
                detail = f"no greeting within {t.timeout:g} s from {t.host}:{t.port}"
            elif stage == "connect":
                detail = f"timed out connecting to {t.host}:{t.port}"
            else:
                detail = f"no reply within {t.timeout:g} s {where}{maybe}"
            return SendResult(retry, None, detail, systemic=True, ambiguous=ambiguous)
        tls_error = _ssl_error(exc)
        if tls_error is not None:
            reason = re.sub(r"\s*\(_ssl\.c:\d+\)", "", str(tls_error))
            detail = f"TLS failure {where}: {_one_line(reason)}{maybe}"
            return SendResult(retry, None, detail, systemic=True, ambiguous=ambiguous)
        if isinstance(exc, smtplib.SMTPServerDisconnected):
            detail = f"connection dropped {where}{maybe}"
            return SendResult(retry, None, detail, systemic=True, ambiguous=ambiguous)
        if isinstance(exc, OSError):
            reason = exc.strerror or str(exc) or type(exc).__name__
            if stage == "connect":
                detail = f"cannot connect to {t.host}:{t.port}: {reason}"
            else:
                detail = f"network error {where}: {reason}{maybe}"
            return SendResult(retry, None, detail, systemic=True, ambiguous=ambiguous)
        # other SMTPException, e.g. "No suitable authentication method found."
        status = SendStatus.REJECTED if stage == "AUTH" else retry
        return SendResult(status, None, f"{_one_line(str(exc))} ({where})", systemic=True)
