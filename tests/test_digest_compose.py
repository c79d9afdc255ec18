"""Pure digest code: the period a digest covers, what goes into it, and the signed links.

No store, no network: :func:`compose` and :func:`digest_period` work on plain values, and the
token functions on bytes and strings (plus one folder for the generated key).
"""

from __future__ import annotations

import base64
import os
import stat
import threading
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from paperwire.digests import tokens
from paperwire.digests.compose import MAX_DAILY_SPAN, MAX_WEEKLY_SPAN, Match, compose, digest_period
from paperwire.errors import ConfigError, TokenError
from paperwire.models import Paper
from paperwire.records import Subscriber
from paperwire.trending import TrendingEntry

DAY = date(2026, 6, 10)  # a Wednesday: its digest covers Tuesday 9 June
KEY = b"k" * 32
NOW = datetime(2026, 6, 10, 7, 0)


def paper(n: int, cat: str = "cs.CL") -> Paper:
    return Paper(id=f"2606.{n:05d}", title=f"Paper number {n} about retrieval",
                 abstract="An abstract.", authors=("A. Author",), categories=(cat,),
                 primary_category=cat, published=date(2026, 6, 9))


def trend(ids: list[int]) -> list[tuple[TrendingEntry, Paper]]:
    """A trending list of the given papers, in that order, each with a reason."""
    return [
        (TrendingEntry(paper_id=paper(n).id, rank=i, score=100.0 - i, total=100.0 - i,
                       last_day=DAY - timedelta(days=1), series=(),
                       reason=f"{40 - i} upvotes on Hugging Face"), paper(n))
        for i, n in enumerate(ids, 1)
    ]


def match(n: int, score: float) -> Match:
    return Match(paper(n), score, 'Matches your interest "retrieval"')


def ids(digest_items: object) -> list[str]:
    return [it.paper.id for it in digest_items]  # type: ignore[attr-defined]


def pid(n: int) -> str:
    return paper(n).id


DAILY = Subscriber(id=1, email="a@example.org", status="active", categories=("cs.CL",), size=6)
WEEKLY = Subscriber(id=2, email="b@example.org", status="active", frequency="weekly", weekday=2)
TRENDING_ONLY = Subscriber(id=3, email="c@example.org", status="active", mode="trending",
                           categories=("cs.CL",), size=4)


# -- digest_period ---------------------------------------------------------------------------


def test_first_daily_digest_covers_the_day_before() -> None:
    """A first daily digest (nothing sent before) covers exactly D − 1."""
    assert digest_period(DAILY, DAY, None) == (date(2026, 6, 9), date(2026, 6, 9))


def test_daily_after_yesterdays_digest_covers_one_day() -> None:
    """After a digest whose period ended D − 2, the next covers D − 1 only."""
    assert digest_period(DAILY, DAY, date(2026, 6, 8)) == (date(2026, 6, 9), date(2026, 6, 9))


def test_daily_after_a_gap_covers_the_missed_days() -> None:
    """After a gap (last period ended D − 5) the digest picks up from the day after it."""
    assert digest_period(DAILY, DAY, date(2026, 6, 5)) == (date(2026, 6, 6), date(2026, 6, 9))


def test_daily_span_is_capped_at_seven_days() -> None:
    """A long gap is capped: at most MAX_DAILY_SPAN (7) days back, ending D − 1."""
    start, end = digest_period(DAILY, DAY, date(2026, 5, 1))
    assert end == date(2026, 6, 9)
    assert (end - start).days + 1 == MAX_DAILY_SPAN == 7
    assert start == date(2026, 6, 3)


def test_first_weekly_digest_covers_the_seven_days_before() -> None:
    """A first weekly digest covers D − 7 … D − 1."""
    assert digest_period(WEEKLY, DAY, None) == (date(2026, 6, 3), date(2026, 6, 9))


def test_weekly_after_a_gap_is_capped_at_fourteen_days() -> None:
    """A weekly digest after a long gap covers at most MAX_WEEKLY_SPAN (14) days; after a
    short gap it starts the day after the last one."""
    start, end = digest_period(WEEKLY, DAY, date(2026, 4, 1))
    assert (end - start).days + 1 == MAX_WEEKLY_SPAN == 14
    assert (start, end) == (date(2026, 5, 27), date(2026, 6, 9))
    assert digest_period(WEEKLY, DAY, date(2026, 5, 30)) == (date(2026, 5, 31), date(2026, 6, 9))


def test_period_never_starts_after_it_ends() -> None:
    """A last period that ends on or after D − 1 (digests sent out of order) still gives a
    one-day period, never an inverted one."""
    assert digest_period(DAILY, DAY, date(2026, 6, 12)) == (date(2026, 6, 9), date(2026, 6, 9))


# -- compose ---------------------------------------------------------------------------------


def test_matches_lead_up_to_two_thirds_then_trending() -> None:
    """With plenty of both, a personal digest of 6 holds ceil(6·2/3) = 4 matches (best score
    first) and then 2 trending papers, matches first."""
    matches = [match(n, score=1.0 / n) for n in range(1, 9)]
    digest = compose(DAILY, DAY, (DAY, DAY), trend([20, 21, 22, 23]), matches, set(), 40)
    assert ids(digest.items) == [pid(1), pid(2), pid(3), pid(4), pid(20), pid(21)]
    assert [it.kind for it in digest.items] == ["match"] * 4 + ["trending"] * 2
    assert digest.items[4].why == "Trending: 39 upvotes on Hugging Face"
    assert digest.items[0].why == 'Matches your interest "retrieval"'
    assert digest.note is None


def test_matches_fill_in_when_trending_runs_short() -> None:
    """With only one trending paper, more matches fill the digest to its size."""
    matches = [match(n, score=1.0 / n) for n in range(1, 9)]
    digest = compose(DAILY, DAY, (DAY, DAY), trend([20]), matches, set(), 40)
    assert len(digest.items) == 6
    assert ids(digest.items) == [pid(1), pid(2), pid(3), pid(4), pid(5), pid(20)]
    assert [it.kind for it in digest.items] == ["match"] * 5 + ["trending"]


def test_a_paper_that_matches_and_trends_appears_once() -> None:
    """A paper both matched and trending is listed once, as a match."""
    digest = compose(DAILY, DAY, (DAY, DAY), trend([1, 20]), [match(1, 0.5)], set(), 40)
    assert ids(digest.items) == [pid(1), pid(20)]
    assert digest.items[0].kind == "match"


def test_trending_only_mode_ignores_matches() -> None:
    """Mode ``trending`` sends trending papers only, even with interests and matches."""
    matches = [match(n, score=1.0) for n in range(1, 5)]
    digest = compose(TRENDING_ONLY, DAY, (DAY, DAY), trend([20, 21, 22, 23, 24, 25]), matches,
                     set(), 40)
    assert ids(digest.items) == [pid(20), pid(21), pid(22), pid(23)]
    assert {it.kind for it in digest.items} == {"trending"}


def test_personal_mode_without_interests_is_trending_only() -> None:
    """A personal subscriber with no interests and no matches gets trending papers only."""
    sub = Subscriber(id=4, email="d@example.org", status="active", size=3)
    digest = compose(sub, DAY, (DAY, DAY), trend([20, 21, 22, 23]), [], set(), 9)
    assert ids(digest.items) == [pid(20), pid(21), pid(22)]


def test_a_readers_own_model_makes_a_digest_personal_without_interests() -> None:
    """Matches for a subscriber without interests come from their account's model (its
    saves, upvotes and 👍): they lead the digest like interest matches."""
    sub = Subscriber(id=4, email="d@example.org", status="active", size=3)
    digest = compose(sub, DAY, (DAY, DAY), trend([20, 21, 22, 23]), [match(1, 1.0)], set(), 9)
    assert ids(digest.items) == [pid(1), pid(20), pid(21)]
    assert digest.items[0].kind == "match"


def test_already_sent_papers_never_appear() -> None:
    """A paper in ``already_sent`` is left out of matches and trending alike; the next ones
    move up."""
    matches = [match(n, score=1.0 / n) for n in range(1, 9)]
    sent = {pid(1), pid(3), pid(20)}
    digest = compose(DAILY, DAY, (DAY, DAY), trend([20, 21, 22, 23]), matches, sent, 40)
    got = ids(digest.items)
    assert not sent & set(got)
    assert got == [pid(2), pid(4), pid(5), pid(6), pid(21), pid(22)]


def test_everything_already_sent_gives_the_nothing_new_note() -> None:
    """When all candidates were sent before, the digest is empty and says so, naming the
    number of new papers when there were some."""
    sent = {pid(1), pid(20)}
    digest = compose(DAILY, DAY, (date(2026, 6, 9), date(2026, 6, 9)), trend([20]),
                     [match(1, 1.0)], sent, 17)
    assert digest.empty
    assert digest.note is not None
    assert digest.note.startswith("Nothing new for you for Tue 9 Jun")
    assert "none of the 17 new papers matched your interests" in digest.note


def test_nothing_new_and_no_new_papers_says_no_announcements() -> None:
    """With no new papers and nothing trending, the note says arXiv did not announce."""
    digest = compose(DAILY, DAY, (date(2026, 6, 6), date(2026, 6, 7)), [], [], set(), 0)
    assert digest.empty
    assert digest.note == (
        "Nothing new for you for Sat 6 Jun – Sun 7 Jun: no new papers were announced and "
        "nothing new is trending (arXiv does not announce on weekends and holidays).")


def test_weekend_with_only_trending_says_what_it_sends() -> None:
    """A weekend period (no new papers) with trending papers sends them, with a note saying
    that no papers were announced."""
    digest = compose(DAILY, DAY, (date(2026, 6, 7), date(2026, 6, 7)), trend([20, 21]), [],
                     set(), 0)
    assert ids(digest.items) == [pid(20), pid(21)]
    assert digest.note == (
        "No new papers were announced for Sun 7 Jun (arXiv does not announce on weekends and "
        "holidays); here is what is trending.")


def test_a_digest_never_exceeds_its_size() -> None:
    """Whatever the inputs, at most ``size`` items, no paper twice."""
    sub = Subscriber(id=5, email="e@example.org", status="active", queries=("x",), size=1)
    matches = [match(n, 1.0) for n in range(1, 5)]
    digest = compose(sub, DAY, (DAY, DAY), trend([20, 21]), matches, set(), 3)
    assert ids(digest.items) == [pid(1)]
    big = compose(DAILY, DAY, (DAY, DAY), trend(list(range(1, 30))),
                  [match(n, 1.0) for n in range(1, 30)], set(), 3)
    assert len(big.items) == 6 and len(set(ids(big.items))) == 6


# -- tokens ----------------------------------------------------------------------------------


def test_token_round_trip_keeps_its_claims() -> None:
    """A token reads back as the subscriber, nonce and expiry it was made with."""
    token = tokens.make_token(KEY, "confirm", 42, nonce="abc123",
                              expires=NOW + timedelta(hours=48))
    claims = tokens.read_token(KEY, "confirm", token, NOW)
    assert (claims.purpose, claims.subscriber_id, claims.nonce) == ("confirm", 42, "abc123")
    assert claims.expires == NOW + timedelta(hours=48)
    forever = tokens.read_token(KEY, "unsubscribe", tokens.make_token(KEY, "unsubscribe", 7),
                                NOW + timedelta(days=3650))
    assert forever.subscriber_id == 7 and forever.expires is None


def test_token_for_another_purpose_is_refused() -> None:
    """An unsubscribe token cannot be used to confirm or to change preferences."""
    token = tokens.make_token(KEY, "unsubscribe", 42)
    for purpose in ("confirm", "preferences"):
        with pytest.raises(TokenError, match="not valid"):
            tokens.read_token(KEY, purpose, token, NOW)


def test_token_from_another_key_is_refused() -> None:
    """A token signed with another key is not valid."""
    token = tokens.make_token(b"another key, also 32 bytes long!", "preferences", 42)
    with pytest.raises(TokenError, match="not valid"):
        tokens.read_token(KEY, "preferences", token, NOW)


def test_tampered_payload_is_refused() -> None:
    """Changing the subscriber id in the payload (and keeping the signature) fails."""
    token = tokens.make_token(KEY, "unsubscribe", 42)
    head, sig = token.split(".")
    forged = base64.urlsafe_b64encode(b"43:0:").rstrip(b"=").decode()
    assert forged != head
    with pytest.raises(TokenError, match="not valid"):
        tokens.read_token(KEY, "unsubscribe", f"{forged}.{sig}", NOW)


def test_tampered_signature_is_refused() -> None:
    """Flipping one character of the signature fails."""
    token = tokens.make_token(KEY, "unsubscribe", 42)
    head, sig = token.split(".")
    flipped = sig[:-2] + ("A" if sig[-2] != "A" else "B") + sig[-1]
    with pytest.raises(TokenError, match="not valid"):
        tokens.read_token(KEY, "unsubscribe", f"{head}.{flipped}", NOW)
    with pytest.raises(TokenError):
        tokens.read_token(KEY, "unsubscribe", head, NOW)  # the signature cut off


def test_expired_token_is_refused_at_its_expiry() -> None:
    """A token works until its expiry and not from that second on."""
    expires = NOW + timedelta(hours=48)
    token = tokens.make_token(KEY, "confirm", 42, nonce="n", expires=expires)
    assert tokens.read_token(KEY, "confirm", token, expires - timedelta(seconds=1))
    with pytest.raises(TokenError, match="expired"):
        tokens.read_token(KEY, "confirm", token, expires)


@pytest.mark.parametrize("damaged", [
    "", ".", "not a token", "%%%.%%%", "é.é", "abcde.fghij", "AAAA", "\x00\x01.\x02",
    "gICA.gICA",  # base64 of bytes that are not UTF-8
])
def test_damaged_text_is_a_token_error(damaged: str) -> None:
    """Any damaged text raises TokenError (one line), never another exception."""
    with pytest.raises(TokenError) as info:
        tokens.read_token(KEY, "unsubscribe", damaged, NOW)
    assert "\n" not in str(info.value)


def test_unknown_purpose_cannot_be_made() -> None:
    """make_token refuses a purpose it does not know."""
    with pytest.raises(ValueError, match="purpose"):
        tokens.make_token(KEY, "login", 1)


def test_secret_key_is_generated_once_into_home(tmp_path: Path) -> None:
    """Without a configured key, one is generated into HOME/secret_key (mode 0600, created
    with the folder) and the same key is read back on every later call."""
    home = tmp_path / "home"
    first = tokens.secret_key("", home)
    assert len(first) >= 32
    path = home / "secret_key"
    assert path.read_bytes().strip() == first
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert tokens.secret_key("", home) == first
    assert [p.name for p in home.iterdir()] == ["secret_key"]  # no temporary left behind
    other = tokens.secret_key("", tmp_path / "other")
    assert other != first


def _keys_from_threads(home: Path, n: int) -> tuple[list[bytes], list[BaseException]]:
    """``secret_key("", home)`` from ``n`` threads released at the same moment."""
    barrier = threading.Barrier(n)
    keys: list[bytes] = []
    errors: list[BaseException] = []

    def worker() -> None:
        barrier.wait()
        try:
            keys.append(tokens.secret_key("", home))
        except BaseException as exc:  # collected for the caller's assertions
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    return keys, errors


def test_threads_generating_the_key_at_once_agree_on_one(tmp_path: Path) -> None:
    """Threads of one process (same pid) asking for the key of a fresh HOME at the same
    moment all get the same key and none fails (the web server and a digest run in threads
    do exactly this on first use)."""
    for trial in range(30):
        home = tmp_path / f"home{trial}"
        keys, errors = _keys_from_threads(home, 6)
        assert errors == []
        assert len(keys) == 6 and len(set(keys)) == 1
        assert (home / "secret_key").read_bytes().strip() == keys[0]
        assert [p.name for p in home.iterdir()] == ["secret_key"]


def test_configured_key_wins_over_the_file(tmp_path: Path) -> None:
    """A configured key is used as is, whether or not a generated one exists."""
    generated = tokens.secret_key("", tmp_path)
    assert tokens.secret_key("a configured key of some length", tmp_path) == (
        b"a configured key of some length")
    assert tokens.secret_key("", tmp_path) == generated


def test_an_empty_secret_key_file_is_an_error_not_a_key(tmp_path: Path) -> None:
    """A key file left empty (say, by a crash) must never sign links: it would make every
    link forgeable. The error says what to do."""
    (tmp_path / "secret_key").write_bytes(b"\n")
    with pytest.raises(ConfigError, match="no usable secret key"):
        tokens.secret_key("", tmp_path)
    assert tokens.secret_key("x" * 32, tmp_path) == b"x" * 32  # a configured key still works
