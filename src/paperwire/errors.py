"""Every exception Paperwire raises on purpose, in one tree.

    PaperwireError                 base: the CLI prints its message as one line and exits 1
    ├── ConfigError                a setting is missing, unknown or malformed
    ├── StoreError                 the database cannot be reached or migrated
    ├── ImportFormatError          a file's format cannot be detected or is not supported
    ├── RecordError                one record of an import is malformed (file and line in message)
    ├── SearchError                the search index or the embedding model cannot be used
    │   └── QueryError             the query itself is wrong (a bad date, a negated filter)
    ├── SourceError                a live source (arXiv, Hugging Face) failed; names the source
    │   └── SourceBusy             another run of the same ingest holds its lock
    ├── NotFound                   a paper (or other object) the caller asked for does not exist
    ├── TokenError                 a signed link is damaged, forged, expired or already used
    └── DeliveryError              a digest run could not deliver (mail server down, paused on a
                                   burst of errors); what was delivered stays recorded
"""

from __future__ import annotations


class PaperwireError(Exception):
    """Base class. ``str(err)`` is a complete sentence fit for one line of output."""


class ConfigError(PaperwireError):
    pass


class StoreError(PaperwireError):
    pass


class ImportFormatError(PaperwireError):
    pass


class RecordError(PaperwireError):
    """A malformed record. ``where`` says where it is, e.g. ``papers.jsonl:17``."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.where = where
        self.reason = reason


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


class DeliveryError(PaperwireError):
    """A digest run stopped early; the ledger keeps every outcome, the next run resumes."""
