"""run_import: files in, batches into the store, a report out."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import suppress
from dataclasses import asdict
from datetime import date, datetime
from itertools import chain, islice
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

from paperwire.errors import ImportFormatError, ReadError, RecordError, StoreError, StoreFull
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
from paperwire.parsing.reading import (
    LINE_CONTAINERS,
    READ_ERRORS,
    InputFile,
    Item,
    describe,
    file_identity,
)
from paperwire.records import WriteCounts
from paperwire.seeds import match_seeds
from paperwire.store import Store

log = logging.getLogger(__name__)

DETECT_LOOKAHEAD = 1000  # undecodable records to look past when detecting a format
PROGRESS_EVERY = 512  # records between progress-bar updates
CHECKPOINT_KEY = "import:"  # cursors key prefix of a file's checkpoint: + its file_identity
CHECKPOINT_VERSION = 1
CARRIED = 100  # skipped / cut-to-size entries of a file a checkpoint lists (counts: all)


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

    JSON Lines and TSV files (whatever their format) are checkpointed: each batch's
    transaction also writes the cursor ``import:<file identity>`` (see
    :func:`paperwire.parsing.reading.file_identity`) with the last line done and the file's
    counts so far. A run that finds an unfinished checkpoint for a file resumes after that
    line (the lines before are read, not decoded) and reports the file as the whole import
    would have (counts and the first bad records carried over); a finished one is imported
    again from the start. JSON arrays and objects are imported from the start every time.
    """
    if fmt is not None and fmt not in FORMATS:
        raise ImportFormatError(f"unknown import format {fmt!r}; use one of {', '.join(FORMATS)}")
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    report = ImportReport()
    run = _Run(datetime.utcnow())
    files = _expand([Path(p) for p in paths], report)
    with _Bar(progress, sum(_size(f) for f in files)) as bar:
        deferred: list[Path] = []
        for path in files:
            fr = _import_file(store, path, fmt, report, batch_size, bar, run,
                              defer_listing_dates=True)
            if fr is None:
                deferred.append(path)
            else:
                _add(report, fr)
        # Store.set_published only lowers the date of papers already in the store (the
        # others count as missing), so listing-date files go after every other file of
        # the run: then the papers they date are in, whatever the order of the paths.
        for path in deferred:
            fr = _import_file(store, path, "listing-dates", report, batch_size, bar, run)
            assert fr is not None
            _add(report, fr)
    if report.papers.new or report.papers.changed:
        # from the start of the interrupted run a file resumed, whose papers are new too
        merged = match_seeds(store, since=run.since)
        if merged:
            log.info("%d seed papers matched to their arXiv records", len(merged))
    return report


class _Run:
    """One run of :func:`run_import`: when it started, and since when its papers were
    written (earlier when it resumed a file an interrupted run had begun)."""

    def __init__(self, started: datetime) -> None:
        self.started = started
        self.since = started


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
    """Collects the good records of one file and writes them in batches, each with the
    file's checkpoint (when it has one) in the same transaction."""

    def __init__(self, store: Store, fr: FileReport, report: ImportReport, size: int) -> None:
        self.store, self.fr, self.report, self.batch_size = store, fr, report, size
        self.pending: list[tuple[str, Paper, list[Signal], PaperMeta | None]] = []
        self.dates: dict[str, date] = {}
        self.checkpoint: _Checkpoint | None = None
        self.line = 0  # every record on this line or before is in pending, written or skipped
        self.at = ""  # where the write being made begins (named when the database is full)

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

    def flush(self, complete: bool = False) -> None:
        """Write what is pending, with the checkpoint: done up to ``self.line``, and to the
        end of the file when ``complete``. A full database stops the run
        (:class:`StoreFull`, naming the first record not written)."""
        cp = self.checkpoint
        self.at = f"{self.fr.path}:{cp.written + 1}" if cp else self.fr.path
        try:
            self._flush(complete)
        except StoreFull as exc:
            raise StoreFull(f"{exc}; the import stopped at {self.at}, everything before it is "
                            "kept: make room and run the same import again to resume") from exc

    def _flush(self, complete: bool) -> None:
        cp = self.checkpoint
        if cp is not None:
            cp.line, cp.complete = self.line, complete
        if self.dates:
            dates, self.dates = self.dates, {}
            cursor = cp.after_dates(self.fr) if cp is not None and not self.pending else None
            self.fr.dates.add(self.store.set_published(dates, cursor=cursor))
            if cp is not None and cursor is not None:
                cp.written = cp.line
                return
        if not self.pending:
            if cp is not None and (cp.line > cp.written or complete):
                self.store.set_cursor(cp.key, cp.value(self.fr))
                cp.written = cp.line
            return
        batch, self.pending = self.pending, []
        self.at = batch[0][0]  # the first record a full database would stop the run at
        try:
            pc, sc = self.store.write_batch(
                [p for _, p, _, _ in batch], [s for _, _, sigs, _ in batch for s in sigs],
                metas=[m for _, _, _, m in batch if m is not None],
                cursor=cp.after_batch(self.fr) if cp is not None else None,
            )
        except StoreFull:
            raise
        except StoreError as exc:
            if not self.store.ping():
                raise StoreError(f"the database stopped answering: {exc}") from exc
            log.warning("a batch from %s failed (%s); writing it record by record",
                        self.fr.path, exc)
            self._one_by_one(batch)
            if cp is not None:  # after the records: a kill in between re-merges a few
                self.store.set_cursor(cp.key, cp.value(self.fr))
                cp.written = cp.line
            return
        self.fr.papers.add(pc)
        self.fr.signals.add(sc)
        if cp is not None:
            cp.written = cp.line

    def _one_by_one(
        self, batch: list[tuple[str, Paper, list[Signal], PaperMeta | None]]
    ) -> None:
        """Write records singly, so that one the database rejects costs only itself. When
        every record of the batch fails the cause is not in the records: stop the run."""
        failures: list[tuple[str, Exception]] = []
        for where, paper, sigs, meta in batch:
            try:
                pc, sc = self.store.write_batch([paper], sigs, metas=[meta] if meta else [])
            except StoreFull:  # the database's fault, not the record's: stop here
                self.at = where
                raise
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


def _plus(a: WriteCounts, b: WriteCounts) -> dict[str, int]:
    total = WriteCounts(**asdict(a))
    total.add(b)
    return asdict(total)


class _Checkpoint:
    """The cursor ``import:<file identity>`` of one file of a line container: the last line
    whose records are all in the store (written or skipped as bad), whether the file was
    read to the end, and the file's report so far (counts, and the first :data:`CARRIED`
    bad and cut-to-size records), which a resumed run takes over."""

    def __init__(self, key: str, path: str, fmt: str, container: str, started: datetime,
                 report: ImportReport) -> None:
        self.key, self.path, self.fmt, self.container = key, path, fmt, container
        self.started = started
        self.report = report
        self.skipped_from = len(report.skipped)  # where this file's entries begin
        self.truncated_from = len(report.truncated)
        self.line = 0
        self.written = 0  # the line the stored checkpoint says
        self.complete = False

    def matches(self, saved: dict[str, Any] | None) -> bool:
        """Whether ``saved`` is an unfinished checkpoint this file can resume from."""
        return (
            saved is not None
            and saved.get("v") == CHECKPOINT_VERSION
            and not saved.get("complete")
            and saved.get("fmt") == self.fmt
            and saved.get("container") == self.container
            and isinstance(saved.get("line"), int)
            and saved["line"] > 0
        )

    def resume(self, saved: dict[str, Any], fr: FileReport) -> datetime:
        """Take over the report of the run that wrote ``saved``; the time that run started."""
        self.line = self.written = fr.resumed_after = saved["line"]
        fr.records = saved.get("records", 0)
        fr.skipped = saved.get("skipped", 0)
        fr.truncated = saved.get("truncated", 0)
        for name in ("papers", "signals", "dates"):
            getattr(fr, name).add(WriteCounts(**saved.get(name, {})))
        old = f"{saved.get('path')}:"  # the file may have been moved since (same identity)

        def here(where: str) -> str:
            return f"{self.path}:{where.removeprefix(old)}" if where.startswith(old) else where

        skipped = [(here(w), r) for w, r in saved.get("skipped_head", [])]
        self.report.skipped.extend(skipped)
        if fr.skipped > len(skipped):
            self.report.skipped.append((self.path, (
                f"{fr.skipped - len(skipped):,} more bad records up to line {self.line:,} "
                "(read by an earlier run) are not listed")))
        self.report.truncated.extend((here(w), f) for w, f in saved.get("truncated_head", []))
        with suppress(KeyError, TypeError, ValueError):
            self.started = datetime.fromisoformat(saved["started"])
        return self.started

    def value(self, fr: FileReport, papers: WriteCounts | None = None,
              signals: WriteCounts | None = None, dates: WriteCounts | None = None
              ) -> dict[str, Any]:
        """The cursor's value, the counts of the batch written with it (if any) included."""
        none = WriteCounts()
        heads = {
            "skipped_head": [[w, r] for w, r in islice(self.report.skipped, self.skipped_from,
                                                       self.skipped_from + CARRIED + 1)
                             if w != self.path][:CARRIED],
            "truncated_head": [[w, f] for w, f in islice(self.report.truncated,
                                                         self.truncated_from,
                                                         self.truncated_from + CARRIED)],
        }
        return {
            "v": CHECKPOINT_VERSION, "path": self.path, "fmt": self.fmt,
            "container": self.container, "started": self.started.isoformat(),
            "line": self.line, "complete": self.complete, "records": fr.records,
            "skipped": fr.skipped, "truncated": fr.truncated,
            "papers": _plus(fr.papers, papers or none),
            "signals": _plus(fr.signals, signals or none),
            "dates": _plus(fr.dates, dates or none),
            **heads,
        }

    def after_batch(self, fr: FileReport) -> tuple[
            str, Callable[[WriteCounts, WriteCounts], dict[str, Any]]]:
        return self.key, lambda pc, sc: self.value(fr, papers=pc, signals=sc)

    def after_dates(self, fr: FileReport) -> tuple[
            str, Callable[[WriteCounts, WriteCounts], dict[str, Any]]]:
        return self.key, lambda dc, _: self.value(fr, dates=dc)


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
    run: _Run,
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
            if container in LINE_CONTAINERS:
                cp = _Checkpoint(CHECKPOINT_KEY + file_identity(path), str(path), fmt,
                                 container, run.started, report)
                sink.checkpoint = cp
                saved = _saved(store, cp.key)
                if saved is not None and cp.matches(saved):
                    run.since = min(run.since, cp.resume(saved, fr))
                    sink.line = cp.line
                    src.stream.seek(0)  # gzip rewinds by reading again from the start
                    items, head = src.items(container, skip_lines=cp.line), []
                    log.info("%s: resuming after line %s, where an interrupted import "
                             "stopped", path, f"{cp.line:,}")
            _consume(fr, report, sink, src, chain(head, items), fmt, bar)
            sink.flush(complete=True)
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


def _saved(store: Store, key: str) -> dict[str, Any] | None:
    try:
        return store.get_cursor(key)
    except StoreError as exc:
        if not store.ping():
            raise StoreError(f"the database stopped answering: {exc}") from exc
        raise


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
        sink.line = line  # the records before it are handled; this one is once added
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
