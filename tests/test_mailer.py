"""SMTP delivery against a real server on loopback (tests/smtp_server.py), faults included."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

import pytest

from paperwire.digests.mailer import (
    Mailer,
    SendResult,
    SendStatus,
    SmtpMailer,
)
from paperwire.smtp_url import SmtpTarget, parse_smtp_url
from smtp_server import FaultySmtpServer, make_certificate

SENT, RETRY, REJECTED = SendStatus.SENT, SendStatus.RETRY, SendStatus.REJECTED
TEXT = "Five new papers today.\n.a line that starts with a dot\n..and two dots\nÜnïcödé ✓\n"


def make_message(to: str = "reader@example.org", subject: str = "Your digest") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Paperwire <digest@paperwire.test>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime(2024, 5, 6, 7, 0, tzinfo=UTC))
    msg["Message-ID"] = make_msgid(domain="paperwire.test")
    msg.set_content(TEXT)
    msg.add_alternative(f"<p>{TEXT}</p>", subtype="html")
    return msg


def wire_bytes(msg: EmailMessage) -> bytes:
    return msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))


def mailer_for(server: FaultySmtpServer, timeout: float = 2.0, **kwargs: Any) -> SmtpMailer:
    target = parse_smtp_url(f"{server.url}?timeout={timeout}")
    return SmtpMailer(target, "client.test", **kwargs)


# -- parse_smtp_url ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "smtp://user:pass@mail.example.org:587?starttls=1",
            SmtpTarget("mail.example.org", 587, "user", "pass", "starttls"),
        ),
        ("smtp://mail.example.org:2525", SmtpTarget("mail.example.org", 2525, None, None, "none")),
        ("smtps://user:pass@mail.example.org", SmtpTarget("mail.example.org", 465, "user", "pass",
                                                          "tls")),
        ("smtp://mail.example.org", SmtpTarget("mail.example.org", 25, None, None, "none")),
        ("smtp://mail.example.org/", SmtpTarget("mail.example.org", 25, None, None, "none")),
        ("smtp://Mail.Example.ORG?starttls=1", SmtpTarget("mail.example.org", 587, None, None,
                                                          "starttls")),
        ("smtp://h:2525?starttls=true", SmtpTarget("h", 2525, None, None, "starttls")),
        ("smtp://h?starttls=0", SmtpTarget("h", 25, None, None, "none")),
        ("smtps://h:1465?starttls=0", SmtpTarget("h", 1465, None, None, "tls")),
        (
            "smtp://us%40er:p%3Ass%2Fw%20rd@h?timeout=2.5",
            SmtpTarget("h", 25, "us@er", "p:ss/w rd", "none", timeout=2.5),
        ),
        ("smtp://u:@h", SmtpTarget("h", 25, "u", "", "none")),
        ("smtp://[::1]:2525", SmtpTarget("::1", 2525, None, None, "none")),
        ("  smtp://h:25  ", SmtpTarget("h", 25, None, None, "none")),
    ],
)  # fmt: skip
def test_parse_smtp_url_valid(url: str, expected: SmtpTarget) -> None:
    assert parse_smtp_url(url) == expected


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://mail.example.org", "must start with smtp:// or smtps://"),
        ("mail.example.org:25", "must start with smtp:// or smtps://"),
        ("", "must start with smtp:// or smtps://"),
        ("smtp://", "no host"),
        ("smtp://:25", "no host"),
        ("smtp://user:secret@:25", "no host"),
        ("smtp://h:abc", "port must be a whole number"),
        ("smtp://h:0", "port must be a whole number"),
        ("smtp://h:70000", "port must be a whole number"),
        ("smtp://h?tls=1", "unknown SMTP URL parameter 'tls'"),
        ("smtp://h?starttls=1&ssl=1", "unknown SMTP URL parameter 'ssl'"),
        ("smtp://h?starttls=maybe", "starttls must be 1 or 0"),
        ("smtp://h?starttls=1&starttls=0", "given twice"),
        ("smtps://h?starttls=1", "cannot be used with smtps://"),
        ("smtp://h?timeout=0", "timeout must be a number"),
        ("smtp://h?timeout=abc", "timeout must be a number"),
        ("smtp://h?timeout=inf", "timeout must be a number"),
        ("smtp://h?starttls", "must be name=value pairs"),
        ("smtp://h/inbox", "must not have a path"),
        ("smtp://h#frag", "fragment"),
        ("smtp://user@h", "user name but no password"),
        ("smtp://:secret@h", "password but no user name"),
    ],
)
def test_parse_smtp_url_invalid(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        parse_smtp_url(url)
    text = str(info.value)
    assert "\n" not in text
    assert "secret" not in text  # the password is never echoed


def test_target_never_shows_its_password() -> None:
    target = parse_smtp_url("smtp://digest:hunter2@mail.example.org?starttls=1")
    assert "hunter2" not in repr(target)
    assert target.display_url == "smtp://digest@mail.example.org:587?starttls=1"
    assert parse_smtp_url("smtps://h").display_url == "smtps://h:465"


# -- sending -------------------------------------------------------------------------------


def test_send_is_received_byte_for_byte(smtp_server: FaultySmtpServer) -> None:
    msg = make_message()
    with mailer_for(smtp_server) as mailer:
        result = mailer.send(msg)
    assert result == SendResult(SENT, 250, "250 2.0.0 OK queued")
    [got] = smtp_server.received
    assert got.envelope_from == "digest@paperwire.test"
    assert got.rcpt_tos == ("reader@example.org",)
    assert got.raw == wire_bytes(msg)  # dot-stuffing undone, 8-bit body intact
    assert "BODY=8BITMIME" in got.mail_options
    assert got.message["Subject"] == "Your digest"
    assert got.message["Message-ID"] == msg["Message-ID"]
    assert got.message["From"] == "Paperwire <digest@paperwire.test>"
    body = got.message.get_body(("plain",))
    assert body is not None and body.get_content().replace("\r\n", "\n") == TEXT
    html = got.message.get_body(("html",))
    assert html is not None and html.get_content().replace("\r\n", "\n") == f"<p>{TEXT}</p>\n"


def test_one_connection_serves_many_messages(smtp_server: FaultySmtpServer) -> None:
    mailer = mailer_for(smtp_server)
    assert not mailer.connected  # lazy
    results = [mailer.send(make_message(subject=f"n{i}")) for i in range(4)]
    assert [r.status for r in results] == [SENT] * 4
    assert mailer.connected
    mailer.close()
    assert not mailer.connected
    assert smtp_server.sessions == 1
    received = smtp_server.received
    assert [r.message["Subject"] for r in received] == ["n0", "n1", "n2", "n3"]
    assert len({r.peer for r in received}) == 1


def test_envelope_from_overrides_the_from_header(smtp_server: FaultySmtpServer) -> None:
    with mailer_for(smtp_server, envelope_from="bounces@paperwire.test") as mailer:
        assert mailer.send(make_message()).status is SENT
    assert smtp_server.received[0].envelope_from == "bounces@paperwire.test"


def test_a_message_without_recipients_is_a_caller_error(smtp_server: FaultySmtpServer) -> None:
    msg = make_message()
    del msg["To"]
    with mailer_for(smtp_server) as mailer, pytest.raises(ValueError, match="no To address"):
        mailer.send(msg)
    assert smtp_server.sessions == 0


def test_non_ascii_address_uses_smtputf8(smtp_server: FaultySmtpServer) -> None:
    with mailer_for(smtp_server) as mailer:
        result = mailer.send(make_message(to="Jürgen <jürgen@exämple.org>"))
    assert result.status is SENT
    [got] = smtp_server.received
    assert got.rcpt_tos == ("jürgen@exämple.org",)
    assert "SMTPUTF8" in got.mail_options


FAULTS = [
    # (fault, status, code, systemic, ambiguous, detail starts with, recorded by the failed try)
    (("rcpt", 450), RETRY, 450, False, False, "450 4.2.1 mailbox unavailable, try again", 0),
    (("rcpt", 451), RETRY, 451, False, False, "451 4.3.0 try again later (at RCPT)", 0),
    (("rcpt", 452), RETRY, 452, False, False, "452 4.3.1 insufficient system storage (at RCPT)", 0),
    (("rcpt", 421), RETRY, 421, True, False, "421 4.3.2 service not available", 0),
    (("rcpt", 550), REJECTED, 550, False, False, "550 5.1.1 mailbox unavailable (at RCPT)", 0),
    (("rcpt", 553), REJECTED, 553, False, False, "553 5.1.3 mailbox name not allowed (at RCPT)", 0),
    (("rcpt", 554), REJECTED, 554, False, False, "554 5.7.1 transaction failed (at RCPT)", 0),
    (("data", 451), RETRY, 451, False, False, "451 4.3.0 try again later (at end of DATA)", 0),
    (("data", 452), RETRY, 452, False, False, "452 4.3.1 insufficient system storage (at end", 0),
    (("data", 554), REJECTED, 554, False, False, "554 5.7.1 transaction failed (at end of", 0),
    (("drop_before_dot", 0), RETRY, None, True, True, "connection dropped after DATA", 0),
    (("drop_after_dot", 0), RETRY, None, True, True, "connection dropped after DATA", 1),
]  # fmt: skip


def _arm(server: FaultySmtpServer, fault: tuple[str, int], times: int | None = 1) -> None:
    kind, code = fault
    if kind == "rcpt":
        server.fail_rcpt(code, times=times)
    elif kind == "data":
        server.fail_data(code, times=times)
    elif kind == "drop_before_dot":
        server.drop_before_dot(times=times)
    else:
        server.drop_after_dot(times=times)


@pytest.mark.parametrize(
    ("fault", "status", "code", "systemic", "ambiguous", "detail", "recorded"), FAULTS
)
def test_each_fault_maps_to_a_result_and_the_mailer_recovers(
    smtp_server: FaultySmtpServer,
    fault: tuple[str, int],
    status: SendStatus,
    code: int | None,
    systemic: bool,
    ambiguous: bool,
    detail: str,
    recorded: int,
) -> None:
    mailer = mailer_for(smtp_server)
    assert mailer.send(make_message(subject="warm-up")).status is SENT  # connection is open
    _arm(smtp_server, fault)
    failed = mailer.send(make_message(subject="faulty"))
    assert (failed.status, failed.code, failed.systemic, failed.ambiguous) == (
        status, code, systemic, ambiguous,
    )  # fmt: skip
    assert failed.detail.startswith(detail)
    assert "\n" not in failed.detail
    assert not mailer.connected  # discarded after the failure
    assert len(smtp_server.fired) == 1
    subjects = [r.message["Subject"] for r in smtp_server.received]
    assert subjects == ["warm-up"] + ["faulty"] * recorded
    again = mailer.send(make_message(subject="retry"))
    mailer.close()
    assert again.status is SENT
    assert smtp_server.sessions == 2  # a fresh connection after the failure
    assert smtp_server.received[-1].message["Subject"] == "retry"


def test_a_fault_for_the_first_n_attempts_then_succeeds(smtp_server: FaultySmtpServer) -> None:
    smtp_server.fail_rcpt(451, times=2)
    with mailer_for(smtp_server) as mailer:
        statuses = [mailer.send(make_message()).status for _ in range(3)]
    assert statuses == [RETRY, RETRY, SENT]
    assert len(smtp_server.received) == 1


def test_faults_per_recipient(smtp_server: FaultySmtpServer) -> None:
    smtp_server.fail_rcpt(550, to="gone@example.org")
    smtp_server.fail_data(451, to="slow@example.org", times=1)
    with mailer_for(smtp_server) as mailer:
        assert mailer.send(make_message(to="gone@example.org")).status is REJECTED
        assert mailer.send(make_message(to="ok@example.org")).status is SENT
        assert mailer.send(make_message(to="slow@example.org")).status is RETRY
        assert mailer.send(make_message(to="slow@example.org")).status is SENT
        assert mailer.send(make_message(to="GONE@example.org")).status is REJECTED
    assert [r.rcpt_tos for r in smtp_server.received] == [
        ("ok@example.org",), ("slow@example.org",),
    ]  # fmt: skip


def test_several_recipients_are_all_or_nothing(smtp_server: FaultySmtpServer) -> None:
    smtp_server.fail_rcpt(451, to="later@example.org")
    smtp_server.fail_rcpt(550, to="gone@example.org")
    with mailer_for(smtp_server) as mailer:
        result = mailer.send(
            make_message(to="ok@example.org, later@example.org, gone@example.org")
        )
        assert (result.status, result.code) == (REJECTED, 550)  # the worst refusal
        both = mailer.send(make_message(to="ok@example.org, other@example.org"))
    assert both.status is SENT
    [got] = smtp_server.received
    assert got.rcpt_tos == ("ok@example.org", "other@example.org")


def test_stall_after_dot_times_out_as_an_ambiguous_retry(smtp_server: FaultySmtpServer) -> None:
    smtp_server.stall("data", seconds=5, times=1)
    mailer = mailer_for(smtp_server, timeout=0.5)
    started = time.monotonic()
    result = mailer.send(make_message())
    assert time.monotonic() - started < 3
    assert (result.status, result.code, result.systemic, result.ambiguous) == (
        RETRY, None, True, True,
    )  # fmt: skip
    assert result.detail.startswith("no reply within 0.5 s after DATA")
    assert mailer.send(make_message()).status is SENT
    mailer.close()
    assert len(smtp_server.received) == 1


def test_stall_at_rcpt_is_a_plain_retry(smtp_server: FaultySmtpServer) -> None:
    smtp_server.stall("rcpt", seconds=5, times=1)
    with mailer_for(smtp_server, timeout=0.5) as mailer:
        result = mailer.send(make_message())
        assert (result.status, result.systemic, result.ambiguous) == (RETRY, True, False)
        assert result.detail == "no reply within 0.5 s at RCPT"
        assert mailer.send(make_message()).status is SENT


def test_a_connection_the_server_closed_while_idle_is_reopened(
    smtp_server: FaultySmtpServer,
) -> None:
    with mailer_for(smtp_server) as mailer:
        assert mailer.send(make_message()).status is SENT
        assert smtp_server.drop_connections() == 1
        assert mailer.send(make_message()).status is SENT  # no failure surfaces
    assert smtp_server.sessions == 2
    assert len(smtp_server.received) == 2


def test_on_data_sent_marks_the_ambiguous_window(smtp_server: FaultySmtpServer) -> None:
    calls: list[int] = []
    mailer = mailer_for(smtp_server, on_data_sent=lambda: calls.append(len(calls)))
    assert mailer.send(make_message()).status is SENT
    assert calls == [0]
    smtp_server.fail_rcpt(451, times=1)
    assert mailer.send(make_message()).status is RETRY  # refused before DATA: never called
    assert calls == [0]
    smtp_server.drop_after_dot(times=1)
    assert mailer.send(make_message()).ambiguous
    assert calls == [0, 1]
    mailer.close()


def test_an_exception_in_on_data_sent_propagates(smtp_server: FaultySmtpServer) -> None:
    def boom() -> None:
        raise RuntimeError("ledger unavailable")

    mailer = mailer_for(smtp_server, on_data_sent=boom)
    with pytest.raises(RuntimeError, match="ledger unavailable"):
        mailer.send(make_message())
    assert not mailer.connected


# -- connection, authentication, TLS -------------------------------------------------------


def test_connection_refused_is_a_systemic_retry() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    mailer = SmtpMailer(parse_smtp_url(f"smtp://127.0.0.1:{port}?timeout=2"), "client.test")
    result = mailer.send(make_message())
    assert (result.status, result.code, result.systemic) == (RETRY, None, True)
    assert result.detail == f"cannot connect to 127.0.0.1:{port}: Connection refused"
    assert not mailer.connected


def test_a_server_that_never_greets_times_out() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:  # accepts, never speaks
        port = listener.getsockname()[1]
        mailer = SmtpMailer(parse_smtp_url(f"smtp://127.0.0.1:{port}?timeout=0.3"), "c.test")
        result = mailer.send(make_message())
    assert (result.status, result.systemic, result.ambiguous) == (RETRY, True, False)
    assert result.detail == f"no greeting within 0.3 s from 127.0.0.1:{port}"


@pytest.fixture
def auth_server() -> Iterator[FaultySmtpServer]:
    with FaultySmtpServer(auth=("digest", "s3cret")) as server:
        yield server


def _auth_mailer(server: FaultySmtpServer, userinfo: str) -> SmtpMailer:
    return SmtpMailer(parse_smtp_url(f"smtp://{userinfo}127.0.0.1:{server.port}?timeout=2"))


def test_auth_success(auth_server: FaultySmtpServer) -> None:
    with _auth_mailer(auth_server, "digest:s3cret@") as mailer:
        assert mailer.send(make_message()).status is SENT
        assert mailer.send(make_message()).status is SENT
    assert len(auth_server.received) == 2
    assert auth_server.sessions == 1


def test_wrong_password_is_a_systemic_rejection(auth_server: FaultySmtpServer) -> None:
    with _auth_mailer(auth_server, "digest:wrong@") as mailer:
        result = mailer.send(make_message())
    assert (result.status, result.code, result.systemic) == (REJECTED, 535, True)
    assert result.detail.endswith("(at AUTH)")
    assert auth_server.received == []


def test_missing_credentials_is_a_systemic_rejection(auth_server: FaultySmtpServer) -> None:
    with _auth_mailer(auth_server, "") as mailer:
        result = mailer.send(make_message())
    assert (result.status, result.code, result.systemic) == (REJECTED, 530, True)
    assert result.detail == "530 5.7.0 Authentication required (at MAIL)"


def test_credentials_for_a_server_without_auth(smtp_server: FaultySmtpServer) -> None:
    with _auth_mailer(smtp_server, "digest:s3cret@") as mailer:
        result = mailer.send(make_message())
    assert (result.status, result.systemic) == (REJECTED, True)
    assert "does not offer AUTH" in result.detail


def test_starttls_not_offered_is_a_systemic_retry(smtp_server: FaultySmtpServer) -> None:
    url = f"smtp://127.0.0.1:{smtp_server.port}?starttls=1&timeout=2"
    with SmtpMailer(parse_smtp_url(url)) as mailer:
        result = mailer.send(make_message())
    assert (result.status, result.code, result.systemic) == (RETRY, None, True)
    assert "does not offer STARTTLS" in result.detail
    assert smtp_server.received == []


def test_implicit_tls_to_a_plain_server_is_a_tls_failure(smtp_server: FaultySmtpServer) -> None:
    with SmtpMailer(parse_smtp_url(f"smtps://127.0.0.1:{smtp_server.port}?timeout=2")) as m:
        result = m.send(make_message())
    assert (result.status, result.systemic) == (RETRY, True)
    assert result.detail.startswith("TLS failure at connect")


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    made = make_certificate(tmp_path_factory.mktemp("tls"))
    if made is None:
        pytest.skip("the openssl command is not installed")
    return made


def _server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


def test_starttls_then_auth(certificate: tuple[Path, Path]) -> None:
    server = FaultySmtpServer(auth=("digest", "s3cret"), tls_context=_server_context(certificate))
    client = ssl.create_default_context(cafile=certificate[0])
    with server:
        url = f"smtp://digest:s3cret@127.0.0.1:{server.port}?starttls=1&timeout=5"
        with SmtpMailer(parse_smtp_url(url), ssl_context=client) as mailer:
            assert mailer.send(make_message()).status is SENT
    [got] = server.received
    assert got.tls


def test_implicit_tls(certificate: tuple[Path, Path]) -> None:
    server = FaultySmtpServer(tls_context=_server_context(certificate), implicit_tls=True)
    client = ssl.create_default_context(cafile=certificate[0])
    with server:
        assert server.url.startswith("smtps://")
        with SmtpMailer(parse_smtp_url(f"{server.url}?timeout=5"), ssl_context=client) as m:
            assert m.send(make_message()).status is SENT
    [got] = server.received
    assert got.tls


def test_an_untrusted_certificate_is_a_tls_failure(certificate: tuple[Path, Path]) -> None:
    server = FaultySmtpServer(tls_context=_server_context(certificate))
    with server:
        url = f"smtp://127.0.0.1:{server.port}?starttls=1&timeout=5"
        with SmtpMailer(parse_smtp_url(url)) as mailer:  # the default context: system CAs
            result = mailer.send(make_message())
    assert (result.status, result.code, result.systemic) == (RETRY, None, True)
    assert result.detail.startswith("TLS failure at STARTTLS")
    assert "certificate verify failed" in result.detail
    assert server.received == []


def test_smtp_mailer_is_a_mailer(smtp_server: FaultySmtpServer) -> None:
    mailer: Mailer = mailer_for(smtp_server)
    assert isinstance(mailer.send(make_message()), SendResult)
    mailer.close()
