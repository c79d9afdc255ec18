"""The README's first command, end to end: load the bundled demo data, start the real server,
read the home page over HTTP, and subscribe to the digest through the local outbox."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from paperwire.cli import DEMO_DATA
from paperwire.store import Store


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("demo")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERWIRE_")}
    env["PAPERWIRE_HOME"] = str(home)
    cmd = [sys.executable, "-m", "paperwire", "demo", "--no-serve"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "not reloading" in again.stdout
    return home


def test_demo_data_is_real_and_complete(demo_home: Path) -> None:
    store = Store.open(f"sqlite:///{demo_home / 'paperwire.db'}")
    assert store.count_papers() > 3000
    assert store.count_signals() > 400
    # every bundled arXiv paper got its first-listing date
    sample = store.get_paper("2506.23918") or next(iter(store.get_papers(
        [p.id for b in store.iter_changed_since(None, 50) for p, _ in b]).values()))
    assert sample.title
    assert store.latest_signal_day() is not None
    assert len(list(DEMO_DATA.glob("hf-daily-*.json.gz"))) >= 15


def test_served_home_page_lists_real_trending_papers(demo_home: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERWIRE_")}
    env["PAPERWIRE_HOME"] = str(demo_home)
    proc = subprocess.Popen(
        [sys.executable, "-m", "paperwire", "serve", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"{base}/healthz", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise AssertionError("server did not start") from None
                time.sleep(0.3)
        assert health.status_code == 200 and health.json()["papers"] > 3000
        store = Store.open(f"sqlite:///{demo_home / 'paperwire.db'}")
        top = httpx.get(f"{base}/api/trending?window=week", timeout=10).json()
        assert top["entries"], "the demo must have trending papers"
        assert top["note"] and top["as_of"] == str(store.latest_signal_day())
        home = httpx.get(base + "/", timeout=10)
        assert home.status_code == 200
        first = store.get_paper(top["entries"][0]["id"])
        assert first is not None
        assert f'/papers/{first.id}"' in home.text
        page = httpx.get(f"{base}/search", params={"q": "sparse retrieval"}, timeout=10)
        assert page.status_code == 200 and "/papers/" in page.text
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextmanager
def served(home: Path) -> Iterator[str]:
    """``paperwire demo`` serving the loaded demo home (no SMTP configured: the local outbox
    runs, and the demo on loopback shows it at /dev/outbox)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERWIRE_")}
    env["PAPERWIRE_HOME"] = str(home)
    proc = subprocess.Popen([sys.executable, "-m", "paperwire", "demo", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/healthz", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise AssertionError("server did not start") from None
                time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_demo_digest_through_the_local_outbox(demo_home: Path) -> None:
    """A new user, with no mail server: subscribe on the home page, read the confirmation in
    /dev/outbox, follow its link, send the day's digests, and read the digest there too."""
    # a new connection per request: the digest run below outlasts the server's keep-alive,
    # and a pooled connection it closes meanwhile is reset on reuse
    with served(demo_home) as base, httpx.Client(
            base_url=base, timeout=30, limits=httpx.Limits(max_keepalive_connections=0)) as web:
        r = web.post("/subscribe", data={"email": "reader@example.org", "categories": "cs.CL"})
        assert r.status_code == 200 and "confirmation mail" in r.text
        deadline = time.monotonic() + 30  # the mail is sent after the answer
        while not (names := re.findall(r'href="/dev/outbox/([^"]+)"[^>]*>Confirm your',
                                       web.get("/dev/outbox").text)):
            assert time.monotonic() < deadline, "no confirmation mail in the outbox"
            time.sleep(0.2)
        [name] = names
        mail = web.get(f"/dev/outbox/{name}").text
        [link] = re.findall(rf'href="{re.escape(base)}(/subscribe/confirm\?token=[^"]+)"',
                            mail)  # the port served, not the default's 8000
        link = link.replace("&amp;", "&")
        assert "Confirm subscription" in web.get(link).text
        assert "will receive the Paperwire digest" in web.post(link).text
        env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERWIRE_")}
        env["PAPERWIRE_HOME"] = str(demo_home)
        sent = subprocess.run([sys.executable, "-m", "paperwire", "digest", "send", "--date",
                               "2026-06-10"], env=env, capture_output=True, text=True,
                              timeout=300)
        assert sent.returncode == 0 and "1 sent" in sent.stdout, sent.stderr
        digests = re.findall(r'href="/dev/outbox/([^"]+)"[^>]*>Paperwire · 10 Jun 2026',
                             web.get("/dev/outbox").text)
        assert len(digests) == 1
        body = web.get(f"/dev/outbox/{digests[0]}").text
        assert "reader@example.org" in body and "List-Unsubscribe" in body
