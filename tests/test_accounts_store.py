"""Accounts, sessions, votes, the library and ratings in the store (``store.accounts``,
``store.library``) on SQLite and PostgreSQL: single-use sign-in links, sessions by hash,
one vote per account and paper (also under 20 concurrent voters), and local upvotes and saves
as trending signals that only active accounts move."""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from paperwire.errors import NotFound
from paperwire.models import Paper
from paperwire.store import Store
from paperwire.store.library import SAVE, UPVOTE
from paperwire.store.schema import metadata

NOW = datetime(2026, 6, 10, 9, 30)
DAY = NOW.date()


def paper(pid: str) -> Paper:
    return Paper(id=pid, title=f"Title {pid}", abstract="…", version=1,
                 published=date(2026, 6, 1))


@pytest.fixture
def papers(store: Store) -> Store:
    store.write_batch([paper(f"2606.0000{i}") for i in range(1, 6)], now=NOW)
    return store


def active(store: Store, email: str) -> int:
    account = store.accounts.request_signin(email, "n" + email.split("@")[0], NOW)
    assert account is not None and account.status == "pending"
    done = store.accounts.confirm_signin(account.id, "n" + email.split("@")[0], NOW)
    assert done is not None and done.status == "active"
    return done.id


def local(store: Store, source: str) -> dict[tuple[str, date], float]:
    return {(s.paper_id, s.day): s.value
            for s in store.signals_between(date(2026, 1, 1), date(2026, 12, 31), source)}


def test_the_migrations_make_the_schema_the_code_declares(store: Store) -> None:
    """No drift between store/schema.py and the Alembic migrations (tables, columns)."""
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    tables_or_columns = [d for d in diff if d[0] in ("add_table", "remove_table", "add_column",
                                                      "remove_column")]
    assert tables_or_columns == []


def test_a_signin_link_works_once_and_only_its_own(store: Store) -> None:
    acc = store.accounts.request_signin(" Reader@Example.ORG ", "first", NOW)
    assert acc is not None and (acc.email, acc.status) == ("reader@example.org", "pending")
    again = store.accounts.request_signin("reader@example.org", "second", NOW)
    assert again is not None and again.id == acc.id  # one account per address
    assert store.accounts.confirm_signin(acc.id, "first", NOW) is None  # replaced
    assert store.accounts.confirm_signin(acc.id, "", NOW) is None
    done = store.accounts.confirm_signin(acc.id, "second", NOW)
    assert done is not None and done.status == "active" and done.confirmed_at == NOW
    assert store.accounts.confirm_signin(acc.id, "second", NOW) is None  # used
    assert store.accounts.request_signin("nobody@example.org", "x", NOW, create=False) is None


def test_a_disabled_account_gets_no_link_and_no_session(store: Store) -> None:
    aid = active(store, "a@example.org")
    store.accounts.new_session(aid, "h" * 64, NOW, NOW + timedelta(days=1))
    assert store.accounts.session_account("h" * 64, NOW) is not None
    store.accounts.set_disabled("a@example.org", True, NOW)
    assert store.accounts.session_account("h" * 64, NOW) is None
    assert store.accounts.request_signin("a@example.org", "n", NOW) is None
    enabled = store.accounts.set_disabled("a@example.org", False, NOW)
    assert enabled is not None and enabled.status == "active"


def test_sessions_expire_and_end_everywhere(store: Store) -> None:
    aid = active(store, "a@example.org")
    for h in ("1" * 64, "2" * 64):
        store.accounts.new_session(aid, h, NOW, NOW + timedelta(hours=1))
    assert store.accounts.session_account("1" * 64, NOW + timedelta(hours=2)) is None
    assert store.accounts.count_sessions(aid, NOW) == 2
    store.accounts.end_session("1" * 64)
    assert store.accounts.session_account("1" * 64, NOW) is None
    assert store.accounts.session_account("2" * 64, NOW) is not None
    assert store.accounts.end_sessions(aid) == 1
    assert store.accounts.session_account("2" * 64, NOW) is None


def test_one_vote_per_account_and_paper_counted_as_a_signal(papers: Store) -> None:
    a, b = active(papers, "a@example.org"), active(papers, "b@example.org")
    lib = papers.library
    assert lib.vote(a, "2606.00001", NOW) is True
    assert lib.vote(a, "2606.00001", NOW) is False
    assert lib.vote(b, "2606.00001", NOW + timedelta(days=1)) is True
    assert local(papers, UPVOTE) == {("2606.00001", DAY): 1.0,
                                     ("2606.00001", DAY + timedelta(days=1)): 1.0}
    assert lib.vote_counts(["2606.00001", "2606.00002"]) == {"2606.00001": 2}
    assert lib.votes_of(a, ["2606.00001", "2606.00002"]) == {"2606.00001"}
    assert lib.unvote(a, "2606.00001", NOW) is True
    assert lib.unvote(a, "2606.00001", NOW) is False
    assert local(papers, UPVOTE) == {("2606.00001", DAY + timedelta(days=1)): 1.0}
    with pytest.raises(NotFound):
        lib.vote(a, "2606.99999", NOW)


def test_a_pending_or_disabled_account_moves_no_signal(papers: Store) -> None:
    pending = papers.accounts.add("p@example.org", NOW)
    papers.library.vote(pending.id, "2606.00001", NOW)  # never signed in: does not count
    assert local(papers, UPVOTE) == {}
    a = active(papers, "a@example.org")
    papers.library.vote(a, "2606.00002", NOW)
    papers.library.save(a, "2606.00002", NOW)
    papers.accounts.set_disabled("a@example.org", True, NOW)
    assert local(papers, UPVOTE) == {} and local(papers, SAVE) == {}
    papers.accounts.set_disabled("a@example.org", False, NOW)
    assert local(papers, UPVOTE) == {("2606.00002", DAY): 1.0}
    assert local(papers, SAVE) == {("2606.00002", DAY): 1.0}
    assert papers.accounts.delete(a, NOW) is True
    assert local(papers, UPVOTE) == {} and local(papers, SAVE) == {}
    assert papers.library.entries(a) == [] and papers.library.voted_ids(a) == []


def test_twenty_concurrent_voters_are_all_counted(papers: Store) -> None:
    ids = [active(papers, f"u{i}@example.org") for i in range(20)]
    barrier = threading.Barrier(len(ids))

    def vote(aid: int) -> None:
        barrier.wait()
        papers.library.vote(aid, "2606.00003", NOW)
        papers.library.vote(aid, "2606.00003", NOW)  # a double submit counts once

    threads = [threading.Thread(target=vote, args=(aid,)) for aid in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert local(papers, UPVOTE) == {("2606.00003", DAY): 20.0}
    assert papers.library.vote_counts(["2606.00003"]) == {"2606.00003": 20}


def test_library_tags_notes_and_state(papers: Store) -> None:
    a, b = active(papers, "a@example.org"), active(papers, "b@example.org")
    lib = papers.library
    assert lib.set_tags(a, "2606.00001", ["RAG", "rag", " dense  retrieval ", ""], NOW) == (
        "RAG", "dense retrieval")
    lib.set_note(a, "2606.00001", "**good** <script>x</script>", NOW)
    lib.set_state(a, "2606.00001", "to-read", NOW)
    lib.save(a, "2606.00002", NOW + timedelta(minutes=1))
    with pytest.raises(ValueError):
        lib.set_state(a, "2606.00002", "skimmed", NOW)
    entry = lib.entry(a, "2606.00001")
    assert entry is not None
    assert (entry.tags, entry.note, entry.state) == (
        ("RAG", "dense retrieval"), "**good** <script>x</script>", "to-read")
    assert [e.paper_id for e in lib.entries(a)] == ["2606.00002", "2606.00001"]
    assert [e.paper_id for e in lib.entries(a, tag="rag")] == ["2606.00001"]
    assert [e.paper_id for e in lib.entries(a, state="to-read")] == ["2606.00001"]
    assert lib.tags_of(a) == {"RAG": 1, "dense retrieval": 1}
    assert lib.entries(b) == [] and lib.tags_of(b) == {}  # one account's library only
    assert local(papers, SAVE) == {("2606.00001", DAY): 1.0, ("2606.00002", DAY): 1.0}
    assert lib.unsave(a, "2606.00001", NOW) is True
    assert lib.tags_of(a) == {} and lib.entry(a, "2606.00001") is None
    assert local(papers, SAVE) == {("2606.00002", DAY): 1.0}


def test_ratings_replace_each_other(papers: Store) -> None:
    a = active(papers, "a@example.org")
    papers.library.rate(a, "2606.00001", 1, "digest", NOW)
    papers.library.rate(a, "2606.00001", -1, "web", NOW + timedelta(minutes=1))
    papers.library.rate(a, "2606.00002", 1, "web", NOW)
    got = [(r.paper_id, r.value, r.source) for r in papers.library.ratings(a)]
    assert got == [("2606.00001", -1, "web"), ("2606.00002", 1, "web")]
    with pytest.raises(ValueError):
        papers.library.rate(a, "2606.00001", 5, "web", NOW)
    assert papers.library.unrate(a, "2606.00001") is True


def test_private_feed_secret_is_revocable(store: Store) -> None:
    a = active(store, "a@example.org")
    first = store.accounts.feed_secret(a)
    assert store.accounts.feed_secret(a) == first
    account = store.accounts.by_feed_secret(first)
    assert account is not None and account.id == a
    second = store.accounts.feed_secret(a, renew=True)
    assert second != first and store.accounts.by_feed_secret(first) is None
    assert store.accounts.by_feed_secret("") is None


def test_unconfirmed_accounts_are_purged(store: Store) -> None:
    store.accounts.request_signin("late@example.org", "n", NOW - timedelta(days=3))
    active(store, "a@example.org")
    store.accounts.add("admin@example.org", NOW - timedelta(days=3), admin=True)
    assert store.accounts.purge_pending(NOW - timedelta(days=1)) == 1
    assert {a.email for a in store.accounts.all()} == {"a@example.org", "admin@example.org"}


def test_tags_and_notes_are_stored_as_any_database_takes_them(papers: Store) -> None:
    """A NUL (PostgreSQL refuses it) or a lone surrogate (a non-UTF-8 terminal) in a tag or
    note reaches the store from any caller: it is cleaned, never a database error."""
    a = active(papers, "a@example.org")
    tags = papers.library.set_tags(a, "2606.00001", ["nu\x00ll", "half\ud83d"], NOW)
    papers.library.set_note(a, "2606.00001", "a\x00b \ud83d", NOW)
    entry = papers.library.entry(a, "2606.00001")
    assert entry is not None and sorted(entry.tags) == sorted(tags) == ["half?", "null"]
    assert all("\x00" not in t and t.encode() for t in entry.tags)
    assert entry.note is not None and "\x00" not in entry.note and entry.note.encode()
