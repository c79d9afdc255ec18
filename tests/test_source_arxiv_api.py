"""The arXiv API (Atom) source, against recorded real responses.

Responses are served through ``httpx.MockTransport`` to the real :class:`Fetcher`, so the
HTTP layer, the parsing and the paging all run as in production. The recordings are in
``tests/fixtures/sources/arxiv`` (see the README there). Where a test needs pages that were
never recorded (a day's worth of pages of a given size, an empty page, a broken entry), they
are built from the recorded 100-entry feed by slicing its entries or editing its header, and
the test says so.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from paperwire.errors import RecordError, SourceError
from paperwire.models import Paper, parse_arxiv_id
from paperwire.sources.arxiv_api import (
    ArxivApiSource,
    entry_to_paper,
    parse_feed,
    plan_range,
)
from paperwire.sources.base import Batch
from paperwire.sources.http import Fetcher

FIX = Path(__file__).parent / "fixtures" / "sources" / "arxiv"
BASE = "https://export.arxiv.org/api/query"
DAY = date(2025, 6, 12)
ATOM_TYPE = {"content-type": "application/atom+xml; charset=utf-8"}


def recording(stem: str) -> dict[str, Any]:
    """The recorded ``{url, status_code, body}`` whose file name starts with ``stem``."""
    (path,) = FIX.glob(f"arxiv.py__{stem}_*.json")
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def wire(rec: dict[str, Any]) -> bytes:
    """The bytes arXiv sent. The recorder stored the UTF-8 body decoded as Latin-1 (every
    recording round-trips: "WÃ¼bben" in the JSON is "Wübben" on the wire), so encoding the
    stored text as Latin-1 gives back the original UTF-8 bytes."""
    return str(rec["body"]).encode("latin-1")


def recorded_response(rec: dict[str, Any]) -> httpx.Response:
    return httpx.Response(int(rec["status_code"]), content=wire(rec), headers=ATOM_TYPE)


def all_api_recordings() -> list[Path]:
    """Every recorded 200 response (the one HTTP 400, id_abc, has its own tests)."""
    recorded = [
        p for p in sorted(FIX.glob("arxiv.py__*.json"))
        if json.loads(p.read_text(encoding="utf-8"))["status_code"] == 200
    ]
    return recorded + sorted(FIX.glob("arxiv.py_2016__*.xml"))


def body_of(path: Path) -> bytes:
    if path.suffix == ".json":
        return wire(json.loads(path.read_text(encoding="utf-8")))
    return path.read_bytes()


# Pages generated from the recorded 100-entry feed (q_testing_s0_m100): its header with
# totalResults/startIndex/itemsPerPage rewritten, followed by a slice of its real entries.
BIG = wire(recording("q_testing_s0_m100")).decode("utf-8")
HEAD = BIG[: BIG.index("  <entry>")]
ENTRIES = re.findall(r"  <entry>.*?</entry>\n", BIG, re.S)
BIG_IDS = [re.search(r"<id>http://arxiv.org/abs/([^<]+?)(v\d+)?</id>", e).group(1)  # type: ignore[union-attr]
           for e in ENTRIES]


def feed_page(entries: list[str], total: int, start: int = 0, per_page: int = 10) -> bytes:
    head = re.sub(r"<opensearch:totalResults>\d+<", f"<opensearch:totalResults>{total}<", HEAD)
    head = re.sub(r"<opensearch:startIndex>\d+<", f"<opensearch:startIndex>{start}<", head)
    head = re.sub(r"<opensearch:itemsPerPage>\d+<", f"<opensearch:itemsPerPage>{per_page}<", head)
    return (head + "".join(entries) + "</feed>\n").encode("utf-8")


def atom(content: bytes, status: int = 200) -> httpx.Response:
    return httpx.Response(status, content=content, headers=ATOM_TYPE)


class Server:
    """A MockTransport handler: logs each request's query parameters and answers with
    ``respond(params)``."""

    def __init__(self, respond: Callable[[dict[str, str]], httpx.Response]) -> None:
        self.respond = respond
        self.requests: list[dict[str, str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        params = dict(request.url.params)
        self.requests.append(params)
        return self.respond(params)

    @property
    def starts(self) -> list[int]:
        return [int(p["start"]) for p in self.requests]


def make_source(
    respond: Callable[[dict[str, str]], httpx.Response], **kwargs: Any
) -> tuple[ArxivApiSource, Server, list[float]]:
    server = Server(respond)
    sleeps: list[float] = []
    fetcher = Fetcher(
        "arxiv-api", client=httpx.Client(transport=httpx.MockTransport(server)),
        sleep=sleeps.append,
    )
    options: dict[str, Any] = {"since": DAY, "until": DAY, "page_size": 10}
    options.update(kwargs)
    source = ArxivApiSource(["cs.LG", "cs.CL"], fetcher, BASE, **options)
    return source, server, sleeps


def collect(batches: Iterator[Batch]) -> tuple[list[Batch], SourceError | None]:
    """The batches yielded before the source raised (if it did) and the error."""
    got: list[Batch] = []
    try:
        for batch in batches:
            got.append(batch)
    except SourceError as exc:
        return got, exc
    return got, None


def papers_of(batches: list[Batch]) -> list[Paper]:
    return [p for b in batches for p in b.papers]


def by_id(path_stem: str) -> dict[str, Paper]:
    feed = parse_feed(wire(recording(path_stem)), path_stem)
    return {p.id: p for p in feed.papers}


# --------------------------------------------------------------------------- parsing


@pytest.mark.parametrize("path", all_api_recordings(), ids=lambda p: p.name[:60])
def test_every_recorded_response_parses(path: Path) -> None:
    assert len(all_api_recordings()) == 24  # 19 recorded 200s + 5 older Atom files
    body = body_of(path)
    feed = parse_feed(body, path.name)
    n_entries = body.count(b"<entry>")
    assert feed.entry_count == n_entries
    assert len(feed.papers) == n_entries and feed.skipped == []
    total = int(re.search(rb"totalResults[^>]*>(\d+)<", body).group(1))  # type: ignore[union-attr]
    assert feed.total == total
    for paper in feed.papers:
        assert parse_arxiv_id(paper.id) == (paper.id, None)  # versionless id
        assert paper.version is not None and paper.version >= 1
        assert paper.title and paper.title == " ".join(paper.title.split())
        assert paper.abstract and not paper.abstract.startswith(" ")
        assert paper.authors and all(a.strip() == a and a for a in paper.authors)
        assert paper.categories and paper.primary_category == paper.categories[0]
        assert len(set(paper.categories)) == len(paper.categories)
        assert paper.published is not None and paper.updated is not None
        assert paper.published <= paper.updated
        assert paper.source == "arxiv"
        if paper.version == 1:  # only one version: first-version date is the update date
            assert paper.published == paper.updated


def test_entry_values_from_id_list_recordings() -> None:
    aew = by_id("id_1707.08567")["1707.08567"]
    assert aew.title == (
        "Proceedings of Workshop AEW10: Concepts in Information Theory and Communications"
    )
    assert len(aew.authors) == 34
    assert aew.authors[:2] == ("Kees A. Schouhamer Immink", "Stan Baggen")
    assert aew.authors[-2:] == ("Dirk Wübben", "Hirosuke Yamamoto")  # UTF-8 decoded
    assert aew.categories == ("cs.IT",) and aew.primary_category == "cs.IT"
    assert aew.comment == "44 pages, editors for the proceedings: Yanling Chen and A. J. Han Vinck"
    assert (aew.version, aew.published, aew.updated) == (1, date(2017, 7, 27), date(2017, 7, 27))
    assert aew.doi is None and aew.journal_ref is None

    # Two ids asked for, one unknown: the known one comes back, alone.
    assert list(by_id("id_0808.05394_1707.08567")) == ["1707.08567"]

    zero = by_id("id_2104.12255v1")["2104.12255"]
    assert zero.title == "0"  # a title that is falsy-looking is still a title
    assert zero.authors == ("Quan Thoi Minh Nguyen",)

    old = by_id("id_astro-ph_0601001")["astro-ph/0601001"]  # old-style id
    assert old.version == 1 and old.published == date(2006, 1, 2)
    assert old.abstract.startswith("We derive the frequencies of hot Jupiters")
    assert "V_max<17.5" in old.abstract  # &lt; decoded, LaTeX-ish text kept
    assert "(1/310)(1^{+1.39}_{-0.59})" in old.abstract
    assert old.journal_ref == "ActaAstron.56:1-50,2006"
    assert old.authors == ("Andrew Gould", "Susan Dorsher", "B. Scott Gaudi", "Andrzej Udalski")
    assert old.comment is not None and old.comment.startswith("62 pages including 16 figures")

    qc = by_id("id_quant-ph_0201082v1")["quant-ph/0201082"]
    assert qc.categories == ("quant-ph", "cs.PL") and qc.primary_category == "quant-ph"
    assert qc.comment == "32 pages"

    hb = by_id("id_1605.08386")["1605.08386"]
    assert hb.categories == ("math.CO", "math.ST")
    assert hb.authors == ("Caprice Stanley", "Tobias Windisch")


def test_entry_values_from_paged_recordings() -> None:
    page = by_id("q_testing_s0_m10")
    first = page["2202.12139"]
    assert first.doi == "10.1109/ICSTW55395.2022.00035"
    assert first.journal_ref is not None
    assert first.journal_ref.startswith("Artificial Intelligence in Software Testing @ 2022 IEEE")
    assert first.categories == ("cs.SE", "cs.LG")
    assert page["2405.13786"].authors == (
        "Aurora Ramírez", "Mario Berrios", "José Raúl Romero", "Robert Feldt",
    )
    fuzz = page["2005.14124"]  # v2: first-version date differs from the update date
    assert (fuzz.version, fuzz.published, fuzz.updated) == (2, date(2020, 5, 28), date(2020, 7, 16))
    assert fuzz.categories == ("cs.SE", "cs.CR", "cs.LG")
    web = page["2503.05378"]
    assert (web.version, web.published, web.updated) == (2, date(2025, 3, 7), date(2025, 8, 12))
    assert web.doi is None

    many = by_id("q_testing_s20_m10")["2409.05654"]
    assert many.version == 9
    titles = [p.title for p in parse_feed(BIG.encode(), "big").papers]
    assert "$ω$Test: WebView-Oriented Testing for Android Applications" in titles  # LaTeX kept


def test_old_atom_recordings_2016() -> None:
    old_feed = (FIX / "arxiv.py_2016__id_list_1111.2011v2.xml").read_bytes()
    (murray,) = parse_feed(old_feed, "x").papers
    assert murray.id == "1111.2011" and murray.version == 2
    # a title wrapped over two lines in the XML, collapsed
    assert murray.title == (
        "Quantum Criticality for Extended Nodes on a Bethe Lattice in the Large Connectivity Limit"
    )
    assert (murray.published, murray.updated) == (date(2011, 11, 8), date(2012, 4, 2))
    assert murray.authors == ("James M. Murray", "Adrian Del Maestro", "Zlatko Tesanovic")
    assert murray.categories == ("cond-mat.str-el", "cond-mat.stat-mech")
    assert murray.doi == "10.1103/PhysRevB.85.115117"
    assert murray.journal_ref == "Phys. Rev. B 85, 115117 (2012)"
    assert murray.comment == "8 pages, 3 figures. Published version"
    assert "\n" not in murray.abstract and murray.abstract.endswith("describing a single node.")

    feed = parse_feed((FIX / "arxiv.py_2016__search_query_au_del_maestro.xml").read_bytes(), "x")
    assert (feed.total, feed.entry_count) == (31, 10)
    melko = {p.id: p for p in feed.papers}["cond-mat/0607501"]
    assert (melko.version, melko.published, melko.updated) == (
        2, date(2006, 7, 19), date(2006, 11, 6),
    )
    assert melko.authors[:2] == ("R. G. Melko", "A. Del Maestro")


def test_primary_category_comes_first_even_when_listed_later() -> None:
    # Generated from a recorded entry: primary_category switched to its third <category>.
    entry = next(e for e in ENTRIES if "2005.14124" in e)
    edited = entry.replace('<arxiv:primary_category term="cs.SE"/>',
                           '<arxiv:primary_category term="cs.LG"/>')
    assert edited != entry
    (paper,) = parse_feed(feed_page([edited], total=1), "x").papers
    assert paper.categories == ("cs.LG", "cs.SE", "cs.CR")
    assert paper.primary_category == "cs.LG"


def test_malformed_entries_are_skipped_with_a_reason() -> None:
    # Generated from recorded entries: one loses its <id>, one its <title>, one gets a
    # foreign id and one a broken date; the fifth is untouched.
    no_id = re.sub(r"<id>[^<]*</id>", "", ENTRIES[0], count=1)
    no_title = re.sub(r"<title>[^<]*</title>", "<title>  </title>", ENTRIES[1], count=1)
    foreign = re.sub(r"<id>[^<]*</id>", "<id>https://example.org/x/1</id>", ENTRIES[2], count=1)
    bad_date = re.sub(r"<published>[^<]*</published>", "<published>yesterday</published>",
                      ENTRIES[3], count=1)
    feed = parse_feed(feed_page([no_id, no_title, foreign, bad_date, ENTRIES[4]], total=5), "p")
    assert [p.id for p in feed.papers] == [BIG_IDS[4]]
    reasons = [why for _, why in feed.skipped]
    assert reasons[0] == "entry has no <id>"
    assert reasons[1] == f"{BIG_IDS[1]}: entry has no title"
    assert "not an arXiv abs URL or id" in reasons[2]
    assert reasons[3] == f"{BIG_IDS[3]}: bad <published> date 'yesterday'"
    assert [where for where, _ in feed.skipped] == [f"p, entry {n}" for n in (1, 2, 3, 4)]

    with pytest.raises(RecordError):
        from defusedxml.ElementTree import fromstring

        entry_to_paper(fromstring(b'<entry xmlns="http://www.w3.org/2005/Atom"/>'))


# --------------------------------------------------------------------------- paging


def test_pages_through_recorded_pages_in_order() -> None:
    # The six recorded 10-entry pages of one query (start 0..50). They were recorded for a
    # relevance query, not a day; the server serves them whatever the query, with
    # totalResults rewritten from 214881 to 60 so the "day" ends after them.
    pages = {
        s: wire(recording(f"q_testing_s{s}_m10")).replace(
            b"<opensearch:totalResults>214881<", b"<opensearch:totalResults>60<"
        )
        for s in range(0, 60, 10)
    }
    source, server, _ = make_source(lambda p: atom(pages[int(p["start"])]))
    batches, error = collect(source.batches(None))
    assert error is None
    ids = [p.id for p in papers_of(batches)]
    assert ids == BIG_IDS[:60]  # every entry once, in order; matches the 100-entry recording
    assert len(set(ids)) == 60
    assert server.starts == [0, 10, 20, 30, 40, 50]
    day = DAY.isoformat()
    assert [b.cursor for b in batches] == [
        {"day": day, "start": s, "until": day} for s in (10, 20, 30, 40, 50)
    ] + [{"done_until": day}]
    assert [b.note for b in batches] == [f"cs.CL,cs.LG {day} (page {n}/6)" for n in range(1, 7)]
    first = server.requests[0]
    assert first == {
        "search_query": "(cat:cs.CL OR cat:cs.LG) AND submittedDate:[202506120000 TO 202506122359]",
        "sortBy": "submittedDate",
        "sortOrder": "ascending",
        "start": "0",
        "max_results": "10",
    }
    assert all(r["search_query"] == first["search_query"] for r in server.requests)


def day_server(per_day: dict[str, list[str]]) -> Callable[[dict[str, str]], httpx.Response]:
    """Answers each day's query with pages sliced from that day's (recorded) entries."""

    def respond(params: dict[str, str]) -> httpx.Response:
        m = re.search(r"submittedDate:\[(\d{8})0000 TO (\d{8})2359\]", params["search_query"])
        assert m and m.group(1) == m.group(2)
        entries = per_day.get(m.group(1), [])
        start, size = int(params["start"]), int(params["max_results"])
        return atom(feed_page(entries[start : start + size], len(entries), start, size))

    return respond


def test_walks_days_from_since_to_until() -> None:
    per_day = {"20250610": ENTRIES[:25], "20250612": ENTRIES[25:28]}  # 06-11 is empty
    source, server, _ = make_source(
        day_server(per_day), since=date(2025, 6, 10), until=date(2025, 6, 12)
    )
    batches, error = collect(source.batches(None))
    assert error is None
    assert [p.id for p in papers_of(batches)] == BIG_IDS[:28]
    days = [re.search(r"\[(\d{8})", r["search_query"]).group(1) for r in server.requests]  # type: ignore[union-attr]
    assert days == ["20250610"] * 3 + ["20250611", "20250612"]
    assert server.starts == [0, 10, 20, 0, 0]
    u = "2025-06-12"
    assert [b.cursor for b in batches] == [
        {"day": "2025-06-10", "start": 10, "until": u},
        {"day": "2025-06-10", "start": 20, "until": u},
        {"day": "2025-06-11", "start": 0, "until": u},  # day done: next day, from the top
        {"day": "2025-06-12", "start": 0, "until": u},
        {"done_until": u},
    ]
    assert [len(b.papers) for b in batches] == [10, 10, 5, 0, 3]
    assert batches[2].note == "cs.CL,cs.LG 2025-06-10 (page 3/3)"
    assert batches[3].note == "cs.CL,cs.LG 2025-06-11 (page 1/1)"


def test_recorded_empty_result_finishes_the_day() -> None:
    empty = recording("id_0000.0000")
    source, server, _ = make_source(lambda p: recorded_response(empty))
    batches, error = collect(source.batches(None))
    assert error is None
    assert len(batches) == 1 and batches[0].papers == []
    assert batches[0].cursor == {"done_until": DAY.isoformat()}
    assert len(server.requests) == 1


# --------------------------------------------------------------------------- errors


def test_http_400_names_arxivs_reason() -> None:
    rejected = recording("id_abc")
    assert rejected["status_code"] == 400
    source, server, sleeps = make_source(lambda p: recorded_response(rejected))
    batches, error = collect(source.batches(None))
    assert batches == []
    assert error is not None and error.source == "arxiv-api"
    message = str(error)
    assert "incorrect id format for abc" in message  # arXiv's own words
    assert "HTTP 400" in message and "2025-06-12" in message
    assert "export.arxiv.org/api/query" in message
    assert len(server.requests) == 1 and sleeps == []  # a 400 is not retried
    hooks = source.fetcher.client.event_hooks["response"]
    assert hooks == []  # the temporary response hook is gone


def test_error_feed_with_http_200_is_an_error_too() -> None:
    body = wire(recording("id_abc"))  # the same Atom error report, served as 200
    source, _, _ = make_source(lambda p: atom(body))
    batches, error = collect(source.batches(None))
    assert batches == [] and error is not None
    assert "arXiv rejected the query: incorrect id format for abc" in str(error)


def test_http_400_without_an_atom_body_keeps_the_fetchers_message() -> None:
    source, _, _ = make_source(lambda p: httpx.Response(400, text="Bad Request"))
    _, error = collect(source.batches(None))
    assert error is not None and "HTTP 400" in str(error) and "Bad Request" in str(error)


HTML = b"""<!DOCTYPE html>
<html><head><title>503 Service Temporarily Unavailable</title></head>
<body><h1>Service Temporarily Unavailable</h1><p>arXiv is down for maintenance.</p></body></html>
"""


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (HTML, "got an HTML page, not an Atom feed"),
        (BIG.encode()[: len(BIG) // 2], "truncated or malformed XML"),
        (b"", "empty response, expected an Atom feed"),
        (b"<?xml version='1.0'?><rss version='2.0'><channel/></rss>", "not an Atom feed"),
        (re.sub(rb"\s*<opensearch:totalResults>\d+</opensearch:totalResults>", b"",
                feed_page(ENTRIES[:3], 3)),
         "no opensearch:totalResults"),
    ],
    ids=["html", "truncated", "empty", "rss", "no-total"],
)
def test_malformed_page_raises_and_yields_nothing(body: bytes, expected: str) -> None:
    source, _, _ = make_source(lambda p: httpx.Response(200, content=body))
    batches, error = collect(source.batches(None))
    assert batches == []
    assert error is not None and error.source == "arxiv-api"
    assert expected in str(error)
    assert "2025-06-12 start=0" in str(error) and "export.arxiv.org" in str(error)


def test_failure_after_good_pages_keeps_the_good_batches() -> None:
    def respond(params: dict[str, str]) -> httpx.Response:
        start = int(params["start"])
        if start == 20:
            return atom(feed_page(ENTRIES[20:30], 40, 20)[:3000])  # truncated mid-entry
        return atom(feed_page(ENTRIES[start : start + 10], 40, start))

    source, server, _ = make_source(respond)
    batches, error = collect(source.batches(None))
    assert [b.cursor for b in batches] == [
        {"day": "2025-06-12", "start": 10, "until": "2025-06-12"},
        {"day": "2025-06-12", "start": 20, "until": "2025-06-12"},
    ]
    assert [p.id for p in papers_of(batches)] == BIG_IDS[:20]
    assert error is not None and "truncated" in str(error) and "start=20" in str(error)
    assert server.starts == [0, 10, 20]


def test_empty_page_while_results_remain_is_asked_again() -> None:
    empties = {"left": 2}

    def respond(params: dict[str, str]) -> httpx.Response:
        start = int(params["start"])
        if start == 10 and empties["left"]:
            empties["left"] -= 1
            return atom(feed_page([], 20, start))  # arXiv's quirk: no entries, total 20
        return atom(feed_page(ENTRIES[start : start + 10], 20, start))

    source, server, _ = make_source(respond)
    batches, error = collect(source.batches(None))
    assert error is None
    assert server.starts == [0, 10, 10, 10]
    assert [p.id for p in papers_of(batches)] == BIG_IDS[:20]
    assert len(batches) == 2  # the empty answers were not yielded as pages


def test_empty_page_that_stays_empty_is_an_error() -> None:
    def respond(params: dict[str, str]) -> httpx.Response:
        start = int(params["start"])
        entries = ENTRIES[start : start + 10] if start == 0 else []
        return atom(feed_page(entries, 20, start))

    source, server, _ = make_source(respond)
    batches, error = collect(source.batches(None))
    assert len(batches) == 1
    assert server.starts == [0, 10, 10, 10, 10]  # 1 try + 3 retries
    assert error is not None and "empty page 4 times" in str(error)
    assert "totalResults=20" in str(error)


# --------------------------------------------------------------------------- resuming


def test_cursor_of_page_two_resumes_at_page_three() -> None:
    respond = day_server({"20250612": ENTRIES[:45]})
    source, server, _ = make_source(respond)
    first_run, _ = collect(source.batches(None))
    cursor_after_page_2 = first_run[1].cursor
    assert cursor_after_page_2 == {"day": "2025-06-12", "start": 20, "until": "2025-06-12"}

    # A new run (no since/until: the scheduled ingest) that was killed after page 2.
    source, server, _ = make_source(respond, since=None, until=None, today=DAY)
    batches, error = collect(source.batches(cursor_after_page_2))
    assert error is None
    assert server.starts == [20, 30, 40]  # pages 1-2 are not fetched again
    assert [p.id for p in papers_of(batches)] == BIG_IDS[20:45]
    assert batches[0].note == "cs.CL,cs.LG 2025-06-12 (page 3/5)"
    assert batches[-1].cursor == {"done_until": "2025-06-12"}

    # Explicit since/until of the same run resume too.
    source, server, _ = make_source(respond)
    collect(source.batches(cursor_after_page_2))
    assert server.starts == [20, 30, 40]


def test_finished_cursor_rereads_the_lookback_days() -> None:
    source, server, _ = make_source(
        day_server({}), since=None, until=None, today=date(2025, 6, 14), lookback_days=2
    )
    batches, _ = collect(source.batches({"done_until": "2025-06-12"}))
    days = [re.search(r"\[(\d{8})", r["search_query"]).group(1) for r in server.requests]  # type: ignore[union-attr]
    assert days == ["20250610", "20250611", "20250612", "20250613", "20250614"]
    assert batches[-1].cursor == {"done_until": "2025-06-14"}


D = date.fromisoformat


@pytest.mark.parametrize(
    ("cursor", "since", "until", "expected"),
    [
        # no cursor: lookback before today
        (None, None, None, (D("2025-06-09"), 0, D("2025-06-12"))),
        # finished run: lookback before its end
        ({"done_until": "2025-06-08"}, None, None, (D("2025-06-05"), 0, D("2025-06-12"))),
        # in-progress run: resume at its day and offset, through today
        ({"day": "2025-06-10", "start": 300, "until": "2025-06-11"}, None, None,
         (D("2025-06-10"), 300, D("2025-06-12"))),
        # explicit since/until win over a finished cursor
        ({"done_until": "2025-06-11"}, D("2025-01-01"), D("2025-01-31"),
         (D("2025-01-01"), 0, D("2025-01-31"))),
        # explicit range, cursor mid-way through the same range: resume there
        ({"day": "2025-01-15", "start": 200, "until": "2025-01-31"}, D("2025-01-01"),
         D("2025-01-31"), (D("2025-01-15"), 200, D("2025-01-31"))),
        # ... but not a cursor of another range
        ({"day": "2025-01-15", "start": 200, "until": "2025-02-28"}, D("2025-01-01"),
         D("2025-01-31"), (D("2025-01-01"), 0, D("2025-01-31"))),
        # ... nor one whose day is before since
        ({"day": "2024-12-30", "start": 200, "until": "2025-01-31"}, D("2025-01-01"),
         D("2025-01-31"), (D("2025-01-01"), 0, D("2025-01-31"))),
        # since alone: until is today
        (None, D("2025-06-01"), None, (D("2025-06-01"), 0, D("2025-06-12"))),
        # until alone, earlier than the last run: lookback before until
        ({"done_until": "2025-06-11"}, None, D("2025-05-31"),
         (D("2025-05-28"), 0, D("2025-05-31"))),
        # a garbled cursor counts as none
        ({"day": "someday", "start": "x"}, None, None, (D("2025-06-09"), 0, D("2025-06-12"))),
    ],
)
def test_plan_range(
    cursor: dict[str, Any] | None,
    since: date | None,
    until: date | None,
    expected: tuple[date, int, date],
) -> None:
    assert plan_range(cursor, since, until, D("2025-06-12"), 3) == expected


def test_plan_range_rejects_an_inverted_range() -> None:
    with pytest.raises(ValueError, match="after until"):
        plan_range(None, D("2025-06-13"), D("2025-06-12"), D("2025-06-20"), 3)
    assert plan_range(None, None, None, D("2025-06-12"), 0) == (D("2025-06-12"), 0, D("2025-06-12"))


# --------------------------------------------------------------------------- politeness


def test_consecutive_requests_wait_the_minimum_interval() -> None:
    now = [1000.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    respond = day_server({"20250612": ENTRIES[:50]})

    def slow(params: dict[str, str]) -> httpx.Response:
        now[0] += 0.5  # each request takes half a second
        return respond(params)

    server = Server(slow)
    fetcher = Fetcher(
        "arxiv-api", client=httpx.Client(transport=httpx.MockTransport(server)),
        min_interval=3, sleep=sleep, clock=lambda: now[0],
    )
    source = ArxivApiSource(["cs.CL"], fetcher, BASE, since=DAY, until=DAY, page_size=10)
    batches, error = collect(source.batches(None))
    assert error is None and len(batches) == 5
    assert sleeps == [pytest.approx(2.5)] * 4  # 3 s from one request start to the next
    assert now[0] == pytest.approx(1000 + 5 * 0.5 + 4 * 2.5)
    assert server.requests[0]["search_query"].startswith("(cat:cs.CL) AND submittedDate:")


# --------------------------------------------------------------------------- construction


def test_key_and_validation() -> None:
    fetcher = Fetcher("arxiv-api", client=httpx.Client(transport=httpx.MockTransport(
        lambda r: httpx.Response(500))))
    assert ArxivApiSource(["cs.LG", "cs.CL"], fetcher, BASE).key == "arxiv-api:cs.CL,cs.LG"
    assert ArxivApiSource(["cs.CL"], fetcher, BASE).key == "arxiv-api:cs.CL"
    with pytest.raises(ValueError, match="category"):
        ArxivApiSource([], fetcher, BASE)
    with pytest.raises(ValueError, match="page_size"):
        ArxivApiSource(["cs.CL"], fetcher, BASE, page_size=5000)
    with pytest.raises(ValueError, match="after until"):
        ArxivApiSource(["cs.CL"], fetcher, BASE, since=D("2025-06-13"), until=D("2025-06-12"))
