"""``paperwire user add | list | disable``, run in-process through the real entry point (exit
codes included), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import date, datetime

import pytest

from paperwire.app import Paperwire, session_hash
from paperwire.cli import EXIT_ERROR, EXIT_USAGE, main
from paperwire.config import load_settings
from paperwire.models import Paper
from paperwire.store import Store
from paperwire.store.library import SAVE, UPVOTE

NOW = datetime(2026, 6, 10, 9, 30)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(list(args))
    captured = capsys.readouterr()
    code = info.value.code
    return (code if isinstance(code, int) else 1), captured.out, captured.err


def test_add_and_list(cli_env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "user", "add", " Ada@Example.org ")
    assert code == 0 and out == "ada@example.org\tpending\n"
    code, out, _ = run(capsys, "user", "add", "grace@example.org", "--admin", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["email"] == "grace@example.org" and doc["admin"] is True
    assert doc["status"] == "pending" and doc["confirmed_at"] is None
    code, out, _ = run(capsys, "user", "add", "ada@example.org", "--admin")  # kept, made admin
    assert code == 0 and out == "ada@example.org\tpending admin\n"
    code, out, _ = run(capsys, "user", "list")
    assert code == 0 and out.splitlines() == ["ada@example.org\tpending admin",
                                              "grace@example.org\tpending admin"]
    code, out, _ = run(capsys, "user", "list", "--json")
    assert [a["email"] for a in json.loads(out)] == ["ada@example.org", "grace@example.org"]


def test_bad_usage_and_unknown_accounts(cli_env: dict[str, str],
                                        capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "user", "add", "not-an-address")
    assert code == EXIT_USAGE and "not an email address" in err
    code, _, err = run(capsys, "user", "disable", "nobody@example.org")
    assert code == EXIT_ERROR and err == "error: no account with the address " \
                                         "'nobody@example.org'\n"
    code, out, _ = run(capsys, "user", "list", "--json")
    assert code == 0 and json.loads(out) == []
    code, _, _ = run(capsys, "user")
    assert code == EXIT_USAGE


def test_disable_ends_sessions_and_takes_back_votes_and_saves(
        cli_env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    store = Store.open(cli_env["PAPERWIRE_DATABASE_URL"])
    store.write_batch([Paper(id="2606.00001", title="A paper", abstract="…", version=1,
                             published=date(2026, 6, 1))], now=NOW)
    paperwire = Paperwire(load_settings(), store, clock=lambda: NOW)
    account = store.accounts.request_signin("ada@example.org", "n1", NOW)
    assert account is not None
    account = store.accounts.confirm_signin(account.id, "n1", NOW)
    assert account is not None
    store.library.vote(account.id, "2606.00001", NOW)
    store.library.save(account.id, "2606.00001", NOW)
    token = paperwire.open_session(account)
    assert paperwire.session_account(token) is not None

    def counted(source: str) -> float:
        return sum(s.value for s in store.signals_between(NOW.date(), NOW.date(), source))

    assert counted(UPVOTE) == 1 and counted(SAVE) == 1
    code, out, _ = run(capsys, "user", "disable", "ADA@example.org", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["status"] == "disabled" and doc["disabled_at"]
    assert paperwire.session_account(token) is None
    assert store.accounts.session_account(session_hash(token), NOW) is None
    assert counted(UPVOTE) == 0 and counted(SAVE) == 0
    assert store.accounts.request_signin("ada@example.org", "n2", NOW) is None  # no link
    code, out, _ = run(capsys, "user", "disable", "ada@example.org")  # again: harmless
    assert code == 0 and out == "ada@example.org\tdisabled\n"
    store.close()
