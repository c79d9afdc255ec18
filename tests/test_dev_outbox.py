"""The local outbox on the web: only the demo shows it, only on a loopback address, under a
visible warning; ``paperwire serve`` files mail there but shows nothing unless
PAPERWIRE_DEV_OUTBOX is on."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import date
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from paperwire.app import Paperwire
from paperwire.config import Settings
from paperwire.digests.outbox import store_message
from paperwire.models import Paper
from paperwire.store import Store
from paperwire.web.app import create_app
from paperwire.web.digest_routes import is_loopback

WARNING = "development outbox: every mail sent by this server is visible here"
RAW = (b"From: a@example.org\r\nTo: b@example.org\r\nSubject: Confirm your Paperwire digest"
       b"\r\n\r\nhttp://127.0.0.1:8000/subscribe/confirm?token=secret\r\n")


def test_serve_does_not_show_the_outbox(settings: Settings) -> None:
    """No SMTP URL, no setting: mail is filed in the outbox, but the web shows none of it."""
    s = replace(settings, smtp_url="")
    name = store_message(s.home / "outbox", RAW)
    client = TestClient(create_app(Paperwire(s)))
    for path in ("/dev/outbox", f"/dev/outbox/{name}"):
        r = client.get(path)
        assert r.status_code == 404 and "secret" not in r.text


def test_the_setting_shows_it_with_the_warning(settings: Settings) -> None:
    s = replace(settings, smtp_url="", dev_outbox=True)
    name = store_message(s.home / "outbox", RAW)
    client = TestClient(create_app(Paperwire(s)))
    listing = client.get("/dev/outbox")
    assert listing.status_code == 200 and WARNING in listing.text
    one = client.get(f"/dev/outbox/{name}")
    assert one.status_code == 200 and WARNING in one.text
    # with a mail server configured there is no local outbox to show
    other = TestClient(create_app(Paperwire(replace(s, smtp_url="smtp://127.0.0.1:2525"))))
    assert other.get("/dev/outbox").status_code == 404


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.0.0.2", True), ("::1", True), ("[::1]", True),
    ("localhost", True), ("0.0.0.0", False), ("::", False), ("192.168.1.10", False),
    ("example.org", False),
])
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def small_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home that already holds papers, so ``paperwire demo`` serves without loading."""
    home = tmp_path_factory.mktemp("demo-outbox")
    store = Store.open(f"sqlite:///{home / 'paperwire.db'}")
    store.write_batch([Paper(id="2606.00001", title="A paper", abstract="Text.",
                             authors=("Ada",), categories=("cs.IR",), primary_category="cs.IR",
                             published=date(2026, 6, 8))], [])
    store.close()
    store_message(home / "outbox", RAW)
    return home


@contextmanager
def demo(home: Path, host: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERWIRE_")}
    env["PAPERWIRE_HOME"] = str(home)
    proc = subprocess.Popen(
        [sys.executable, "-m", "paperwire", "demo", "--host", host, "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                httpx.get(f"{base}/healthz", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise AssertionError("the demo did not start") from None
                time.sleep(0.3)
        yield base, proc
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_the_demo_on_loopback_shows_the_outbox_with_a_warning(small_home: Path) -> None:
    with demo(small_home, "127.0.0.1") as (base, _):
        page = httpx.get(f"{base}/dev/outbox", timeout=10)
        assert page.status_code == 200 and WARNING in page.text
        assert "Confirm your Paperwire digest" in page.text


def test_the_demo_on_another_address_does_not(small_home: Path) -> None:
    with demo(small_home, "0.0.0.0") as (base, proc):
        page = httpx.get(f"{base}/dev/outbox", timeout=10)
        assert page.status_code == 404 and "Confirm your" not in page.text
        proc.terminate()
        out, _ = proc.communicate(timeout=20)
    assert "shows it only on a loopback address" in out
