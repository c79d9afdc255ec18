"""Where the int8 embedder's time goes on one core, and graph variants beside today's graph.

    taskset -c 1 .venv/bin/python bench/embed_ops.py [--abstracts 300] [--rounds 3]

Everything runs in this one process, on one single-threaded ONNX Runtime session per graph
(as each embedding worker does), one arXiv abstract per run, longest first, up to 256 tokens.
Rates are abstracts per second of this thread's CPU time (``time.thread_time``), so other
processes on the machine change them little; best of ``--rounds``, the graphs taking turns.

1. The int8 GEMM kernel's rate (DynamicQuantizeMatMul, the layers' shapes) and fp32's: the
   linear layers alone need 10.6 M multiply-adds per token, so at the int8 kernel's rate they
   bound what any graph of this model can reach per core;
2. ONNX Runtime's per-operator profile of today's graph (share of kernel time);
3. variants of the graph, each built from the same weights and quantised the same way:
   "mha": the QKV product as a quantised MatMul and com.microsoft MultiHeadAttention;
   "plain": attention in standard operators (MatMul, Softmax) in fp32; "plain, int8 QK":
   the scores' product in int8 (DynamicQuantizeLinear + MatMulInteger); "plain, int8 QK and
   PV": both products; "FastGelu": tanh-approximated GELU in place of erf (BiasGelu).
   "cos" is the cosine of each variant's vectors with today's (min / mean).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, str(Path(__file__).resolve().parent))
from embed_bench import arxiv_texts

from paperwire.embed import onnx_graph
from paperwire.embed.cache import _quantize, cached_model
from paperwire.embed.model_files import BertConfig, model_dir, read_safetensors
from paperwire.embed.onnx_embedder import SESSION_OFF

Builder = onnx_graph._Builder


def session(path: Path, profile: str | None = None) -> Any:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if profile:
        opts.enable_profiling = True
        opts.profile_file_prefix = profile
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"],
                                disabled_optimizers=[*SESSION_OFF, "AttentionFusion"])


def gemm_rates() -> list[str]:
    rows = []
    for kind in ("int8", "fp32"):
        for m, k, n in [(256, 384, 1152), (256, 384, 1536), (256, 1536, 384)]:
            w = np.random.default_rng(0).standard_normal((k, n)).astype(np.float32) * 0.05
            if kind == "fp32":
                node = helper.make_node("MatMul", ["x", "w"], ["y"])
                inits = [numpy_helper.from_array(w, "w")]
            else:
                node = helper.make_node("DynamicQuantizeMatMul", ["x", "w", "s"], ["y"],
                                        domain="com.microsoft")
                inits = [numpy_helper.from_array(np.round(w / 0.002).astype(np.int8), "w"),
                         numpy_helper.from_array(np.full([n], 0.002, np.float32), "s")]
            graph = helper.make_graph(
                [node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [m, k])],
                [helper.make_tensor_value_info("y", TensorProto.FLOAT, [m, n])], inits)
            model = helper.make_model(graph, opset_imports=[
                helper.make_opsetid("", 18), helper.make_opsetid("com.microsoft", 1)])
            model.ir_version = 8
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = 1
            s = ort.InferenceSession(model.SerializeToString(), opts,
                                     providers=["CPUExecutionProvider"])
            x = np.random.default_rng(1).standard_normal((m, k)).astype(np.float32)
            s.run(None, {"x": x})
            t0 = time.thread_time()
            for _ in range(40):
                s.run(None, {"x": x})
            rate = m * k * n * 40 / (time.thread_time() - t0) / 1e9
            rows.append(f"| {kind} | {m} x {k} x {n} | {rate:.0f} |")
    return rows


def _qmm(b: Builder, x: str, y: str) -> str:
    """x @ y with both sides quantised per run (uint8), the product rescaled to float."""
    outs = []
    for t in (x, y):
        names = [f"{n}_{len(b.nodes)}" for n in ("q", "s", "z")]
        b.nodes.append(helper.make_node("DynamicQuantizeLinear", [t], names))
        outs.append(names)
    prod = b.op("MatMulInteger", outs[0][0], outs[1][0], outs[0][2], outs[1][2])
    return b.op("Mul", b.op("Cast", prod, to=TensorProto.FLOAT),
                b.op("Mul", outs[0][1], outs[1][1]))


def _variant_layer(variant: str) -> Callable[..., str]:
    def layer(b: Builder, x: str, mask: str, w: dict[str, Any], p: str, cfg: BertConfig) -> str:
        a = p + "attention."
        qkv = [a + f"self.{n}" for n in ("query", "key", "value")]
        wqkv = b.const(a + "qkv.weight", np.concatenate([w[q + ".weight"].T for q in qkv], 1))
        bqkv = b.const(a + "qkv.bias", np.concatenate([w[q + ".bias"] for q in qkv]))
        heads, hd = cfg.heads, cfg.hidden // cfg.heads
        if variant in ("today", "FastGelu"):
            ctx = b.op("Attention", x, wqkv, bqkv, mask, ms=True, num_heads=heads)
        elif variant == "mha":
            h = b.op("MatMul", x, wqkv)
            parts = [b.op("Slice", h, b.const(f"s{i}", [i * cfg.hidden], np.int64),
                          b.const(f"e{i}", [(i + 1) * cfg.hidden], np.int64),
                          b.const("axis2", [2], np.int64)) for i in range(3)]
            ctx = b.op("MultiHeadAttention", *parts, bqkv, mask, ms=True, num_heads=heads)
        else:  # plain operators; the mask as an additive bias
            bias = b.op("Unsqueeze", b.op("Cast", "attention_mask", to=TensorProto.FLOAT),
                        b.const("axes12", [1, 2], np.int64))
            bias = b.op("Mul", b.op("Sub", bias, b.const("one_f", 1.0)), b.const("big", 1e4))
            h = b.op("Add", b.op("MatMul", x, wqkv), bqkv)
            h = b.op("Transpose", b.op("Reshape", h, b.const("shape5", [0, 0, 3, heads, hd],
                                                          np.int64)), perm=[2, 0, 3, 1, 4])
            q, k, v = (b.op("Gather", h, b.const(f"i{i}", i, np.int64), axis=0)
                       for i in range(3))
            q = b.op("Mul", q, b.const("scale", 1 / np.sqrt(hd)))
            kt = b.op("Transpose", k, perm=[0, 1, 3, 2])
            scores = _qmm(b, q, kt) if "QK" in variant else b.op("MatMul", q, kt)
            probs = b.op("Softmax", b.op("Add", scores, bias), axis=-1)
            ctx = _qmm(b, probs, v) if "PV" in variant else b.op("MatMul", probs, v)
            ctx = b.op("Reshape", b.op("Transpose", ctx, perm=[0, 2, 1, 3]),
                       b.const("shape3", [0, 0, cfg.hidden], np.int64))
        x = onnx_graph._add_norm(b, onnx_graph._linear(b, ctx, w, a + "output.dense"), x, w,
                                 a + "output.LayerNorm", cfg)
        f = p + "intermediate.dense"
        h = b.op("MatMul", x, b.const(f + ".weight", w[f + ".weight"].T))
        h = b.op("FastGelu" if variant == "FastGelu" else "BiasGelu", h,
                 b.const(f + ".bias", w[f + ".bias"]), ms=True)
        return onnx_graph._add_norm(b, onnx_graph._linear(b, h, w, p + "output.dense"), x, w,
                                    p + "output.LayerNorm", cfg)
    return layer


def build_variant(variant: str, out: Path) -> Path:
    mdir = model_dir()
    original = onnx_graph._layer
    onnx_graph._layer = _variant_layer(variant)  # type: ignore[assignment]
    try:
        model = onnx_graph.build_model(read_safetensors(mdir / "model.safetensors"),
                                       BertConfig.read(mdir))
    finally:
        onnx_graph._layer = original
    fp32 = out.with_suffix(".fp32.onnx")
    onnx.save(model, str(fp32))
    _quantize(fp32, out)
    fp32.unlink()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--abstracts", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    import tokenizers

    tok = tokenizers.Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(256)
    ids = [np.array([e.ids], np.int64) for e in tok.encode_batch(arxiv_texts(args.abstracts))]
    ids.sort(key=lambda a: -a.shape[1])
    tokens = sum(a.shape[1] for a in ids)
    print(f"{len(ids)} abstracts, {tokens / len(ids):.1f} tokens on average; "
          f"{os.cpu_count()} CPUs, onnxruntime {ort.__version__}\n")

    def run(s: Any) -> tuple[float, np.ndarray]:
        t0 = time.thread_time()
        out = np.concatenate([s.run(["embedding"], {"input_ids": a,
                                                    "attention_mask": np.ones_like(a)})[0]
                              for a in ids])
        return len(ids) / (time.thread_time() - t0), out

    print("| GEMM | M x K x N | G multiply-adds/s |\n|---|---|---:|")
    print("\n".join(gemm_rates()))
    with tempfile.TemporaryDirectory(prefix="embed-ops-") as tmp:
        work = Path(tmp)
        files = {"today": cached_model(work, model_dir(), "int8")}
        for v in ("mha", "plain", "plain, int8 QK", "plain, int8 QK and PV", "FastGelu"):
            files[v] = build_variant(v, work / f"variant-{len(files)}.onnx")
        prof = session(files["today"], str(work / "profile"))
        run(prof)
        events = json.loads(Path(prof.end_profiling()).read_text())
        by_op: collections.Counter[str] = collections.Counter()
        for e in events:
            if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
                by_op[e["args"]["op_name"]] += e["dur"]
        total = sum(by_op.values())
        print("\n| operator (today's graph) | share of kernel time |\n|---|---:|")
        for op, dur in by_op.most_common(6):
            print(f"| {op} | {100 * dur / total:.1f}% |")
        sessions = {v: session(f) for v, f in files.items()}
        rates: dict[str, list[float]] = collections.defaultdict(list)
        vecs: dict[str, np.ndarray] = {}
        for _ in range(args.rounds):
            for v, s in sessions.items():
                rate, vecs[v] = run(s)
                rates[v].append(rate)
        print("\n| graph | abstracts/s per core (CPU time) | x today | cos with today "
              "(min / mean) |\n|---|---:|---:|---:|")
        for v in sessions:
            cos = np.sum(vecs[v] * vecs["today"], axis=1)
            print(f"| {v} | {max(rates[v]):.1f} | {max(rates[v]) / max(rates['today']):.2f} "
                  f"| {cos.min():.4f} / {cos.mean():.4f} |")
        bound = 10.6e6 * tokens / len(ids)
        print(f"\nlinear layers: {bound / 1e9:.2f} G multiply-adds per abstract on average")


if __name__ == "__main__":
    main()
