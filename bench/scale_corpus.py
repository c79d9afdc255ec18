"""A synthetic arXiv of any size, recombined from the ~75k real papers, for scale benchmarks.

    .venv/bin/python bench/scale_corpus.py --papers 3000000 --out bench/out/scale-3m.jsonl.gz
        [--seed 0] [--vectors REAL.npy --vectors-out OUT.npy] [--noise 0.1] [--no-progress]

**The output is synthetic.** Every line is a made-up paper in the format of Kaggle's
``arxiv-metadata-oai-snapshot.json`` (``paperwire import --format kaggle`` reads it), built
from pieces of the real papers of ../shared/data/arxiv (read with ``search_bench.arxiv_papers``:
files sorted by name, lines in order — "source paper k" below is the k-th of that list):

- **ids and dates.** New-style ids only, ``YYMM.NNNN`` before 2015 and ``YYMM.NNNNN`` from
  1501 on, over April 2007 (the first new-style month) to December 2026. Months take papers in
  proportion to arXiv's growth: the weight of a month is its year's submissions / 12, from
  these approximate yearly counts (rounded from arXiv's public submission statistics; 2025 and
  2026 extrapolated): 2007 55.6k, 2008 58.9k, 2009 63.8k, 2010 70.1k, 2011 76.6k, 2012 84.6k,
  2013 92.6k, 2014 97.5k, 2015 105.3k, 2016 113.4k, 2017 123.5k, 2018 140.6k, 2019 155.9k,
  2020 178.3k, 2021 181.6k, 2022 185.7k, 2023 208.5k, 2024 243k, 2025 280k, 2026 310k (about
  2.9M in all, so 3M papers look much like arXiv's real monthly volumes). Line ``i`` goes to
  the month that stride scheduling picks (the month whose next paper is most overdue for its
  weight), so every prefix of the file is spread over all months in those proportions; within a
  month numbers count up from 1, skipping the real papers' ids (a synthetic corpus can be
  imported beside the real one) and a month is dropped when its numbers run out (9,999 or
  99,999): at most ~15.3M papers. The lines are therefore *not* in id order. The first
  version is dated on a random day and time of the id's month; 38% of papers have later
  versions (1 to 200 days apart, never past 2026-12-31); ``update_date`` is the last one's day.
- **one anchor per paper**, a real paper drawn uniformly: its categories are the paper's
  (so the category mix is the source's, AI-heavy — cs.CV, cs.CL, cs.AI — not all of arXiv's).
  Its *pool* is the real papers sharing its primary category (or, for categories with fewer
  than 50 papers, its archive, e.g. all of ``eess``; or all papers).
- **abstract**: as many sentences as a random pool paper has (so the count follows the real
  per-category distribution; sentences split like search_bench's ``SENTENCE``). Sentence ``j``
  of ``k`` is the sentence at the same relative position (``j/k``) of a donor: the anchor
  (first sentence always, then half of the time), one of two other pool papers (40%), or any
  real paper (10%, off-topic noise). So 90% of the text comes from the anchor's category and
  openings stay openings, conclusions conclusions. A sentence never repeats in one abstract.
- **title**: the anchor's title head + a pool paper's title tail, joined at ``:`` when both
  have one ("<anchor's name>: <other's subtitle>"), else at a joint word (for, of, in, on, via,
  with, using, …) found in both, else at half the words of each.
- **authors**: as many as a random pool paper has (capped at Paperwire's 3,000), each a real
  author of a random pool paper (no repeats), so names and co-author counts look real;
  ``authors_parsed`` is ``[last word, the rest, ""]``. The submitter is the first author;
  ``comments`` is a random pool paper's (real, possibly null, possibly anachronistic such as
  "Accepted at CVPR 2025" on a 2009 paper); journal-ref, doi, report-no and license are null.
- **sources**: each paper's real source papers and their weights (characters of title and
  abstract each one gave) — ``plan(...).sources``, recomputed from (seed, index) at no cost.

Deterministic and streamed: line ``i``'s content comes from ``random.Random(seed·2⁴⁰ + i)``
and its id from the month schedule (a pure sequence), so the same (seed, N) gives the same
bytes (gzip written with mtime 0 and no file name) and an M-line file is the first M lines of
an N-line one. Memory is the source data plus one counter per month, whatever N.

Speed, one process, measured on 50,000 lines on the 2-core dev box while another benchmark
held it (load ~3): 6,800 lines/s gzipped (level 3; ~790 bytes a line, ~2,100 unpacked), 9,700/s
plain, 5,000/s gzipped with stand-in vectors, 12,300/s vectors alone — 3M lines in ~7.5 min
(~2.4 GB .gz, ~6.3 GB plain), ~10 min with vectors (+ 6 s to read the source).

**Stand-in vectors** (``--vectors REAL.npy --vectors-out OUT.npy``, or :func:`write_vectors`):
given the real papers' vectors (a float matrix, one row per source paper in the order above,
e.g. 74,728 × 384), row ``i`` of the float16 N × d output is the weighted mean of paper ``i``'s
sources' (normalised) real vectors, normalised, plus Gaussian noise of norm ``--noise``
(default 0.1, seeded per block of 1,024 rows so it too is prefix-stable), normalised again.
Written through ``numpy.lib.format.open_memmap`` block by block. What they do not capture:
one vector per paper (Paperwire embeds long abstracts in several windows; a stand-in has no
windows, so max-pooling over windows is not exercised); a stand-in lies between real vectors,
so neighbourhoods are blends of the real ones (clusters are denser and less varied than 3M real
papers' would be: 3M points over only ~75k distinct directions plus noise); they do not match
what the model would embed from the synthetic text itself.
"""

from __future__ import annotations

import argparse
import gzip
import heapq
import json
import os
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from random import Random
from typing import Any, BinaryIO

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from search_bench import SENTENCE, arxiv_papers  # noqa: E402

from paperwire.models import MAX_AUTHORS  # noqa: E402

# Approximate new submissions per year (see the module docstring).
YEARLY = {2007: 55_600, 2008: 58_900, 2009: 63_800, 2010: 70_100, 2011: 76_600,
          2012: 84_600, 2013: 92_600, 2014: 97_500, 2015: 105_300, 2016: 113_400,
          2017: 123_500, 2018: 140_600, 2019: 155_900, 2020: 178_300, 2021: 181_600,
          2022: 185_700, 2023: 208_500, 2024: 243_000, 2025: 280_000, 2026: 310_000}
FIRST_MONTH = (2007, 4)
LAST_DAY = date(2026, 12, 31)
MIN_POOL = 50
JOINTS = frozenset({"for", "of", "in", "on", "via", "with", "using", "from", "towards",
                    "toward", "through", "by", "under", "beyond", "without", "at"})
VERSION_COUNTS = (1, 2, 3, 4, 5)
VERSION_WEIGHTS = (62, 26, 8, 3, 1)
BLOCK = 1024  # rows per noise block of the stand-in vectors
SEED_SPAN = 1 << 40  # line indices per seed in the per-line RNG seed
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class ScaleError(Exception):
    """A bad argument or input, reported as one line."""


@dataclass(frozen=True)
class Source:
    """The real papers, reduced to what recombination needs (index = source paper number)."""

    ids: list[str]
    titles: list[str]
    sentences: list[tuple[str, ...]]
    authors: list[tuple[str, ...]]
    categories: list[str]  # space-separated, primary first
    comments: list[str | None]
    pool_of: list[int]  # each paper's pool
    pools: list[list[int]]

    def __len__(self) -> int:
        return len(self.ids)


def load_source(papers: Sequence[dict[str, Any]] | None = None) -> Source:
    """The real papers (default: all of ../shared/data/arxiv, in ``arxiv_papers`` order)."""
    if papers is None:
        if not (DATA / "arxiv").is_dir():
            raise ScaleError(f"no real papers: {DATA / 'arxiv'} is missing")
        papers = arxiv_papers()
    if not papers:
        raise ScaleError("no real papers to recombine")
    ids, titles, sentences, authors, cats, comments = [], [], [], [], [], []
    for p in papers:
        ids.append(str(p["id"]))
        titles.append(" ".join(str(p["title"]).split()))
        text = " ".join(str(p.get("summary") or "").split())
        sentences.append(tuple(SENTENCE.split(text)) if text else ())
        authors.append(tuple(" ".join(str(a).split()) for a in p.get("authors") or ()
                             if str(a).strip()))
        cats.append(" ".join(p.get("categories") or ()))
        comments.append(p.get("comment") or None)
    by_cat: dict[str, list[int]] = {}
    by_archive: dict[str, list[int]] = {}
    for k, c in enumerate(cats):
        primary = c.split(" ", 1)[0]
        by_cat.setdefault(primary, []).append(k)
        by_archive.setdefault(primary.split(".", 1)[0], []).append(k)
    pools: list[list[int]] = []
    pool_index: dict[tuple[str, str], int] = {}
    pool_of = []
    everyone = list(range(len(ids)))
    for c in cats:
        primary = c.split(" ", 1)[0]
        archive = primary.split(".", 1)[0]
        if primary and len(by_cat[primary]) >= MIN_POOL:
            key, members = ("cat", primary), by_cat[primary]
        elif archive and len(by_archive[archive]) >= MIN_POOL:
            key, members = ("archive", archive), by_archive[archive]
        else:
            key, members = ("all", ""), everyone
        if key not in pool_index:
            pool_index[key] = len(pools)
            pools.append(members)
        pool_of.append(pool_index[key])
    return Source(ids, titles, sentences, authors, cats, comments, pool_of, pools)


# ---- ids ----------------------------------------------------------------------------------


def month_weights() -> list[tuple[int, int, int]]:
    """``(year, month, weight)`` for every month from April 2007 to December 2026."""
    out = []
    for year, per_year in YEARLY.items():
        for month in range(1, 13):
            if (year, month) >= FIRST_MONTH:
                out.append((year, month, per_year // 12))
    return out


class IdSchedule:
    """The ids of lines 0, 1, 2, … in order: a pure sequence (stride scheduling over months)."""

    _SCALE = 1 << 64

    def __init__(self, exclude: set[str] | frozenset[str] = frozenset()) -> None:
        self._months = month_weights()
        self._exclude = exclude
        self._next = [1] * len(self._months)  # next sequence number to try, per month
        self._taken = [0] * len(self._months)
        self._heap = [(self._key(m), m) for m in range(len(self._months))]
        heapq.heapify(self._heap)

    def _key(self, m: int) -> int:
        # the virtual time of month m's next paper: (taken + 1/2) / weight, in integers
        return ((2 * self._taken[m] + 1) * self._SCALE) // (2 * self._months[m][2])

    def __iter__(self) -> Iterator[tuple[str, int, int]]:
        return self

    def __next__(self) -> tuple[str, int, int]:
        """The next ``(id, year, month)``."""
        while self._heap:
            _, m = self._heap[0]
            year, month, _ = self._months[m]
            yymm = (year % 100) * 100 + month
            digits, cap = (4, 9_999) if yymm < 1501 else (5, 99_999)
            seq = self._next[m]
            pid = f"{yymm:04d}.{seq:0{digits}d}"
            while pid in self._exclude and seq <= cap:
                seq += 1
                pid = f"{yymm:04d}.{seq:0{digits}d}"
            if seq > cap:  # this month's numbers are used up
                heapq.heappop(self._heap)
                continue
            self._next[m] = seq + 1
            self._taken[m] += 1
            heapq.heapreplace(self._heap, (self._key(m), m))
            return pid, year, month
        raise ScaleError("more papers than new-style arXiv ids from 2007 to 2026 allow")


# ---- one paper ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """One synthetic paper's content, before its id and dates."""

    anchor: int
    title: str
    sentences: tuple[str, ...]
    authors: tuple[str, ...]
    categories: str
    comment: str | None
    sources: tuple[int, ...]  # real source papers, by weight, largest first
    weights: tuple[float, ...]  # summing to 1


def line_rng(seed: int, i: int) -> Random:
    return Random(seed * SEED_SPAN + i)


def _split_title(words: list[str], head: bool) -> int | None:
    """Where a title splits at a joint word (the joint goes with the tail), or None."""
    spots = [j for j in range(1, len(words)) if words[j].lower() in JOINTS]
    if not spots:
        return None
    return spots[0] if head else spots[-1]


def recombine_title(a: str, b: str) -> str:
    """``a``'s head + ``b``'s tail (see the module docstring)."""
    if ":" in a and ":" in b:
        head, tail = a.split(":", 1)[0].strip(), b.split(":", 1)[1].strip()
        if head and tail:
            return f"{head}: {tail}"
    aw, bw = a.split(), b.split()
    ja, jb = _split_title(aw, head=True), _split_title(bw, head=False)
    if ja is None or jb is None:
        ja, jb = max(1, (len(aw) + 1) // 2), len(bw) // 2
    return " ".join(aw[:ja] + bw[jb:]) or a


def plan(src: Source, seed: int, i: int, rng: Random | None = None) -> Plan:
    """Paper ``i``'s content (draws from ``rng``, by default ``line_rng(seed, i)``)."""
    rng = rng or line_rng(seed, i)
    n = len(src)
    a = rng.randrange(n)
    pool = src.pools[src.pool_of[a]]
    given: dict[int, int] = {}  # characters each source gave

    def give(k: int, chars: int) -> None:
        given[k] = given.get(k, 0) + chars

    # title
    t = rng.choice(pool)
    title = recombine_title(src.titles[a], src.titles[t])
    give(a, len(title) // 2)
    give(t, len(title) - len(title) // 2)
    # abstract
    k = len(src.sentences[rng.choice(pool)]) or 1
    donors = (a, rng.choice(pool), rng.choice(pool))
    other = rng.randrange(n)
    used: set[str] = set()
    sentences: list[str] = []
    for j in range(k):
        r = rng.random()
        d = a if j == 0 or r < 0.5 else donors[1] if r < 0.7 else donors[2] if r < 0.9 else other
        own = src.sentences[d]
        for _ in range(4):  # a used or missing sentence: another pool paper's, same position
            if own:
                s = own[j * len(own) // k]
                if s not in used:
                    break
            d = rng.choice(pool)
            own = src.sentences[d]
        else:
            continue
        used.add(s)
        sentences.append(s)
        give(d, len(s))
    # authors
    count = min(MAX_AUTHORS, max(1, len(src.authors[rng.choice(pool)])))
    names: list[str] = []
    seen: set[str] = set()
    for _ in range(count * 3):
        if len(names) == count:
            break
        who = src.authors[rng.choice(pool)]
        if who:
            name = who[rng.randrange(len(who))]
            if name not in seen:
                seen.add(name)
                names.append(name)
    if not names:
        names = ["Anonymous"]
    comment = src.comments[rng.choice(pool)]
    order = sorted(given.items(), key=lambda kv: (-kv[1], kv[0]))
    total = sum(c for _, c in order) or 1
    return Plan(a, title, tuple(sentences), tuple(names), src.categories[a], comment,
                tuple(k for k, _ in order), tuple(c / total for _, c in order))


def wrap(text: str, width: int = 80) -> str:
    """``text`` as the Kaggle snapshot holds abstracts: two leading spaces, lines of at most
    ``width`` characters (longer words alone on theirs), a final newline."""
    lines: list[str] = []
    line: list[str] = []
    size = 1
    for word in text.split(" "):
        if line and size + 1 + len(word) > width:
            lines.append(" ".join(line))
            line, size = [], -1
        line.append(word)
        size += 1 + len(word)
    lines.append(" ".join(line))
    return "  " + "\n".join(lines) + "\n"


def rfc2822(dt: datetime) -> str:
    """``Mon, 2 Apr 2007 19:18:42 GMT``, as the Kaggle snapshot dates its versions."""
    return (f"{_DAYS[dt.weekday()]}, {dt.day} {_MONTHS[dt.month - 1]} {dt.year} "
            f"{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d} GMT")


def _days_in(year: int, month: int) -> int:
    nxt = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return (nxt - date(year, month, 1)).days


def record(p: Plan, pid: str, year: int, month: int, rng: Random) -> dict[str, Any]:
    """The Kaggle line of a planned paper with its id, dated in ``year``-``month``."""
    first = datetime(year, month, rng.randint(1, _days_in(year, month)),
                     rng.randrange(24), rng.randrange(60), rng.randrange(60))
    stamps = [first]
    for _ in range(rng.choices(VERSION_COUNTS, VERSION_WEIGHTS)[0] - 1):
        nxt = stamps[-1] + timedelta(days=rng.randint(1, 200), seconds=rng.randrange(86_400))
        stamps.append(min(nxt, datetime(LAST_DAY.year, 12, 31, 23, 59, 59)))
    parsed = []
    for name in p.authors:
        first_names, _, last = name.rpartition(" ")
        parsed.append([last, first_names, ""])
    return {
        "id": pid,
        "submitter": p.authors[0],
        "authors": ", ".join(p.authors[:-1]) + (" and " if len(p.authors) > 1 else "")
        + p.authors[-1],
        "title": p.title,
        "comments": p.comment,
        "journal-ref": None,
        "doi": None,
        "report-no": None,
        "categories": p.categories,
        "license": None,
        "abstract": wrap(" ".join(p.sentences)),
        "versions": [{"version": f"v{n}", "created": rfc2822(s)}
                     for n, s in enumerate(stamps, 1)],
        "update_date": stamps[-1].date().isoformat(),
        "authors_parsed": parsed,
    }


# ---- the run ------------------------------------------------------------------------------


class _VectorWriter:
    """Stand-in vectors written block by block into an .npy memmap."""

    def __init__(self, real: np.ndarray, n: int, out: Path, seed: int, noise: float) -> None:
        if real.ndim != 2 or real.shape[1] < 1:
            raise ScaleError(f"real vectors must be a 2-d matrix, not shape {real.shape}")
        if not np.issubdtype(real.dtype, np.floating):
            raise ScaleError(f"real vectors must be floats, not {real.dtype}")
        norms = np.linalg.norm(real.astype(np.float32), axis=1, keepdims=True)
        if not np.all(np.isfinite(norms)) or np.any(norms == 0):
            raise ScaleError("real vectors must be finite and non-zero")
        self.real = real.astype(np.float32) / norms
        self.dim = real.shape[1]
        self.seed, self.noise, self.n = seed, noise, n
        self.part = out.with_name(out.name + ".part")
        self.out = out
        self.mm = np.lib.format.open_memmap(self.part, mode="w+", dtype=np.float16,
                                            shape=(n, self.dim))
        self.start = 0
        self.rows: list[tuple[tuple[int, ...], tuple[float, ...]]] = []

    def add(self, p: Plan) -> None:
        self.rows.append((p.sources, p.weights))
        if len(self.rows) == BLOCK:
            self.flush()

    def flush(self) -> None:
        b = len(self.rows)
        if not b:
            return
        width = max(len(s) for s, _ in self.rows)
        idx = np.zeros((b, width), dtype=np.int64)
        w = np.zeros((b, width), dtype=np.float32)
        for r, (s, ws) in enumerate(self.rows):
            idx[r, : len(s)] = s
            w[r, : len(ws)] = ws
        mix = np.einsum("bs,bsd->bd", w, self.real[idx])
        mix /= np.linalg.norm(mix, axis=1, keepdims=True)
        block = self.start // BLOCK
        rng = np.random.default_rng([self.seed, block, 0x5CA1E])
        noise = rng.standard_normal((BLOCK, self.dim), dtype=np.float32)[:b]
        mix += noise * np.float32(self.noise / np.sqrt(self.dim))
        mix /= np.linalg.norm(mix, axis=1, keepdims=True)
        self.mm[self.start : self.start + b] = mix.astype(np.float16)
        self.start += b
        self.rows = []

    def close(self) -> None:
        self.flush()
        self.mm.flush()
        del self.mm
        os.replace(self.part, self.out)


def _opener(out: Path) -> tuple[gzip.GzipFile | BinaryIO, BinaryIO | None]:
    """The ``.part`` file beside ``out`` to write, and the raw file under a gzip stream."""
    raw = open(out.with_name(out.name + ".part"), "wb", buffering=1 << 20)  # noqa: SIM115
    if out.name.endswith(".gz"):  # no name and mtime 0 in the header: the same bytes each run
        return gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=3), raw
    return raw, None


def generate(src: Source, n: int, seed: int = 0, out: Path | None = None,
             real: np.ndarray | None = None, vectors_out: Path | None = None,
             noise: float = 0.1, progress: bool = False) -> float:
    """Write ``n`` synthetic papers to ``out`` and/or their stand-in vectors (from ``real``,
    one row per source paper) to ``vectors_out``. Returns the seconds it took."""
    if n < 1:
        raise ScaleError("--papers must be at least 1")
    if seed < 0 or seed >= 1 << 20:
        raise ScaleError("--seed must be between 0 and 1048575")
    if out is None and vectors_out is None:
        raise ScaleError("nothing to write: give --out and/or --vectors-out")
    if (real is None) != (vectors_out is None):
        raise ScaleError("--vectors and --vectors-out go together")
    if real is not None and real.shape[0] != len(src):
        raise ScaleError(f"real vectors have {real.shape[0]} rows, the source has "
                         f"{len(src)} papers (one row per source paper, in order)")
    if not 0 <= noise <= 10:
        raise ScaleError("--noise must be between 0 and 10")
    from tqdm import tqdm

    started = time.perf_counter()
    vec = (_VectorWriter(real, n, vectors_out, seed, noise)
           if real is not None and vectors_out is not None else None)
    fh, raw = _opener(out) if out is not None else (None, None)
    ids = IdSchedule(frozenset(src.ids)) if fh is not None else None
    try:
        with tqdm(total=n, unit=" papers", file=sys.stderr, disable=not progress,
                  mininterval=1.0, unit_scale=True) as bar:
            for i in range(n):
                rng = line_rng(seed, i)
                p = plan(src, seed, i, rng)
                if vec is not None:
                    vec.add(p)
                if fh is not None and ids is not None:
                    pid, year, month = next(ids)
                    line = json.dumps(record(p, pid, year, month, rng)) + "\n"
                    fh.write(line.encode("utf-8"))
                if i % 4096 == 4095:
                    bar.update(4096)
            bar.update(n - bar.n)
        if vec is not None:
            vec.close()
        if fh is not None and out is not None:
            fh.close()
            if raw is not None:
                raw.close()
            os.replace(out.with_name(out.name + ".part"), out)
    finally:
        if fh is not None and not fh.closed:
            fh.close()
        if raw is not None and not raw.closed:
            raw.close()
    return time.perf_counter() - started


def write_vectors(src: Source, real: np.ndarray, n: int, out: Path, seed: int = 0,
                  noise: float = 0.1, progress: bool = False) -> None:
    """The N × d float16 stand-in vectors of the first ``n`` synthetic papers, to ``out``."""
    generate(src, n, seed, real=real, vectors_out=out, noise=noise, progress=progress)


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--papers", type=int, required=True, help="how many papers (N)")
    ap.add_argument("--out", type=Path, help="the JSONL file (gzip when it ends in .gz)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--vectors", type=Path, help="the real papers' vectors (.npy)")
    ap.add_argument("--vectors-out", type=Path, help="the stand-in vectors to write (.npy)")
    ap.add_argument("--noise", type=float, default=0.1, help="norm of the noise per vector")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    try:
        real = None
        if args.vectors is not None:
            try:
                real = np.load(args.vectors, mmap_mode="r")
            except (OSError, ValueError) as exc:
                raise ScaleError(f"cannot read {args.vectors}: {exc}") from None
        elif args.vectors_out is not None:
            raise ScaleError("--vectors-out needs --vectors")
        src = load_source()
        secs = generate(src, args.papers, args.seed, args.out, real, args.vectors_out,
                        args.noise, progress=not args.no_progress)
    except (ScaleError, OSError) as exc:
        sys.exit(f"scale_corpus: {exc}")
    print(f"wrote {args.papers:,} papers in {secs:.1f} s ({args.papers / secs:,.0f}/s) "
          f"from {len(src):,} real ones", file=sys.stderr)


if __name__ == "__main__":
    main()
