"""Links follow the address served (issue 10): ``paperwire serve --port P`` (and ``demo``,
which serves the same way) puts P in every absolute link — the mailed confirmation link,
feeds, the API's ``url`` fields — unless PAPERWIRE_BASE_URL is set."""

from __future__ import annotations

import email
import os
import re
import socket
import subprocess
import sys
import time
from datetime import date
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path

import httpx

from paperwire.config import Settings, load_settings, served_at, served_url
from paperwire.models import Paper, Signal
from paperwire.store import Store

D = date(2026, 6, 10)
PAPER = Paper(id="2606.00001", title="Links that follow the port", authors=("Ada",),
              categories=("cs.IR",), primary_category="cs.IR", published=D)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def read_mail(folder: Path, deadline: float) -> EmailMessage:
    while time.monotonic() < deadline:
        files = sorted(folder.glob("*.eml")) if folder.is_dir() else []
        if files:
            msg = email.message_from_bytes(files[0].read_bytes(), policy=default_policy)
            assert isinstance(msg, EmailMessage)
            return msg
        time.sleep(0.2)
    raise AssertionError("no mail reached the outbox")


def test_serve_on_another_port_links_to_that_port(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    store = Store.open(f"sqlite:///{(home / 'paperwire.db').resolve()}")
    store.write_batch([PAPER], [Signal(PAPER.id, "hf_upvotes", D, 9)])
    store.close()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERWIRE_")}
    env.update(PAPERWIRE_HOME=str(home), PAPERWIRE_INGEST_SCHEDULE="")
    out, err = (tmp_path / "stdout").open("w"), (tmp_path / "stderr").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "paperwire", "serve", "--port", str(port)],
                            env=env, stdout=out, stderr=err)
    try:
        with httpx.Client(base_url=base, timeout=30) as web:
            deadline = time.monotonic() + 60
            while True:
                try:
                    web.get("/healthz")
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise AssertionError("server did not start") from None
                    time.sleep(0.3)
            api = web.get("/api/trending").json()
            assert api["entries"][0]["url"] == f"{base}/papers/{PAPER.id}"
            assert web.get(f"/api/papers/{PAPER.id}").json()["url"] == f"{base}/papers/{PAPER.id}"
            hits = web.get("/api/search", params={"q": "port", "mode": "lexical"}).json()
            assert [h["url"] for h in hits["results"]] == [f"{base}/papers/{PAPER.id}"]
            feed = web.get("/feeds/trending.json").json()
            assert feed["home_page_url"].startswith(base)
            assert feed["items"][0]["url"] == f"{base}/papers/{PAPER.id}"
            assert f"{base}/papers/{PAPER.id}" in web.get("/feeds/trending.atom").text
            assert ":8000" not in web.get("/feeds/trending.atom").text

            r = web.post("/api/subscribe", json={"email": "reader@example.org"},
                         headers={"Origin": base})
            assert r.status_code == 202, r.text
            mail = read_mail(home / "outbox", time.monotonic() + 30)
            text = mail.get_body(("plain",))
            assert text is not None
            links = re.findall(r"https?://[^\s<>\"]+", text.get_content())
            assert links and all(link.rstrip(".,)") == base or link.startswith(base + "/")
                                 for link in links), links
            [confirm] = [link for link in links if "/subscribe/confirm?token=" in link]
            assert "Confirm" in web.get(confirm.removeprefix(base)).text  # the link works
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        out.close()
        err.close()
    # logs (uvicorn's included) go to stderr; no request line anywhere (addresses carry tokens)
    printed, logged = (tmp_path / "stdout").read_text(), (tmp_path / "stderr").read_text()
    assert "Uvicorn running" in logged and "Uvicorn running" not in printed
    assert "INFO" not in printed and "GET /" not in printed + logged


def test_a_configured_base_url_wins(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    env = {"PAPERWIRE_HOME": str(tmp_path)}
    assert served_at(settings, "127.0.0.1", 8765, env).base_url == "http://127.0.0.1:8765"
    assert served_at(settings, "localhost", 9000, env).base_url == "http://localhost:9000"
    assert served_at(settings, "0.0.0.0", 8080, env).base_url == "http://127.0.0.1:8080"
    assert served_url("::", 8080) == "http://[::1]:8080"
    assert served_url("::1", 81) == "http://[::1]:81"
    given = {**env, "PAPERWIRE_BASE_URL": "https://papers.example.org"}
    mine = load_settings(given)
    assert served_at(mine, "127.0.0.1", 8765, given).base_url == "https://papers.example.org"
    (tmp_path / "paperwire.toml").write_text('base_url = "https://lab.example.org/papers"\n')
    from_file = load_settings(env)
    assert served_at(from_file, "127.0.0.1", 8765, env).base_url == (
        "https://lab.example.org/papers")
