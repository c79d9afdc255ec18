"""run_import: files in, batches into the store, a report out."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from itertools import chain
from pathlib import Path
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from paperwire.errors import ImportFormatError, ReadError, RecordError, StoreError
from paperwire.importers.report import MAX_LISTED_PER_FILE, FileReport, ImportReport
from paperwire.metadata import PaperMeta
from paperwire.models import Paper, Signal, bounded
from paperwire.parsing.formats import (
    FORMATS,
    PARSERS,
    Context,
    HfParsed,
    detect,
    parse_hf_record,
    parse_listing_date,
)
from paperwire.parsing.reading import READ_ERRORS, InputFile, Item, describe
from paperwire.seeds import match_seeds
from paperwire.store import Store

log = logging.getLogger(__name__)

DETECT_LOOKAHEAD = 1000  # undecodable records to look past when detecting a format
PROGRESS_EVERY = 512  # records between progress-bar updates


def run_import(
    store: Store,
    paths: Sequence[Path],
    fmt: str | None = None,
    progress: bool = True,
    batch_size: int = 1000,
) -> ImportReport:
    """Import papers, signals and listing dates from files and directories.

    ``fmt`` (one of :data:`FORMATS`) applies to every file; None detects it per file from
    the first record. Bad records are skipped and reported, unreadable files reported as
    failed; the rest goes on. Writes go through ``store.write_batch`` in batches of
    ``batch_size`` records (one transaction each).
    """
    if fmt is not None and fmt not in FORMATS:
        raise ImportFormatError(f"unknown import format {fmt!r}; use one of {', '.join(FORMATS)}")
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    report = ImportReport()
    started = datetime.utcnow()
    files = _expand([Path(p) for p in paths], report)
    with _Bar(progress, sum(_size(f) for f in files)) as bar:
        deferred: list[Path] = []
        for path in files:
            fr = _import_file(store, path, fmt, report, batch_size, bar, defer_listing_dates=True)
            if fr is None:
                deferred.append(path)
            else:
                _add(report, fr)
        # Store.set_published only lowers the date of papers already in the store (the
        # others count as missing), so listing-date files go after every other file of
        # the run: then the papers they date are in, whatever the order of the paths.
        for path in deferred:
            fr = _import_file(store, path, "listing-dates", report, batch_size, bar)
            assert fr is not None
            _add(report, fr)
    if report.papers.new or report.papers.changed:
        merged = match_seeds(store, since=started)
        if merged:
            log.info("%d seed papers matched to their arXiv records", len(merged))
    return report


def _expand(paths: list[Path], report: ImportReport) -> list[Path]:
    """Files, with directories replaced by the files inside them (recursively, sorted,
    hidden files and directories left out); each file once."""
    files: list[Path] = []
    seen: set[Path] = set()
    for path in paths:
        if path.is_dir():
            found = []
            for root, dirs, names in os.walk(path):
                dirs[:] = [d for d in dirs if not d.startswith(".")]
                found += [Path(root) / n for n in names if not n.startswith(".")]
            candidates = sorted(found)
        elif path.exists():
            candidates = [path]
        else:
            report.files.append(FileReport(str(path), error="no such file or directory"))
            report.files_failed.append((str(path), "no such file or directory"))
            continue
        for f in candidates:
            key = f.resolve()
            if key not in seen:
                seen.add(key)
                files.append(f)
    return files


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _add(report: ImportReport, fr: FileReport) -> None:
    report.files.append(fr)
    report.papers.add(fr.papers)
    report.signals.add(fr.signals)
    report.dates.add(fr.dates)


class _Bar:
    """A rich progress bar over the bytes of all files (no-op when disabled)."""

    def __init__(self, enabled: bool, total: int) -> None:
        self._progress = (
            Progress(
                TextColumn("{task.description}", markup=False),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),  # stdout stays for the summary
            )
            if enabled
            else None
        )
        self._total = total
        self._done = 0  # bytes of the files finished
        self._task: TaskID | None = None

    def __enter__(self) -> _Bar:
        if self._progress is not None:
            self._progress.start()
            self._task = self._progress.add_task("importing", total=self._total)
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._progress is not None:
            self._progress.stop()

    def update(self, src: InputFile) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(
                self._task, completed=self._done + src.position(), description=src.path.name
            )

    def file_done(self, size: int) -> None:
        self._done += size
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=self._done)


class _Sink:
    """Collects the good records of one file and writes them in batches."""

    def __init__(self, store: Store, fr: FileReport, report: ImportReport, size: int) -> None:
        self.store, self.fr, self.report, self.batch_size = store, fr, report, size
        self.pending: list[tuple[str, Paper, list[Signal], PaperMeta | None]] = []
        self.dates: dict[str, date] = {}

    def add(self, where: str, paper: Paper, signals: list[Signal],
            meta: PaperMeta | None = None) -> None:
        paper, cuts = bounded(paper)  # what the store would keep anyway; reported here
        if cuts:
            self.fr.truncated += 1
            if self.fr.truncated <= MAX_LISTED_PER_FILE:
                self.report.truncated.append((where, "; ".join(cuts)))
        self.pending.append((where, paper, signals, meta))
        if len(self.pending) >= self.batch_size:
            self.flush()

    def add_date(self, paper_id: str, day: date) -> None:
        old = self.dates.get(paper_id)
        self.dates[paper_id] = day if old is None else min(old, day)
        if len(self.dates) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        if self.dates:
            self.fr.dates.add(self.store.set_published(self.dates))
            self.dates = {}
        if not self.pending:
            return
        batch, self.pending = self.pending, []
        try:
            pc, sc = self.store.write_batch(
                [p for _, p, _, _ in batch], [s for _, _, sigs, _ in batch for s in sigs],
                metas=[m for _, _, _, m in batch if m is not None],
            )
        except StoreError as exc:
            if not self.store.ping():
                raise StoreError(f"the database stopped answering: {exc}") from exc
            log.warning("a batch from %s failed (%s); writing it record by record",
                        self.fr.path, exc)
            self._one_by_one(batch)
            return
        self.fr.papers.add(pc)
        self.fr.signals.add(sc)

    def _one_by_one(
        self, batch: list[tuple[str, Paper, list[Signal], PaperMeta | None]]
    ) -> None:
        """Write records singly, so that one the database rejects costs only itself. When
        every record of the batch fails the cause is not in the records: stop the run."""
        failures: list[tuple[str, Exception]] = []
        for where, paper, sigs, meta in batch:
            try:
                pc, sc = self.store.write_batch([paper], sigs, metas=[meta] if meta else [])
            except StoreError as exc:
                if not self.store.ping():
                    raise StoreError(f"the database stopped answering: {exc}") from exc
                failures.append((where, exc))
                continue
            self.fr.papers.add(pc)
            self.fr.signals.add(sc)
        if len(batch) > 1 and len(failures) == len(batch):
            raise failures[0][1]
        for where, error in failures:
            _skip(self.fr, self.report, where, f"the database rejected it: {error}")


def _skip(fr: FileReport, report: ImportReport, where: str, reason: str) -> None:
    fr.skipped += 1
    if fr.skipped <= MAX_LISTED_PER_FILE:
        report.skipped.append((where, reason))
    elif fr.skipped == MAX_LISTED_PER_FILE + 1:
        report.skipped.append((fr.path, "more bad records in this file are not listed"))


def _failed(fr: FileReport, report: ImportReport, where: str, reason: str) -> FileReport:
    fr.error = reason
    report.files_failed.append((where, reason))
    log.debug("%s: %s", where, reason)  # the caller prints files_failed
    return fr


def _import_file(
    store: Store,
    path: Path,
    fmt: str | None,
    report: ImportReport,
    batch_size: int,
    bar: _Bar,
    defer_listing_dates: bool = False,
) -> FileReport | None:
    """Import one file; None (and nothing read) when it holds listing dates and
    ``defer_listing_dates`` is set."""
    fr = FileReport(str(path), fmt=fmt)
    try:
        src = InputFile(path)
    except OSError as exc:
        return _failed(fr, report, str(path), describe(exc))
    sink = _Sink(store, fr, report, batch_size)
    deferred = False
    with src:
        try:
            container = src.container()
            if container == "empty":
                return fr if fmt else _failed(fr, report, str(path), "empty file")
            if fmt == "listing-dates":
                container = "tsv"
            elif fmt is not None and container in ("tsv", "unknown"):
                container = "jsonl"  # so that each line is reported as bad, not the file
            elif container == "unknown":
                return _failed(fr, report, str(path), "format not recognised: not JSON or TSV")
            items = src.items(container)
            head: list[Item] = []
            if fmt is None:
                fmt = _detect(items, head)
                if fmt is None:
                    return _failed(fr, report, str(path), _undetected(head))
                fr.fmt = fmt
                if fmt == "listing-dates" and defer_listing_dates:
                    deferred = True
                    return None
            _consume(fr, report, sink, src, chain(head, items), fmt, bar)
            sink.flush()
        except ReadError as exc:
            sink.flush()  # the records read before the damage are good
            where = f"{path}:{exc.line}" if exc.line else str(path)
            _failed(fr, report, where, f"{exc.reason}; the rest of the file was not read")
        except READ_ERRORS as exc:
            sink.flush()
            _failed(fr, report, str(path), describe(exc))
        finally:
            if not deferred:
                bar.file_done(src.size)
    log.debug("%s (%s): %d records, %d skipped", path, fmt, fr.records, fr.skipped)
    return fr


def _detect(items: Iterator[Item], head: list[Item]) -> str | None:
    """The format of the first decodable record; the items looked at are kept in ``head``."""
    for item in items:
        head.append(item)
        if item.error is None:
            return detect(item.value)
        if len(head) >= DETECT_LOOKAHEAD:
            break
    return None


def _undetected(head: list[Item]) -> str:
    if not head:
        return "no records: format cannot be detected"
    if all(item.error for item in head):
        return f"format not recognised: no decodable record (line {head[0].line}: {head[0].error})"
    return f"format not recognised from the record at line {head[-1].line}"


def _parse(fmt: str, parse: Any, value: Any, ctx: Context) -> HfParsed:
    """A record as a paper, its signals and (Hugging Face entries) its metadata."""
    if fmt == "hf":
        return parse_hf_record(value, ctx)
    paper, signals = parse(value, ctx)
    return paper, signals, None


def _consume(
    fr: FileReport,
    report: ImportReport,
    sink: _Sink,
    src: InputFile,
    items: Iterator[Item],
    fmt: str,
    bar: _Bar,
) -> None:
    ctx = Context(src.path, src.meta)
    parse = PARSERS.get(fmt)
    prefix = str(src.path)
    bar.update(src)
    for n, (line, value, error) in enumerate(items, 1):
        if n % PROGRESS_EVERY == 0:
            bar.update(src)
        if error is not None:
            fr.records += 1
            _skip(fr, report, f"{prefix}:{line}", error)
            continue
        try:
            if parse is None:
                row = parse_listing_date(value, ctx)
                if row is None:  # the header
                    continue
                fr.records += 1
                sink.add_date(*row)
            else:
                fr.records += 1
                paper, signals, meta = _parse(fmt, parse, value, ctx)
                sink.add(f"{prefix}:{line}", paper, signals, meta)
        except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
            reason = str(exc) if isinstance(exc, RecordError) else f"malformed record: {exc!r}"
            _skip(fr, report, f"{prefix}:{line}", reason)
