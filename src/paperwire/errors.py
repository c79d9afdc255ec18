"""Every exception Paperwire raises on purpose, in one tree.

    PaperwireError                 base: the CLI prints its message as one line and exits 1
    ├── ConfigError                a setting is missing, unknown or malformed
    ├── StoreError                 the database cannot be reached or migrated
    │   └── StoreFull              the database is full: its disk, or a size limit it has
    ├── ImportFormatError          a file's format cannot be detected or is not supported
    ├── ReadError                  an input file cannot be read on from a line (I/O, gzip, UTF-8)
    ├── RecordError                one record (of an import file, or of a live source's
    │   │                          response) is malformed: it is skipped, with its place
    │   └── TooDeep                JSON nested deeper than a record may be
    ├── SearchError                the search index or the embedding model cannot be used
    │   └── QueryError             the query itself is wrong (a bad date, a negated filter)
    ├── SourceError                a live source (arXiv, Hugging Face) failed; names the source
    │   └── SourceBusy             another run of the same ingest holds its lock
    ├── FormulaError               a formula cannot be shown as math (the converter's output is
    │                              unsafe, or it has no plain form): its TeX is shown instead
    │                              (never leaves ``texts.py``)
    ├── NotFound                   a paper (or other object) the caller asked for does not exist
    ├── TokenError                 a signed link is damaged, forged, expired or already used
    ├── InvalidSubscription        an address or digest preference cannot be used
    ├── DeliveryError              a digest run could not deliver (mail server down, paused on a
    │   │                          burst of errors); what was delivered stays recorded
    │   └── SendFailed             inside the mailer: one SMTP transaction failed (never leaves
    │                              ``Mailer.send``, which returns it as a ``SendResult``)
    └── PageError                  a web request cannot be answered as asked: shown as a page
                                   (or JSON under /api/) with its HTTP status

``RecordError`` is also a ``ValueError``: parsers raise it where a value is malformed, and a
caller skipping bad records on ``ValueError`` skips it too.
"""

from __future__ import annotations


class PaperwireError(Exception):
    """Base class. ``str(err)`` is a complete sentence fit for one line of output."""


class ConfigError(PaperwireError):
    pass


class StoreError(PaperwireError):
    pass


class StoreFull(StoreError):
    """The database cannot grow: its disk is full, or it reached a size limit (SQLite's
    SQLITE_FULL, PostgreSQL's disk_full). Not the fault of the data being written: a writer
    stops (its transaction rolled back) rather than skipping records."""


class FormulaError(PaperwireError):
    pass


class ImportFormatError(PaperwireError):
    pass


class ReadError(PaperwireError):
    """The file could not be read on from ``line`` (None: not at all)."""

    def __init__(self, line: int | None, reason: str) -> None:
        super().__init__(reason)
        self.line = line
        self.reason = reason


class RecordError(PaperwireError, ValueError):
    """A malformed record; ``reason`` says why, ``where`` (when known) where it is, e.g.
    ``papers.jsonl:17``."""

    def __init__(self, reason: str, where: str | None = None) -> None:
        super().__init__(f"{where}: {reason}" if where else reason)
        self.where = where
        self.reason = reason


class TooDeep(RecordError):
    """A JSON value nested deeper than ``limit`` levels of arrays and objects."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"nested too deeply (more than {limit} levels of arrays and objects)")
        self.limit = limit


class SearchError(PaperwireError):
    pass


class QueryError(SearchError):
    """The user's query cannot mean anything (a bad date, contradictory filters): say so,
    as a 400 on the web, not as a failure of the service."""


class SourceError(PaperwireError):
    """A live source failed: an HTTP error, a timeout, a malformed or truncated response.
    The message names the source and what was wrong; nothing of the failed batch was kept."""

    def __init__(self, source: str, reason: str, status: int | None = None) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason
        self.status = status  # the HTTP status, when an HTTP error was the cause


class SourceBusy(SourceError):
    pass


class NotFound(PaperwireError):
    pass


class TokenError(PaperwireError):
    """A signed link from a mail cannot be used; shown to the user as a 4xx page."""


class InvalidSubscription(PaperwireError):
    """An address or preference that cannot be used; the message says which and why."""


class DeliveryError(PaperwireError):
    """A digest run stopped early; the ledger keeps every outcome, the next run resumes."""


class SendFailed(DeliveryError):
    """Inside the mailer: one send failed with ``result`` (the mailer's ``SendResult``);
    ``stale`` when a reused connection had gone before MAIL (worth one reconnection)."""

    def __init__(self, result: object, detail: str, stale: bool = False) -> None:
        super().__init__(detail)
        self.result = result
        self.stale = stale


class PageError(PaperwireError):
    """An error shown to the user as a page (or JSON under /api/) with this status."""

    def __init__(self, status: int, message: str, title: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message = status, message
        self.title = title or {400: "Bad request", 404: "Not found"}.get(status, "Error")
