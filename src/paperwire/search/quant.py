"""Quantised vectors for collections too large for float32 in memory (pure functions).

Two codes per vector, as the binarised / quantised dense retrieval papers of the seed set do:

- **int8** (:class:`Int8Codes`): each dimension scaled by its own step (the largest magnitude
  the calibration rows hold in it, over 127) and rounded; a quarter of float32's bytes. A
  query's similarity to a row is ``(q · step) · code``: one float32 × int8 product, no
  dequantised copy of the matrix.
- **binary** (:func:`binary_codes`): one sign bit per dimension, packed into 64-bit words; a
  thirty-second of float32's bytes. Rows are compared by Hamming distance (XOR + popcount),
  which orders unit vectors roughly as their angle does.

:func:`rescored_search` is the two-stage search built from them: the ``candidates`` rows
nearest by Hamming distance, then those rescored by their int8 codes, best first. Its
recall@10 against the exact float32 answer is what tests/test_quant.py and
bench/scale_bench.py measure.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]
CHUNK = 65_536  # rows per step of a scan: bounded scratch memory whatever the collection size


@dataclass(frozen=True)
class Int8Codes:
    """``codes[i] · step`` approximates row ``i`` (``codes``: rows × dim int8; ``step``: dim)."""

    codes: npt.NDArray[np.int8]
    step: F32

    def __len__(self) -> int:
        return len(self.codes)

    def scores(self, query: npt.ArrayLike, rows: npt.ArrayLike | None = None) -> F32:
        """Approximate inner products of ``query`` with ``rows`` (all rows when None),
        computed a chunk at a time (no float copy of the whole matrix)."""
        q = (np.asarray(query, dtype=np.float32) * self.step).astype(np.float32)
        if rows is not None:
            picked = self.codes[np.asarray(rows, dtype=np.int64)]
            return np.asarray(picked.astype(np.float32) @ q, dtype=np.float32)
        out = np.empty(len(self.codes), dtype=np.float32)
        for lo, hi in _chunks(len(self.codes)):
            out[lo:hi] = self.codes[lo:hi].astype(np.float32) @ q
        return out


def int8_step(calibration: npt.ArrayLike) -> F32:
    """One step per dimension: the largest magnitude in that dimension over 127 (a
    dimension that is always 0 gets a step of 1, so it stays 0)."""
    m = np.asarray(calibration, dtype=np.float32)
    if m.ndim != 2 or not len(m):
        raise ValueError("calibration rows must be a non-empty 2-d array")
    top = np.abs(m).max(axis=0)
    return np.where(top > 0, top / 127.0, 1.0).astype(np.float32)


def quantise_int8(matrix: npt.ArrayLike, step: F32 | None = None) -> Int8Codes:
    """int8 codes of ``matrix``; ``step`` from the matrix itself unless given (codes of
    rows added later must use the step the collection was built with; values beyond it
    are clipped to ±127)."""
    m = np.asarray(matrix, dtype=np.float32)
    step = int8_step(m) if step is None else np.asarray(step, dtype=np.float32)
    codes = np.empty(m.shape, dtype=np.int8)
    for lo, hi in _chunks(len(m)):
        codes[lo:hi] = np.clip(np.rint(m[lo:hi] / step), -127, 127)
    return Int8Codes(codes, step)


def binary_codes(matrix: npt.ArrayLike) -> npt.NDArray[np.uint64]:
    """Sign bits of each row (1 where the value is > 0), packed into 64-bit words: rows ×
    ceil(dim / 64)."""
    m = np.asarray(matrix, dtype=np.float32)
    if m.ndim == 1:
        m = m[None, :]
    words = -(-m.shape[1] // 64)
    bits = np.packbits(m > 0, axis=1)
    padded = np.zeros((len(m), words * 8), dtype=np.uint8)
    padded[:, : bits.shape[1]] = bits
    return padded.view(np.uint64)


def hamming(codes: npt.NDArray[np.uint64], query_code: npt.NDArray[np.uint64]) -> npt.NDArray[
        np.uint16]:
    """Hamming distance of each row of ``codes`` to one query's code."""
    q = np.asarray(query_code, dtype=np.uint64).reshape(-1)
    out = np.empty(len(codes), dtype=np.uint16)
    for lo, hi in _chunks(len(codes)):
        out[lo:hi] = np.bitwise_count(np.bitwise_xor(codes[lo:hi], q)).sum(
            axis=1, dtype=np.uint16)
    return out


def nearest_by_hamming(codes: npt.NDArray[np.uint64], query_code: npt.NDArray[np.uint64],
                       m: int) -> npt.NDArray[np.int64]:
    """The ``m`` rows nearest by Hamming distance (in no particular order)."""
    d = hamming(codes, query_code)
    m = min(m, len(d))
    if m <= 0:
        return np.zeros(0, dtype=np.int64)
    if m == len(d):
        return np.arange(len(d), dtype=np.int64)
    return np.argpartition(d, m - 1)[:m].astype(np.int64)


def rescored_search(query: npt.ArrayLike, bits: npt.NDArray[np.uint64], int8: Int8Codes,
                    k: int, candidates: int) -> tuple[npt.NDArray[np.int64], F32]:
    """The ``k`` best rows for ``query`` and their int8 scores, best first: the
    ``candidates`` rows nearest by Hamming distance, rescored by their int8 codes."""
    if len(bits) != len(int8):
        raise ValueError("binary and int8 codes must hold the same rows")
    q = np.asarray(query, dtype=np.float32)
    rows = nearest_by_hamming(bits, binary_codes(q)[0], max(candidates, k))
    return top_k(rows, int8.scores(q, rows), k)


def top_k(rows: npt.NDArray[np.int64], scores: F32, k: int) -> tuple[npt.NDArray[np.int64], F32]:
    """``rows`` and ``scores`` cut to the best ``k``, best first (ties by row)."""
    k = min(k, len(rows))
    if k <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    best = np.argpartition(-scores, k - 1)[:k] if k < len(rows) else np.arange(len(rows))
    order = best[np.lexsort((rows[best], -scores[best]))]
    return rows[order], scores[order]


def exact_top_k(matrix: npt.ArrayLike, query: npt.ArrayLike, k: int
                ) -> tuple[npt.NDArray[np.int64], F32]:
    """The exact answer (float32 inner products, scanned a chunk at a time): the baseline
    every quantised search is measured against."""
    m = np.asarray(matrix)
    q = np.asarray(query, dtype=np.float32)
    sims = np.empty(len(m), dtype=np.float32)
    for lo, hi in _chunks(len(m)):
        sims[lo:hi] = np.asarray(m[lo:hi], dtype=np.float32) @ q  # no copy of float32
    return top_k(np.arange(len(m), dtype=np.int64), sims, k)


def _chunks(n: int, size: int = CHUNK) -> Iterator[tuple[int, int]]:
    for lo in range(0, n, size):
        yield lo, min(n, lo + size)
