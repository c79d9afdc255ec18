"""The polite HTTP client every source uses, over httpx.MockTransport (a real httpx client)."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from paperwire.errors import SourceError
from paperwire.sources.http import Fetcher, retry_after_seconds


def fetcher(handler: object, **kw: object) -> tuple[Fetcher, list[float]]:
    sleeps: list[float] = []
    client = httpx.Client(transport=httpx.MockTransport(handler))  # type: ignore[arg-type]
    return Fetcher("test", client=client, sleep=sleeps.append, **kw), sleeps  # type: ignore[arg-type]


def test_retries_dropped_connections_and_5xx_with_backoff_then_succeeds() -> None:
    answers: list[int | None] = [None, 503, 502, 200]  # None: the connection drops

    def handler(request: httpx.Request) -> httpx.Response:
        status = answers.pop(0)
        if status is None:
            raise httpx.RemoteProtocolError("server closed the connection", request=request)
        return httpx.Response(status, text="ok" if status == 200 else "busy")

    f, sleeps = fetcher(handler, backoff=1.0)
    assert f.get("https://example.org/x").text == "ok"
    assert sleeps == [1.0, 2.0, 4.0] and f.requests == 4


def test_gives_up_with_one_clear_message() -> None:
    f, sleeps = fetcher(lambda r: httpx.Response(503, text="down"), retries=2, backoff=0.5)
    with pytest.raises(SourceError) as info:
        f.get("https://example.org/x")
    assert "HTTP 503 from https://example.org/x (gave up after 3 tries)" in str(info.value)
    assert info.value.status == 503 and sleeps == [0.5, 1.0]


def test_client_errors_are_not_retried_and_quote_the_body() -> None:
    f, sleeps = fetcher(lambda r: httpx.Response(404, text="  no such\\n day "))
    with pytest.raises(SourceError, match=r"HTTP 404 from .*: no such") as info:
        f.get("https://example.org/x")
    assert info.value.status == 404 and sleeps == []


def test_retry_after_is_honoured() -> None:
    answers = iter([httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(200)])
    f, sleeps = fetcher(lambda r: next(answers), backoff=1.0)
    f.get("https://example.org/x")
    assert sleeps == [7.0]
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert retry_after_seconds("Thu, 01 Jan 2026 12:00:30 GMT", now) == 30.0
    assert retry_after_seconds("garbage") is None and retry_after_seconds(None) is None


def test_timeouts_are_retried_then_reported() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    f, _ = fetcher(handler, retries=1, backoff=0.0, timeout=5.0)
    with pytest.raises(SourceError, match=r"timed out after 5 s .*gave up after 2 tries"):
        f.get("https://example.org/x")


def test_minimum_interval_between_requests() -> None:
    t = {"now": 100.0}
    sleeps: list[float] = []

    def sleep(s: float) -> None:
        sleeps.append(s)
        t["now"] += s

    client = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(200)))
    f = Fetcher("arxiv", client=client, min_interval=3.0, sleep=sleep, clock=lambda: t["now"])
    f.get("https://example.org/1")
    t["now"] += 1.0  # the caller spends a second parsing
    f.get("https://example.org/2")
    f.get("https://example.org/3")
    assert sleeps == [2.0, 3.0]
