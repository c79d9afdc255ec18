"""Plain records shared across layers, no I/O: what a write to the store counted
(:class:`WriteCounts`), and the digest's subscribers, their preferences and a composed digest.
The store reads and writes them; the domains above build them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from paperwire.models import Paper


@dataclass
class WriteCounts:
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    missing: int = 0  # referenced papers the store does not have

    def add(self, other: WriteCounts) -> None:
        self.new += other.new
        self.changed += other.changed
        self.unchanged += other.unchanged
        self.missing += other.missing


@dataclass(frozen=True)
class DataVersion:
    """What the shared read path (trending, its pages, API and feeds) is computed from, as
    the store keeps it (:meth:`Store.data_version`): ``token``, a random value every write
    of papers, signals or paper metadata replaces; ``changed``, that write's time (None
    and "" before the first one)."""

    token: str
    changed: datetime | None


STATUSES = ("pending", "active", "unsubscribed", "suppressed")
FREQUENCIES = ("daily", "weekly")
MODES = ("personal", "trending")  # personal = interest matches + trending; trending = trending only


@dataclass(frozen=True)
class Subscriber:
    """One address and its preferences. ``status`` is ``pending`` until the confirmation link is
    followed; only ``active`` subscribers are sent digests."""

    id: int
    email: str
    status: str = "pending"
    frequency: str = "daily"
    weekday: int = 0  # 0 = Monday; the day a weekly digest goes out
    hour: int = 7  # local hour (in ``timezone``) at which the digest is due
    timezone: str = "UTC"
    categories: tuple[str, ...] = ()
    queries: tuple[str, ...] = ()
    papers: tuple[str, ...] = ()  # example paper ids: "more like these"
    size: int = 10
    mode: str = "personal"
    skip_empty: bool = False  # skip a digest with nothing new instead of saying so
    created_at: datetime | None = None
    confirmed_at: datetime | None = None
    unsubscribed_at: datetime | None = None
    epoch: int = 0  # bumped by each confirmation; links carry it (a resubscribe voids old ones)

    @property
    def has_interests(self) -> bool:
        return bool(self.categories or self.queries or self.papers)


@dataclass(frozen=True)
class DigestItem:
    """One paper in a digest and the one-line reason it is there."""

    paper: Paper
    why: str
    kind: str  # "match" (matches an interest) or "trending"


@dataclass(frozen=True)
class Digest:
    """What one subscriber is sent for one digest date. ``period`` is the range of days whose
    papers and signals it covers. ``note`` says plainly when there was nothing new."""

    subscriber: Subscriber
    day: date
    period: tuple[date, date]
    items: tuple[DigestItem, ...] = field(default=())
    note: str | None = None

    @property
    def empty(self) -> bool:
        return not self.items


ACCOUNT_STATUSES = ("pending", "active", "disabled")
READING_STATES = ("to-read", "read")


@dataclass(frozen=True)
class Account:
    """Someone who signs in (by a link mailed to ``email``). ``pending`` until a sign-in link
    is first used; only ``active`` accounts have sessions, and only their votes and saves
    count. The digest subscription with the same address is the same person's."""

    id: int
    email: str
    status: str = "pending"
    is_admin: bool = False
    created_at: datetime | None = None
    confirmed_at: datetime | None = None
    disabled_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.status == "active"


@dataclass(frozen=True)
class LibraryEntry:
    """A paper an account saved, with its tags, private note (Markdown) and reading state."""

    paper_id: str
    saved_at: datetime
    updated_at: datetime
    state: str | None = None  # None, "to-read" or "read"
    note: str | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rating:
    """A 👍 (+1) or 👎 (−1) an account gave a paper, on the site or from a digest."""

    paper_id: str
    value: int
    source: str  # "web" or "digest"
    created_at: datetime
