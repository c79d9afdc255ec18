"""The reference path: sentence-transformers on torch, exactly as the model's authors run it.

Not used by Paperwire at run time (it needs torch); the benchmark measures against it and
tests/fixtures/embed/make_reference.py made the test fixture with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from paperwire.embed.base import Vectors
from paperwire.embed.model_files import MODEL_NAME, model_dir
from paperwire.errors import SearchError


class SentenceTransformerEmbedder:
    def __init__(self, max_length: int | None = None, path: Path | None = None) -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise SearchError(
                "The reference embedder needs sentence-transformers and torch: "
                "pip install torch==2.13.0 sentence-transformers"
            ) from None
        self.model: Any = SentenceTransformer(str(path or model_dir()), device="cpu")
        if max_length is not None:
            self.model.max_seq_length = max_length
        self.name = f"{MODEL_NAME}/sentence-transformers/{self.model.max_seq_length}"
        self.dim: int = self.model.get_sentence_embedding_dimension() or 384

    def embed(self, texts: Sequence[str], batch_size: int = 32) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(list(texts), batch_size=batch_size)
        return np.asarray(vectors, dtype=np.float32)

    def embed_query(self, text: str) -> Vectors:
        return self.embed([text]).reshape(-1)  # the one row
