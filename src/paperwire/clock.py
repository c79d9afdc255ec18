"""The time Paperwire runs on: naive UTC datetimes, as stored. The application object takes
a clock (:func:`utcnow` by default) so tests can set the time."""

from __future__ import annotations

from datetime import UTC, date, datetime


def utcnow() -> datetime:
    """Now, in UTC, without tzinfo (the form every stored timestamp has)."""
    return datetime.now(UTC).replace(tzinfo=None)


def utc_today() -> date:
    """Today in UTC: the day sources plan their runs from when not told one."""
    return datetime.now(UTC).date()
