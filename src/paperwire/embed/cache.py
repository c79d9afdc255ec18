"""The built ONNX files, cached under a directory Paperwire passes in ($PAPERWIRE_HOME/models).

Each file ``all-MiniLM-L6-v2-<precision>.onnx`` has a manifest beside it (``.json``) naming the
weights it was built from (their SHA-256), the builder version and the file's own SHA-256. A
file is used only when its manifest matches the installed weights and its content; otherwise
(missing, stale, truncated, corrupted) it is rebuilt. Files are written to a temporary name in
the same directory and renamed into place, so a killed build never leaves a half file.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from pathlib import Path

from paperwire.embed.model_files import (
    MODEL_NAME,
    BertConfig,
    file_sha256,
    read_safetensors,
)
from paperwire.errors import SearchError

log = logging.getLogger(__name__)
BUILDER_VERSION = 1  # bump when the graph or the quantisation changes
PRECISIONS = ("fp32", "int8")
STALE_TMP_S = 3600


def cached_model(cache_dir: Path, model_dir: Path, precision: str, force: bool = False) -> Path:
    """The path of a valid ONNX file for ``precision``, building it first when needed."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}")
    target = cache_dir / f"{MODEL_NAME}-{precision}.onnx"
    manifest = target.with_suffix(".json")
    want = {
        "builder": BUILDER_VERSION,
        "precision": precision,
        "weights_sha256": file_sha256(model_dir / "model.safetensors"),
    }
    if not force and _valid(target, manifest, want):
        return target
    log.info("building %s (%s) in %s", MODEL_NAME, precision, cache_dir)
    _prepare(cache_dir)
    started = time.perf_counter()
    with _tmp_path(cache_dir, target.name) as tmp:
        _build(model_dir, precision, tmp)
        digest = file_sha256(tmp)
        tmp.chmod(0o644)
        _fsync(tmp)
        os.replace(tmp, target)
    with _tmp_path(cache_dir, manifest.name) as tmp:
        tmp.write_text(json.dumps({**want, "onnx_sha256": digest}, indent=1) + "\n")
        tmp.chmod(0o644)
        _fsync(tmp)
        os.replace(tmp, manifest)
    log.info("built %s in %.1f s", target.name, time.perf_counter() - started)
    return target


def _valid(target: Path, manifest: Path, want: dict[str, object]) -> bool:
    try:
        meta = json.loads(manifest.read_text())
        if any(meta.get(k) != v for k, v in want.items()):
            return False
        return bool(target.is_file() and file_sha256(target) == meta.get("onnx_sha256"))
    except (OSError, ValueError, AttributeError):
        return False


def _prepare(cache_dir: Path) -> None:
    """Create the directory, check that it is writable, and drop temp files of killed builds."""
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=cache_dir, prefix=".write-check-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise SearchError(
            f"The model cache directory {cache_dir} is not writable ({reason})."
        ) from None
    for old in cache_dir.glob(".*.tmp-*"):
        try:
            if time.time() - old.stat().st_mtime > STALE_TMP_S:
                old.unlink()
        except OSError:
            pass


class _tmp_path:
    """A fresh temporary path beside ``name`` in ``folder``; removed on exit if still there."""

    def __init__(self, folder: Path, name: str) -> None:
        fd, path = tempfile.mkstemp(dir=folder, prefix=f".{name}.tmp-", suffix=Path(name).suffix)
        os.close(fd)
        self.path = Path(path)

    def __enter__(self) -> Path:
        return self.path

    def __exit__(self, *exc: object) -> None:
        self.path.unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    with path.open("rb") as fh:
        os.fsync(fh.fileno())


def _build(model_dir: Path, precision: str, out: Path) -> None:
    import onnx

    from paperwire.embed.onnx_graph import build_model

    cfg = BertConfig.read(model_dir)
    model = build_model(read_safetensors(model_dir / "model.safetensors"), cfg)
    if precision == "fp32":
        onnx.save(model, str(out))
        return
    with _tmp_path(out.parent, out.name + ".fp32.onnx") as fp32:
        onnx.save(model, str(fp32))
        _quantize(fp32, out)


def _quantize(src: Path, dst: Path) -> None:
    """Dynamic int8: weights int8 per output channel (per-tensor loses too much here),
    activations quantised at run time. Only products with a constant weight are quantised."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quiet = logging.getLogger()  # the quantiser warns on the root logger about pre-processing
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        quantize_dynamic(
            src, dst, weight_type=QuantType.QInt8, per_channel=True,
            op_types_to_quantize=["MatMul", "Attention"],
            extra_options={"MatMulConstBOnly": True,
                           "DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    finally:
        quiet.setLevel(level)
