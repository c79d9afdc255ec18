"""Upvotes and saves (issue 12): the action bar on every list and paper page, the toggles'
forms and JSON API, who may vote (signed-in, confirmed accounts only, with the session's CSRF
token), the per-account hourly limit, and local upvotes as their own trending source. On
SQLite and PostgreSQL; the concurrency tests post to a live uvicorn."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from accounts import session_cookie, sign_in
from live_server import served
from paperwire.app import Paperwire
from paperwire.config import Settings
from paperwire.models import Paper, Signal
from paperwire.store import Store
from paperwire.web.app import create_app
from paperwire.web.auth import csrf_for
from paperwire.web.common import anchor_id

NOW = datetime(2026, 7, 1, 9, 30)
TODAY = NOW.date()


def paper(n: int, title: str | None = None, age: int = 2) -> Paper:
    return Paper(id=f"2607.{n:05d}", title=title or f"Paper number {n} on retrieval",
                 abstract=f"We study retrieval, case {n}.", authors=("Ada",),
                 categories=("cs.IR",), primary_category="cs.IR",
                 published=TODAY - timedelta(days=age))


A, B, C = paper(1, "Votes <b>and</b> “quotes”"), paper(2), paper(3)
OTHERS = [paper(n, age=20) for n in range(10, 40)]  # older: A, B and C are the latest
SIGNALS = [Signal(A.id, "hf_upvotes", TODAY, 80), Signal(B.id, "hf_upvotes", TODAY, 90),
           Signal(C.id, "hf_upvotes", TODAY, 3)]


def upvote_signals(store: Store, paper_id: str) -> float:
    return sum(s.value for s in store.signals_for(paper_id) if s.source == "upvote")


@pytest.fixture
def pw(settings: Settings, store: Store) -> Paperwire:
    store.write_batch([A, B, C, *OTHERS], SIGNALS)
    return Paperwire(replace(settings, secret_key="k" * 32), store, clock=lambda: NOW)


@pytest.fixture
def client(pw: Paperwire) -> Iterator[TestClient]:
    with TestClient(create_app(pw), follow_redirects=False) as c:
        yield c


def vote(client: TestClient, csrf: str, paper_id: str, action: str = "vote",
         next_path: str = "/", kind: str = "vote") -> httpx.Response:
    return client.post(f"/papers/{paper_id}/{kind}",
                       data={"csrf": csrf, "action": action, "next": next_path})


def button(html: str, kind: str, paper_id: str) -> str:
    """The action bar's button (or sign-in link) of ``kind`` for ``paper_id`` on a page."""
    bar = html.split(f'id="{anchor_id(paper_id)}"', 1)[1].split("</div>", 1)[0]
    found = re.search(rf'<(button|a) [^>]*class="act {kind}"[^>]*>.*?</(button|a)>', bar, re.S)
    assert found, bar
    return found.group(0)


def text(markup: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", "", markup).split())


# ---- the toggles -----------------------------------------------------------------------


def test_upvote_and_undo_from_the_paper_page(client: TestClient, pw: Paperwire) -> None:
    csrf = sign_in(client, pw, "ada@example.org")
    html = client.get(f"/papers/{A.id}").text
    up = button(html, "vote", A.id)
    assert 'aria-pressed="false"' in up and text(up) == "▲ Upvote (0)"
    form = html.split(f'id="{anchor_id(A.id)}"', 1)[1].split("</form>", 1)[0]
    assert f'action="/papers/{A.id}/vote"' in form and f'value="{csrf}"' in form
    assert 'name="action" value="vote"' in form
    assert f'name="next" value="/papers/{A.id}#{anchor_id(A.id)}"' in form

    done = vote(client, csrf, A.id, next_path=f"/papers/{A.id}#{anchor_id(A.id)}")
    assert done.status_code == 303
    assert done.headers["location"] == f"/papers/{A.id}#{anchor_id(A.id)}"
    up = button(client.get(f"/papers/{A.id}").text, "vote", A.id)
    assert 'aria-pressed="true"' in up and text(up) == "▲ Upvoted (1) — undo"
    assert upvote_signals(pw.store, A.id) == 1

    # the same form sent again (a double click, a reload) does not flip it back
    assert vote(client, csrf, A.id).status_code == 303
    assert pw.store.library.vote_counts([A.id]) == {A.id: 1}
    assert upvote_signals(pw.store, A.id) == 1

    assert vote(client, csrf, A.id, "unvote").status_code == 303
    up = button(client.get(f"/papers/{A.id}").text, "vote", A.id)
    assert 'aria-pressed="false"' in up and text(up) == "▲ Upvote (0)"
    assert pw.store.library.vote_counts([A.id]) == {} and upvote_signals(pw.store, A.id) == 0
    assert vote(client, csrf, A.id, "unvote").status_code == 303  # still nothing to undo


def test_save_and_unsave(client: TestClient, pw: Paperwire) -> None:
    csrf = sign_in(client, pw, "ada@example.org")
    account = pw.store.accounts.by_email("ada@example.org")
    assert account is not None
    assert text(button(client.get(f"/papers/{B.id}").text, "save", B.id)) == "☆ Save"
    assert vote(client, csrf, B.id, "save", kind="save").status_code == 303
    saved = button(client.get(f"/papers/{B.id}").text, "save", B.id)
    assert text(saved) == "★ Saved" and 'aria-pressed="true"' in saved
    assert pw.store.library.saved_of(account.id, [B.id]) == {B.id}
    assert sum(s.value for s in pw.store.signals_for(B.id) if s.source == "save") == 1
    assert vote(client, csrf, B.id, "save", kind="save").status_code == 303  # no flip
    assert pw.store.library.saved_of(account.id, [B.id]) == {B.id}
    assert vote(client, csrf, B.id, "unsave", kind="save").status_code == 303
    assert pw.store.library.saved_of(account.id, [B.id]) == set()
    assert all(s.source != "save" for s in pw.store.signals_for(B.id))
    # a vote's action on the save route (and anything else) is refused
    assert vote(client, csrf, B.id, "vote", kind="save").status_code == 400
    assert vote(client, csrf, B.id, "toggle").status_code == 400
    assert pw.store.library.saved_of(account.id, [B.id]) == set()


def test_unsaving_asks_first_when_tags_or_a_note_would_go(client: TestClient,
                                                          pw: Paperwire) -> None:
    csrf = sign_in(client, pw, "ada@example.org")
    account = pw.store.accounts.by_email("ada@example.org")
    assert account is not None
    pw.store.library.set_tags(account.id, B.id, ["rag", "to cite"], NOW)
    pw.store.library.set_note(account.id, B.id, "read section 4", NOW)
    asked = vote(client, csrf, B.id, "unsave", kind="save")
    assert asked.status_code == 200 and "Remove from your library?" in asked.text
    assert "rag, to cite" in asked.text and 'name="confirm" value="yes"' in asked.text
    entry = pw.store.library.entry(account.id, B.id)
    assert entry is not None and entry.note == "read section 4"  # nothing lost yet
    gone = client.post(f"/papers/{B.id}/save", data={"csrf": csrf, "action": "unsave",
                                                      "confirm": "yes", "next": "/library"})
    assert gone.status_code == 303 and gone.headers["location"] == "/library"
    assert pw.store.library.entry(account.id, B.id) is None


@pytest.mark.parametrize("bad", [
    "//evil.example/x", "http://evil.example/", "https:evil.example", "/\\evil.example",
    "javascript:alert(1)", "evil.example", "", "/\x0d\x0aSet-Cookie:x=1"])
def test_next_goes_back_only_to_a_page_of_this_site(client: TestClient, pw: Paperwire,
                                                   bad: str) -> None:
    csrf = sign_in(client, pw, "ada@example.org")
    r = vote(client, csrf, A.id, next_path=bad)
    assert r.status_code == 303 and r.headers["location"] == f"/papers/{A.id}"
    ok = vote(client, csrf, A.id, "unvote", next_path="/search?q=x&limit=5#act-1")
    assert ok.headers["location"] == "/search?q=x&limit=5#act-1"


def test_unknown_and_versioned_ids(client: TestClient, pw: Paperwire) -> None:
    csrf = sign_in(client, pw, "ada@example.org")
    assert vote(client, csrf, "2607.99999").status_code == 404
    assert vote(client, csrf, "no such paper", kind="save", action="save").status_code == 404
    api = client.post("/api/papers/2607.99999/vote", json={"vote": True},
                      headers={"X-CSRF-Token": csrf})
    assert api.status_code == 404 and "detail" in api.json()
    assert vote(client, csrf, f"{A.id}v3").status_code == 303  # a version names its paper
    assert pw.store.library.vote_counts([A.id]) == {A.id: 1}


# ---- who may vote ---------------------------------------------------------------------


def test_anonymous_forged_and_cross_site_posts_change_nothing(client: TestClient,
                                                              pw: Paperwire) -> None:
    anonymous = vote(client, "", A.id, next_path="/?window=day")
    assert anonymous.status_code == 401
    assert 'href="/signin?next=/%3Fwindow%3Dday"' in anonymous.text  # comes back after
    assert client.post(f"/api/papers/{A.id}/vote", json={"vote": True}).status_code == 401
    csrf = sign_in(client, pw, "ada@example.org")
    other = TestClient(create_app(pw))
    other_csrf = sign_in(other, pw, "bob@example.org")
    for r in (
        client.post(f"/papers/{A.id}/vote", data={"action": "vote"}),  # no token
        vote(client, csrf[:-1] + ("1" if csrf[-1] == "0" else "0"), A.id),  # a forged one
        vote(client, other_csrf, A.id),  # another session's
        client.post(f"/papers/{A.id}/vote", data={"csrf": csrf, "action": "vote"},
                    headers={"Sec-Fetch-Site": "cross-site"}),
        client.post(f"/papers/{A.id}/vote", data={"csrf": csrf, "action": "vote"},
                    headers={"Origin": "https://evil.example"}),
        client.post(f"/api/papers/{A.id}/vote", json={"vote": True}),  # no header
        client.post(f"/api/papers/{A.id}/vote", json={"vote": True},
                    headers={"X-CSRF-Token": "0" * 40}),
    ):
        assert r.status_code == 403, r.text
    assert pw.store.library.vote_counts([A.id]) == {}
    assert upvote_signals(pw.store, A.id) == 0


def test_disabled_and_pending_accounts_do_not_count(client: TestClient, pw: Paperwire) -> None:
    """Only active accounts' votes are trending signals; disabling one takes its votes out
    of trending and the counts (and its session stops working); enabling puts them back."""
    csrf = sign_in(client, pw, "ada@example.org")
    assert vote(client, csrf, C.id).status_code == 303
    pending = pw.store.accounts.add("pending@example.org", NOW)
    assert pending.status == "pending"
    pw.store.library.vote(pending.id, C.id, NOW)  # only the store could (no session)
    assert pw.store.library.vote_counts([C.id]) == {C.id: 1}
    assert upvote_signals(pw.store, C.id) == 1
    assert "1 upvote here, 3 on Hugging Face" in client.get("/?window=day").text

    pw.store.accounts.set_disabled("ada@example.org", True, NOW)
    assert upvote_signals(pw.store, C.id) == 0
    assert pw.store.library.vote_counts([C.id]) == {}
    assert vote(client, csrf, C.id, "unvote").status_code == 401  # signed out by it
    trending = client.get("/api/trending?window=day").json()["entries"]
    [reason] = [e["reason"] for e in trending if e["id"] == C.id]
    assert reason.startswith("3 upvotes on Hugging Face on Wed 1 Jul; #3 today")
    pw.store.accounts.set_disabled("ada@example.org", False, NOW)
    assert upvote_signals(pw.store, C.id) == 1


# ---- trending ---------------------------------------------------------------------------


def test_local_upvotes_are_their_own_part_of_trending(client: TestClient, pw: Paperwire) -> None:
    """Twelve accounts upvote C: its score gains a part of its own (weight 1), the reason
    names the local and Hugging Face counts apart, and C climbs above A and B; undoing the
    votes takes it all back."""
    before = client.get("/api/trending?window=day").json()
    assert [e["id"] for e in before["entries"]] == [B.id, A.id, C.id]
    tokens = []
    for i in range(12):
        voter = TestClient(create_app(pw), follow_redirects=False)
        csrf = sign_in(voter, pw, f"v{i}@example.org")
        assert vote(voter, csrf, C.id).status_code == 303
        tokens.append((voter, csrf))
    api = client.get("/api/trending?window=day").json()
    c = next(e for e in api["entries"] if e["id"] == C.id)
    assert {p["source"]: (p["count"], p["weight"]) for p in c["parts"]} == {
        "upvote": (12, 1.0), "hf_upvotes": (3, 1.0)}
    assert c["score"] == pytest.approx(15.0)
    assert c["reason"].startswith("12 upvotes here, 3 on Hugging Face on ")
    html = client.get("/?window=day").text
    assert "12 upvotes here, 3 on Hugging Face" in html
    assert "12.00 from 12 upvotes here (×1) + 3.00 from 3 upvotes on Hugging Face (×1)" in html
    assert text(button(html, "vote", C.id)) == f"▲ Upvote (12) “{C.title}” (sign in first)"
    for voter, csrf in tokens:
        assert vote(voter, csrf, C.id, "unvote").status_code == 303
    c = next(e for e in client.get("/api/trending?window=day").json()["entries"]
             if e["id"] == C.id)
    assert [p["source"] for p in c["parts"]] == ["hf_upvotes"]
    assert "here" not in c["reason"]


# ---- the action bar on every list -------------------------------------------------------


@contextmanager
def statements(pw: Paperwire, tables: tuple[str, ...]) -> Iterator[list[str]]:
    """The SQL statements run meanwhile that name any of ``tables``."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if any(re.search(rf"\b{t}\b", statement) for t in tables):
            seen.append(statement)

    event.listen(pw.store.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(pw.store.engine, "before_cursor_execute", record)


def test_every_list_has_the_action_bar_from_one_query_per_kind(client: TestClient,
                                                               pw: Paperwire) -> None:
    csrf = sign_in(client, pw, "ada@example.org")
    vote(client, csrf, A.id)
    vote(client, csrf, B.id, "save", kind="save")
    pw.sync_lexical()
    pages = {"/?window=day": [B.id, A.id, C.id],
             "/search?q=retrieval&mode=lexical&limit=100": [A.id, B.id, C.id],
             f"/?window=day&date={(TODAY - timedelta(days=5)).isoformat()}": [A.id, B.id]}
    for url, ids in pages.items():
        with statements(pw, ("votes", "library")) as seen:
            html = client.get(url).text
        assert html.count('class="actions"') >= 3, url
        assert len(seen) == 3, (url, seen)  # counts, votes_of, saved_of: not one per paper
        for pid in ids:
            up, save = button(html, "vote", pid), button(html, "save", pid)
            assert ('aria-pressed="true"' in up) == (pid == A.id), (url, pid)
            assert ('aria-pressed="true"' in save) == (pid == B.id), (url, pid)
            assert f"({1 if pid == A.id else 0})" in text(up)
        assert f'value="{csrf}"' in html
    paper_page = client.get(f"/papers/{C.id}").text
    assert button(paper_page, "vote", C.id)
    similar = paper_page.split('<section class="similar">', 1)[1]
    assert similar.count('class="actions"') == similar.count('<li class="paper">') > 0


def test_signed_out_the_bar_is_links_to_sign_in(client: TestClient) -> None:
    html = client.get("/?window=day").text
    assert "<form method=\"post\" action=\"/papers/" not in html
    up = button(html, "vote", A.id)
    back = f"/signin?next=/%3Fwindow%3Dday%23{anchor_id(A.id)}"
    assert up.startswith(f'<a class="act vote" href="{back}"')
    assert text(button(html, "save", A.id)).startswith("☆ Save")
    # the title in the accessible name is escaped like every title
    assert "Votes &lt;b&gt;and&lt;/b&gt; “quotes”" in up


# ---- the JSON API -----------------------------------------------------------------------


def test_json_api_votes_and_saves(client: TestClient, pw: Paperwire) -> None:
    csrf = sign_in(client, pw, "ada@example.org")
    h = {"X-CSRF-Token": csrf}
    r = client.post(f"/api/papers/{A.id}/vote", json={"vote": True}, headers=h)
    assert r.status_code == 200
    assert r.json() == {"id": A.id, "voted": True, "saved": False, "upvotes": 1, "changed": True}
    again = client.post(f"/api/papers/{A.id}/vote", json={"vote": True}, headers=h).json()
    assert again["changed"] is False and again["upvotes"] == 1
    r = client.post(f"/api/papers/{A.id}/save", json={"save": True}, headers=h).json()
    assert r == {"id": A.id, "voted": True, "saved": True, "upvotes": 1, "changed": True}
    r = client.post(f"/api/papers/{A.id}/vote", json={"vote": False}, headers=h).json()
    assert r["voted"] is False and r["upvotes"] == 0 and r["changed"] is True
    for body in ({"vote": "yes"}, {"save": True}, [], {"vote": 1}):
        bad = client.post(f"/api/papers/{A.id}/vote", json=body, headers=h)
        assert bad.status_code == 400 and "detail" in bad.json()
    form = client.post(f"/api/papers/{A.id}/vote", data={"vote": "true"}, headers=h)
    assert form.status_code == 415
    assert pw.store.library.vote_counts([A.id]) == {}


# ---- limits, under concurrency ----------------------------------------------------------


def concurrently(n: int, action: Callable[[int], object]) -> list[BaseException]:
    """Run ``action(i)`` for i in range(n) in n threads released together; their errors."""
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            action(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return errors


def test_the_hourly_limit_and_what_it_counts(settings: Settings, store: Store) -> None:
    store.write_batch([A, B, C, *OTHERS], SIGNALS)
    clock = [NOW]
    pw = Paperwire(replace(settings, secret_key="k" * 32, vote_limit=3), store,
                   clock=lambda: clock[0])
    client = TestClient(create_app(pw), follow_redirects=False)
    csrf = sign_in(client, pw, "ada@example.org")
    assert [vote(client, csrf, p.id).status_code for p in (A, B, C)] == [303] * 3
    refused = vote(client, csrf, OTHERS[0].id)
    assert refused.status_code == 429
    assert "at most 3 changes an hour" in refused.text
    api = client.post(f"/api/papers/{A.id}/vote", json={"vote": False},
                      headers={"X-CSRF-Token": csrf})
    assert api.status_code == 429 and "at most 3" in api.json()["detail"]
    assert vote(client, csrf, A.id).status_code == 303  # asks for what stands: costs nothing
    assert pw.store.library.vote_counts([A.id, B.id, C.id, OTHERS[0].id]) == {
        A.id: 1, B.id: 1, C.id: 1}
    other = TestClient(create_app(pw), follow_redirects=False)  # another account's own
    assert vote(other, sign_in(other, pw, "bob@example.org"), OTHERS[0].id).status_code == 303
    clock[0] = NOW + timedelta(hours=1)  # the next hour
    assert vote(client, csrf, OTHERS[0].id).status_code == 303


def test_twenty_concurrent_votes_of_one_account_make_one_vote(settings: Settings,
                                                             store: Store) -> None:
    """Over real HTTP: one account posts the same upvote twenty times at once, and twenty
    accounts upvote the same paper at once: one vote per account, counted exactly."""
    store.write_batch([A, B, C], SIGNALS)
    pw = Paperwire(replace(settings, secret_key="k" * 32, vote_limit=1000), store,
                   clock=lambda: NOW)
    with served(create_app(pw)) as site:
        name, value = session_cookie(pw, "ada@example.org")
        csrf = _csrf(pw, value)
        codes: list[int] = []

        def same(i: int) -> None:
            r = httpx.post(f"{site}/papers/{A.id}/vote", cookies={name: value}, timeout=60,
                           data={"csrf": csrf, "action": "vote", "next": "/"})
            codes.append(r.status_code)

        assert concurrently(20, same) == []
        assert codes == [303] * 20
        assert pw.store.library.vote_counts([A.id]) == {A.id: 1}
        assert upvote_signals(pw.store, A.id) == 1

        crowd = [session_cookie(pw, f"crowd{i}@example.org") for i in range(20)]
        answers: list[dict[str, Any]] = []

        def many(i: int) -> None:
            cookie = crowd[i]
            r = httpx.post(f"{site}/api/papers/{B.id}/vote", cookies={cookie[0]: cookie[1]},
                           json={"vote": True}, headers={"X-CSRF-Token": _csrf(pw, cookie[1])},
                           timeout=60)
            assert r.status_code == 200, r.text
            answers.append(r.json())

        assert concurrently(20, many) == []
        assert all(a["voted"] and a["changed"] for a in answers)
        assert max(a["upvotes"] for a in answers) == 20
        assert pw.store.library.vote_counts([B.id]) == {B.id: 20}
        assert upvote_signals(pw.store, B.id) == 20


def test_twenty_concurrent_votes_in_the_store_make_one(store: Store) -> None:
    store.write_batch([A], [])
    account = store.accounts.add("ada@example.org", NOW)
    store.accounts.request_signin("ada@example.org", "n", NOW)
    assert store.accounts.confirm_signin(account.id, "n", NOW) is not None
    lib = store.library
    made: list[bool] = []
    assert concurrently(20, lambda i: made.append(lib.vote(account.id, A.id, NOW))) == []
    assert sorted(made) == [False] * 19 + [True]
    assert upvote_signals(store, A.id) == 1
    gone: list[bool] = []
    assert concurrently(20, lambda i: gone.append(lib.unvote(account.id, A.id, NOW))) == []
    assert sorted(gone) == [False] * 19 + [True]
    assert upvote_signals(store, A.id) == 0


def test_the_limit_holds_under_twenty_concurrent_requests(settings: Settings,
                                                         store: Store) -> None:
    """Twenty different upvotes at once by one account with five changes left: exactly
    five are made, fifteen are answered 429."""
    store.write_batch(OTHERS, [])
    pw = Paperwire(replace(settings, secret_key="k" * 32, vote_limit=5), store,
                   clock=lambda: NOW)
    with served(create_app(pw)) as site:
        name, value = session_cookie(pw, "ada@example.org")
        csrf = _csrf(pw, value)
        codes: list[int] = []

        def one(i: int) -> None:
            r = httpx.post(f"{site}/papers/{OTHERS[i].id}/vote", cookies={name: value},
                           data={"csrf": csrf, "action": "vote", "next": "/"}, timeout=60)
            codes.append(r.status_code)

        assert concurrently(20, one) == []
    assert sorted(codes) == [303] * 5 + [429] * 15
    counts = store.library.vote_counts([p.id for p in OTHERS])
    assert sum(counts.values()) == 5


def _csrf(pw: Paperwire, cookie_value: str) -> str:
    return csrf_for(pw.key, cookie_value)


# ---- in a browser, with the keyboard ------------------------------------------------------


def test_keyboard_upvote_and_undo_in_chromium(settings: Settings, store: Store) -> None:
    """Signed in, Tab to the upvote button and press Enter: the page comes back with the
    count up and the button pressed; Enter on it again undoes the vote. No script runs."""
    from test_browser import ARGS, _playwright

    sync_playwright, executable = _playwright()
    store.write_batch([A, B, C], SIGNALS)
    pw = Paperwire(replace(settings, secret_key="k" * 32), store, clock=lambda: NOW)
    name, value = session_cookie(pw, "ada@example.org")
    with served(create_app(pw)) as site, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=ARGS)
        try:
            context = browser.new_context()
            context.add_cookies([{"name": name, "value": value, "url": site}])
            page = context.new_page()
            page.goto(f"{site}/?window=day")
            bar = page.locator(f"#{anchor_id(C.id)}")
            up = bar.get_by_role("button", name=re.compile(r"^Upvote \(0\)"))
            assert up.get_attribute("aria-pressed") == "false"
            for _ in range(200):  # Tab through the page until the button has the focus
                page.keyboard.press("Tab")
                if up.evaluate("el => el === document.activeElement"):
                    break
            else:
                pytest.fail("the upvote button cannot be reached with Tab")
            with page.expect_navigation():
                page.keyboard.press("Enter")
            assert page.url == f"{site}/?window=day#{anchor_id(C.id)}"
            pressed = bar.get_by_role("button", name=f"Upvoted (1) “{C.title}” — undo")
            assert pressed.get_attribute("aria-pressed") == "true"
            assert "1 upvote here, 3 on Hugging Face" in page.locator("ol.trending").inner_text()
            assert store.library.vote_counts([C.id]) == {C.id: 1}
            pressed.focus()
            with page.expect_navigation():
                page.keyboard.press("Enter")
            undone = bar.get_by_role("button", name=re.compile(r"^Upvote \(0\)"))
            assert undone.get_attribute("aria-pressed") == "false"
            assert store.library.vote_counts([C.id]) == {}
        finally:
            browser.close()
