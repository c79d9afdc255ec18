"""What an import did: counts per file and in total, and every record it had to skip."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from paperwire.records import WriteCounts

# A file with more bad records than this lists only the first ones (plus one line saying how
# many more); the counts stay exact. Keeps memory bounded when a huge file is fed with the
# wrong --format and every line fails.
MAX_LISTED_PER_FILE = 10_000


@dataclass
class FileReport:
    """One input file. ``error`` is set when the file could not be read (to the end).

    ``resumed_after`` is set when an earlier run of this import was interrupted: it had
    imported the file up to that line, and this run read on from the next one. The counts
    and the bad records listed then cover the whole file, the earlier run's part included.
    """

    path: str
    fmt: str | None = None
    records: int = 0  # records read and parsed, good or bad
    skipped: int = 0  # bad records (all of them, listed or not)
    truncated: int = 0  # records kept with a field cut to its cap (all of them)
    papers: WriteCounts = field(default_factory=WriteCounts)
    signals: WriteCounts = field(default_factory=WriteCounts)
    dates: WriteCounts = field(default_factory=WriteCounts)
    error: str | None = None
    resumed_after: int | None = None


@dataclass
class ImportReport:
    """The result of :func:`paperwire.importers.run_import`.

    ``skipped`` holds ``(where, reason)`` for each bad record, ``where`` being
    ``path:line`` (1-based; for JSON arrays the line where the element starts).
    ``files_failed`` holds ``(where, reason)`` for files that could not be read, or not to
    the end (``where`` then names the line where reading stopped; records before it were
    imported). ``truncated`` holds ``(where, fields)`` for records that were imported with
    a field cut to the stored size (:func:`paperwire.models.bounded`): a warning, not an error.
    """

    files: list[FileReport] = field(default_factory=list)
    papers: WriteCounts = field(default_factory=WriteCounts)
    signals: WriteCounts = field(default_factory=WriteCounts)
    dates: WriteCounts = field(default_factory=WriteCounts)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    files_failed: list[tuple[str, str]] = field(default_factory=list)
    truncated: list[tuple[str, str]] = field(default_factory=list)

    @property
    def truncated_count(self) -> int:
        """Records kept with a field cut to its cap (the first ones are listed in
        ``truncated``, with the fields cut)."""
        return sum(f.truncated for f in self.files)

    @property
    def skipped_count(self) -> int:
        """Bad records, including any not listed in ``skipped`` (see MAX_LISTED_PER_FILE)."""
        return sum(f.skipped for f in self.files)

    @property
    def resumed(self) -> list[tuple[str, int]]:
        """(path, line) of each file this run resumed after that line."""
        return [(f.path, f.resumed_after) for f in self.files if f.resumed_after]

    @property
    def ok(self) -> bool:
        return self.skipped_count == 0 and not self.skipped and not self.files_failed

    # ---- output -----------------------------------------------------------------------

    def summary(self) -> str:
        """One line, e.g. ``"12,345 papers: 100 new, 3 changed, 12,242 unchanged; …"``."""
        p, s, d = self.papers, self.signals, self.dates
        parts = [
            f"{p.new + p.changed + p.unchanged:,} papers: {p.new:,} new, {p.changed:,} changed, "
            f"{p.unchanged:,} unchanged",
            f"{s.new + s.changed + s.unchanged:,} signals: {s.new:,} new, {s.changed:,} changed, "
            f"{s.unchanged:,} unchanged",
        ]
        n_dates = d.changed + d.unchanged + d.missing
        if n_dates:
            parts.append(
                f"{n_dates:,} listing dates: {d.changed:,} changed, {d.unchanged:,} unchanged, "
                f"{d.missing:,} for papers not in the store"
            )
        n_skipped = self.skipped_count
        parts.append(f"{n_skipped:,} {'line' if n_skipped == 1 else 'lines'} skipped")
        if n_cut := self.truncated_count:
            parts.append(f"{n_cut:,} {'record' if n_cut == 1 else 'records'} cut to size")
        if self.files_failed:
            n = len(self.files_failed)
            parts.append(f"{n:,} {'file' if n == 1 else 'files'} failed")
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable data (for ``--json`` output)."""
        return {
            "ok": self.ok,
            "summary": self.summary(),
            "papers": asdict(self.papers),
            "signals": asdict(self.signals),
            "listing_dates": asdict(self.dates),
            "skipped_count": self.skipped_count,
            "skipped": [{"where": w, "reason": r} for w, r in self.skipped],
            "files_failed": [{"where": w, "reason": r} for w, r in self.files_failed],
            "truncated_count": self.truncated_count,
            "truncated": [{"where": w, "fields": f} for w, f in self.truncated],
            "resumed": [{"path": p, "after_line": n} for p, n in self.resumed],
            "files": [asdict(f) for f in self.files],
        }
