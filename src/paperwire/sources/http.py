"""Polite HTTP for sources: a minimum interval between requests (arXiv asks for one every
3 seconds), a timeout on every request, retries with exponential backoff on 5xx, 429 and
dropped connections (honouring ``Retry-After``), and one clear :class:`SourceError` otherwise.

The ``httpx.Client`` is injectable, so tests serve recorded real responses through
``httpx.MockTransport`` and the real parsing and paging code runs; ``sleep`` and ``clock`` are
injectable so tests do not wait.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from paperwire import __version__
from paperwire.errors import SourceError

log = logging.getLogger(__name__)
USER_AGENT = f"paperwire/{__version__} (self-hosted paper discovery)"
RETRY_STATUSES = {429, 500, 502, 503, 504}
MAX_RETRY_AFTER = 300.0


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class Fetcher:
    def __init__(
        self,
        source: str,
        client: httpx.Client | None = None,
        min_interval: float = 0.0,
        retries: int = 4,
        backoff: float = 2.0,
        timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.source = source
        self.client = client or httpx.Client(
            timeout=timeout, follow_redirects=True, headers={"User-Agent": USER_AGENT}
        )
        self.min_interval = min_interval
        self.retries = retries
        self.backoff = backoff
        self.timeout = timeout
        self.sleep = sleep
        self.clock = clock
        self._last: float | None = None
        self.requests = 0

    def _wait_turn(self) -> None:
        if self._last is not None and self.min_interval > 0:
            wait = self._last + self.min_interval - self.clock()
            if wait > 0:
                self.sleep(wait)
        self._last = self.clock()

    def get(
        self,
        url: str,
        params: Mapping[str, Any] | None = None,
        explain: Callable[[bytes], str | None] | None = None,
    ) -> httpx.Response:
        """GET with politeness and retries. Returns a 2xx response, else raises SourceError
        (with ``status`` set for HTTP errors). ``explain`` may pull the service's own reason
        out of an error body (e.g. arXiv's Atom error entry) for the message."""
        attempt = 0
        while True:
            self._wait_turn()
            self.requests += 1
            try:
                response = self.client.get(url, params=params, timeout=self.timeout)
            except httpx.TimeoutException as exc:
                problem = f"timed out after {self.timeout:g} s ({type(exc).__name__})"
                response = None
            except httpx.TransportError as exc:
                problem = f"connection failed: {exc}"
                response = None
            if response is not None:
                if response.is_success:
                    return response
                problem = f"HTTP {response.status_code} from {response.request.url}"
                if response.status_code not in RETRY_STATUSES:
                    why = (explain(response.content) if explain else None) or _body_hint(response)
                    raise SourceError(self.source, f"{problem}: {why}", response.status_code)
            if attempt >= self.retries:
                raise SourceError(
                    self.source, f"{problem} (gave up after {attempt + 1} tries)",
                    response.status_code if response is not None else None,
                )
            delay = self.backoff * 2**attempt
            if response is not None:
                hinted = retry_after_seconds(response.headers.get("Retry-After"))
                if hinted is not None:
                    delay = min(max(delay, hinted), MAX_RETRY_AFTER)
            log.warning("%s: %s; retrying in %.0f s", self.source, problem, delay)
            self.sleep(delay)
            attempt += 1


def _body_hint(response: httpx.Response) -> str:
    """A short, single-line hint of what an error response said."""
    text = " ".join(response.text.split())
    return (text[:200] + "…") if len(text) > 200 else (text or "(empty body)")
