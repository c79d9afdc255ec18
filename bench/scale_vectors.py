"""Vectors that fit at 1M and 3M papers: quantised codes and ANN indexes beside the exact scan.

    .venv/bin/python bench/scale_vectors.py --vectors V.npy [--queries Q.npy] [--rows N]
                                            [--hnsw i8 b1 f16] [--candidates 200 1000]
                                            [--save-f16 GRAPH.usearch]

``V.npy``: rows × 384 vectors (float16 or float32, read memory-mapped), e.g. the stand-ins of
bench/scale_corpus.py; ``Q.npy``: query vectors (default: 200 rows of V, each mixed with
another row and renormalised, so queries are near the data but not in it). For each method it
prints build seconds, the bytes it holds, recall@10 against the exact float32 answer and ms
per query, beside the exact float32 scan (numpy, chunked) measured in the same run:

- int8 scan: every row's int8 code (:mod:`paperwire.search.quant`), one pass;
- sign bits + int8: Hamming scan over 48-byte codes, the best ``c`` rescored by int8;
- HNSW (usearch) over i8 / f16 vectors, and over sign bits (b1, Hamming) with int8 rescoring.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from paperwire.search import quant  # noqa: E402
from paperwire.search.dense import (  # noqa: E402
    HNSW_CONNECTIVITY,
    HNSW_EXPANSION_ADD,
    HNSW_EXPANSION_SEARCH,
)

Search = Callable[[np.ndarray], np.ndarray]


def load(path: Path, rows: int | None) -> np.ndarray:
    m = np.load(path, mmap_mode="r")
    return m[:rows] if rows else m


def as_f32(m: np.ndarray) -> np.ndarray:
    out = np.empty(m.shape, dtype=np.float32)
    for lo in range(0, len(m), quant.CHUNK):
        out[lo:lo + quant.CHUNK] = m[lo:lo + quant.CHUNK]
    return out


def make_queries(m: np.ndarray, n: int, seed: int = 11) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = np.asarray(m[np.sort(rng.choice(len(m), n, replace=False))], dtype=np.float32)
    b = np.asarray(m[np.sort(rng.choice(len(m), n, replace=False))], dtype=np.float32)
    q = a + 0.5 * b
    return (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)


def timed(search: Search, queries: np.ndarray) -> tuple[list[np.ndarray], float]:
    search(queries[0])  # warm-up
    got, times = [], []
    for q in queries:
        t = time.perf_counter()
        got.append(search(q))
        times.append(time.perf_counter() - t)
    return got, 1000 * float(np.median(times))


def recall(exact: list[np.ndarray], got: list[np.ndarray]) -> float:
    return float(np.mean([len(set(e.tolist()) & set(g[:10].tolist())) / 10
                          for e, g in zip(exact, got, strict=True)]))


def row(name: str, build_s: float | None, nbytes: int | None, rec: float | None,
        ms: float, base_ms: float) -> None:
    b = f"{build_s:9.1f}" if build_s is not None else f"{'–':>9}"
    mb = f"{nbytes / 2**20:9.0f}" if nbytes is not None else f"{'–':>9}"
    r = f"{rec:8.4f}" if rec is not None else f"{'–':>8}"
    print(f"| {name:<34} | {b} | {mb} | {r} | {ms:8.2f} | {ms / base_ms:7.2f} |", flush=True)


def hnsw(kind: str, data: Any, dim: int) -> tuple[Any, float]:
    from usearch.index import Index

    metric = "hamming" if kind == "b1" else "cos"
    ndim = dim if kind != "b1" else data.shape[1] * 8
    index = Index(ndim=ndim, metric=metric, dtype=kind, connectivity=HNSW_CONNECTIVITY,
                  expansion_add=HNSW_EXPANSION_ADD, expansion_search=HNSW_EXPANSION_SEARCH)
    t = time.perf_counter()
    step = 100_000
    for lo in range(0, len(data), step):
        chunk = np.asarray(data[lo:lo + step])
        if kind != "b1":
            chunk = chunk.astype(np.float32)
        index.add(np.arange(lo, lo + len(chunk), dtype=np.uint64), chunk)
        print(f"  {kind} HNSW: {lo + len(chunk):,}/{len(data):,} rows, "
              f"{time.perf_counter() - t:.0f} s", file=sys.stderr, flush=True)
    return index, time.perf_counter() - t


def hnsw_rows(kind: str, f32: np.ndarray, bits: np.ndarray, codes: quant.Int8Codes,
              queries: np.ndarray, exact: list[np.ndarray], base_ms: float,
              candidates: list[int], save: Path | None = None) -> None:
    """Build one HNSW index (its memory is freed on return) and print its rows; ``save``:
    where to save the f16 one (keys are row numbers, as in Paperwire's dense index)."""
    index, built = hnsw(kind, bits.view(np.uint8) if kind == "b1" else f32, f32.shape[1])
    held = int(index.memory_usage)
    if kind != "b1":
        got, ms = timed(lambda q: np.asarray(index.search(q, 10).keys, dtype=np.int64),
                        queries)
        row(f"HNSW {kind} (expansion {HNSW_EXPANSION_SEARCH})", built, held,
            recall(exact, got), ms, base_ms)
        if save is not None and kind == "f16":
            index.save(str(save))
        return
    for c in candidates:
        def search(q: np.ndarray, c: int = c) -> np.ndarray:
            found = index.search(quant.binary_codes(q).view(np.uint8)[0], c)
            rows = np.asarray(found.keys, dtype=np.int64)
            return quant.top_k(rows, codes.scores(q, rows), 10)[0]
        got, ms = timed(search, queries)
        row(f"HNSW b1 (best {c}) + int8", built, held + codes.codes.nbytes,
            recall(exact, got), ms, base_ms)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vectors", type=Path, required=True)
    ap.add_argument("--queries", type=Path)
    ap.add_argument("--rows", type=int)
    ap.add_argument("--n-queries", type=int, default=200)
    ap.add_argument("--hnsw", nargs="*", default=["i8", "b1"], choices=["i8", "b1", "f16"])
    ap.add_argument("--candidates", nargs="*", type=int, default=[200, 1000])
    ap.add_argument("--save-f16", type=Path, help="save the f16 HNSW index here")
    ap.add_argument("--no-scans", action="store_true",
                    help="skip the int8 and sign-bit scans (linear in rows: their 1M figures "
                         "scale); the int8 codes are still made for the b1 rescoring")
    args = ap.parse_args()

    raw = load(args.vectors, args.rows)
    n, dim = raw.shape
    print(f"# vectors: {n:,} × {dim} from {args.vectors.name}; "
          f"{time.strftime('%Y-%m-%d')}, {__import__('platform').machine()}", flush=True)
    t = time.perf_counter()
    f32 = as_f32(raw)
    print(f"# read as float32 in {time.perf_counter() - t:.1f} s", flush=True)
    queries = (np.load(args.queries).astype(np.float32)[: args.n_queries] if args.queries
               else make_queries(f32, args.n_queries))

    print("\n| method | build s | MiB held | recall@10 | ms/query | x exact |")
    print("|---|---:|---:|---:|---:|---:|")
    exact, base_ms = timed(lambda q: quant.exact_top_k(f32, q, 10)[0], queries)
    row("exact float32 scan (baseline)", None, f32.nbytes, 1.0, base_ms, base_ms)

    t = time.perf_counter()
    codes = quant.quantise_int8(f32)
    built = time.perf_counter() - t
    if not args.no_scans:
        got, ms = timed(lambda q: quant.top_k(np.arange(n), codes.scores(q), 10)[0], queries)
        row("int8 scan", built, codes.codes.nbytes, recall(exact, got), ms, base_ms)

    t = time.perf_counter()
    bits = quant.binary_codes(f32)
    built = time.perf_counter() - t
    for c in [] if args.no_scans else args.candidates:
        got, ms = timed(lambda q, c=c: quant.rescored_search(q, bits, codes, 10, c)[0],
                        queries)
        row(f"sign bits scan + int8 of best {c}", built, bits.nbytes + codes.codes.nbytes,
            recall(exact, got), ms, base_ms)

    for kind in args.hnsw:
        hnsw_rows(kind, f32, bits, codes, queries, exact, base_ms, args.candidates,
                  args.save_f16)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS of this run: {peak:,.0f} MiB", flush=True)


if __name__ == "__main__":
    main()
