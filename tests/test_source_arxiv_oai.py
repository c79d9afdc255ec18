"""The arXiv OAI-PMH (arXivRaw) source, against recorded real responses.

Responses go through ``httpx.MockTransport`` to the real :class:`Fetcher`. The recordings
(``tests/fixtures/sources/arxiv/arXivOAIHarvester__*.xml``) are one ListRecords page (6
records, resumptionToken ``726959|1001``), one GetRecord and five OAI error responses. The
last page of a harvest was not recorded: :func:`last_page` builds one from the recorded
GetRecord record plus a deleted-record header, and says so.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from paperwire.errors import SourceError
from paperwire.models import Paper
from paperwire.sources.arxiv_oai import (
    ArxivOaiSource,
    parse_oai_response,
    plan_window,
    split_authors,
)
from paperwire.sources.base import Batch
from paperwire.sources.http import Fetcher

FIX = Path(__file__).parent / "fixtures" / "sources" / "arxiv"
BASE = "https://oaipmh.arxiv.org/oai"
XML = {"content-type": "text/xml; charset=utf-8"}
SINCE, UNTIL = date(2025, 6, 9), date(2025, 6, 12)
TOKEN = "726959|1001"


def recorded(name: str) -> bytes:
    return (FIX / f"arXivOAIHarvester__{name}.xml").read_bytes()


LIST_RECORDS = recorded("ListRecordsResponse")
GET_RECORD = recorded("GetRecordResponse")
FIRST_IDS = ["0704.0471", "0704.0716", "0704.0874", "0704.1109", "0704.1114", "0704.1586"]


def last_page() -> bytes:
    """A final ListRecords page, generated: the recorded ListRecords envelope holding the
    recorded GetRecord record and a deleted record (header only, status="deleted", as
    OAI-PMH sends them), ending with an empty resumptionToken."""
    text = LIST_RECORDS.decode()
    record = re.search(r"<record>.*</record>", GET_RECORD.decode(), re.S).group(0)  # type: ignore[union-attr]
    deleted = (
        '<record>\n<header status="deleted">\n <identifier>oai:arXiv.org:0704.9999</identifier>\n'
        " <datestamp>2014-11-19</datestamp>\n <setSpec>math</setSpec>\n</header>\n</record>\n"
    )
    token = '<resumptionToken cursor="1001" completeListSize="58011"></resumptionToken>'
    envelope = text[: text.index("<record>")]
    return f"{envelope}{record}\n{deleted}{token}\n</ListRecords>\n</OAI-PMH>\n".encode()


class Server:
    def __init__(self, respond: Callable[[dict[str, str]], httpx.Response]) -> None:
        self.respond = respond
        self.requests: list[dict[str, str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        params = dict(request.url.params)
        self.requests.append(params)
        return self.respond(params)


def xml(content: bytes, status: int = 200) -> httpx.Response:
    return httpx.Response(status, content=content, headers=XML)


def harvest(params: dict[str, str]) -> httpx.Response:
    """A two-page harvest: the recorded page, then the generated last page."""
    if params.get("resumptionToken") == TOKEN:
        return xml(last_page())
    assert "resumptionToken" not in params
    return xml(LIST_RECORDS)


def make_source(
    respond: Callable[[dict[str, str]], httpx.Response], **kwargs: Any
) -> tuple[ArxivOaiSource, Server, list[float]]:
    server = Server(respond)
    sleeps: list[float] = []
    fetcher = Fetcher(
        "arxiv-oai", client=httpx.Client(transport=httpx.MockTransport(server)),
        sleep=sleeps.append,
    )
    options: dict[str, Any] = {"since": SINCE, "until": UNTIL}
    options.update(kwargs)
    return ArxivOaiSource("math", fetcher, BASE, **options), server, sleeps


def collect(batches: Iterator[Batch]) -> tuple[list[Batch], SourceError | None]:
    got: list[Batch] = []
    try:
        for batch in batches:
            got.append(batch)
    except SourceError as exc:
        return got, exc
    return got, None


FIRST_REQUEST = {
    "verb": "ListRecords",
    "metadataPrefix": "arXivRaw",
    "from": "2025-06-09",
    "until": "2025-06-12",
    "set": "math",
}
NEXT_REQUEST = {"verb": "ListRecords", "resumptionToken": TOKEN}


# --------------------------------------------------------------------------- parsing


def test_list_records_page_parses() -> None:
    page = parse_oai_response(LIST_RECORDS, "page 1")
    assert page.error is None and page.skipped == []
    assert [p.id for p in page.papers] == FIRST_IDS
    assert (page.token, page.complete_size, page.offset) == (TOKEN, 58011, 0)
    papers = {p.id: p for p in page.papers}

    shetty = papers["0704.0471"]
    assert shetty.authors == ("D.V. Shetty", "S.J. Yennello", "G.A. Souliotis")  # ", and"
    assert shetty.title == (
        "Density dependence of the symmetry energy and the nuclear equation of state: "
        "A Dynamical and Statistical model perspective"
    )
    assert shetty.categories == ("nucl-ex", "nucl-th") and shetty.primary_category == "nucl-ex"
    assert (shetty.version, shetty.published, shetty.updated) == (
        1, date(2007, 4, 3), date(2007, 4, 3),
    )
    assert shetty.doi == "10.1103/PhysRevC.76.024606"  # first of two DOIs (paper, erratum)
    assert shetty.journal_ref == (
        "Phys.Rev.C76:024606,2007; Erratum-ibid.C76:039902,2007"
    )
    assert shetty.comment == "16 pages, 14 figures"
    assert 'extremely " stiff " and " soft "' in shetty.abstract  # &quot; decoded
    assert shetty.abstract.startswith("The density dependence") and "\n" not in shetty.abstract

    richard = papers["0704.0716"]  # four versions: first and last version dates
    assert (richard.version, richard.published, richard.updated) == (
        4, date(2007, 4, 5), date(2008, 11, 14),
    )
    assert richard.categories == ("math-ph", "math.MP") and richard.primary_category == "math-ph"
    assert richard.comment == (
        "54 pages, 2 figures; v2 updated and slightly expanded; v3 changes in some proofs; "
        "v4 slightly expanded"
    )
    assert richard.journal_ref == (
        "Polygons, polyominoes and polycubes, 247-299, Lecture Notes in Phys., 775, "
        "Springer, Dordrecht, 2009"
    )
    assert richard.doi is None and richard.authors == ("Christoph Richard",)

    farkas = papers["0704.0874"]
    assert (farkas.version, farkas.published, farkas.updated) == (
        3, date(2007, 4, 6), date(2014, 11, 20),
    )
    assert papers["0704.1109"].authors == ("Valeria M. Rosa", "Patricio S. letelier")
    assert papers["0704.1586"].title == (
        "Core excitation in the elastic scattering and breakup of $^{11}$Be on protons"
    )  # LaTeX kept
    assert all(p.source == "arxiv" for p in page.papers)


def test_get_record_parses() -> None:
    page = parse_oai_response(GET_RECORD, "get")
    assert page.token is None and page.error is None
    (paper,) = page.papers
    assert paper == Paper(
        id="1302.2146",
        title="The Same-Sign Dilepton Signature of RPV/MFV SUSY",
        abstract=paper.abstract,
        authors=("Joshua Berger", "Maxim Perelstein", "Michael Saelim", "Philip Tanedo"),
        categories=("hep-ph", "hep-ex"),
        primary_category="hep-ph",
        version=2,
        published=date(2013, 2, 8),
        updated=date(2013, 4, 2),
        comment="18 pages, 6 figures; v2: References added",
        journal_ref=None,
        doi=None,
        source="arxiv",
    )
    assert paper.abstract.startswith("The lack of observation of superpartners")
    assert paper.abstract.endswith("with a 100 fb^-1 data set.")


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("ErrorResponseBadArgument", "badArgument"),
        ("ErrorResponseBadResumptionToken", "badResumptionToken"),
        ("ErrorResponseBadVerb", "badVerb"),
        ("ErrorResponseIdDoesNotExist", "idDoesNotExist"),
        ("ErrorResponseNoRecordsMatch", "noRecordsMatch"),
    ],
)
def test_recorded_error_responses_parse(name: str, code: str) -> None:
    page = parse_oai_response(recorded(name), name)
    assert page.error is not None and page.error[0] == code
    assert page.error[1] and page.papers == []


def test_malformed_records_are_skipped_with_a_reason() -> None:
    # Generated from the recorded page: one record loses its title, one gets a broken
    # version date, one an id that is not arXiv's.
    text = LIST_RECORDS.decode()
    text = re.sub(r"<title>Limit distributions and scaling functions</title>", "", text)
    text = text.replace("Fri, 6 Apr 2007 11:07:01 GMT", "sometime in April")
    text = text.replace("<id>0704.1109</id>", "<id>not-an-id</id>")
    page = parse_oai_response(text.encode(), "p")
    assert [p.id for p in page.papers] == ["0704.0471", "0704.1114", "0704.1586"]
    assert page.skipped == [
        ("p, 0704.0716", "0704.0716: record has no title"),
        ("p, 0704.0874", "0704.0874: bad version date 'sometime in April'"),
        ("p, 0704.1109", "<id> 'not-an-id' is not an arXiv id"),
    ]


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("D.V. Shetty, S.J. Yennello, and G.A. Souliotis",
         ["D.V. Shetty", "S.J. Yennello", "G.A. Souliotis"]),
        ("Joshua Berger, Maxim Perelstein, Michael Saelim and Philip Tanedo",
         ["Joshua Berger", "Maxim Perelstein", "Michael Saelim", "Philip Tanedo"]),
        ("A. One (MIT, USA), B. Two and\n  C. Anderson ((1) Caltech, (2) and CMU)",
         ["A. One", "B. Two", "C. Anderson"]),
        ("The ATLAS Collaboration", ["The ATLAS Collaboration"]),
        ("", []),
    ],
)
def test_split_authors(text: str, names: list[str]) -> None:
    assert split_authors(text) == names


# --------------------------------------------------------------------------- harvesting


def test_harvest_follows_the_resumption_token() -> None:
    source, server, _ = make_source(harvest)
    batches, error = collect(source.batches(None))
    assert error is None
    assert server.requests == [FIRST_REQUEST, NEXT_REQUEST]  # token only, on page 2
    assert [b.cursor for b in batches] == [
        {"from": "2025-06-09", "until": "2025-06-12", "token": TOKEN},
        {"done_until": "2025-06-12"},
    ]
    assert [p.id for p in batches[0].papers] == FIRST_IDS
    assert [p.id for p in batches[1].papers] == ["1302.2146"]
    assert batches[1].skipped == [
        (f"math 2025-06-09..2025-06-12 token {TOKEN} ({BASE}?verb=ListRecords&"
         "resumptionToken=726959%7C1001), 0704.9999", "deleted")
    ]
    assert batches[0].note == "math 2025-06-09..2025-06-12 (page 1, of 58011 records)"
    assert source.key == "arxiv-oai:math"


def test_killed_harvest_resumes_with_the_checkpointed_token() -> None:
    cursor = {"from": "2025-06-09", "until": "2025-06-12", "token": TOKEN}
    source, server, _ = make_source(harvest, since=None, until=None, today=date(2025, 6, 20))
    batches, error = collect(source.batches(cursor))
    assert error is None
    assert server.requests == [NEXT_REQUEST]  # page 1 is not asked for again
    assert [b.cursor for b in batches] == [{"done_until": "2025-06-12"}]  # the token's window


def test_no_records_match_finishes_the_window() -> None:
    source, server, _ = make_source(lambda p: xml(recorded("ErrorResponseNoRecordsMatch")))
    batches, error = collect(source.batches(None))
    assert error is None
    assert len(batches) == 1 and batches[0].papers == []
    assert batches[0].cursor == {"done_until": "2025-06-12"}
    assert server.requests == [FIRST_REQUEST]


def test_bad_resumption_token_restarts_the_window() -> None:
    def respond(params: dict[str, str]) -> httpx.Response:
        if params.get("resumptionToken") == "stale|1":
            return xml(recorded("ErrorResponseBadResumptionToken"))
        return harvest(params)

    cursor = {"from": "2025-06-09", "until": "2025-06-12", "token": "stale|1"}
    source, server, _ = make_source(respond)
    batches, error = collect(source.batches(cursor))
    assert error is None
    assert server.requests == [
        {"verb": "ListRecords", "resumptionToken": "stale|1"},
        FIRST_REQUEST,  # the window again, from its beginning
        NEXT_REQUEST,
    ]
    assert [b.cursor for b in batches] == [
        {"from": "2025-06-09", "until": "2025-06-12", "token": TOKEN},
        {"done_until": "2025-06-12"},
    ]
    assert [p.id for b in batches for p in b.papers] == [*FIRST_IDS, "1302.2146"]


def test_bad_resumption_token_gives_up_after_two_restarts() -> None:
    def respond(params: dict[str, str]) -> httpx.Response:
        if "resumptionToken" in params:
            return xml(recorded("ErrorResponseBadResumptionToken"))
        return xml(LIST_RECORDS)

    source, server, _ = make_source(respond)
    batches, error = collect(source.batches(None))
    assert server.requests == [FIRST_REQUEST, NEXT_REQUEST] * 3
    assert len(batches) == 3  # each restart's first page was yielded (same records)
    assert error is not None and error.source == "arxiv-oai"
    assert "badResumptionToken" in str(error) and "restarting the window 2 times" in str(error)


@pytest.mark.parametrize(
    ("name", "code", "words"),
    [
        ("ErrorResponseBadArgument", "badArgument", "illegal argument 'identifier'"),
        ("ErrorResponseBadVerb", "badVerb", "Verb 'wah' not implemented"),
        ("ErrorResponseIdDoesNotExist", "idDoesNotExist", "does not correspond to an item"),
        ("ErrorResponseBadResumptionToken", "badResumptionToken", "illegal for this"),
    ],
)
def test_other_oai_errors_raise_with_the_code(name: str, code: str, words: str) -> None:
    # badResumptionToken on the first request (no token to blame) is an error too.
    source, server, _ = make_source(lambda p: xml(recorded(name)))
    batches, error = collect(source.batches(None))
    assert batches == [] and len(server.requests) == 1
    assert error is not None and error.source == "arxiv-oai"
    assert f"OAI-PMH error {code}" in str(error) and words in str(error)


HTML = b"<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (HTML, "got an HTML page, not an OAI-PMH response"),
        (LIST_RECORDS[: len(LIST_RECORDS) // 2], "truncated or malformed XML"),
        (b"<?xml version='1.0'?><feed xmlns='http://www.w3.org/2005/Atom'/>",
         "not an OAI-PMH response"),
        (b"<OAI-PMH xmlns='http://www.openarchives.org/OAI/2.0/'><responseDate/></OAI-PMH>",
         "neither ListRecords nor GetRecord"),
    ],
    ids=["html", "truncated", "atom", "no-body"],
)
def test_malformed_response_raises_and_yields_nothing(body: bytes, expected: str) -> None:
    source, _, _ = make_source(lambda p: xml(body))
    batches, error = collect(source.batches(None))
    assert batches == []
    assert error is not None and expected in str(error)
    assert "math 2025-06-09..2025-06-12" in str(error) and "oaipmh.arxiv.org" in str(error)


def test_failure_on_page_two_keeps_page_one() -> None:
    def respond(params: dict[str, str]) -> httpx.Response:
        if "resumptionToken" in params:
            return xml(last_page()[:700])  # truncated
        return xml(LIST_RECORDS)

    source, _, _ = make_source(respond)
    batches, error = collect(source.batches(None))
    assert [b.cursor for b in batches] == [
        {"from": "2025-06-09", "until": "2025-06-12", "token": TOKEN}
    ]
    assert error is not None and "truncated" in str(error) and TOKEN in str(error)


def test_categories_filter_keeps_matching_records() -> None:
    source, _, _ = make_source(harvest, categories=["nucl-th", "math.AG"])
    assert source.key == "arxiv-oai:math:math.AG,nucl-th"
    batches, error = collect(source.batches(None))
    assert error is None
    assert [p.id for p in batches[0].papers] == ["0704.0471", "0704.0874", "0704.1586"]
    assert batches[1].papers == []  # 1302.2146 is hep-ph/hep-ex


def test_503_retry_after_is_honoured_by_the_fetcher() -> None:
    answers = [httpx.Response(503, headers={"Retry-After": "7"}, text="busy")]

    def respond(params: dict[str, str]) -> httpx.Response:
        return answers.pop() if answers else harvest(params)

    source, server, sleeps = make_source(respond)
    batches, error = collect(source.batches(None))
    assert error is None and len(batches) == 2
    assert sleeps == [7.0]
    assert server.requests == [FIRST_REQUEST, FIRST_REQUEST, NEXT_REQUEST]


D = date.fromisoformat


@pytest.mark.parametrize(
    ("cursor", "since", "until", "expected"),
    [
        (None, None, None, (D("2025-06-17"), D("2025-06-20"), None)),
        ({"done_until": "2025-06-12"}, None, None, (D("2025-06-09"), D("2025-06-20"), None)),
        # checkpointed token: its own window, whatever today is
        ({"from": "2025-06-01", "until": "2025-06-05", "token": "t|1"}, None, None,
         (D("2025-06-01"), D("2025-06-05"), "t|1")),
        # explicit window equal to the cursor's: resume its token
        ({"from": "2025-06-01", "until": "2025-06-05", "token": "t|1"}, D("2025-06-01"),
         D("2025-06-05"), (D("2025-06-01"), D("2025-06-05"), "t|1")),
        # another explicit window: start it fresh
        ({"from": "2025-06-01", "until": "2025-06-05", "token": "t|1"}, D("2025-05-01"),
         D("2025-05-31"), (D("2025-05-01"), D("2025-05-31"), None)),
        # explicit until only, different from the cursor's: no resume
        ({"from": "2025-06-01", "until": "2025-06-05", "token": "t|1"}, None, D("2025-06-10"),
         (D("2025-06-07"), D("2025-06-10"), None)),
        (None, D("2025-06-01"), None, (D("2025-06-01"), D("2025-06-20"), None)),
        ({"token": 5, "from": "x"}, None, None, (D("2025-06-17"), D("2025-06-20"), None)),
    ],
)
def test_plan_window(
    cursor: dict[str, Any] | None,
    since: date | None,
    until: date | None,
    expected: tuple[date, date, str | None],
) -> None:
    assert plan_window(cursor, since, until, D("2025-06-20"), 3) == expected


def test_construction() -> None:
    fetcher = Fetcher("arxiv-oai", client=httpx.Client(transport=httpx.MockTransport(
        lambda r: httpx.Response(500))))
    with pytest.raises(ValueError, match="set"):
        ArxivOaiSource(" ", fetcher, BASE)
    with pytest.raises(ValueError, match="after until"):
        ArxivOaiSource("cs", fetcher, BASE, since=D("2025-06-13"), until=D("2025-06-12"))
    assert ArxivOaiSource("physics:hep-th", fetcher, BASE).key == "arxiv-oai:physics:hep-th"
