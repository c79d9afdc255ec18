"""What every embedder offers, and the one convention for turning a paper into text."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit-length float32 vectors.

    ``name`` says model, variant and maximum length (e.g. ``all-MiniLM-L6-v2/onnx-int8/256``):
    stored vectors are keyed by it, so two embedders with the same name must give the same
    vectors (up to rounding). ``dim`` is the vector length.
    """

    name: str
    dim: int

    def embed(self, texts: Sequence[str], batch_size: int = 32) -> Vectors:
        """float32 array of shape (len(texts), dim), each row L2-normalised, in input order."""
        ...

    def embed_query(self, text: str) -> Vectors:
        """One text (a search query) as a float32 vector of shape (dim,)."""
        ...


def paper_text(title: str, abstract: str | None) -> str:
    """The text embedded for a paper: ``title + ". " + abstract``.

    Whitespace runs (arXiv abstracts are hard-wrapped) become single spaces. When the title
    already ends in ``.``, ``?`` or ``!`` no second full stop is added; a missing title or
    abstract leaves just the other one.
    """
    t = " ".join(title.split())
    a = " ".join((abstract or "").split())
    if not t or not a:
        return t or a
    return f"{t} {a}" if t[-1] in ".?!" else f"{t}. {a}"


def l2_normalise(x: npt.NDArray[np.floating]) -> Vectors:
    """Rows scaled to unit length (as torch's F.normalize: norms clamped at 1e-12)."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    unit: Vectors = (x / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)
    return unit
