"""The Hugging Face daily-papers source, served real day files (tests/fixtures/sources/hf)
through httpx.MockTransport, so the real Fetcher, parser and day planning run."""

from __future__ import annotations

import gzip
import json
from datetime import date
from pathlib import Path

import httpx
import pytest

from paperwire.errors import SourceError
from paperwire.sources.base import Batch, Cursor
from paperwire.sources.hf import HfDailySource, parse_day, plan_days
from paperwire.sources.http import Fetcher
from paperwire.store import Store

FIX = Path(__file__).parent / "fixtures" / "sources" / "hf"
BASE = "https://huggingface.co/api/daily_papers"
WEEKEND = {"2025-06-14", "2025-06-15"}
D = date.fromisoformat

Reply = httpx.Response | bytes


def day_body(day: str) -> bytes:
    return gzip.decompress((FIX / f"{day}.json.gz").read_bytes())


def with_upvotes(day: str, paper_id: str, upvotes: int) -> bytes:
    entries = json.loads(day_body(day))
    for e in entries:
        if e["paper"]["id"] == paper_id:
            e["paper"]["upvotes"] = upvotes
    return json.dumps(entries).encode()


class FakeHf:
    """Answers like the API: a fixture file for its day, ``[]`` on the weekend. ``queued``
    replies (per date) are served first, one per request. Any other day fails the test."""

    def __init__(self) -> None:
        self.queued: dict[str, list[Reply]] = {}
        self.dates: list[str] = []
        self.sleeps: list[float] = []

    def queue(self, day: str, *replies: Reply) -> None:
        self.queued.setdefault(day, []).extend(replies)

    def handler(self, request: httpx.Request) -> httpx.Response:
        assert request.url.copy_with(query=None) == httpx.URL(BASE)
        day = request.url.params["date"]
        self.dates.append(day)
        if self.queued.get(day):
            reply = self.queued[day].pop(0)
            if isinstance(reply, httpx.Response):
                return reply
            return httpx.Response(200, content=reply)
        if (FIX / f"{day}.json.gz").exists():
            return httpx.Response(200, content=day_body(day))
        if day in WEEKEND:
            return httpx.Response(200, json=[])
        raise AssertionError(f"unexpected request for {day}")

    def source(self, **kw: object) -> HfDailySource:
        client = httpx.Client(transport=httpx.MockTransport(self.handler))
        fetcher = Fetcher("hf-daily", client, backoff=0.5, sleep=self.sleeps.append)
        return HfDailySource(fetcher, BASE, **kw)  # type: ignore[arg-type]


def run(source: HfDailySource, cursor: Cursor | None = None) -> list[Batch]:
    return list(source.batches(cursor))


def signals_of(batch: Batch) -> dict[str, float]:
    return {s.paper_id: s.value for s in batch.signals}


@pytest.fixture
def hf() -> FakeHf:
    return FakeHf()


# --------------------------------------------------------------------------- one day


def test_weekday_with_many_entries(hf: FakeHf) -> None:
    source = hf.source(day=D("2025-06-13"))
    assert source.key == "hf-daily"
    [batch] = run(source)
    assert hf.dates == ["2025-06-13"]
    assert len(batch.papers) == 26 and batch.skipped == []
    assert batch.note == "Hugging Face 2025-06-13: 26 papers"
    assert batch.cursor == {"done_until": "2025-06-13"}

    p = next(p for p in batch.papers if p.id == "2506.09513")
    assert p.title == (
        "ReasonMed: A 370K Multi-Agent Generated Dataset for Advancing Medical Reasoning"
    )
    assert p.abstract.startswith("Though reasoning-based large language models (LLMs) have")
    assert "\n" not in p.abstract
    assert p.authors == (
        "Yu Sun", "Xingyu Qian", "Weiwen Xu", "Hao Zhang", "Chenghao Xiao", "Long Li",
        "Yu Rong", "Wenbing Huang", "Qifeng Bai", "Tingyang Xu",
    )
    assert p.published == date(2025, 6, 11)  # paper.publishedAt 2025-06-11T08:36:55Z
    assert (p.version, p.source) == (None, "hf")

    sigs = signals_of(batch)
    assert len(batch.signals) == 26
    assert {s.source for s in batch.signals} == {"hf_upvotes"}
    assert {s.day for s in batch.signals} == {date(2025, 6, 13)}
    assert sigs["2506.09513"] == 31.0
    assert sigs["2506.10954"] == 25.0
    assert sigs["2506.10378"] == 0.0  # a real 0 is a signal too


def test_day_with_few_entries(hf: FakeHf) -> None:
    [batch] = run(hf.source(day=D("2025-06-20")))
    assert [p.id for p in batch.papers] == ["2506.15154", "2506.14837"]
    first = batch.papers[0]
    assert first.authors == ("Anuradha Chopra", "Abhinaba Roy", "Dorien Herremans")
    # paper.publishedAt (05:51Z), not the entry's own publishedAt (01:51Z)
    assert first.published == date(2025, 6, 18)
    assert signals_of(batch) == {"2506.15154": 2.0, "2506.14837": 0.0}
    assert {s.day for s in batch.signals} == {date(2025, 6, 20)}


def test_day_saved_as_python_repr_strings(hf: FakeHf) -> None:
    """2024-12-11 is stored as repr strings (the saving script's doing, not the API's); the
    shared parser decodes them, so the day comes out as if the API had sent objects."""
    [batch] = run(hf.source(day=D("2024-12-11")))
    assert len(batch.papers) == 26 and batch.skipped == []
    p = next(p for p in batch.papers if p.id == "2412.07730")
    assert p.title == "STIV: Scalable Text and Image Conditioned Video Generation"
    assert len(p.authors) == 17 and p.authors[:4] == (
        "Zongyu Lin", "Wei Liu", "Chen Chen", "Jiasen Lu",
    )
    assert p.published == date(2024, 12, 10)
    assert signals_of(batch)["2412.07730"] == 54.0
    assert {s.day for s in batch.signals} == {date(2024, 12, 11)}


def test_weekend_days_are_empty_batches_and_the_cursor_moves_on(hf: FakeHf) -> None:
    batches = run(hf.source(since=D("2025-06-13"), until=D("2025-06-16")))
    assert hf.dates == ["2025-06-13", "2025-06-14", "2025-06-15", "2025-06-16"]
    assert [len(b.papers) for b in batches] == [26, 0, 0, 9]
    assert [len(b.signals) for b in batches] == [26, 0, 0, 9]
    assert [b.cursor for b in batches] == [
        {"day": "2025-06-13", "until": "2025-06-16"},
        {"day": "2025-06-14", "until": "2025-06-16"},
        {"day": "2025-06-15", "until": "2025-06-16"},
        {"done_until": "2025-06-16"},
    ]
    assert batches[1].note == "Hugging Face 2025-06-14: 0 papers"
    assert {s.day for s in batches[3].signals} == {date(2025, 6, 16)}


def test_entry_without_paper_id_is_skipped_with_its_reason(hf: FakeHf) -> None:
    entries = json.loads(day_body("2025-06-20"))
    del entries[0]["paper"]["id"]
    hf.queue("2025-06-20", json.dumps(entries).encode())
    [batch] = run(hf.source(day=D("2025-06-20")))
    assert [p.id for p in batch.papers] == ["2506.14837"]
    assert batch.skipped == [("hf-daily 2025-06-20 entry 1", "missing id")]
    assert batch.note == "Hugging Face 2025-06-20: 1 papers, 1 skipped"
    assert batch.cursor == {"done_until": "2025-06-20"}


# --------------------------------------------------------------------------- re-polling


def test_repoll_within_lookback_yields_the_new_upvotes(hf: FakeHf) -> None:
    today = D("2025-06-16")
    first = run(hf.source(today=today, lookback_days=3))
    assert hf.dates == ["2025-06-13", "2025-06-14", "2025-06-15", "2025-06-16"]
    assert signals_of(first[0])["2506.09513"] == 31.0
    cursor = first[-1].cursor
    assert cursor == {"done_until": "2025-06-16"}

    hf.dates.clear()
    hf.queue("2025-06-13", with_upvotes("2025-06-13", "2506.09513", 45))
    again = run(hf.source(today=today, lookback_days=3), cursor)
    assert hf.dates == ["2025-06-13", "2025-06-14", "2025-06-15", "2025-06-16"]
    assert signals_of(again[0])["2506.09513"] == 45.0
    assert signals_of(again[0])["2506.10954"] == 25.0  # unchanged ones come again too


def test_repoll_replaces_the_stored_value(hf: FakeHf, store: Store) -> None:
    def ingest(source: HfDailySource) -> None:
        for b in source.batches(store.get_cursor(source.key)):
            cursor = (source.key, b.cursor) if b.cursor is not None else None
            store.write_batch(b.papers, b.signals, cursor=cursor)

    ingest(hf.source(day=D("2025-06-13")))
    hf.queue("2025-06-13", with_upvotes("2025-06-13", "2506.09513", 45))
    ingest(hf.source(today=D("2025-06-13"), lookback_days=0))
    assert [(s.day, s.value) for s in store.signals_for("2506.09513")] == [
        (date(2025, 6, 13), 45.0)
    ]
    assert store.get_cursor("hf-daily") == {"done_until": "2025-06-13"}


# --------------------------------------------------------------------------- planning


@pytest.mark.parametrize(
    ("cursor", "kw", "expected"),
    [
        # no cursor: lookback_days before today, through today
        (None, {}, ("2025-06-13", "2025-06-16")),
        (None, {"lookback_days": 0}, ("2025-06-16", "2025-06-16")),
        # after a finished run: lookback_days before where it ended
        ({"done_until": "2025-06-10"}, {}, ("2025-06-07", "2025-06-16")),
        ({"done_until": "2025-06-16"}, {}, ("2025-06-13", "2025-06-16")),
        # a run stopped part-way resumes the day after its last done day
        ({"day": "2025-06-14", "until": "2025-06-16"}, {}, ("2025-06-15", "2025-06-16")),
        ({"day": "2025-06-12", "until": "2025-06-14"}, {}, ("2025-06-13", "2025-06-16")),
        # explicit since/until win over the cursor...
        ({"done_until": "2025-06-16"}, {"since": D("2025-06-01"), "until": D("2025-06-03")},
         ("2025-06-01", "2025-06-03")),
        ({"done_until": "2025-06-10"}, {"since": D("2025-06-12")}, ("2025-06-12", "2025-06-16")),
        ({}, {"until": D("2025-06-05")}, ("2025-06-02", "2025-06-05")),
        # ...except that the same explicit run, stopped part-way, resumes
        ({"day": "2025-06-02", "until": "2025-06-05"},
         {"since": D("2025-06-01"), "until": D("2025-06-05")}, ("2025-06-03", "2025-06-05")),
        ({"day": "2025-06-02", "until": "2025-06-09"},
         {"since": D("2025-06-01"), "until": D("2025-06-05")}, ("2025-06-01", "2025-06-05")),
        # one day
        ({"done_until": "2025-06-16"}, {"day": D("2024-12-11")}, ("2024-12-11", "2024-12-11")),
        # junk in the cursor counts as no cursor
        ({"done_until": "soon", "day": 7}, {}, ("2025-06-13", "2025-06-16")),
    ],
)
def test_plan_days(cursor: Cursor | None, kw: dict[str, object], expected: tuple[str, str]) -> None:
    kw = {"lookback_days": 3, **kw}
    days = plan_days(cursor, today=D("2025-06-16"), **kw)  # type: ignore[arg-type]
    first, last = D(expected[0]), D(expected[1])
    assert days[0] == first and days[-1] == last
    assert len(days) == (last - first).days + 1  # every day, in order


def test_plan_days_refuses_contradictions() -> None:
    today = D("2025-06-16")
    with pytest.raises(ValueError, match="after until"):
        plan_days(None, today=today, since=D("2025-06-17"))
    with pytest.raises(ValueError, match="either day"):
        plan_days(None, today=today, day=today, since=today)
    with pytest.raises(ValueError, match="after until"):
        HfDailySource(Fetcher("hf-daily"), BASE, since=D("2025-06-17"), until=today)


def test_explicit_backfill_never_moves_the_cursor_back(hf: FakeHf) -> None:
    [one] = run(hf.source(day=D("2025-06-13")), {"done_until": "2025-06-20"})
    assert one.cursor is None and len(one.papers) == 26  # data kept, cursor left as it was
    batches = run(hf.source(since=D("2025-06-13"), until=D("2025-06-16")),
                  {"done_until": "2025-06-14"})
    assert [b.cursor for b in batches] == [
        None,
        {"day": "2025-06-14", "until": "2025-06-16"},
        {"day": "2025-06-15", "until": "2025-06-16"},
        {"done_until": "2025-06-16"},
    ]


# --------------------------------------------------------------------------- failures

HTML = b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head><body>oops</body></html>"


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (HTML, "not JSON (starts '<!DOCTYPE html>"),
        (day_body("2025-06-16")[:5000], "truncated"),
        (b'{"error": "Invalid date"}', "answered an error: 'Invalid date'"),
        (b'{"status": "ok", "data": []}', "expected a JSON array, got an object ({data, status})"),
        (b"", "empty"),
        (b'[{"paper": {"id": "2506.1"}} ,, ]', "malformed JSON"),
        (b'"2025-06-16"', "expected a JSON array, got str"),
    ],
)
def test_bad_day_raises_naming_the_day_after_earlier_days(
    hf: FakeHf, reply: bytes, reason: str
) -> None:
    hf.queue("2025-06-16", reply)
    source = hf.source(since=D("2025-06-13"), until=D("2025-06-16"))
    got: list[Batch] = []
    with pytest.raises(SourceError) as err:
        for b in source.batches(None):
            got.append(b)
    assert [b.note for b in got] == [
        "Hugging Face 2025-06-13: 26 papers",
        "Hugging Face 2025-06-14: 0 papers",
        "Hugging Face 2025-06-15: 0 papers",
    ]
    assert got[-1].cursor == {"day": "2025-06-15", "until": "2025-06-16"}
    assert err.value.source == "hf-daily"
    assert "2025-06-16" in str(err.value) and reason in str(err.value)


def test_http_error_names_the_day(hf: FakeHf) -> None:
    hf.queue("2025-06-16", httpx.Response(400, json={"error": "Invalid date"}))
    with pytest.raises(SourceError, match=r"HTTP 400 .*date=2025-06-16.*Invalid date"):
        run(hf.source(day=D("2025-06-16")))


def test_429_with_retry_after_waits_then_succeeds(hf: FakeHf) -> None:
    hf.queue("2025-06-16", httpx.Response(429, headers={"Retry-After": "2"}, text="slow down"))
    [batch] = run(hf.source(day=D("2025-06-16")))
    assert hf.dates == ["2025-06-16", "2025-06-16"]
    assert hf.sleeps and hf.sleeps[0] >= 2  # backoff is 0.5 s: the wait is Retry-After's
    assert len(batch.papers) == 9 and batch.cursor == {"done_until": "2025-06-16"}


def test_parse_day_on_its_own() -> None:
    papers, signals, skipped = parse_day(day_body("2025-06-16"), D("2025-06-16"))
    assert len(papers) == 9 and len(signals) == 9 and skipped == []
    assert parse_day(b"[]", D("2025-06-14")) == ([], [], [])


def test_an_entry_nested_too_deeply_is_skipped_alone(hf: FakeHf) -> None:
    """A compact (one-line) response with one hostile entry: that entry is skipped with its
    reason, the day's other entries are kept, nothing raises RecursionError."""
    entries = [json.dumps(e) for e in json.loads(day_body("2025-06-20"))]
    deep = '{"paper":' * 50_000 + "1" + "}" * 50_000
    hf.queue("2025-06-20", ("[" + ",".join([entries[0], deep, entries[1]]) + "]").encode())
    [batch] = run(hf.source(day=D("2025-06-20")))
    assert len(batch.papers) == 2
    assert len(batch.skipped) == 1
    where, reason = batch.skipped[0]
    assert where == "hf-daily 2025-06-20 entry 2" and "nested too deeply" in reason
    with pytest.raises(SourceError, match="nested too deeply"):
        parse_day(('{"a":' + deep + "}").encode(), D("2025-06-20"))
