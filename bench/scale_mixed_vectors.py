"""Stand-in vectors for the ANN measurement when the 75k real papers are not all embedded.

    .venv/bin/python bench/scale_mixed_vectors.py --papers 3000000 \
        --out bench/out/scale/vectors-3000000.npy

bench/scale_corpus.py's stand-ins mix each synthetic paper's *own* source papers' real
vectors, which needs all 74,728 real papers embedded (bench/scale_bench.py ``real_vectors``:
~16 min on 2 quiet cores, far more on a shared machine). This makes vectors for the same
measurement (HNSW build time, memory, recall@10 against exact; dense search latency) from
the chunks of real vectors embedded so far (``bench/out/scale/real-75k.parts``, today's
embedder): row ``i`` is a normalised Dirichlet(2, 1, 0.5) mix of three random real vectors
plus Gaussian noise of norm 0.1, renormalised, float16; seeded, so the same command gives the
same file. What it does not capture beyond scale_corpus's stand-ins: a row is not tied to its
paper's text (dense results over these rows are not about the query; only their cost is).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
PARTS = ROOT / "bench" / "out" / "scale" / "real-75k.parts"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--papers", type=int, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    parts = sorted(p for p in PARTS.glob("*.npy") if not p.name.endswith(".tmp.npy"))
    if not parts:
        raise SystemExit(f"no real vectors in {PARTS}: run bench/scale_bench.py's vectors part")
    real = np.concatenate([np.load(p) for p in parts]).astype(np.float32)
    real /= np.linalg.norm(real, axis=1, keepdims=True)
    rng = np.random.default_rng(args.seed)
    out = np.lib.format.open_memmap(args.out, mode="w+", dtype=np.float16,
                                    shape=(args.papers, real.shape[1]))
    step = 200_000
    for lo in range(0, args.papers, step):
        k = min(step, args.papers - lo)
        a, b, c = (rng.integers(0, len(real), k) for _ in range(3))
        w = rng.dirichlet([2.0, 1.0, 0.5], k).astype(np.float32)
        v = w[:, :1] * real[a] + w[:, 1:2] * real[b] + w[:, 2:] * real[c]
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        noise = rng.standard_normal(v.shape).astype(np.float32)
        v += 0.1 * noise / np.linalg.norm(noise, axis=1, keepdims=True)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        out[lo:lo + k] = v
    out.flush()
    print(f"{args.papers:,} stand-in vectors from {len(real):,} real ones: {args.out}")


if __name__ == "__main__":
    main()
