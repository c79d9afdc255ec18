"""The local outbox: real SMTP into files under PAPERWIRE_HOME/outbox, read back safely."""

from __future__ import annotations

import os
import re
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

import pytest

from paperwire.digests.mailer import SendStatus, SmtpMailer
from paperwire.digests.outbox import (
    NAME_RE,
    LocalOutbox,
    list_messages,
    read_message,
    store_message,
)
from paperwire.errors import NotFound, PaperwireError
from paperwire.smtp_url import parse_smtp_url

SENT_AT = datetime(2024, 5, 6, 7, 0, tzinfo=UTC)


def make_message(subject: str = "Your digest", to: str = "reader@example.org") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Paperwire <digest@paperwire.test>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(SENT_AT)
    msg["Message-ID"] = make_msgid(domain="paperwire.test")
    msg.set_content("Three papers.\n.dotted line\nÜmlaut\n")
    msg.add_alternative("<p>Three papers.</p>\n", subtype="html")
    return msg


def send(outbox: LocalOutbox, *messages: EmailMessage) -> list[str]:
    """Send through real SMTP; return the stored names from the 250 replies."""
    names = []
    with SmtpMailer(parse_smtp_url(outbox.url), "client.test") as mailer:
        for msg in messages:
            result = mailer.send(msg)
            assert result.status is SendStatus.SENT, result.detail
            match = re.search(r"stored as (\S+)", result.detail)
            assert match is not None
            names.append(match.group(1))
    return names


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[LocalOutbox]:
    with LocalOutbox(tmp_path / "home" / "outbox") as box:
        yield box


def test_a_sent_message_is_filed_and_found(outbox: LocalOutbox) -> None:
    assert outbox.folder.is_dir()  # created, parents included, on start
    assert outbox.port > 0
    assert outbox.url == f"smtp://127.0.0.1:{outbox.port}"
    msg = make_message()
    [name] = send(outbox, msg)
    assert NAME_RE.fullmatch(name)

    [listed] = list_messages(outbox.folder)
    assert listed.name == name
    assert listed.subject == "Your digest"
    assert listed.to == "reader@example.org"
    assert listed.from_ == "Paperwire <digest@paperwire.test>"
    assert listed.message_id == msg["Message-ID"]
    assert listed.date == SENT_AT
    path = outbox.folder / name
    assert listed.size == path.stat().st_size
    # the raw bytes as received: no header added
    assert path.read_bytes() == msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))

    got = read_message(outbox.folder, name)
    assert got["Subject"] == "Your digest"
    assert got["To"] == "reader@example.org"
    assert got["Message-ID"] == msg["Message-ID"]
    assert got.is_multipart()
    plain = got.get_body(("plain",))
    assert plain is not None
    assert plain.get_content().replace("\r\n", "\n") == "Three papers.\n.dotted line\nÜmlaut\n"


def test_names_carry_utc_time_and_sort_by_arrival(tmp_path: Path) -> None:
    early = datetime(2024, 5, 6, 7, 0, 1, 5, tzinfo=UTC)
    late = datetime(2024, 5, 6, 7, 0, 1, 900_000, tzinfo=UTC)
    a = store_message(tmp_path, b"Subject: a\r\n\r\nx\r\n", now=late)
    b = store_message(tmp_path, b"Subject: b\r\n\r\nx\r\n", now=early)
    assert a.startswith("20240506T070001-dbba0")  # 900000 µs = 0xdbba0
    assert b.startswith("20240506T070001-00005")
    assert [m.subject for m in list_messages(tmp_path)] == ["a", "b"]


def test_several_messages_newest_first_with_a_limit(outbox: LocalOutbox) -> None:
    names = send(outbox, *(make_message(subject=f"digest {i}") for i in range(4)))
    assert len(set(names)) == 4
    listed = list_messages(outbox.folder)
    assert [m.subject for m in listed] == ["digest 3", "digest 2", "digest 1", "digest 0"]
    assert [m.name for m in listed] == sorted(names, reverse=True)
    assert [m.subject for m in list_messages(outbox.folder, limit=2)] == ["digest 3", "digest 2"]
    assert list_messages(outbox.folder, limit=0) == []


def test_only_complete_messages_are_listed(outbox: LocalOutbox) -> None:
    folder = outbox.folder
    (folder / ".20240506T070000-00000abc.eml.1234abcd.tmp").write_bytes(b"Subject: partial")
    (folder / "notes.txt").write_text("not mail")
    (folder / "20240506T070000-zzzzzzzz.eml").write_text("Subject: bad name\n\n")
    (folder / "20240506T070000-0000000a.eml").mkdir()  # a folder with a message's name
    send(outbox, make_message(subject="real"))
    assert [m.subject for m in list_messages(folder)] == ["real"]
    with pytest.raises(NotFound):
        read_message(folder, "20240506T070000-0000000a.eml")
    # nothing of the outbox's own making is left besides the .eml files
    own = [p.name for p in folder.iterdir() if p.name not in
           {".20240506T070000-00000abc.eml.1234abcd.tmp", "notes.txt",
            "20240506T070000-zzzzzzzz.eml", "20240506T070000-0000000a.eml"}]  # fmt: skip
    assert len(own) == 1 and NAME_RE.fullmatch(own[0])


def test_a_message_is_invisible_until_complete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = b"Subject: whole\r\n\r\n" + b"line\r\n" * 10_000
    before_rename: list[tuple[list[str], bytes, bool]] = []
    real_replace = os.replace

    def replace_after_looking(src: str | Path, dst: str | Path) -> None:
        listed = [m.name for m in list_messages(tmp_path)]
        before_rename.append((listed, Path(src).read_bytes(), Path(dst).exists()))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace_after_looking)
    name = store_message(tmp_path, raw)
    # at the last moment before the rename: fully written, under a name nobody lists
    assert before_rename == [([], raw, False)]
    assert [m.name for m in list_messages(tmp_path)] == [name]
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temporary file left
    assert (tmp_path / name).read_bytes() == raw


@pytest.mark.parametrize(
    "name",
    [
        "../x",
        "../outbox/20240506T070000-0000000a.eml",
        "/etc/passwd",
        "20240506T070000-0000000a.eml",  # well formed, not there
        "20240506T070000-0000000A.eml",
        "20240506T070000-0000000a.eml\n",
        "20240506T070000-0000000a.txt",
        "",
    ],
)
def test_bad_or_unknown_names_are_not_found(outbox: LocalOutbox, name: str) -> None:
    send(outbox, make_message())
    with pytest.raises(NotFound):
        read_message(outbox.folder, name)


def test_an_absolute_path_to_a_real_message_is_not_found(outbox: LocalOutbox) -> None:
    [name] = send(outbox, make_message())
    assert read_message(outbox.folder, name)["Subject"] == "Your digest"
    with pytest.raises(NotFound):
        read_message(outbox.folder, str(outbox.folder / name))
    with pytest.raises(NotFound):
        read_message(outbox.folder.parent, f"outbox/{name}")


def test_a_restart_keeps_old_messages(tmp_path: Path) -> None:
    folder = tmp_path / "outbox"
    with LocalOutbox(folder) as first:
        [old] = send(first, make_message(subject="before restart"))
        first_port = first.port
    assert list_messages(folder)[0].name == old
    with LocalOutbox(folder) as second:
        assert second.running
        send(second, make_message(subject="after restart"))
    subjects = [m.subject for m in list_messages(folder)]
    assert subjects == ["after restart", "before restart"]
    assert read_message(folder, old)["Subject"] == "before restart"
    with socket.socket() as probe:  # the stopped outbox no longer listens on its port
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers do
        probe.bind(("127.0.0.1", first_port))


def test_a_busy_port_is_a_clear_error(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        outbox = LocalOutbox(tmp_path / "outbox", port=port)
        started = time.monotonic()
        expected = f"cannot start the local outbox on 127.0.0.1:{port}: Address already in use"
        with pytest.raises(PaperwireError, match=expected):
            outbox.start()
        assert time.monotonic() - started < 2
    assert not outbox.running
    with pytest.raises(RuntimeError, match="not started"):
        _ = outbox.url


def test_listing_a_missing_folder_is_empty(tmp_path: Path) -> None:
    assert list_messages(tmp_path / "nowhere") == []
    with pytest.raises(NotFound):
        read_message(tmp_path / "nowhere", "20240506T070000-0000000a.eml")


def test_stop_is_idempotent_and_start_twice_is_harmless(tmp_path: Path) -> None:
    box = LocalOutbox(tmp_path / "outbox")
    box.start()
    port = box.port
    box.start()
    assert box.port == port
    box.stop()
    box.stop()
    assert not box.running
